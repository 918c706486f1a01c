"""The judging service's webhook catalogue: the events subscribers may choose (documented in the
OpenAPI `webhooks` section; subscribe at the registry's `/v1/webhook-subscriptions`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.judging.awards.schemas import AwardEvent

webhooks = APIRouter(tags=["events"])


class JudgingEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`; `data` carries `stage_id`,
    `competition_id` and `organiser_locality_code` for subscription filters."""

    type: str = Field(examples=["results.final"])
    timestamp: datetime
    data: dict[str, Any] = Field(
        examples=[
            {
                "stage_id": "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
                "competition_id": "0a5e8f3c-2b1d-4c6e-8f7a-9b0c1d2e3f4a",
                "organiser_locality_code": "370000",
            }
        ]
    )


@webhooks.post("scores.locked", summary="A stage's scores were locked")
async def scores_locked(event: JudgingEvent) -> None:
    """Sent when the panel lock closes a stage's scoring (every judge signed off, or the
    organiser locked it); blind codes can then be decoded."""


@webhooks.post("results.provisional", summary="Provisional results were published")
async def results_provisional(event: JudgingEvent) -> None:
    """Sent when a result version is published as provisional: the appeal window opens."""


@webhooks.post("results.final", summary="Results became final")
async def results_final(event: JudgingEvent) -> None:
    """Sent when a stage's results are frozen as final (after the appeal window)."""


@webhooks.post("appeal.filed", summary="An appeal was filed")
async def appeal_filed(event: JudgingEvent) -> None:
    """Sent when a competitor or team leader appeals a provisional result."""


@webhooks.post("appeal.decided", summary="An appeal was decided")
async def appeal_decided(event: JudgingEvent) -> None:
    """Sent when the arbitration panel upholds or rejects an appeal (`data.status`)."""


@webhooks.post("award.granted", summary="An award reached the registry")
async def award_granted(event: AwardEvent) -> None:
    """Sent once per award when the registry has recorded it: an honour grant, a grade
    promotion or a talent-file competition result (`data.kind`), with the competitor, rank,
    prize and the registry's record (`data.registry_ref`)."""
