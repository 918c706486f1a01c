"""Nomination (推荐) schemas: suggestions from a qualifier's results, nominations, decisions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import examples as ex
from shared.models.competitions import NominationStatus, QuotaBasis
from shared.numbers import JsonDecimal

Score = JsonDecimal


class SkipReason(BaseModel):
    rule: str = Field(
        examples=["max_age"],
        description="already_qualified, entry_status, earlier_nomination, or an eligibility "
        "rule of the higher event (min_age, max_age, min_grade, ...).",
    )
    message: str = Field(examples=["aged 41 on 2026-11-20, above the maximum 35"])


class Suggestion(BaseModel):
    rank: int = Field(examples=[1])
    entry_id: uuid.UUID = Field(description="The worker's entry in the qualifier.")
    worker_id: uuid.UUID
    enterprise_id: uuid.UUID | None = Field(examples=[ex.ENTERPRISE_ID])
    locality_code: str = Field(examples=[ex.COUNTY_CODE])
    score: Score | None = Field(None, examples=[86.125], json_schema_extra={"multipleOf": 0.001})
    quota_group: str = Field(
        examples=["all"], description="all, the nominee's city code, or their enterprise id."
    )
    outcome: Literal["nominated", "suggested", "reserve", "skipped"] = Field(
        description="nominated: holds a live nomination; suggested: within the quota; reserve: "
        "next in rank; skipped: may not be nominated (see `skipped_because`)."
    )
    skipped_because: list[SkipReason] = Field(default_factory=list)
    boundary_tie: bool = Field(
        False, description="Tied with someone on the other side of the quota boundary."
    )
    nomination_id: uuid.UUID | None = None
    nomination_status: NominationStatus | None = None


class Suggestions(BaseModel):
    qualifier_id: uuid.UUID
    event_id: uuid.UUID = Field(description="The higher event.")
    stage_id: uuid.UUID = Field(description="The qualifier's stage whose final results rank.")
    results_version: int = Field(examples=[1])
    quota: int = Field(examples=[2])
    quota_basis: QuotaBasis
    boundary_ties: bool = Field(description="Some places are tied at the quota boundary.")
    items: list[Suggestion]


class NominationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"entry_ids": [ex.ENTRY_ID]}]}
    )

    entry_ids: list[uuid.UUID] = Field(
        min_length=1,
        max_length=1000,
        description="Entries of the qualifier to nominate: suggested ones, or reserves tied at "
        "the boundary (the organisers settle a tie), within the quota.",
    )


class Substitution(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"kind": "declined", "reason": "本人因工作安排放弃参加省级决赛"}]
        },
    )

    kind: Literal["declined", "unavailable"] = Field(
        description="The nominee declined, or is unavailable (illness, a move...)."
    )
    reason: str = Field(min_length=2, max_length=2000)


class NominationDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "推荐材料缺少单位盖章，请补充后重新报送"}]},
    )

    reason: str = Field(min_length=2, max_length=2000)


class Nomination(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    competition_id: uuid.UUID = Field(description="The higher competition.")
    event_id: uuid.UUID = Field(description="The higher event nominated into.")
    qualifier_id: uuid.UUID
    qualifier_competition_id: uuid.UUID
    qualifier_event_id: uuid.UUID
    source_entry_id: uuid.UUID = Field(description="The nominee's entry in the qualifier.")
    worker_id: uuid.UUID
    enterprise_id: uuid.UUID | None = Field(examples=[ex.ENTERPRISE_ID])
    locality_code: str = Field(examples=[ex.COUNTY_CODE])
    rank: int = Field(examples=[1], description="Rank in the qualifier's final results.")
    score: Score | None = Field(None, examples=[86.125], json_schema_extra={"multipleOf": 0.001})
    boundary_tie: bool
    status: NominationStatus
    reason: str | None = Field(None, examples=[None])
    substitute_for_id: uuid.UUID | None = Field(
        None, description="The nomination this one replaces."
    )
    entry_id: uuid.UUID | None = Field(
        None, description="The entry in the higher event, once accepted."
    )
    submitted_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None = Field(None, examples=[None])
    version: int
    created_at: datetime
    updated_at: datetime


class Nominations(BaseModel):
    items: list[Nomination]
