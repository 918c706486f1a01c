"""Record events for outside systems in the transaction of the change (transactional outbox).

Payloads follow the Standard Webhooks shape `{type, timestamp, data}`; `data` carries ids and
changed fields, never identity numbers in clear, and the identifiers subscriptions filter on
(`shared.webhooks.matching`): every event about a competition carries `competition_id` and the
organiser's `organiser_locality_code` (and `event_id`, `stage_id` where it concerns one; see
`competition_scope`), every event about a person that person's `locality_code`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models.infra import OutboxEvent


class CompetitionScope(BaseModel):
    """The identifiers every webhook about a competition carries in its `data` (documented in
    the OpenAPI `webhooks` sections): subscriptions filtered by `competition_id` or by
    `locality_code` match on them."""

    competition_id: uuid.UUID
    organiser_locality_code: str = Field(
        examples=["370100"], description="The organiser's locality (GB/T 2260)."
    )


class StageScope(CompetitionScope):
    """... and of an event about one stage."""

    event_id: uuid.UUID
    stage_id: uuid.UUID


def competition_scope(
    *,
    competition_id: uuid.UUID,
    organiser_locality_code: str,
    event_id: uuid.UUID | None = None,
    stage_id: uuid.UUID | None = None,
) -> dict[str, str]:
    """The identifiers of an event about a competition (or one of its events or stages) that a
    subscription filtered by competition or by locality matches on: put them in its `data`."""
    scope = {
        "competition_id": str(competition_id),
        "organiser_locality_code": organiser_locality_code,
    }
    if event_id is not None:
        scope["event_id"] = str(event_id)
    if stage_id is not None:
        scope["stage_id"] = str(stage_id)
    return scope


def emit(
    session: AsyncSession, *, service: str, type: str, subject: str, data: dict[str, Any]
) -> OutboxEvent:
    """Add an event; it is committed or rolled back together with the caller's change."""
    event = OutboxEvent(
        id=uuid.uuid4(),
        service=service,
        type=type,
        subject=subject,
        payload={"type": type, "timestamp": datetime.now(UTC).isoformat(), "data": data},
    )
    session.add(event)
    return event
