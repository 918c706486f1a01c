"""`Idempotency-Key` for creates: a repeat with the same key returns the first answer.

The key is scoped to the caller (principal) and the service. The stored answer is written in
the same transaction as the resource, so either both exist or neither does; a retry after a
failure (a downstream service down, a dropped connection) therefore completes the job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, Request
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse, Response

from shared.auth.principal import Principal
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
        "returns the first result instead of creating twice.",
        examples=["3f2b9c4e-5d1a-4b7e-9f00-2a6c1d8e7b11"],
    ),
]


def _fingerprint(payload: BaseModel | None) -> str:
    data = payload.model_dump(mode="json") if payload is not None else None
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


async def idempotent_create(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    key: str | None,
    payload: BaseModel | None,
    create: Callable[[], Awaitable[BaseModel]],
    *,
    status_code: int | Callable[[], int] = 201,
    location: Callable[[Any], str] | None = None,
) -> Response:
    service: str = request.app.state.service
    fingerprint = _fingerprint(payload) if key else ""
    if key:
        stored = await session.get(IdempotencyKey, (service, principal.sub, key))
        if stored is not None:
            if stored.request_hash != fingerprint or stored.path != request.url.path:
                raise Conflict(
                    "This Idempotency-Key was already used for a different request; use a new "
                    "key for a new request."
                )
            return JSONResponse(
                stored.response_body,
                status_code=stored.status_code,
                headers={"Idempotent-Replayed": "true"},
            )
    result = await create()
    # A callable status lets a create that found an existing resource (a natural key) say 200.
    if callable(status_code):
        status_code = status_code()
    body = result.model_dump(mode="json")
    headers = {"Location": location(result)} if location else {}
    if key:
        session.add(
            IdempotencyKey(
                service=service,
                principal_sub=principal.sub,
                key=key,
                request_hash=fingerprint,
                method=request.method,
                path=request.url.path,
                status_code=status_code,
                response_body=body,
                resource_id=getattr(result, "id", None),
            )
        )
        try:
            await session.flush()
        except IntegrityError as exc:
            raise Conflict(
                "A request with this Idempotency-Key is being processed; retry shortly to get "
                "its result."
            ) from exc
    return JSONResponse(body, status_code=status_code, headers=headers)
