"""The webhook dispatcher: outbox events become deliveries, deliveries are sent until done.

Two steps, each in short transactions, so that any number of dispatchers can run at once:

- **fan-out**: the events not yet fanned out (`outbox_events.fanned_out_at IS NULL`, claimed
  with `FOR UPDATE SKIP LOCKED` under a transaction-scoped advisory lock, so one dispatcher
  fans out at a time and in `seq` order) get one delivery per matching subscription (a
  disabled one's deliveries wait until it is enabled again) whose owner may read the event
  now (`shared.webhooks.audience`: checked again before each send),
  in the transaction that marks them fanned out: an event is never skipped nor doubled.
- **delivery**: due pending deliveries are claimed with `FOR UPDATE SKIP LOCKED` and leased
  (`locked_until`); a dispatcher killed mid-batch loses its lease and the deliveries come back
  (the receiver may then see the same `webhook-id` twice, as Standard Webhooks allows). Only
  the oldest pending delivery of a subscription and subject is ever due, so events about the
  same subject (one entry, one worker) reach each subscriber in order.

Requests go out through one aiohttp `ClientSession` per dispatcher (httpx cost ~80% of the
dispatcher's CPU, aiohttp a fraction of it): its connector keeps the connections alive per
origin, and WEBHOOK_SUBSCRIPTION_CONCURRENCY slots per subscription bound the requests in
flight to each subscriber. One timeout covers the whole exchange (connecting included); no
redirect is followed, no proxy or `.netrc` from the environment is used, no cookie is kept,
certificates and host names are verified, and at most RESPONSE_LIMIT bytes of an answer's body
are read (a connection whose answer was not read to its end is closed, not reused).

The SSRF guard (`shared.webhooks.ssrf`) sits in the connector: names are resolved only by its
`GuardedResolver`, which checks every address and returns only checked ones, so each
connection goes to an address that was checked for it (DNS rebinding cannot redirect it), with
the URL's host name kept for the Host header, SNI and certificate verification; an address
literal is checked before each request. A refused URL is an attempt with an error, retried like
any failure (the name may be fixed), never a request.

Signing secrets are stored encrypted (`signing.seal_secret`); the claim decrypts them with the
data key, which the dispatcher loads from DATA_KEY or KEY_DIR and never creates.

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
import re
import ssl
import time
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver
from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.config import Settings
from shared.crypto import PersonalDataCipher, load_cipher
from shared.models.infra import OutboxEvent
from shared.models.webhooks import DeliveryStatus, WebhookSubscription
from shared.webhooks import signing
from shared.webhooks.audience import Owner, load_owners, may_receive
from shared.webhooks.matching import DIRECT_TYPES, data_matches, type_matches
from shared.webhooks.ssrf import (
    GuardedResolver,
    RefusedAddress,
    UnsafeUrl,
    check_literal,
    forbidden_reason,
    target_of,
)

log = logging.getLogger("shared.webhooks")

#: pg_try_advisory_xact_lock key of the fan-out step ("whfanout" in ASCII).
FANOUT_LOCK = 0x7768_66616E6F7574
RESPONSE_LIMIT = 1024
#: The most of an answer the delivery log keeps (see `answer_excerpt`).
EXCERPT_CHARS = 200
MAX_RETRY_AFTER = 86400.0
_TEXT_TYPES = re.compile(
    r"^(text/[^;]+|application/([a-z0-9.+-]*\+)?(json|xml)|application/x-www-form-urlencoded)"
    r"\s*(;|$)",
    re.IGNORECASE,
)


def answer_excerpt(body: bytes, content_type: str | None, peer_is_public: bool) -> str | None:
    """What the delivery log keeps of an answer: at most EXCERPT_CHARS characters of a text
    answer, control and format characters turned into spaces, whitespace collapsed; nothing
    from a binary answer, and nothing at all from an address that is not public.

    Why so little: the log is read by whoever manages the subscription (an admin, or an
    outside system with `webhooks:manage`), and a receiver's answer is the one thing the
    dispatcher fetches on a subscriber's behalf. The SSRF guard keeps targets public, but
    WEBHOOK_ALLOWED_HOSTS may admit an intranet network: an answer from there (status page,
    error page with internal details) must not become readable through our API, so only its
    status is logged. From a public receiver, a short excerpt is what one needs to see why
    it refused ("invalid signature", "unknown event type"), and too little to carry much
    else; markup, escapes and terminal control sequences are flattened."""
    if not peer_is_public or not body:
        return None
    media = (content_type or "").strip()
    if media and not _TEXT_TYPES.match(media):
        return None
    try:
        text_ = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not media or exc.start < len(body) - 3:  # not merely a character cut at the limit
            return None
        text_ = body[: exc.start].decode("utf-8")
    cleaned = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text_)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > EXCERPT_CHARS:
        cleaned = cleaned[: EXCERPT_CHARS - 1] + "…"
    return cleaned or None


#: The claim reads the due index in its order and stops at a full batch; each candidate is
#: checked by index lookups (is it the oldest pending delivery of its subscription and subject,
#: is its subscription active). Written so that no join order is left to the planner: the
#: deliveries' statistics are stale by nature (a queue: thousands of pending rows appear in a
#: second, and without autovacuum's ANALYZE the table looks empty), and with an anti-join and a
#: join to the subscriptions the planner chose a bitmap scan of *every* due delivery, the
#: anti-join for each, then a sort: ~100 ms and ~160,000 buffers per claim at 30,000 pending,
#: growing with the backlog. See `_CLAIM_SETTINGS` for the sort.
_CLAIM = text(
    """
    WITH due AS (
        SELECT d.id
        FROM webhook_deliveries d
        WHERE d.status = 'pending'
          AND d.next_attempt_at <= now()
          AND (d.locked_until IS NULL OR d.locked_until < now())
          AND d.event_seq = (
              SELECT min(e.event_seq) FROM webhook_deliveries e
              WHERE e.subscription_id = d.subscription_id
                AND e.subject = d.subject
                AND e.status = 'pending'
          )
          AND (SELECT s.is_active FROM webhook_subscriptions s WHERE s.id = d.subscription_id)
        ORDER BY d.next_attempt_at, d.event_seq
        LIMIT :limit
        FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE webhook_deliveries w
    SET lease_id = :lease_id, locked_until = now() + make_interval(secs => :lease_seconds)
    FROM webhook_subscriptions s, outbox_events o
    WHERE w.id = ANY(ARRAY(SELECT id FROM due))  -- by primary key, not a scan of the table
      AND s.id = w.subscription_id AND o.seq = w.event_seq
    RETURNING w.id, w.subscription_id, w.event_id, w.event_type, w.attempts, s.owner_sub,
        s.url, s.secret_enc,
        CASE WHEN s.previous_secret_expires_at IS NULL OR s.previous_secret_expires_at > now()
             THEN s.previous_secret_enc END AS previous_secret_enc,
        o.payload
    """
)
#: For the claim's transaction only: the batch must come from the due index in its order
#: (`ix_webhook_deliveries_due`, stopping after LIMIT rows), never from sorting all due rows,
#: whatever the statistics say; disabling sorts leaves the planner only that path. And no JIT:
#: with fresh statistics the plan's cost (the whole index, before LIMIT) passes jit_above_cost,
#: and compiling took 17-280 ms for a claim that runs in 2 ms.
_CLAIM_SETTINGS = text(
    "SELECT set_config('enable_sort', 'off', true), set_config('jit', 'off', true)"
)
#: One statement records a batch: the deliveries' new state (only where this lease still
#: holds them) and one attempt row each, from arrays instead of one statement per delivery.
_RECORD = text(
    """
    WITH v AS (
        SELECT * FROM unnest(
            CAST(:ids AS uuid[]), CAST(:leases AS uuid[]), CAST(:statuses AS text[]),
            CAST(:attempts AS int[]), CAST(:delays AS float8[]), CAST(:codes AS int[]),
            CAST(:errors AS text[]), CAST(:attempted AS timestamptz[]),
            CAST(:latencies AS int[]), CAST(:bodies AS text[])
        ) AS v(id, lease, status, attempts, delay, code, error, attempted, latency, body)
    ), updated AS (
        UPDATE webhook_deliveries d
        SET status = v.status, attempts = v.attempts,
            next_attempt_at = now() + make_interval(secs => v.delay),
            last_status_code = v.code, last_error = v.error,
            delivered_at = CASE WHEN v.status = 'succeeded' THEN v.attempted
                                ELSE d.delivered_at END,
            lease_id = NULL, locked_until = NULL
        FROM v
        -- `d.id = ANY(...)`: by primary key whatever the statistics (a join on `d.id = v.id`
        -- alone got a hash join over a scan of every pending delivery)
        WHERE d.id = ANY(CAST(:ids AS uuid[])) AND d.id = v.id
          AND d.lease_id = v.lease AND d.status = 'pending'
    )
    INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms,
                                  response_body, error)
    SELECT id, attempted, code, latency, body, error FROM v
    """
)
#: Fan-out's deliveries, from arrays (a batch of events times the subscriptions); time-ordered
#: ids (migration 0060): a bulk write's new keys are neighbours in the primary key's index.
_FAN_OUT = text(
    """
    INSERT INTO webhook_deliveries (id, subscription_id, event_seq, event_id, event_type, subject)
    SELECT uuid_v7(), * FROM unnest(
        CAST(:subscriptions AS uuid[]), CAST(:seqs AS bigint[]), CAST(:event_ids AS uuid[]),
        CAST(:types AS text[]), CAST(:subjects AS text[])
    )
    ON CONFLICT (subscription_id, event_seq) DO NOTHING
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
    #: Why it cannot be sent (its secret does not decrypt); logged as the attempt's error.
    problem: str | None = None
    #: The problem is for good (the owner may no longer read the event): failed at once.
    final: bool = False


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
    """Fans events out and delivers them; `aclose()` closes its HTTP connections."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        tls: ssl.SSLContext | None = None,
        cipher: PersonalDataCipher | None = None,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        #: Decrypts the signing secrets; loaded on first use (DATA_KEY or KEY_DIR/data.key).
        self._cipher = cipher
        #: Where names are looked up (aiohttp's default resolver unless a test gives one);
        #: always behind the SSRF guard's `GuardedResolver`.
        self._resolver = resolver
        self._guard: GuardedResolver | None = None
        #: Per subscription, WEBHOOK_SUBSCRIPTION_CONCURRENCY slots: a delivery takes one for
        #: its request, so at most that many requests are in flight to one subscriber.
        self._slots_by_subscription: dict[uuid.UUID, asyncio.Semaphore] = {}
        self._progress = asyncio.Event()
        #: Certificates are verified against this context (by default the CA bundle httpx
        #: uses; building one costs ~30 ms, so it is built once).
        self._tls = tls
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        """The dispatcher's HTTP client, created in its event loop on first use."""
        if self._http is None or self._http.closed:
            if self._tls is None:
                self._tls = httpx.create_ssl_context()
            self._guard = GuardedResolver(self.settings.webhook_allowed_hosts, self._resolver)
            connector = aiohttp.TCPConnector(
                ssl=self._tls,
                # The SSRF guard: every name is resolved, checked and pinned here.
                resolver=self._guard,
                # No overall or per-host cap: the slots bound the requests per subscription
                # (a cap per host would make subscribers sharing a host wait for each other).
                limit=0,
                limit_per_host=0,
                keepalive_timeout=30,
            )
            self._http = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout_seconds),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._http

    def _slots(self, subscription_id: uuid.UUID) -> asyncio.Semaphore:
        slots = self._slots_by_subscription.get(subscription_id)
        if slots is None:
            slots = asyncio.Semaphore(self.settings.webhook_subscription_concurrency)
            self._slots_by_subscription[subscription_id] = slots
        return slots

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._guard is not None:
            await self._guard.close()  # the connector closes only a resolver it made itself
            self._guard = None
        self._slots_by_subscription.clear()

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
                        WebhookSubscription.owner_sub,
                        WebhookSubscription.event_types,
                        WebhookSubscription.competition_id,
                        WebhookSubscription.locality_code,
                    )
                )
            ).all()
            # What each owner may read now: a revoked client, a disabled account or a scope
            # withdrawn since subscribing stops the events it no longer may read.
            owners = await load_owners(session, {sub.owner_sub for sub in subscriptions})
            rows: dict[str, list[Any]] = {
                "subscriptions": [],
                "seqs": [],
                "event_ids": [],
                "types": [],
                "subjects": [],
            }
            for event in events:
                if event.type in DIRECT_TYPES:
                    continue
                data = (event.payload or {}).get("data") or {}
                for sub in subscriptions:
                    if (
                        type_matches(event.type, sub.event_types)
                        and data_matches(data, sub.competition_id, sub.locality_code)
                        and may_receive(owners.get(sub.owner_sub), event.type, data)
                    ):
                        rows["subscriptions"].append(sub.id)
                        rows["seqs"].append(event.seq)
                        rows["event_ids"].append(event.id)
                        rows["types"].append(event.type)
                        rows["subjects"].append(event.subject)
            if rows["seqs"]:
                await session.execute(_FAN_OUT, rows)
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.seq.in_([e.seq for e in events]))
                .values(fanned_out_at=func.now())
            )
            return len(events)

    # ----------------------------------------------------------------------------- delivery

    async def claim(self) -> list[Claimed]:
        """Lease a batch of due deliveries, with everything needed to send them, in one
        statement."""
        lease_id = uuid.uuid4()
        async with self.sessionmaker() as session, session.begin():
            await session.execute(_CLAIM_SETTINGS)
            rows = (
                await session.execute(
                    _CLAIM,
                    {
                        "limit": self.settings.webhook_batch_size,
                        "lease_id": lease_id,
                        "lease_seconds": self.settings.webhook_lease_seconds,
                    },
                )
            ).all()
            # Checked again at sending: an owner revoked (or its scope withdrawn) after the
            # fan-out gets nothing more, not even what was queued for it.
            owners = await load_owners(session, {r.owner_sub for r in rows}) if rows else {}
        if rows and self._cipher is None:
            self._cipher = load_cipher(self.settings.data_key, self.settings.key_dir, create=False)
        return [self._claimed(r, lease_id, owners) for r in rows]

    def _claimed(self, row: Any, lease_id: uuid.UUID, owners: dict[str, Owner]) -> Claimed:
        assert self._cipher is not None
        data = (row.payload or {}).get("data") or {}
        if not may_receive(owners.get(row.owner_sub), row.event_type, data):
            return Claimed(
                delivery_id=row.id,
                lease_id=lease_id,
                subscription_id=row.subscription_id,
                event_id=row.event_id,
                attempts=row.attempts,
                url=row.url,
                secrets=(),
                payload=row.payload,
                problem="not sent: the subscription's owner may not read this event now "
                "(disabled, revoked, or without the read scope it needs)",
                final=True,
            )
        problem = None
        try:
            secrets = tuple(
                signing.open_secret(self._cipher, row.subscription_id, sealed)
                for sealed in (row.secret_enc, row.previous_secret_enc)
                if sealed is not None
            )
        except InvalidTag:
            secrets, problem = (), "the subscription's secret does not decrypt with this DATA_KEY"
            log.error(
                "webhook secret does not decrypt: wrong DATA_KEY or KEY_DIR?",
                extra={"subscription_id": str(row.subscription_id)},
            )
        return Claimed(
            delivery_id=row.id,
            lease_id=lease_id,
            subscription_id=row.subscription_id,
            event_id=row.event_id,
            attempts=row.attempts,
            url=row.url,
            secrets=secrets,
            payload=row.payload,
            problem=problem,
        )

    async def send(self, claimed: Claimed) -> Outcome:
        """One attempt, at most WEBHOOK_SUBSCRIPTION_CONCURRENCY at once per subscription."""
        async with self._slots(claimed.subscription_id):
            return await self._send(claimed)

    async def _send(self, claimed: Claimed) -> Outcome:
        attempted_at = datetime.now(UTC)
        started = time.monotonic()

        def done(**kw: Any) -> Outcome:
            latency = int((time.monotonic() - started) * 1000)
            return Outcome(claimed=claimed, attempted_at=attempted_at, latency_ms=latency, **kw)

        if claimed.problem is not None:
            return done(error=claimed.problem)
        try:
            # The shape, and an address literal (no resolver sees those); names are checked
            # by the connector's GuardedResolver when it connects.
            check_literal(claimed.url, self.settings.webhook_allowed_hosts)
        except UnsafeUrl as exc:
            return done(error=f"refused by the SSRF guard: {exc}"[:512])
        body = json.dumps(claimed.payload, ensure_ascii=False, separators=(",", ":"))
        headers = signing.headers(str(claimed.event_id), datetime.now(UTC), body, claimed.secrets)
        timeout = self.settings.webhook_timeout_seconds
        try:
            async with self._session().post(
                claimed.url, data=body.encode(), headers=headers, allow_redirects=False
            ) as response:
                received = b""
                while len(received) < RESPONSE_LIMIT:
                    chunk = await response.content.read(RESPONSE_LIMIT - len(received))
                    if not chunk:
                        break
                    received += chunk
                retry_after = None
                if response.status in (429, 503):
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                return done(
                    status_code=response.status,
                    response_body=answer_excerpt(
                        received,
                        response.headers.get("content-type"),
                        self._public_receiver(claimed.url),
                    ),
                    retry_after=retry_after,
                )
        except TimeoutError:  # aiohttp's own timeouts derive from it too
            return done(error=f"timed out after {timeout:g} s")
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, RefusedAddress):
                return done(error=f"refused by the SSRF guard: {exc.os_error}"[:512])
            return done(error=f"{type(exc).__name__}: {exc}"[:512] or type(exc).__name__)
        except aiohttp.ClientError as exc:
            return done(error=f"{type(exc).__name__}: {exc}"[:512] or type(exc).__name__)

    def _public_receiver(self, url: str) -> bool:
        """Was the URL reached at public addresses only (none admitted by
        WEBHOOK_ALLOWED_HOSTS)? Asked once its answer came: the guard has resolved it by then."""
        target = target_of(url)
        if target.address is not None:
            return forbidden_reason(target.address) is None
        return self._guard is not None and target.host not in self._guard.exempted

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write the attempts and the deliveries' new state; a lost lease changes no delivery
        (its attempt is still logged)."""
        schedule = self.settings.webhook_retry_schedule
        columns: dict[str, list[Any]] = {
            key: []
            for key in (
                "ids",
                "leases",
                "statuses",
                "attempts",
                "delays",
                "codes",
                "errors",
                "attempted",
                "latencies",
                "bodies",
            )
        }
        gone: set[uuid.UUID] = set()
        for o in outcomes:
            attempts = o.claimed.attempts + 1
            status, delay = DeliveryStatus.pending, 0.0
            if o.succeeded:
                status = DeliveryStatus.succeeded
            elif o.gone:
                status = DeliveryStatus.failed
                gone.add(o.claimed.subscription_id)
            elif o.claimed.final:
                status = DeliveryStatus.failed
            else:
                next_delay = retry_delay(schedule, attempts, o.retry_after)
                if next_delay is None:
                    status = DeliveryStatus.failed
                else:
                    delay = next_delay
            columns["ids"].append(o.claimed.delivery_id)
            columns["leases"].append(o.claimed.lease_id)
            columns["statuses"].append(status.value)
            columns["attempts"].append(attempts)
            columns["delays"].append(delay)
            columns["codes"].append(o.status_code)
            columns["errors"].append(o.error)
            columns["attempted"].append(o.attempted_at)
            columns["latencies"].append(o.latency_ms)
            columns["bodies"].append(o.response_body)
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
        if not outcomes:
            return
        async with self.sessionmaker() as session, session.begin():
            await session.execute(_RECORD, columns)
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
        self._notify()
        return len(claimed)

    async def step(self) -> bool:
        """One fan-out and one delivery batch; True if there was work."""
        fanned = await self.fan_out()
        sent = await self.deliver_due()
        return bool(fanned or sent)

    def _notify(self) -> None:
        """Wake the idle lanes: a batch was recorded (the next delivery of its subjects may be
        due now) or events were fanned out."""
        progress, self._progress = self._progress, asyncio.Event()
        progress.set()

    async def _idle(self, progress: asyncio.Event, stopping: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(progress.wait()), asyncio.ensure_future(stopping.wait())]
        try:
            await asyncio.wait(
                waits,
                timeout=self.settings.webhook_poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waits:
                waiter.cancel()

    async def _lane(self, stopping: asyncio.Event) -> None:
        """Claim, send, record, again. WEBHOOK_CONCURRENCY lanes run side by side, so one
        lane's claim and record overlap the others' sending. Deliveries about one subject
        stay in order across lanes (and dispatchers): the claim only takes a subscription's
        oldest pending delivery of a subject, and a leased one is still pending."""
        while not stopping.is_set():
            progress = self._progress
            sent = 0
            try:
                sent = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook delivery batch failed; retrying")
            if not sent:
                await self._idle(progress, stopping)

    async def _fan_out_loop(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            fanned = 0
            try:
                fanned = await self.fan_out()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook fan-out failed; retrying")
            if fanned:
                self._notify()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), self.settings.webhook_poll_seconds)

    async def run(self, stopping: asyncio.Event) -> None:
        """Work until `stopping` is set; the batches in flight are finished and recorded first."""
        log.info("webhook dispatcher started")
        lanes = [self._lane(stopping) for _ in range(self.settings.webhook_concurrency)]
        await asyncio.gather(self._fan_out_loop(stopping), *lanes)
        log.info("webhook dispatcher stopped")
