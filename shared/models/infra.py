"""Infrastructure tables every service writes its own rows to: audit log, idempotency keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base


class AuditLog(Base):
    """Append-only record of every write. A trigger (migration 0001) refuses UPDATE and DELETE."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, index=True
    )
    service: Mapped[str] = mapped_column(String(32))
    actor_sub: Mapped[str | None] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class IdempotencyKey(Base):
    """The first answer to a create sent with an `Idempotency-Key`, replayed on repeats.

    The row is inserted before the create runs (the claim) and given its answer in the same
    transaction, so a committed row always has one. The answer is `response_sealed` (encrypted)
    in services holding personal data in clear, else `response_body` (shared/idempotency.py).
    """

    __tablename__ = "idempotency_keys"

    service: Mapped[str] = mapped_column(String(32), primary_key=True)
    principal_sub: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[Any | None] = mapped_column(JSONB)
    response_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    location: Mapped[str | None] = mapped_column(String(512))
    resource_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, index=True
    )


class OutboxEvent(Base):
    """An event for outside systems, written in the same transaction as the change it reports.

    The webhook dispatcher (issue 6) fans these out to subscriptions; `id` doubles as the
    Standard Webhooks `webhook-id`, stable across retries.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_subject", "subject", "seq"),
        # The dispatcher's fan-out reads the events not yet turned into deliveries, in order.
        Index("ix_outbox_events_unfanned", "seq", postgresql_where=text("fanned_out_at IS NULL")),
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(unique=True, default=uuid.uuid4)
    service: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    #: Set by the dispatcher once the event's deliveries exist (NULL: still to fan out).
    fanned_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RateLimitCounter(Base):
    """Requests per (bucket, client) in one fixed window, shared by every replica
    (shared/ratelimit.py). `key_hash` is a digest: no address or username is kept in clear."""

    __tablename__ = "rate_limit_counters"

    bucket: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    __table_args__ = (Index("ix_rate_limit_counters_window_start", "window_start"),)
