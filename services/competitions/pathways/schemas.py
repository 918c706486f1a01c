"""Pathway schemas: how a higher event is filled, its qualifiers' quotas, direct places."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared import examples as ex
from shared.models.competitions import (
    CompetitionLevel,
    CompetitionStatus,
    DirectPlaceReason,
    QuotaBasis,
)

QUOTA_DESCRIPTION = (
    "Places this qualifier fills: its nominees in all (`quota_basis` qualifier), or per city "
    "or per enterprise of the nominees."
)


class PathwayUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "open_registration": False,
                    "nominations_close_at": ex.at(ex.REGISTRATION_CLOSES, "17:00"),
                    "direct_places": 1,
                    "occupations": ["车工"],
                }
            ]
        },
    )

    open_registration: bool = Field(
        False, description="Workers may also register themselves (the rules allow it)."
    )
    nominations_close_at: datetime | None = Field(
        None,
        description="Qualifiers submit nominations, and quotas change, until then (with a "
        "time zone offset).",
    )
    direct_places: int = Field(
        0, ge=0, le=1000, description="Places given without qualifying (e.g. last year's top 3)."
    )
    occupations: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Occupations of qualifier events accepted besides the event's own "
        "(a mapping of occupations).",
    )

    @field_validator("nominations_close_at")
    @classmethod
    def _offset(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone offset, e.g. +08:00")
        return value

    @field_validator("occupations")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        if any(not (1 <= len(name) <= 100) for name in value):
            raise ValueError("each occupation has 1 to 100 characters")
        return list(dict.fromkeys(value))


class QualifierCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "qualifier_event_id": ex.EVENT_ID,
                    "qualifier_stage_id": ex.STAGE_ID,
                    "quota": 2,
                    "quota_basis": "qualifier",
                }
            ]
        },
    )

    qualifier_event_id: uuid.UUID = Field(description="The lower-level event that qualifies.")
    qualifier_stage_id: uuid.UUID | None = Field(
        None,
        description="The stage of that event whose final results rank its nominees; default: "
        "its last stage.",
    )
    quota: int = Field(ge=0, le=1000, description=QUOTA_DESCRIPTION)
    quota_basis: QuotaBasis = QuotaBasis.qualifier


class QualifierUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"quota": 3, "reason": "青岛市参赛规模扩大，增加一个名额"}]
        },
    )

    quota: int = Field(ge=0, le=1000, description=QUOTA_DESCRIPTION)
    quota_basis: QuotaBasis | None = Field(None, description="Unchanged when left out.")
    reason: str = Field(min_length=2, max_length=2000, description="Kept in the quota history.")


class Qualifier(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID = Field(description="The higher event it feeds.")
    competition_id: uuid.UUID
    qualifier_event_id: uuid.UUID
    qualifier_competition_id: uuid.UUID
    qualifier_stage_id: uuid.UUID | None
    quota: int = Field(examples=[2])
    quota_basis: QuotaBasis
    version: int
    created_at: datetime
    updated_at: datetime


class QuotaChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    qualifier_id: uuid.UUID
    changed_by: str = Field(examples=[ex.ACCOUNT_ID])
    changed_at: datetime
    old_quota: int | None = Field(examples=[2], description="null: the quota as first set.")
    new_quota: int = Field(examples=[3])
    old_basis: QuotaBasis | None
    new_basis: QuotaBasis
    reason: str = Field(examples=["青岛市参赛规模扩大，增加一个名额"])


class DirectPlaceCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "worker_id": ex.SECOND_WORKER_ID,
                    "reason_kind": "previous_result",
                    "reason": "上届全省数控车工职业技能竞赛第二名，按竞赛规程直接进入决赛",
                }
            ]
        },
    )

    worker_id: uuid.UUID
    reason_kind: DirectPlaceReason = Field(
        description="previous_result (e.g. last year's provincial top three), honour (the "
        "registry must show the worker holding `honour_code`) or other."
    )
    honour_code: str | None = Field(
        None, min_length=1, max_length=64, description="For `honour`: the honour held."
    )
    reason: str = Field(min_length=2, max_length=2000)


class DirectPlace(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event_id: uuid.UUID
    competition_id: uuid.UUID
    worker_id: uuid.UUID = Field(examples=[ex.SECOND_WORKER_ID])
    reason_kind: DirectPlaceReason
    honour_code: str | None = Field(examples=[None])
    reason: str = Field(examples=["上届全省数控车工职业技能竞赛第二名，按竞赛规程直接进入决赛"])
    entry_id: uuid.UUID = Field(description="The worker's entry in the event.")
    created_at: datetime


class EventRef(BaseModel):
    """An event at the other end of a pathway."""

    event_id: uuid.UUID
    event_name: str = Field(examples=[ex.EVENT_NAME])
    competition_id: uuid.UUID
    competition_name: str = Field(examples=[ex.COMPETITION_NAME])
    level: CompetitionLevel
    organiser_locality_code: str = Field(examples=[ex.CITY_CODE])
    status: CompetitionStatus
    qualifier_id: uuid.UUID = Field(description="The pathway link between the two events.")
    quota: int = Field(examples=[2])
    quota_basis: QuotaBasis


class Pathway(BaseModel):
    """How an event is filled: what feeds it (qualifiers and their quotas), direct places,
    open registration; and what it feeds."""

    event_id: uuid.UUID
    competition_id: uuid.UUID
    declared: bool = Field(description="false: no pathway declared (registration only).")
    open_registration: bool = Field(
        True, description="Workers may register themselves (always, without a pathway)."
    )
    nominations_close_at: datetime | None = None
    nominations_open: bool = Field(
        description="Nominations may still be submitted and quotas changed."
    )
    direct_places: int = Field(0, examples=[1])
    occupations: list[str] = Field(default_factory=list)
    fed_by: list[EventRef] = Field(description="Qualifier events and their quotas.")
    feeds: list[EventRef] = Field(description="Higher events this event qualifies for.")
    direct_place_holders: list[DirectPlace] | None = Field(
        None, description="The workers given direct places: for the event's organisers only."
    )
    version: int = Field(description="ETag of the settings; 0 before any are saved.")
