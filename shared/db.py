"""Engine, sessions and the unit of work: the one kit for holding a database session.

Which mode is for what. An endpoint takes one of the three dependencies below and never opens
sessions, transactions or connections itself (tests/architecture/test_router_sessions.py);
where the mode depends on the request (a fast path and its fallback, an Idempotency-Key, a flow
that commits step by step) the endpoint takes `UnitOfWorkDep` and the service chooses.

- `SessionDep`: one session and one transaction per request, committed when the endpoint
  returns and before the response is sent (rolled back if it raises). Most endpoints: every
  write of more than one statement, and reads that need one snapshot.
- `AutocommitSessionDep`: one session per request outside any transaction (each statement
  commits on its own, no BEGIN/COMMIT round trips) for plain read endpoints (lists, search,
  batch reads, statistics). Its connection goes back to the pool as the endpoint returns.
- `UnitOfWorkDep`: a `UnitOfWork`, for a service that chooses its transaction mode itself or
  needs more than one of them in a request. It hands out
  - `uow.transaction()`: a fresh session in its own short transaction, committed when the
    block ends: the general path of a write whose fast path declined, a write that must commit
    with its stored Idempotency-Key answer, and each step of a multi-step flow that commits
    between calls to another service (awards delivery: one award per transaction, so what the
    registry recorded is marked at once and no connection is held while it answers);
  - `uow.autocommit()`: a fresh session outside any transaction: reads, and one-statement
    writes (registration's `take_entry_places`). A service that calls another service between
    statements closes it first (one `async with` per step), so no connection is held across
    the call;
  - `uow.connection()`: a connection outside any transaction, for the fast paths that go
    straight to asyncpg (a judge's `judging_put_sheet` / `judging_submit_sheet`).
  A service function that runs either inside the caller's transaction or outside any takes
  `Sessions` (each step `async with sessions() as session`): `uow.autocommit` for short
  autocommit steps, `same_session(session)` to run every step in the caller's transaction.

Every block opened in an endpoint ends before the endpoint returns, so what a request commits
is committed before its response is sent, as with `SessionDep`. Background work (sweepers, job
runners, tasks run after the response) uses the app's `UnitOfWork` (`app.state.uow`) the
same way.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.config import Settings
from shared.errors import NotFound


def make_engine(
    settings: Settings, server_settings: Mapping[str, str] | None = None, **overrides: Any
) -> AsyncEngine:
    if not settings.database_url:
        raise RuntimeError(
            "DATABASE_URL is not set. Start everything with `make run` (it starts an embedded "
            "Postgres), or set DATABASE_URL=postgresql://user:pass@host:5432/db."
        )
    session = {"application_name": "shandong-skills", "timezone": "UTC"}
    if settings.db_statement_timeout_ms:
        session["statement_timeout"] = str(settings.db_statement_timeout_ms)
    if settings.db_role:
        # Least privilege: every connection works as this role (SET ROLE at connection start).
        session["role"] = settings.db_role
    session.update(server_settings or {})
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "connect_args": {"server_settings": session},
    }
    options.update(overrides)
    engine = create_async_engine(settings.database_url, **options)
    if not options.get("pool_pre_ping"):
        ping_when_idle(engine)
    return engine


#: A pooled connection unused for this long is pinged before it is handed out.
PING_IDLE_SECONDS = 1.0


def ping_when_idle(engine: AsyncEngine, idle_seconds: float = PING_IDLE_SECONDS) -> None:
    """A restarted Postgres must not leave dead connections in the pool, but `pool_pre_ping`
    costs a round trip (three outside autocommit: BEGIN, ping, ROLLBACK) on every checkout.

    So only a connection idle for `idle_seconds` is pinged (a restart takes longer than that);
    a dead one is replaced before use. A connection in constant use that dies with the server
    fails its statement, which SQLAlchemy recognises as a disconnect: it invalidates the whole
    pool, so only the requests in flight at the restart see an error.
    """
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        # A server restart or a failover closes the connection's socket, and asyncpg notices it
        # while the connection waits in the pool: refuse such a connection at no cost, so even
        # the first request after a restart gets a live one.
        driver = getattr(dbapi_connection, "_connection", None)
        if driver is not None and driver.is_closed():
            raise exc.DisconnectionError("pooled connection closed by the server")
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out another (a fresh one).
            raise exc.DisconnectionError("stale pooled connection") from error


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: responses are serialised after the commit.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session and one transaction per request: commit if the endpoint returns, else roll back.

    Used with `scope="function"` so the commit happens before the response is sent: a failed
    commit becomes an error response, never a 2xx for a change that did not happen.
    """
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with factory() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def autocommit_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine (same pool) without transactions: each statement commits on its own, and
    there are no BEGIN/COMMIT round trips. For reads (lists, search, batch reads: each
    statement is its own snapshot) and for writes that are one statement (registration's
    `take_entry_places`, a judge's `judging_put_sheet`). Used through `UnitOfWork` and
    `AutocommitSessionDep` (sessions on it: `app.state.autocommit_sessionmaker`)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def get_autocommit_session(request: Request) -> AsyncIterator[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = request.app.state.autocommit_sessionmaker
    async with factory() as session:
        yield session


# scope="function": the connection goes back to the pool when the endpoint returns, before the
# response is sent (under load, connections held while responses go out make the pool open
# overflow connections, and closing and reopening them costs more than the requests).
AutocommitSessionDep = Annotated[AsyncSession, Depends(get_autocommit_session, scope="function")]


#: Sessions a service function opens step by step (`async with sessions() as session`).
Sessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def same_session(session: AsyncSession) -> Sessions:
    """`Sessions` that are all `session` (in the caller's transaction, which stays open)."""
    return lambda: nullcontext(session)


class UnitOfWork:
    """The database modes a service may choose from (see the module docstring). One per app
    (`app.state.uow`, made with the engine); it holds no per-request state."""

    __slots__ = ("_autocommit_engine", "_autocommit_sessions", "_sessions")

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        autocommit_sessions: async_sessionmaker[AsyncSession],
        autocommit_engine: AsyncEngine,
    ) -> None:
        self._sessions = sessions
        self._autocommit_sessions = autocommit_sessions
        self._autocommit_engine = autocommit_engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A fresh session in its own transaction: committed when the block ends, rolled back
        if it raises."""
        async with self._sessions() as session, session.begin():
            yield session

    def autocommit(self) -> AsyncSession:
        """A fresh session outside any transaction (`async with uow.autocommit() as session`):
        each statement commits on its own; the connection goes back to the pool when the block
        ends. Loaded objects stay usable after it (`expire_on_commit=False`)."""
        return self._autocommit_sessions()

    def connection(self) -> AsyncConnection:
        """A connection outside any transaction (`async with uow.connection() as conn`), for
        fast paths that talk to the driver directly."""
        return self._autocommit_engine.connect()


async def get_unit_of_work(request: Request) -> UnitOfWork:
    uow: UnitOfWork = request.app.state.uow
    return uow


#: Nothing to close at the end: every session the service opens is closed by its own block.
UnitOfWorkDep = Annotated[UnitOfWork, Depends(get_unit_of_work)]


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


M = TypeVar("M")


async def get_or_404(
    session: AsyncSession, model: type[M], key: Any, what: str, *, for_update: bool = False
) -> M:
    """The row with this primary key, locked `FOR UPDATE` if asked, or a 404 naming `what`."""
    found = await session.get(
        model, key, with_for_update=for_update or None, populate_existing=for_update
    )
    if found is None:
        raise NotFound(f"No {what} with id {key}.")
    return found
