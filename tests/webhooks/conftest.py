"""Webhook tests: the registry allows loopback URLs (the receiver), the dispatcher runs
in-process on the test database with short retry delays."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import outbox
from shared.config import Settings
from shared.db import make_engine, make_sessionmaker
from shared.webhooks.dispatcher import Dispatcher
from tests.webhooks.receiver import Receiver


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_allowed_hosts": ["127.0.0.1"],
            "webhook_retry_schedule": [0.2, 0.2, 0.2],
            "webhook_poll_seconds": 0.05,
            "webhook_timeout_seconds": 5.0,
            "webhook_lease_seconds": 5.0,
        }
    )


@pytest.fixture
async def sessionmaker(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(settings, pool_size=2)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
async def dispatcher(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Dispatcher]:
    dispatcher = Dispatcher(sessionmaker, settings)
    yield dispatcher
    await dispatcher.aclose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


async def emit(
    sessionmaker: async_sessionmaker[AsyncSession],
    events: list[tuple[str, str, dict[str, Any]]],
) -> list[str]:
    """Write events to the outbox as the services do (type, subject, data); their ids."""
    async with sessionmaker() as session, session.begin():
        rows = [
            outbox.emit(session, service="registry", type=t, subject=s, data=d)
            for t, s, d in events
        ]
        await session.flush()
    return [str(r.id) for r in rows]


async def run_until(
    dispatcher: Dispatcher, done: Callable[[], bool | Awaitable[bool]], limit: float = 20
) -> None:
    """Step the dispatcher until `done()`; fail after `limit` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        result = done()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert loop.time() < deadline, "the dispatcher did not finish in time"
        if not await dispatcher.step():
            await asyncio.sleep(0.05)


def new_prefix() -> str:
    return "t" + uuid.uuid4().hex[:8]
