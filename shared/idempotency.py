"""`Idempotency-Key` for creates: a repeat with the same key returns the first answer.

The key is scoped to the caller (principal) and the service. The stored answer is written in
the same transaction as the resource, so either both exist or neither does; a retry after a
failure (a downstream service down, a dropped connection) therefore completes the job.

Concurrent repeats. The key is claimed before the create runs: its row is inserted first
(`INSERT ... ON CONFLICT DO NOTHING`), and Postgres makes a second insert of the same key wait
until the transaction holding the first one ends. A duplicate sent while the first request is
still working therefore waits for it and then replays its answer; if the first one failed
(nothing committed), the duplicate runs the create itself. Either way every request with one
key gets one outcome, never "already registered" for its own earlier copy (the Stripe
behaviour). A wait longer than the database's statement timeout is a 409 "still in progress".

Stored answers and personal data. In a service that holds identity and phone numbers in clear
(the registry: `app.state.cipher`, the data key), the answer is kept encrypted (AES-GCM with a
key derived from the data key, bound to the service, caller and key, so a sealed answer cannot
be replayed under another row) and the request fingerprint is an HMAC, not a plain hash that
could be brute-forced back to an identity number. The other services never see those numbers
in clear (the registry masks them for machine clients), so they keep the answer as JSON. The
replay is the stored answer itself (status, body, Location) plus `Idempotent-Replayed: true`:
re-rendering the resource instead would answer its current state, not the first answer.

Retention. A stored answer is kept IDEMPOTENCY_RETENTION_HOURS (72 by default; Stripe keeps
24): each service deletes its own older rows (`purge_expired`, run by the app's lifespan),
after which the key counts as new. Retries come within minutes, so three days is ample, and the
table no longer grows for ever.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import Header, Request
from pydantic import BaseModel
from sqlalchemy import literal, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.responses import JSONResponse, Response

from shared.auth.principal import Principal
from shared.crypto import PersonalDataCipher
from shared.errors import Conflict
from shared.models.infra import IdempotencyKey

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Any unique string (a UUID is ideal). Repeating a create with the same key "
        "returns the first result instead of creating twice; a repeat sent while the first is "
        "still running waits for it and returns its result.",
        examples=["3f2b9c4e-5d1a-4b7e-9f00-2a6c1d8e7b11"],
    ),
]

REPLAYED_HEADER = "Idempotent-Replayed"
#: SQLSTATEs meaning the claim waited too long for the first request (statement timeout, lock
#: timeout): answered "in progress", not 500.
_WAIT_EXPIRED = {"57014", "55P03"}


def _wait_expired(exc: DBAPIError) -> bool:
    errors = (exc.orig, getattr(exc.orig, "__cause__", None))
    return any(getattr(e, "sqlstate", None) in _WAIT_EXPIRED for e in errors if e is not None)


class ReplaySeal:
    """Encrypts stored answers with a key derived from the data key."""

    def __init__(self, cipher: PersonalDataCipher) -> None:
        def derive(info: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
                cipher.enc_key
            )

        self._aead = AESGCM(derive(b"skills/idempotency/answer"))
        self._fingerprint_key = derive(b"skills/idempotency/request")

    def seal(self, body: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, body, context)

    def open(self, sealed: bytes, context: bytes) -> bytes:
        return self._aead.decrypt(sealed[:12], sealed[12:], context)

    def fingerprint(self, canonical: bytes) -> str:
        return hmac.digest(self._fingerprint_key, canonical, hashlib.sha256).hex()


def _seal_for(request: Request) -> ReplaySeal | None:
    """The service's seal: made once from its data cipher; None in services without one."""
    state = request.app.state
    seal: ReplaySeal | None = getattr(state, "replay_seal", None)
    if seal is None:
        cipher: PersonalDataCipher | None = getattr(state, "cipher", None)
        if cipher is None:
            return None
        seal = state.replay_seal = ReplaySeal(cipher)
    return seal


def _fingerprint(payload: BaseModel | None, seal: ReplaySeal | None) -> str:
    data = payload.model_dump(mode="json") if payload is not None else None
    canonical = json.dumps(data, sort_keys=True).encode()
    if seal is not None:
        return seal.fingerprint(canonical)
    return hashlib.sha256(canonical).hexdigest()


def _context(service: str, principal_sub: str, key: str) -> bytes:
    return f"{service}\0{principal_sub}\0{key}".encode()


def _in_transaction(session: AsyncSession) -> bool:
    options = session.get_bind().get_execution_options()
    return options.get("isolation_level") != "AUTOCOMMIT"


async def idempotent_create(
    session: AsyncSession | None,
    request: Request,
    principal: Principal,
    key: str | None,
    payload: BaseModel | None,
    create: Callable[[], Awaitable[BaseModel]],
    *,
    status_code: int | Callable[[], int] = 201,
    location: Callable[[Any], str] | None = None,
) -> Response:
    """Run `create` once per (service, caller, key) and answer its result (`status_code`, the
    body, `Location` from `location(result)`); a repeat gets the first answer. `session` must
    be in the transaction that `create` writes in (the claim commits with the resource); it
    may be None when there is no key (nothing is stored then)."""
    if not key:
        result = await create()
        code = status_code() if callable(status_code) else status_code
        headers = {"Location": location(result)} if location else {}
        return JSONResponse(result.model_dump(mode="json"), status_code=code, headers=headers)
    if session is None or not _in_transaction(session):
        # An autocommit session would commit the claim on its own, before the answer exists.
        raise RuntimeError("idempotent_create needs a session in a transaction")
    service: str = request.app.state.service
    seal = _seal_for(request)
    fingerprint = _fingerprint(payload, seal)
    row_key = (service, principal.sub, key)
    try:
        claimed = await session.scalar(
            insert(IdempotencyKey)
            .values(
                service=service,
                principal_sub=principal.sub,
                key=key,
                request_hash=fingerprint,
                method=request.method,
                path=request.url.path,
            )
            .on_conflict_do_nothing(index_elements=["service", "principal_sub", "key"])
            .returning(literal(True))
        )
    except DBAPIError as exc:
        if not _wait_expired(exc):
            raise
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry shortly to "
            "get its result."
        ) from exc
    if not claimed:
        return await _replay(session, request, row_key, fingerprint, seal)

    result = await create()
    # A callable status lets a create that found an existing resource (a natural key) say 200.
    code = status_code() if callable(status_code) else status_code
    body = result.model_dump(mode="json")
    where = location(result) if location else None
    response = JSONResponse(body, status_code=code, headers={"Location": where} if where else {})
    answer: dict[str, Any] = {
        "status_code": code,
        "location": where,
        "resource_id": resource_id
        if isinstance(resource_id := getattr(result, "id", None), uuid.UUID)
        else None,
    }
    if seal is not None:
        answer["response_sealed"] = seal.seal(bytes(response.body), _context(*row_key))
    else:
        answer["response_body"] = body
    await session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.service == row_key[0],
            IdempotencyKey.principal_sub == row_key[1],
            IdempotencyKey.key == row_key[2],
        )
        .values(**answer)
    )
    return response


async def _replay(
    session: AsyncSession,
    request: Request,
    row_key: tuple[str, str, str],
    fingerprint: str,
    seal: ReplaySeal | None,
) -> Response:
    # The first request's transaction has ended (the insert waited for it): this statement
    # sees its row, with the answer, committed.
    stored = (
        await session.execute(
            select(IdempotencyKey)
            .where(
                IdempotencyKey.service == row_key[0],
                IdempotencyKey.principal_sub == row_key[1],
                IdempotencyKey.key == row_key[2],
            )
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    if (
        stored.request_hash != fingerprint
        or stored.path != request.url.path
        or stored.method != request.method
    ):
        raise Conflict(
            "This Idempotency-Key was already used for a different request; use a new key for "
            "a new request."
        )
    headers = {REPLAYED_HEADER: "true"}
    if stored.location:
        headers["Location"] = stored.location
    if stored.status_code is None:  # cannot be committed so; kept as a safe answer anyway
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry shortly to "
            "get its result."
        )
    if stored.response_sealed is not None and seal is not None:
        try:
            body = seal.open(stored.response_sealed, _context(*row_key))
        except InvalidTag:
            body = None  # the data key changed: the answer can no longer be read
        if body is not None:
            return Response(
                body,
                status_code=stored.status_code,
                headers=headers,
                media_type="application/json",
            )
    elif stored.response_body is not None:
        return JSONResponse(stored.response_body, status_code=stored.status_code, headers=headers)
    # Answers stored in clear before they were sealed were dropped (migration 0044).
    resource = f" It created {stored.resource_id}." if stored.resource_id else ""
    raise Conflict(
        "This Idempotency-Key was already used and its first answer is no longer kept; use a "
        f"new key for a new request.{resource}"
    )


#: One batch of the purge: short transactions, whatever the backlog.
PURGE_BATCH = 5000
_PURGE = text(
    """
    DELETE FROM idempotency_keys
    WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM idempotency_keys
        WHERE service = :service AND created_at < now() - make_interval(secs => :seconds)
        ORDER BY created_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    ))
    """
)


async def purge_expired(
    sessionmaker: async_sessionmaker[AsyncSession],
    service: str,
    retention_seconds: float,
    batch: int = PURGE_BATCH,
) -> int:
    """Delete this service's stored answers older than the retention; how many were deleted.

    Safe with any number of replicas purging at once: each batch locks its rows with
    `SKIP LOCKED`, so two purges take different rows and never wait on each other, and a row
    a request holds (a replay being read under its lock) is left for the next round. Ages are
    measured on the database's clock, the one that wrote `created_at`."""
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            result = await session.execute(
                _PURGE, {"service": service, "seconds": retention_seconds, "batch": batch}
            )
        deleted = int(getattr(result, "rowcount", 0) or 0)
        total += deleted
        if deleted < batch:
            return total
