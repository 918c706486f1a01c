"""Award rule and award schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import examples as ex
from shared.models.competitions import CompetitionLevel
from shared.models.judging import AwardKind, DeliveryState
from shared.models.registry.enums import SkillGrade
from shared.outbox import StageScope

Prize = Literal["first", "second", "third", "merit"]
#: The levels competitions are organised at here (national results are only recorded).
OrganisedLevel = Literal["enterprise", "county", "city", "provincial"]


class AwardRuleCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "honour",
                    "honour_code": ex.PROVINCIAL_HONOUR_CODE,
                    "top_n": 3,
                    "requires_confirmation": True,
                },
                {"kind": "grade_promotion", "prizes": ["first"]},
                {"kind": "grade_promotion", "to_grade": "senior_technician", "top_n": 1},
                {"kind": "competition_result"},
            ]
        },
    )

    kind: AwardKind = Field(
        description="`honour`: grant `honour_code`; `grade_promotion`: one level up (or to "
        "`to_grade`); `competition_result`: an entry in the competitor's talent file."
    )
    honour_code: str | None = Field(
        None, min_length=1, max_length=64, description="Required for `honour`, else absent."
    )
    to_grade: SkillGrade | None = Field(
        None,
        description="`grade_promotion` only: the named grade the rules promise (the registry "
        "refuses a jump of more than one level). Absent: one level above the worker's grade.",
    )
    top_n: int | None = Field(
        None, ge=1, le=100000, description="Only entries ranked 1..top_n (shared ranks count)."
    )
    prizes: list[Prize] | None = Field(
        None, min_length=1, max_length=4, description="Only entries with one of these prizes."
    )
    citation: str | None = Field(
        None, max_length=2000, description="Text for the honour grant or promotion reason."
    )
    requires_confirmation: bool = Field(
        False,
        description="The rule only recommends: each of its awards waits in "
        "`awaiting_confirmation` until an organiser of the stage confirms it (then it is sent) "
        "or declines it, with a reason. For honours and promotions, not talent-file results.",
    )


class StandingAwardRuleCreate(AwardRuleCreate):
    """A rule for every competition of a level (the province's policy), not one stage."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "level": "provincial",
                    "kind": "honour",
                    "honour_code": ex.PROVINCIAL_HONOUR_CODE,
                    "prizes": ["first"],
                    "requires_confirmation": True,
                },
                {
                    "level": "provincial",
                    "kind": "grade_promotion",
                    "to_grade": "technician",
                    "prizes": ["first"],
                    "requires_confirmation": True,
                },
            ]
        },
    )

    level: OrganisedLevel = Field(
        description="Applies to the final stage (the last of its event) of every competition "
        "at this level, besides the stage's own rules."
    )


class AwardRule(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stage_id: uuid.UUID | None = Field(description="Null for a standing rule of a level.")
    level: CompetitionLevel | None = Field(
        None, description="A standing rule's level (null for a stage's own rule).", examples=[None]
    )
    requires_confirmation: bool = Field(False, examples=[False])
    kind: AwardKind
    honour_code: str | None
    to_grade: str | None
    top_n: int | None
    prizes: list[str] | None
    citation: str | None
    created_by: str
    created_at: datetime


class Award(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stage_id: uuid.UUID
    rule_id: uuid.UUID
    kind: AwardKind
    entry_id: uuid.UUID
    worker_id: uuid.UUID
    rank: int
    prize: str | None
    source_ref: str = Field(
        description="Sent to the registry; the same outcome always has the same reference.",
        examples=["award:5f0c...:9a1e...:0b7d...:honour"],
    )
    request: dict[str, Any] = Field(description="The registry call, fixed when planned.")
    state: DeliveryState = Field(
        description="`pending` (not sent yet), `sent` (recorded by the registry), `failed` "
        "(the last attempt failed: `last_error` says why; send or retry again), "
        "`awaiting_confirmation` (recommended by a rule that needs an organiser's "
        "confirmation: never sent before it), `declined` (refused by an organiser: never sent)."
    )
    attempts: int
    last_error: str | None
    registry_ref: str | None = Field(description="The registry's grant, change or entry id.")
    sent_at: datetime | None
    decided_by: str | None = Field(
        None, description="Who confirmed or declined an award awaiting confirmation."
    )
    decided_at: datetime | None = None
    decision_reason: str | None = Field(None, examples=["经审核，符合山东省技术能手推荐条件"])
    created_at: datetime
    updated_at: datetime


class AwardDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "经审核，符合山东省技术能手推荐条件"}]},
    )

    reason: str = Field(min_length=2, max_length=2000, description="Why (kept in the record).")


class Skipped(BaseModel):
    entry_id: uuid.UUID
    worker_id: uuid.UUID
    rule_id: uuid.UUID
    reason: str = Field(examples=["already holds technician, at or above the rule's grade"])


class SendReport(BaseModel):
    stage_id: uuid.UUID
    planned: int = Field(description="Awards created by this call (0 when planned before).")
    sent: int = Field(description="Awards the registry recorded during this call.")
    failed: int = Field(description="Awards the registry refused during this call.")
    totals: dict[str, int] = Field(
        description="Every award of the stage by state after the call.",
        examples=[{"pending": 0, "sent": 12, "failed": 0}],
    )
    skipped: list[Skipped] = Field(default_factory=list)
    awards: list[Award]


class AwardEventData(StageScope):
    award_id: uuid.UUID
    entry_id: uuid.UUID
    worker_id: uuid.UUID
    kind: AwardKind
    honour_code: str | None = Field(examples=["provincial_technical_expert"])
    to_grade: SkillGrade | None = None
    rank: int = Field(examples=[1])
    prize: str | None = Field(examples=["first"])
    source_ref: str
    registry_ref: str | None = Field(None, description="The registry's record of the award.")
    state: DeliveryState | None = Field(None, examples=["sent"])
    reason: str | None = Field(
        None,
        description="award.confirmed, award.declined: the organiser's reason.",
        examples=["经审核，符合山东省技术能手推荐条件"],
    )


class AwardEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`."""

    type: str = Field(examples=["award.granted"])
    timestamp: datetime
    data: AwardEventData
