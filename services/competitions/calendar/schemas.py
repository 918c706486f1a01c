"""Calendar schemas: competitions across all levels with their pathways, and "open to me"."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.competitions.pathways.schemas import EventRef
from shared import examples as ex
from shared.models.competitions import (
    CompetitionKind,
    CompetitionLevel,
    CompetitionStatus,
    EventMode,
)
from shared.models.registry.enums import Industry


class CalendarEvent(BaseModel):
    event_id: uuid.UUID
    name: str = Field(examples=[ex.EVENT_NAME])
    occupation: str
    mode: EventMode
    pathway_declared: bool
    open_registration: bool = Field(
        description="Workers may register themselves (no pathway, or the pathway allows it)."
    )
    nominations_close_at: datetime | None = None
    direct_places: int = Field(0, examples=[1])
    fed_by: list[EventRef] = Field(description="Qualifier events feeding this one.")
    feeds: list[EventRef] = Field(description="Higher events this one qualifies for.")


class CalendarItem(BaseModel):
    competition_id: uuid.UUID
    name: str = Field(examples=[ex.PROVINCIAL_COMPETITION_NAME])
    kind: CompetitionKind
    level: CompetitionLevel
    year: int = Field(examples=[ex.YEAR])
    organiser_locality_code: str = Field(examples=[ex.PROVINCE_CODE])
    organiser_enterprise_id: uuid.UUID | None = Field(None, examples=[None])
    industry: Industry | None = None
    status: CompetitionStatus
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    events: list[CalendarEvent]


class OpenEventReason(BaseModel):
    rule: str = Field(
        examples=["max_age"],
        description="registration_closed, nomination_only, not_in_qualifier, "
        "nominations_closed, already_qualified, or an eligibility rule (min_age, max_age, "
        "min_grade, max_grade, allowed_localities, file_active, not_national_winner).",
    )
    message: str = Field(examples=["aged 41 on 2026-11-20, above the maximum 35"])


class OpenEvent(BaseModel):
    event_id: uuid.UUID
    event_name: str = Field(examples=[ex.EVENT_NAME])
    occupation: str
    competition_id: uuid.UUID
    competition_name: str = Field(examples=[ex.PROVINCIAL_COMPETITION_NAME])
    level: CompetitionLevel
    competition_status: CompetitionStatus
    starts_on: date | None = None
    verdict: Literal["entered", "nominated", "can_enter", "can_be_nominated", "cannot"] = Field(
        description="entered: you hold an entry; nominated: you are nominated into it; "
        "can_enter: register now; can_be_nominated: through a qualifier you compete in; "
        "cannot: see `reasons`."
    )
    through: list[EventRef] = Field(
        default_factory=list, description="can_be_nominated: the qualifiers you compete in."
    )
    reasons: list[OpenEventReason] = Field(default_factory=list)
