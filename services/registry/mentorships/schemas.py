"""Mentorship schemas."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared import examples as ex
from shared.models.registry import (
    Mentorship as MentorshipRow,
)
from shared.models.registry import (
    MentorshipKind,
    MentorshipRating,
    MentorshipStatus,
    SkillGrade,
)

MENTOR_ID = ex.WORKER_ID
APPRENTICE_ID = ex.SECOND_WORKER_ID


class MentorshipCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "mentor_id": MENTOR_ID,
                    "apprentice_id": APPRENTICE_ID,
                    "kind": "master_apprentice",
                    "goals": "一年内掌握五轴数控加工中心的编程与操作，取得高级工证书。",
                    "planned_start_date": ex.day(0),
                    "planned_end_date": ex.day(364),
                }
            ]
        },
    )

    mentor_id: uuid.UUID = Field(description="The worker who teaches (师傅 / 帮扶人).")
    apprentice_id: uuid.UUID = Field(description="The worker who learns (徒弟 / 受帮扶人).")
    kind: MentorshipKind = Field(
        description="`master_apprentice` (师带徒) or `pair_assistance` (结对帮扶)."
    )
    goals: str = Field(min_length=1, max_length=4000, description="What the pair sets out to do.")
    planned_start_date: date
    planned_end_date: date = Field(description="On or after `planned_start_date`.")

    @field_validator("planned_end_date")
    @classmethod
    def _end_after_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("planned_start_date")
        if start is not None and value < start:
            raise ValueError("must be on or after planned_start_date")
        return value


class Activation(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"started_on": ex.day(0)}]}
    )

    started_on: date | None = Field(
        None, description="When the pair actually started; default today (Asia/Shanghai)."
    )


class Evaluation(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    rating: MentorshipRating = Field(
        description="excellent (优秀), good (良好), pass (合格) or fail (不合格)."
    )
    comment: str = Field(min_length=1, max_length=4000, examples=["已独立完成复杂零件加工。"])


class Completion(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "evaluation": {
                        "rating": "excellent",
                        "comment": "已独立完成五轴加工，考取高级工证书。",
                    },
                    "ended_on": ex.day(0),
                }
            ]
        },
    )

    evaluation: Evaluation = Field(description="The final evaluation of the apprentice.")
    ended_on: date | None = Field(
        None, description="When the pair actually ended; default today (Asia/Shanghai)."
    )


class Termination(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "徒弟调往青岛分公司工作。"}]},
    )

    reason: str = Field(min_length=1, max_length=2000, description="Why the pair ends early.")
    ended_on: date | None = Field(
        None, description="When the pair actually ended; default today (Asia/Shanghai)."
    )


class Party(BaseModel):
    """A worker in a mentorship: enough to show who it is, never identity numbers."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str = Field(examples=["王建国"])
    grade: SkillGrade = Field(examples=["senior_technician"])
    enterprise_id: uuid.UUID | None = None
    locality_code: str = Field(examples=["370100"])


class Mentorship(BaseModel):
    id: uuid.UUID
    mentor: Party
    apprentice: Party
    kind: MentorshipKind
    goals: str = Field(examples=["一年内掌握五轴数控加工中心的编程与操作，取得高级工证书。"])
    planned_start_date: date
    planned_end_date: date
    actual_start_date: date | None = Field(None, description="Set on activation.")
    actual_end_date: date | None = Field(None, description="Set on completion or termination.")
    status: MentorshipStatus
    evaluation: Evaluation | None = Field(None, description="Recorded on completion.")
    termination_reason: str | None = None
    version: int = Field(description="Increases with every change; also sent as the ETag.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: MentorshipRow) -> Mentorship:
        evaluation = (
            Evaluation(rating=row.evaluation_rating, comment=row.evaluation_comment or "")
            if row.evaluation_rating is not None
            else None
        )
        return cls(
            id=row.id,
            mentor=Party.model_validate(row.mentor),
            apprentice=Party.model_validate(row.apprentice),
            kind=row.kind,
            goals=row.goals,
            planned_start_date=row.planned_start_date,
            planned_end_date=row.planned_end_date,
            actual_start_date=row.actual_start_date,
            actual_end_date=row.actual_end_date,
            status=row.status,
            evaluation=evaluation,
            termination_reason=row.termination_reason,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class MentorshipEventData(BaseModel):
    mentorship_id: uuid.UUID
    mentor_id: uuid.UUID
    apprentice_id: uuid.UUID
    mentor_locality_code: str = Field(examples=["370102"])
    apprentice_locality_code: str = Field(examples=["370102"])
    kind: MentorshipKind
    status: MentorshipStatus = Field(
        description="`active` in `mentorship.started`; `completed` or `terminated` in "
        "`mentorship.ended`."
    )


class MentorshipEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`."""

    type: str = Field(examples=["mentorship.started"])
    timestamp: datetime
    data: MentorshipEventData
