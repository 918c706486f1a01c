"""Disabled accounts and revoked machine clients lose access within seconds, in every service.

An access token is a signed statement valid until it expires (ACCESS_TOKEN_TTL_SECONDS, 15
minutes by default); on its own it cannot be withdrawn. The registry therefore keeps a read
model, `access_revocations` (see `shared.models.registry.access` for the contract), written in
the same transaction that disables an account or revokes a client, and every service checks
each request's principal against it in `shared.auth.deps.get_principal`.

Asking the database on every request would cost a round trip on the hot paths (score entry,
registration bursts, leaderboards). Instead each process holds the whole set of currently
refused principals (small: only those whose access changed) and reloads it when it is older
than ACCESS_REVOCATION_CACHE_SECONDS (2 s by default): one query per process per interval,
whatever the traffic, and a dictionary lookup per request. That is the staleness bound: a
disabled person's or revoked client's token is refused by every replica of every service at
most ACCESS_REVOCATION_CACHE_SECONDS (plus the reload query) after the change commits. The
process that made the change (the registry worker that served the admin's request) drops its
copy as the transaction commits, so there the change holds from the very next request. A
process that cannot reload (database down) refuses to guess: the request gets the usual 503.

(Pushing changes to every process, e.g. with Postgres LISTEN/NOTIFY, would shorten the bound
further at the price of a standing connection per process; the bound has not needed it.)
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from datetime import datetime

from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth.principal import Principal, PrincipalKind
from shared.errors import Unauthorized
from shared.models.registry.access import AccessRevocation

#: Rows whose `not_before` is older than this cannot refuse any token still unexpired (the
#: longest ACCESS_TOKEN_TTL_SECONDS allowed, plus the verifiers' clock leeway): not loaded.
HORIZON_SECONDS = 86400 + 60

_LOAD = text(
    """
    SELECT sub, active, extract(epoch FROM not_before) AS not_before
    FROM access_revocations
    WHERE NOT active OR not_before > now() - make_interval(secs => :horizon)
    """
)


#: Every copy in this process (one per app; the tests run three apps in one process).
_COPIES: weakref.WeakSet[AccessRevocations] = weakref.WeakSet()


class AccessRevocations:
    """The process's copy of `access_revocations`, at most `max_age` seconds old when used."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], max_age: float) -> None:
        self.sessionmaker = sessionmaker
        self.max_age = max_age
        #: sub -> (active, not_before as epoch seconds or None)
        self._refused: dict[str, tuple[bool, float | None]] = {}
        self._loaded_at = -math.inf  # monotonic time the loaded copy was read *from*
        #: Bumped by `expire`: a reload that began before it must not count as fresh.
        self._generation = 0
        self._lock = asyncio.Lock()
        _COPIES.add(self)

    def expire(self) -> None:
        """Forget the copy's freshness: the next request reloads it."""
        self._generation += 1
        self._loaded_at = -math.inf

    def _fresh(self) -> bool:
        return time.monotonic() - self._loaded_at < self.max_age

    async def _reload(self) -> None:
        async with self._lock:
            if self._fresh():  # another request reloaded while this one waited
                return
            # Taken before the query: the copy is as old as the moment the read began.
            started, generation = time.monotonic(), self._generation
            async with self.sessionmaker() as session:
                rows = (await session.execute(_LOAD, {"horizon": HORIZON_SECONDS})).all()
            self._refused = {
                r.sub: (r.active, float(r.not_before) if r.not_before is not None else None)
                for r in rows
            }
            if generation == self._generation:  # else a change committed meanwhile: stale
                self._loaded_at = started

    async def check(self, principal: Principal) -> None:
        """Raise 401 if the principal's access was withdrawn after its token was issued."""
        if not self._fresh():
            await self._reload()
        entry = self._refused.get(principal.sub)
        if entry is None:
            return
        active, not_before = entry
        client = principal.kind is PrincipalKind.client
        if not active:
            raise Unauthorized(
                "This machine client has been revoked."
                if client
                else "This account has been disabled."
            )
        # `iat` is whole seconds: a token of the second access was withdrawn in is let
        # through once access is given back, rather than refusing the fresh sign-ins of that
        # second too (while access is withdrawn, `active` refuses everything anyway).
        if not_before is not None and (
            principal.issued_at is None or principal.issued_at < math.floor(not_before)
        ):
            raise Unauthorized(
                "This token was issued before access was last withdrawn; "
                + ("request a new one." if client else "sign in again.")
            )


def _expire_copies(_session: object) -> None:
    for copy in list(_COPIES):
        copy.expire()


async def record_access(
    session: AsyncSession,
    *,
    sub: str,
    kind: PrincipalKind,
    active: bool,
    withdrawn_at: datetime | None,
) -> None:
    """Write the read model in the caller's transaction (the registry's, as it changes the
    account or client): `active` now, and, when access is withdrawn, the moment before which
    tokens stay refused even if access is given back later."""
    # This process's copies are dropped once the change commits (not before: a reload in
    # between would read the old state and count as fresh).
    event.listen(session.sync_session, "after_commit", _expire_copies, once=True)
    stmt = insert(AccessRevocation).values(
        sub=sub, kind=kind.value, active=active, not_before=withdrawn_at
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[AccessRevocation.sub],
            set_={
                "active": stmt.excluded.active,
                "not_before": text("GREATEST(access_revocations.not_before, excluded.not_before)"),
                "updated_at": text("now()"),
            },
        )
    )
