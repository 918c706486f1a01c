"""Events the competitions service sends to webhook subscribers (the OpenAPI `webhooks` section).

Payloads follow Standard Webhooks: `{type, timestamp, data}`, signed with `webhook-id`,
`webhook-timestamp` and `webhook-signature` headers. Every `data` carries `competition_id` and
`organiser_locality_code` (and `event_id`, `stage_id` where it concerns one), so that
subscriptions filtered by competition or locality receive it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from shared import examples as ex

webhooks = APIRouter(tags=["webhooks"])


class CompetitionEventData(BaseModel):
    competition_id: uuid.UUID
    name: str = Field(examples=[ex.PROVINCIAL_COMPETITION_NAME])
    level: str = Field(examples=["provincial"])
    kind: str = Field(examples=["skill_competition"])
    organiser_locality_code: str = Field(examples=["370000"])
    status: str = Field(examples=["registration_open"])


class CompetitionEvent(BaseModel):
    type: str = Field(examples=["registration.opened"])
    timestamp: datetime
    data: CompetitionEventData


class EntryEventData(BaseModel):
    entry_id: uuid.UUID
    event_id: uuid.UUID
    competition_id: uuid.UUID
    organiser_locality_code: str = Field(examples=["370000"])
    locality_code: str = Field(
        examples=["370102"], description="The competitor's (team leader's) locality."
    )
    worker_id: uuid.UUID | None = Field(description="The competitor or team leader.")
    status: str = Field(examples=["approved"])
    reason: str | None = None


class EntryEvent(BaseModel):
    type: str = Field(examples=["entry.approved"])
    timestamp: datetime
    data: EntryEventData


@webhooks.post("competition.published", summary="A competition left draft")
async def competition_published(event: CompetitionEvent) -> None:
    """Sent once, when a competition is first opened for registration."""


@webhooks.post("registration.opened", summary="Registration opened")
async def registration_opened(event: CompetitionEvent) -> None:
    """Sent whenever a competition's registration opens (again)."""


@webhooks.post("entry.approved", summary="An entry was approved")
async def entry_approved(event: EntryEvent) -> None:
    """Sent when organisers approve an entry, or register it themselves."""


@webhooks.post("entry.rejected", summary="An entry was rejected")
async def entry_rejected(event: EntryEvent) -> None:
    """Sent with the organisers' reason."""


@webhooks.post("entry.withdrawn", summary="An entry was withdrawn")
async def entry_withdrawn(event: EntryEvent) -> None:
    """Sent when the competitor, their enterprise or the organisers withdraw it."""
