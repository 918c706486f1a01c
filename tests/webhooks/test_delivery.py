"""Delivery to a real receiver on loopback: signatures, retries, ordering, 410, Retry-After,
rotation, redelivery and ping. The dispatcher runs in-process, stepped by the test."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from shared.models.webhooks import DeliveryStatus, WebhookDelivery
from shared.webhooks.dispatcher import Dispatcher
from tests.conftest import Services
from tests.webhooks.conftest import emit, new_prefix, run_until
from tests.webhooks.receiver import Receiver


async def subscribe(
    services: Services, headers: dict[str, str], receiver: Receiver, types: list[str], **extra: Any
) -> dict[str, Any]:
    response = await services.registry.post(
        "/v1/webhook-subscriptions",
        json={"url": receiver.url, "event_types": types, **extra},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    receiver.secrets.append(body["secret"])
    return body


async def statuses(
    sessionmaker: async_sessionmaker[AsyncSession], subscription_id: str
) -> list[DeliveryStatus]:
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(WebhookDelivery.status).where(
                WebhookDelivery.subscription_id == uuid.UUID(subscription_id)
            )
        )
        return list(rows)


def settled(statuses: list[DeliveryStatus]) -> bool:
    return bool(statuses) and DeliveryStatus.pending not in statuses


async def test_events_reach_matching_subscriptions_signed_and_in_order(
    services: Services,
    admin_headers: dict[str, str],
    dispatcher: Dispatcher,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    receiver.start()
    p = new_prefix()
    competition = str(uuid.uuid4())
    everything = await subscribe(services, admin_headers, receiver, [f"{p}.*"])
    only_a = await subscribe(services, admin_headers, receiver, [f"{p}.a"])
    in_competition = await subscribe(
        services, admin_headers, receiver, ["*"], competition_id=competition
    )
    in_jinan = await subscribe(
        services, admin_headers, receiver, [f"{p}.*"], locality_code="370100"
    )
    events = [
        (
            f"{p}.a",
            f"entry:{i % 3}",
            {
                "n": i,
                "competition_id": competition if i % 2 else None,
                "locality_code": "370102" if i < 4 else "370200",
            },
        )
        for i in range(12)
    ] + [(f"{p}.b", "entry:0", {"n": 12})]
    ids = await emit(sessionmaker, events)
    await run_until(dispatcher, lambda: len(receiver.accepted()) >= 13 + 6 + 6 + 4)
    await asyncio.sleep(0.3)
    await dispatcher.step()
    got = receiver.accepted()
    assert receiver.rejected == 0  # every request verified with Webhook.verify
    by_secret: dict[str, list[str]] = defaultdict(list)
    for m in got:
        for sub in (everything, only_a, in_competition, in_jinan):
            try:
                Webhook(sub["secret"]).verify(m.body, m.headers)
            except Exception:  # noqa: S112 - signed for another subscription
                continue
            by_secret[sub["id"]].append(m.webhook_id)
    assert set(by_secret[everything["id"]]) == set(ids)
    assert set(by_secret[only_a["id"]]) == set(ids[:12])
    assert set(by_secret[in_competition["id"]]) == {ids[i] for i in range(12) if i % 2}
    assert set(by_secret[in_jinan["id"]]) == set(ids[:4])
    # Per subscriber, events about the same subject arrive in the order they happened.
    order = {event_id: n for n, event_id in enumerate(ids)}
    subject_of = {ids[n]: e[1] for n, e in enumerate(events)}
    for received in by_secret.values():
        per_subject: dict[str, list[int]] = defaultdict(list)
        for event_id in received:
            per_subject[subject_of[event_id]].append(order[event_id])
        for seen in per_subject.values():
            assert seen == sorted(seen)
    first = got[0]
    assert first.headers["content-type"] == "application/json"
    assert set(first.data) >= {"n"}


async def test_receiver_down_then_up_loses_nothing(
    services: Services,
    admin_headers: dict[str, str],
    settings: Any,
    dispatcher: Dispatcher,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    dispatcher.settings = settings.model_copy(update={"webhook_retry_schedule": [0.2] * 100})
    p = new_prefix()
    sub = await subscribe(services, admin_headers, receiver, ["*"])
    ids = await emit(sessionmaker, [(f"{p}.x", f"worker:{i % 4}", {"n": i}) for i in range(20)])
    # Receiver down: attempts fail (connection refused) and are retried.
    for _ in range(10):
        await dispatcher.step()
        await asyncio.sleep(0.05)
    log = await services.registry.get(
        f"/v1/webhook-subscriptions/{sub['id']}/deliveries", headers=admin_headers
    )
    assert any(d["attempts"] >= 1 and d["last_error"] for d in log.json()["items"])
    # Fan-out writes its deliveries with time-ordered keys (UUID version 7, migration 0060).
    assert {uuid.UUID(d["id"]).version for d in log.json()["items"]} == {7}
    receiver.start()
    await run_until(dispatcher, lambda: receiver.accepted_ids() >= set(ids))
    assert receiver.accepted_ids() == set(ids)
    assert settled(await statuses(sessionmaker, sub["id"]))
    assert set(await statuses(sessionmaker, sub["id"])) == {DeliveryStatus.succeeded}


async def test_500_then_200_is_retried_and_every_attempt_logged(
    services: Services,
    admin_headers: dict[str, str],
    dispatcher: Dispatcher,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    receiver.start()
    receiver.script = [(500, {}), (502, {})]
    sub = await subscribe(services, admin_headers, receiver, ["*"])
    [event_id] = await emit(sessionmaker, [(new_prefix() + ".x", "entry:1", {"n": 1})])
    await run_until(dispatcher, lambda: receiver.accepted_ids() == {event_id})
    assert [m.status for m in receiver.messages] == [500, 502, 200]
    assert {m.webhook_id for m in receiver.messages} == {event_id}  # stable across retries
    base = f"/v1/webhook-subscriptions/{sub['id']}/deliveries"
    [delivery] = (await services.registry.get(base, headers=admin_headers)).json()["items"]
    assert delivery["status"] == "succeeded"
    assert delivery["attempts"] == 3
    assert delivery["event_id"] == event_id
    detail = (await services.registry.get(f"{base}/{delivery['id']}", headers=admin_headers)).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 502, 200]
    # The receiver is on loopback, admitted only by WEBHOOK_ALLOWED_HOSTS: what it answered is
    # not kept (test_sending shows what is kept of a public receiver's answer).
    assert [a["response_body"] for a in detail["attempt_log"]] == [None, None, None]
    assert all(a["latency_ms"] >= 0 for a in detail["attempt_log"])
    failed = await services.registry.get(base, params={"status": "failed"}, headers=admin_headers)
    assert failed.json()["items"] == []


async def test_last_attempt_fails_then_redelivery(
    services: Services,
    admin_headers: dict[str, str],
    dispatcher: Dispatcher,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    receiver.start()
    receiver.default_status = 500
    sub = await subscribe(services, admin_headers, receiver, ["*"])
    ids = await emit(
        sessionmaker, [(new_prefix() + ".x", f"entry:{i}", {"n": i}) for i in range(3)]
    )
    await run_until(dispatcher, lambda: settled_sync(receiver, 12))
    await run_until(dispatcher, lambda: _all(sessionmaker, sub["id"], DeliveryStatus.failed))
    base = f"/v1/webhook-subscriptions/{sub['id']}/deliveries"
    failed = await services.registry.get(base, params={"status": "failed"}, headers=admin_headers)
    items = failed.json()["items"]
    assert len(items) == 3
    assert all(d["attempts"] == 4 for d in items)  # the first try and three retries
    receiver.default_status = 200
    one = await services.registry.post(f"{base}/{items[0]['id']}/redeliver", headers=admin_headers)
    assert one.status_code == 202, one.text
    assert one.json()["status"] == "pending"
    await run_until(dispatcher, lambda: receiver.accepted_ids() == {items[0]["event_id"]})
    since = "2000-01-01T00:00:00Z"
    rest = await services.registry.post(
        f"{base}/redeliver", json={"since": since}, headers=admin_headers
    )
    assert rest.status_code == 202, rest.text
    assert rest.json() == {"redelivered": 2}
    await run_until(dispatcher, lambda: receiver.accepted_ids() == set(ids))
    empty = await services.registry.post(
        f"{base}/redeliver",
        json={"since": since, "until": "2001-01-01T00:00:00Z"},
        headers=admin_headers,
    )
    assert empty.json() == {"redelivered": 0}


def settled_sync(receiver: Receiver, count: int) -> bool:
    return len(receiver.messages) >= count


async def _all(
    sessionmaker: async_sessionmaker[AsyncSession], subscription_id: str, status: DeliveryStatus
) -> bool:
    found = await statuses(sessionmaker, subscription_id)
    return bool(found) and set(found) == {status}


async def test_410_disables_the_subscription(
    services: Services,
    admin_headers: dict[str, str],
    dispatcher: Dispatcher,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    receiver.start()
    receiver.script = [(410, {})]
    sub = await subscribe(services, admin_headers, receiver, ["*"])
    p = new_prefix()
    await emit(sessionmaker, [(p + ".x", "entry:1", {"n": 1})])
    await run_until(dispatcher, lambda: len(receiver.messages) == 1)
    await run_until(dispatcher, lambda: _all(sessionmaker, sub["id"], DeliveryStatus.failed))
    got = (
        await services.registry.get(f"/v1/webhook-subscriptions/{sub['id']}", headers=admin_headers)
    ).json()
    assert got["is_active"] is False
    assert "410" in got["disabled_reason"]
    # Disabled: new events wait, nothing is sent; enabling again resumes.
    [later] = await emit(sessionmaker, [(p + ".x", "entry:2", {"n": 2})])
    for _ in range(5):
        await dispatcher.step()
    assert len(receiver.messages) == 1
    enabled = await services.registry.patch(
        f"/v1/webhook-subscriptions/{sub['id']}", json={"is_active": True}, headers=admin_headers
    )
    assert enabled.json()["disabled_reason"] is None
    await run_until(dispatcher, lambda: later in receiver.accepted_ids())


async def test_retry_after_is_honoured(
    services: Services,
    admin_headers: dict[str, str],
    settings: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
    dispatcher: Dispatcher,
    receiver: Receiver,
) -> None:
    # A long schedule: only Retry-After can bring the second attempt this soon.
    dispatcher.settings = settings.model_copy(update={"webhook_retry_schedule": [120.0, 120.0]})
    receiver.start()
    receiver.script = [(429, {"retry-after": "1"}), (503, {"retry-after": "0"})]
    await subscribe(services, admin_headers, receiver, ["*"])
    [event_id] = await emit(sessionmaker, [(new_prefix() + ".x", "entry:1", {"n": 1})])
    await run_until(dispatcher, lambda: event_id in receiver.accepted_ids(), limit=15)
    first, second, third = receiver.messages
    assert [first.status, second.status, third.status] == [429, 503, 200]
    assert second.at - first.at >= 0.9


async def test_rotation_sends_both_signatures(
    services: Services,
    admin_headers: dict[str, str],
    dispatcher: Dispatcher,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    receiver.start()
    sub = await subscribe(services, admin_headers, receiver, ["*"])
    old = sub["secret"]
    rotated = await services.registry.post(
        f"/v1/webhook-subscriptions/{sub['id']}/rotate-secret",
        json={"overlap_seconds": 3600},
        headers=admin_headers,
    )
    new = rotated.json()["secret"]
    receiver.secrets = [new]
    [event_id] = await emit(sessionmaker, [(new_prefix() + ".x", "entry:1", {"n": 1})])
    await run_until(dispatcher, lambda: event_id in receiver.accepted_ids())
    [message] = receiver.accepted()
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(message.body, message.headers)
    Webhook(old).verify(message.body, message.headers)
    # Without overlap, only the new secret signs.
    newest = (
        await services.registry.post(
            f"/v1/webhook-subscriptions/{sub['id']}/rotate-secret",
            json={"overlap_seconds": 0},
            headers=admin_headers,
        )
    ).json()["secret"]
    receiver.secrets = [newest]
    [second] = await emit(sessionmaker, [(new_prefix() + ".x", "entry:1", {"n": 2})])
    await run_until(dispatcher, lambda: second in receiver.accepted_ids())
    assert len(receiver.accepted()[-1].headers["webhook-signature"].split(" ")) == 1


async def test_ping_goes_through_the_same_path(
    services: Services,
    admin_headers: dict[str, str],
    dispatcher: Dispatcher,
    receiver: Receiver,
) -> None:
    receiver.start()
    sub = await subscribe(services, admin_headers, receiver, ["nothing.matches"])
    other = await subscribe(services, admin_headers, receiver, ["*"])
    ping = await services.registry.post(
        f"/v1/webhook-subscriptions/{sub['id']}/ping", headers=admin_headers
    )
    assert ping.status_code == 202, ping.text
    assert ping.json()["event_type"] == "webhook.ping"
    await run_until(dispatcher, lambda: len(receiver.accepted()) == 1)
    for _ in range(3):
        await dispatcher.step()
    [message] = receiver.accepted()  # only the pinged subscription, not the `*` one
    assert message.type == "webhook.ping"
    assert message.data["subscription_id"] == sub["id"]
    Webhook(sub["secret"]).verify(message.body, message.headers)
    delivery = await services.registry.get(
        f"/v1/webhook-subscriptions/{sub['id']}/deliveries/{ping.json()['id']}",
        headers=admin_headers,
    )
    assert delivery.json()["status"] == "succeeded"
    assert delivery.json()["attempt_log"][0]["status_code"] == 200
    assert other["id"] != sub["id"]
    # A disabled subscription cannot be pinged.
    await services.registry.patch(
        f"/v1/webhook-subscriptions/{sub['id']}", json={"is_active": False}, headers=admin_headers
    )
    refused = await services.registry.post(
        f"/v1/webhook-subscriptions/{sub['id']}/ping", headers=admin_headers
    )
    assert refused.status_code == 409
