"""Engine, sessions and the one-transaction-per-request dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
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
        # A restarted Postgres must not leave dead connections in the pool.
        "pool_pre_ping": True,
        "connect_args": {"server_settings": session},
    }
    options.update(overrides)
    return create_async_engine(settings.database_url, **options)


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
