"""Webhook subscription, delivery and attempt schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared import examples as ex
from shared.models.webhooks import DeliveryStatus
from shared.webhooks.matching import TYPE_PATTERN

#: A placeholder that says what it is: `.example` names (RFC 2606) resolve nowhere, so "Try it
#: out" with it as is answers 422 at `url` (with a hint): replace it with your receiver's URL.
EXAMPLE_URL = "https://your-receiver.example/replace-with-your-webhook-endpoint"

EVENT_TYPES_DESCRIPTION = (
    "Event types to receive: exact (`entry.approved`), a family (`results.*`, `worker.*`) or "
    "everything (`*`). The catalogue is each service's OpenAPI `webhooks` section."
)


def _check_types(types: list[str] | None) -> list[str] | None:
    if types is None:
        return None
    bad = [t for t in types if not TYPE_PATTERN.match(t)]
    if bad:
        raise ValueError(
            f"invalid event type pattern(s) {', '.join(bad)}: use `entry.approved`, "
            "`results.*` or `*`"
        )
    return sorted(set(types))


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": EXAMPLE_URL,
                    "description": "省人社厅 职业技能鉴定系统",
                    "event_types": ["worker.grade_changed", "results.*"],
                    "locality_code": "370100",
                }
            ]
        },
    )

    url: str = Field(
        min_length=8,
        max_length=2048,
        description="The URL of **your own receiver**, which we POST events to. The example "
        "(`your-receiver.example`) is a placeholder that resolves nowhere: replace it, or the "
        "request is refused (422 at `url`). Only public addresses are accepted: private, "
        "loopback, link-local, shared (100.64.0.0/10), multicast, reserved and documentation "
        "addresses are refused, as are IPv6 transition addresses carrying an IPv4 one (6to4, "
        "Teredo, NAT64), port 0, and credentials in the URL. Checked again when sending, "
        "against the address actually connected to.",
    )
    description: str | None = Field(None, max_length=256)
    event_types: list[str] = Field(min_length=1, max_length=50, description=EVENT_TYPES_DESCRIPTION)
    competition_id: uuid.UUID | None = Field(
        None,
        description="Only events whose `data.competition_id` is this competition: every "
        "competitions and judging event (entries, stages, schedules, assignments, scores, "
        "results, appeals, awards) and a grade promotion for its result; registry events about "
        "people otherwise carry none, so they never match.",
    )
    locality_code: str | None = Field(
        None,
        pattern=r"^\d{6}$",
        description="Only events about this locality or inside it: any `data.*locality_code` "
        "(`organiser_locality_code` of the competition's organiser on every competition event, "
        "a person's `locality_code`, a transfer's `from_locality_code`, a mentorship's "
        "`mentor_locality_code` and `apprentice_locality_code`; a city includes its counties, "
        "the province everything).",
    )

    _types = field_validator("event_types")(_check_types)


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"is_active": True}, {"event_types": ["*"]}]},
    )

    url: str | None = Field(None, min_length=8, max_length=2048)
    description: str | None = Field(None, max_length=256)
    event_types: list[str] | None = Field(None, min_length=1, max_length=50)
    competition_id: uuid.UUID | None = Field(None, description="null removes the filter.")
    locality_code: str | None = Field(
        None, pattern=r"^\d{6}$", description="null removes the filter."
    )
    is_active: bool | None = Field(
        None, description="false pauses deliveries (they wait); true resumes them."
    )

    _types = field_validator("event_types")(_check_types)


class Subscription(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner_sub: str = Field(description="The account or machine client managing it.")
    url: str = Field(examples=[EXAMPLE_URL])
    description: str | None = None
    event_types: list[str] = Field(examples=[["worker.grade_changed", "results.*"]])
    competition_id: uuid.UUID | None = None
    locality_code: str | None = Field(None, examples=["370100"])
    is_active: bool
    disabled_reason: str | None = Field(
        None, description="Why the dispatcher disabled it (the endpoint answered 410)."
    )
    previous_secret_expires_at: datetime | None = Field(
        None,
        description="During a secret rotation: until then every message carries a signature "
        "with the previous secret too.",
    )
    created_at: datetime
    updated_at: datetime


class SubscriptionWithSecret(Subscription):
    secret: str = Field(
        description="The signing secret (`whsec_...`), shown once: verify each message with it "
        "(`standardwebhooks.Webhook(secret).verify(body, headers)`).",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class SecretRotation(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"overlap_seconds": 86400}]}
    )

    overlap_seconds: int = Field(
        86400,
        ge=0,
        le=7 * 86400,
        description="How long messages stay signed with the old secret too (both signatures "
        "in `webhook-signature`), so the receiver can switch without losing any.",
    )


class Attempt(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    attempted_at: datetime
    status_code: int | None = Field(None, examples=[500])
    latency_ms: int = Field(examples=[42])
    response_body: str | None = Field(
        None,
        description="A short excerpt of a text answer (at most 200 characters, control "
        "characters removed), kept only when it came from a public address; null for binary "
        "answers and for receivers admitted by WEBHOOK_ALLOWED_HOSTS.",
        examples=["invalid signature"],
    )
    error: str | None = Field(None, examples=["ConnectError: connection refused"])


class Delivery(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID = Field(description="The `webhook-id` header, the same on every retry.")
    event_type: str = Field(examples=["entry.approved"])
    subject: str = Field(examples=["entry:6b1f0c2e-4d7a-4a51-9a43-1f2d3c4b5a69"])
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    created_at: datetime


class DeliveryDetail(Delivery):
    attempt_log: list[Attempt] = Field(description="Every attempt, oldest first.")


class RedeliverFailed(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"since": ex.at(-1, "00:00"), "until": ex.at(0, "00:00")}]},
    )

    since: datetime = Field(description="Deliveries created at or after this time.")
    until: datetime | None = Field(None, description="... and before this time (default now).")

    @model_validator(mode="after")
    def _order(self) -> RedeliverFailed:
        if self.until is not None and self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class RedeliveryResult(BaseModel):
    redelivered: int = Field(description="How many failed deliveries were queued again.")


class PingData(BaseModel):
    subscription_id: uuid.UUID
    message: str = Field(examples=["Ping from Shandong Skills: your endpoint is reachable."])


class PingEvent(BaseModel):
    type: str = Field(examples=["webhook.ping"])
    timestamp: datetime
    data: PingData
