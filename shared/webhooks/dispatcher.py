"""The webhook dispatcher: outbox events become deliveries, deliveries are sent until done.

Two steps, each in short transactions, so that any number of dispatchers can run at once:

- **fan-out**: the events not yet fanned out (`outbox_events.fanned_out_at IS NULL`, claimed
  with `FOR UPDATE SKIP LOCKED` under a transaction-scoped advisory lock, so one dispatcher
  fans out at a time and in `seq` order) get one delivery per matching subscription (a
  disabled one's deliveries wait until it is enabled again),
  in the transaction that marks them fanned out: an event is never skipped nor doubled.
- **delivery**: due pending deliveries are claimed with `FOR UPDATE SKIP LOCKED` and leased
  (`locked_until`); a dispatcher killed mid-batch loses its lease and the deliveries come back
  (the receiver may then see the same `webhook-id` twice, as Standard Webhooks allows). Only
  the oldest pending delivery of a subscription and subject is ever due, so events about the
  same subject (one entry, one worker) reach each subscriber in order.

Every attempt is logged in `webhook_attempts`. 2xx succeeds; 410 disables the subscription;
anything else is retried on WEBHOOK_RETRY_SCHEDULE with jitter (429 and 503 after their
`Retry-After` when given) and, after the last retry, the delivery is marked failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, cast

import httpx
from sqlalchemy import Interval, Table, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.config import Settings
from shared.models.infra import OutboxEvent
from shared.models.webhooks import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from shared.webhooks import signing
from shared.webhooks.matching import DIRECT_TYPES, data_matches, type_matches
from shared.webhooks.ssrf import UnsafeUrl, check_url

log = logging.getLogger("shared.webhooks")

#: pg_try_advisory_xact_lock key of the fan-out step ("whfanout" in ASCII).
FANOUT_LOCK = 0x7768_66616E6F7574
RESPONSE_LIMIT = 1024
INSERT_CHUNK = 2000
MAX_RETRY_AFTER = 86400.0

_CLAIM = text(
    """
    WITH due AS (
        SELECT d.id
        FROM webhook_deliveries d
        JOIN webhook_subscriptions s ON s.id = d.subscription_id AND s.is_active
        WHERE d.status = 'pending'
          AND d.next_attempt_at <= now()
          AND (d.locked_until IS NULL OR d.locked_until < now())
          AND NOT EXISTS (
              SELECT 1 FROM webhook_deliveries e
              WHERE e.subscription_id = d.subscription_id
                AND e.subject = d.subject
                AND e.status = 'pending'
                AND e.event_seq < d.event_seq
          )
        ORDER BY d.next_attempt_at, d.event_seq
        LIMIT :limit
        FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE webhook_deliveries w
    SET lease_id = :lease_id, locked_until = now() + make_interval(secs => :lease_seconds)
    FROM due
    WHERE w.id = due.id
    RETURNING w.id
    """
)


@dataclass(frozen=True)
class Claimed:
    delivery_id: uuid.UUID
    lease_id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    attempts: int
    url: str
    secrets: tuple[str, ...]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    claimed: Claimed
    attempted_at: datetime
    latency_ms: int
    status_code: int | None = None
    response_body: str | None = None
    error: str | None = None
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def retry_delay(
    schedule: Sequence[float], attempts: int, retry_after: float | None
) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones; None when none is left."""
    if attempts > len(schedule):
        return None
    if retry_after is not None:
        return retry_after
    base = schedule[attempts - 1]
    return base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not cryptography


class Dispatcher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        settings: Settings,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.http = http
        self.settings = settings

    # ------------------------------------------------------------------------------ fan-out

    async def fan_out(self) -> int:
        """Turn up to a batch of new outbox events into deliveries; returns how many events."""
        async with self.sessionmaker() as session, session.begin():
            if not await session.scalar(select(func.pg_try_advisory_xact_lock(FANOUT_LOCK))):
                return 0  # another dispatcher is fanning out
            events = (
                await session.execute(
                    select(
                        OutboxEvent.seq,
                        OutboxEvent.id,
                        OutboxEvent.type,
                        OutboxEvent.subject,
                        OutboxEvent.payload,
                    )
                    .where(OutboxEvent.fanned_out_at.is_(None))
                    .order_by(OutboxEvent.seq)
                    .limit(self.settings.webhook_batch_size * 5)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not events:
                return 0
            subscriptions = (
                await session.execute(
                    select(
                        WebhookSubscription.id,
                        WebhookSubscription.event_types,
                        WebhookSubscription.competition_id,
                        WebhookSubscription.locality_code,
                    )
                )
            ).all()
            rows: list[dict[str, Any]] = []
            for event in events:
                if event.type in DIRECT_TYPES:
                    continue
                data = (event.payload or {}).get("data") or {}
                for sub in subscriptions:
                    if type_matches(event.type, sub.event_types) and data_matches(
                        data, sub.competition_id, sub.locality_code
                    ):
                        rows.append(
                            {
                                "id": uuid.uuid4(),
                                "subscription_id": sub.id,
                                "event_seq": event.seq,
                                "event_id": event.id,
                                "event_type": event.type,
                                "subject": event.subject,
                            }
                        )
            for start in range(0, len(rows), INSERT_CHUNK):
                await session.execute(
                    pg_insert(WebhookDelivery)
                    .values(rows[start : start + INSERT_CHUNK])
                    .on_conflict_do_nothing(index_elements=["subscription_id", "event_seq"])
                )
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.seq.in_([e.seq for e in events]))
                .values(fanned_out_at=func.now())
            )
            return len(events)

    # ----------------------------------------------------------------------------- delivery

    async def claim(self) -> list[Claimed]:
        lease_id = uuid.uuid4()
        async with self.sessionmaker() as session, session.begin():
            ids = (
                await session.scalars(
                    _CLAIM,
                    {
                        "limit": self.settings.webhook_batch_size,
                        "lease_id": lease_id,
                        "lease_seconds": self.settings.webhook_lease_seconds,
                    },
                )
            ).all()
            if not ids:
                return []
            rows = (
                await session.execute(
                    select(
                        WebhookDelivery.id,
                        WebhookDelivery.subscription_id,
                        WebhookDelivery.event_id,
                        WebhookDelivery.attempts,
                        WebhookSubscription.url,
                        WebhookSubscription.secret,
                        WebhookSubscription.previous_secret,
                        WebhookSubscription.previous_secret_expires_at,
                        OutboxEvent.payload,
                        func.now().label("now"),
                    )
                    .join(
                        WebhookSubscription,
                        WebhookSubscription.id == WebhookDelivery.subscription_id,
                    )
                    .join(OutboxEvent, OutboxEvent.seq == WebhookDelivery.event_seq)
                    .where(WebhookDelivery.id.in_(ids))
                    .order_by(WebhookDelivery.event_seq)
                )
            ).all()
        out = []
        for r in rows:
            secrets: tuple[str, ...] = (r.secret,)
            if r.previous_secret and (
                r.previous_secret_expires_at is None or r.previous_secret_expires_at > r.now
            ):
                secrets = (r.secret, r.previous_secret)
            out.append(
                Claimed(
                    delivery_id=r.id,
                    lease_id=lease_id,
                    subscription_id=r.subscription_id,
                    event_id=r.event_id,
                    attempts=r.attempts,
                    url=r.url,
                    secrets=secrets,
                    payload=r.payload,
                )
            )
        return out

    async def send(self, claimed: Claimed) -> Outcome:
        attempted_at = datetime.now(UTC)
        started = time.monotonic()

        def done(**kw: Any) -> Outcome:
            latency = int((time.monotonic() - started) * 1000)
            return Outcome(claimed=claimed, attempted_at=attempted_at, latency_ms=latency, **kw)

        try:
            await check_url(claimed.url, self.settings.webhook_allowed_hosts)
        except UnsafeUrl as exc:
            return done(error=f"refused by the SSRF guard: {exc}"[:512])
        body = json.dumps(claimed.payload, ensure_ascii=False, separators=(",", ":"))
        headers = signing.headers(str(claimed.event_id), datetime.now(UTC), body, claimed.secrets)
        try:
            async with self.http.stream(
                "POST", claimed.url, content=body.encode(), headers=headers
            ) as response:
                received = b""
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) >= RESPONSE_LIMIT:
                        break
                retry_after = None
                if response.status_code in (429, 503):
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                return done(
                    status_code=response.status_code,
                    response_body=received[:RESPONSE_LIMIT].decode("utf-8", "replace")[
                        :RESPONSE_LIMIT
                    ],
                    retry_after=retry_after,
                )
        except httpx.TimeoutException:
            return done(error=f"timed out after {self.settings.webhook_timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return done(error=f"{type(exc).__name__}: {exc}"[:512] or type(exc).__name__)

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write the attempts and the deliveries' new state; a lost lease writes nothing."""
        schedule = self.settings.webhook_retry_schedule
        table = cast(Table, WebhookDelivery.__table__)
        params = []
        gone: set[uuid.UUID] = set()
        for o in outcomes:
            attempts = o.claimed.attempts + 1
            status, delay = DeliveryStatus.pending, 0.0
            if o.succeeded:
                status = DeliveryStatus.succeeded
            elif o.gone:
                status = DeliveryStatus.failed
                gone.add(o.claimed.subscription_id)
            else:
                next_delay = retry_delay(schedule, attempts, o.retry_after)
                if next_delay is None:
                    status = DeliveryStatus.failed
                else:
                    delay = next_delay
            params.append(
                {
                    "d_id": o.claimed.delivery_id,
                    "d_lease": o.claimed.lease_id,
                    "d_status": status.value,
                    "d_attempts": attempts,
                    "d_delay": timedelta(seconds=delay),
                    "d_code": o.status_code,
                    "d_error": o.error,
                    "d_delivered": o.attempted_at if o.succeeded else None,
                }
            )
            if not o.succeeded:
                log.info(
                    "webhook delivery attempt failed",
                    extra={
                        "delivery_id": str(o.claimed.delivery_id),
                        "status_code": o.status_code,
                        "error": o.error,
                        "outcome": status.value,
                    },
                )
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                update(table)
                .where(
                    table.c.id == bindparam("d_id"),
                    table.c.lease_id == bindparam("d_lease"),
                    table.c.status == DeliveryStatus.pending.value,
                )
                .values(
                    status=bindparam("d_status"),
                    attempts=bindparam("d_attempts"),
                    next_attempt_at=func.now() + bindparam("d_delay", type_=Interval()),
                    last_status_code=bindparam("d_code"),
                    last_error=bindparam("d_error"),
                    delivered_at=func.coalesce(bindparam("d_delivered"), table.c.delivered_at),
                    lease_id=None,
                    locked_until=None,
                )
                .execution_options(synchronize_session=False),
                params,
            )
            await session.execute(
                insert(cast(Table, WebhookAttempt.__table__)),
                [
                    {
                        "delivery_id": o.claimed.delivery_id,
                        "attempted_at": o.attempted_at,
                        "status_code": o.status_code,
                        "latency_ms": o.latency_ms,
                        "response_body": o.response_body,
                        "error": o.error,
                    }
                    for o in outcomes
                ],
            )
            if gone:
                await session.execute(
                    update(WebhookSubscription)
                    .where(WebhookSubscription.id.in_(gone))
                    .values(
                        is_active=False,
                        disabled_reason="The endpoint answered 410 Gone: disabled by the "
                        "dispatcher. Enable it again with PATCH once the URL works.",
                    )
                )

    async def deliver_due(self) -> int:
        """Claim a batch of due deliveries, send them concurrently, record the outcomes."""
        claimed = await self.claim()
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self.send(c) for c in claimed))
        await self.record(outcomes)
        return len(claimed)

    async def step(self) -> bool:
        """One fan-out and one delivery batch; True if there was work."""
        fanned = await self.fan_out()
        sent = await self.deliver_due()
        return bool(fanned or sent)

    async def run(self, stopping: asyncio.Event) -> None:
        """Work until `stopping` is set; the batch in flight is finished and recorded first."""
        log.info("webhook dispatcher started")
        while not stopping.is_set():
            busy = False
            try:
                busy = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook dispatcher step failed; retrying")
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.settings.webhook_poll_seconds)
        log.info("webhook dispatcher stopped")
