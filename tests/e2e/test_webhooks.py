"""The webhook dispatcher as real processes (`python -m shared.webhooks`) against the real
registry, delivering to a real receiver on loopback: killed mid-batch and restarted, and two
dispatchers at once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.config import Settings
from shared.db import make_engine, make_sessionmaker
from shared.models.webhooks import DeliveryStatus, WebhookDelivery
from shared.processes import start_dispatcher
from tests.conftest import bearer
from tests.e2e.conftest import Stack, token
from tests.webhooks.conftest import emit, new_prefix
from tests.webhooks.receiver import Message, Receiver

DISPATCHER_ENV = {
    "WEBHOOK_RETRY_SCHEDULE": "0.2,0.5,1,1,1,1,1,1,1,1",
    "WEBHOOK_LEASE_SECONDS": "2",
    "WEBHOOK_POLL_SECONDS": "0.1",
    "WEBHOOK_BATCH_SIZE": "20",
    "LOG_LEVEL": "WARNING",
}


@pytest.fixture
async def sessionmaker(stack: Stack) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(Settings(database_url=stack.env["DATABASE_URL"]), pool_size=2)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


async def subscribe(
    http: httpx.AsyncClient, stack: Stack, receiver: Receiver, types: list[str]
) -> str:
    headers = bearer(await token(http, stack.urls["registry"]))
    response = await http.post(
        stack.urls["registry"] + "/v1/webhook-subscriptions",
        json={"url": receiver.url, "event_types": types},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    receiver.secrets.append(response.json()["secret"])
    subscription_id: str = response.json()["id"]
    return subscription_id


async def wait_for(condition: Callable[[], bool], limit: float, what: str, stack: Stack) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen in {limit:.0f}s:\n{stack.logs()[-3000:]}")
        await asyncio.sleep(0.05)


async def all_succeeded(
    sessionmaker: async_sessionmaker[AsyncSession], subscription_id: str
) -> list[DeliveryStatus]:
    async with sessionmaker() as session:
        return list(
            await session.scalars(
                select(WebhookDelivery.status).where(
                    WebhookDelivery.subscription_id == uuid.UUID(subscription_id)
                )
            )
        )


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def assert_in_order(messages: list[Message], ids: list[str], subjects: dict[str, str]) -> None:
    """Per subject, events first arrive in the order they happened."""
    order = {event_id: n for n, event_id in enumerate(ids)}
    seen: set[str] = set()
    per_subject: dict[str, list[int]] = defaultdict(list)
    for m in messages:
        if m.webhook_id not in seen:
            seen.add(m.webhook_id)
            per_subject[subjects[m.webhook_id]].append(order[m.webhook_id])
    for arrivals in per_subject.values():
        assert arrivals == sorted(arrivals)


async def test_dispatcher_killed_mid_batch_then_restarted_loses_nothing(
    stack: Stack,
    http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    receiver.delay = 0.02  # a batch takes a while: the kill lands in the middle of one
    p = new_prefix()
    subscription_id = await subscribe(http, stack, receiver, [f"{p}.*"])
    events = [(f"{p}.changed", f"entry:{i % 10}", {"n": i}) for i in range(200)]
    ids = await emit(sessionmaker, events)
    subjects = {event_id: e[1] for event_id, e in zip(ids, events, strict=True)}
    env = {**stack.env, **DISPATCHER_ENV}

    first = start_dispatcher(env, stack.log_dir, "dispatcher-a")
    try:
        await wait_for(lambda: len(receiver.messages) >= 40, 60, "the first deliveries", stack)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert len(receiver.accepted_ids()) < len(ids), "killed too late to test anything"

    second = start_dispatcher(env, stack.log_dir, "dispatcher-b")
    try:
        await wait_for(lambda: receiver.accepted_ids() >= set(ids), 90, "every delivery", stack)
        for _ in range(100):
            statuses = await all_succeeded(sessionmaker, subscription_id)
            if set(statuses) == {DeliveryStatus.succeeded}:
                break
            await asyncio.sleep(0.1)
    finally:
        code = stop(second)
    assert code == 0, "SIGTERM should stop the dispatcher cleanly"
    assert set(statuses) == {DeliveryStatus.succeeded}
    assert len(statuses) == len(ids)
    assert receiver.rejected == 0
    assert receiver.accepted_ids() == set(ids)
    # Duplicates (sent before the kill, not yet recorded) carry the same webhook-id and body.
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for m in receiver.messages:
        bodies[m.webhook_id].add(m.body)
    assert all(len(b) == 1 for b in bodies.values())
    assert_in_order(receiver.messages, ids, subjects)


async def test_two_dispatchers_deliver_each_event_once(
    stack: Stack,
    http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    p = new_prefix()
    subscription_id = await subscribe(http, stack, receiver, [f"{p}.*"])
    env = {**stack.env, **DISPATCHER_ENV}
    dispatchers = [
        start_dispatcher(env, stack.log_dir, "dispatcher-1"),
        start_dispatcher(env, stack.log_dir, "dispatcher-2"),
    ]
    try:
        events = [(f"{p}.changed", f"worker:{i % 30}", {"n": i}) for i in range(300)]
        ids = await emit(sessionmaker, events)
        subjects = {event_id: e[1] for event_id, e in zip(ids, events, strict=True)}
        await wait_for(lambda: receiver.accepted_ids() >= set(ids), 90, "every delivery", stack)
        await asyncio.sleep(0.5)  # anything sent twice would have arrived by now
    finally:
        codes = [stop(d) for d in dispatchers]
    assert codes == [0, 0]
    assert receiver.rejected == 0
    assert sorted(m.webhook_id for m in receiver.messages) == sorted(ids)  # once each
    statuses = await all_succeeded(sessionmaker, subscription_id)
    assert set(statuses) == {DeliveryStatus.succeeded}
    assert_in_order(receiver.messages, ids, subjects)
