"""Webhook subscriptions, their deliveries and the log of every attempt (owned by the registry).

The dispatcher (`python -m shared.webhooks`) turns outbox events into one delivery per matching
subscription, sends each delivery until it succeeds or runs out of attempts, and logs every
attempt here.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk


class DeliveryStatus(enum.StrEnum):
    pending = "pending"  # waiting for its first attempt or a retry
    succeeded = "succeeded"  # the receiver answered 2xx
    failed = "failed"  # out of attempts, or the subscription answered 410


class WebhookSubscription(Base):
    """An outside system's endpoint and the events it wants, with the secret we sign with."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = uuid_pk()
    #: The account or machine client (`sub`) that manages it.
    owner_sub: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(256))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    competition_id: Mapped[uuid.UUID | None] = mapped_column()
    locality_code: Mapped[str | None] = mapped_column(String(6))
    # Encrypted with the data key, bound to this row's id (`shared.webhooks.signing`): the
    # dispatcher needs the secret itself to sign (HMAC), so it cannot be a hash.
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    disabled_reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class WebhookDelivery(Base):
    """One event for one subscription: sent until the receiver answers 2xx or attempts run out.

    `event_id` (the outbox event's id) is the `webhook-id` header, the same on every retry.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_seq"),
        # The dispatcher's claim: due pending deliveries, in the order it takes them (an
        # index on the time alone made every claim sort all due deliveries).
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            "event_seq",
            postgresql_where=text("status = 'pending'"),
        ),
        # Per-subscriber ordering: is an earlier delivery about the same subject still pending?
        Index(
            "ix_webhook_deliveries_queue",
            "subscription_id",
            "subject",
            "event_seq",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_log", "subscription_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_seq: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[uuid.UUID] = mapped_column()
    event_type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus), server_default=DeliveryStatus.pending.value
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # A dispatcher's claim: until `locked_until` nobody else sends it; after, it comes back.
    lease_id: Mapped[uuid.UUID | None] = mapped_column()
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(512))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: what the receiver answered, how fast, or what failed."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    #: A short, cleaned excerpt of a text answer from a public address, or nothing
    #: (`shared.webhooks.dispatcher.answer_excerpt` says why).
    response_body: Mapped[str | None] = mapped_column(String(1024))
    error: Mapped[str | None] = mapped_column(String(512))
