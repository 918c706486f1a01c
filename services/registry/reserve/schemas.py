"""Craftsman reserve schemas: nominations, decisions, plans, progress, targets."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared import examples as ex
from shared.models.registry import (
    MentorshipStatus,
    NominatingBody,
    ProgrammeStatus,
    ReserveStatus,
    ReserveTrack,
    SkillGrade,
)
from shared.models.registry import ReserveMember as MemberRow
from shared.models.registry import ReserveTarget as TargetRow
from shared.numbers import JsonDecimal, Rounded3

#: The most programmes or competitions a plan names (a plan is a year or two of work).
PLAN_ITEMS = 20
#: The largest target a locality can be given (the whole province's workforce is ~10 million).
MAX_TARGET = 10_000_000


def _unique(values: list[uuid.UUID]) -> list[uuid.UUID]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat an id")
    return values


class Nomination(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "worker_id": ex.WORKER_ID,
                    "track": "qilu_craftsman",
                    "reason": "连续三年获市级数控车工竞赛一等奖，带徒12名，技术革新成果2项。",
                }
            ]
        },
    )

    worker_id: uuid.UUID = Field(description="The worker nominated (in your scope).")
    track: ReserveTrack = Field(
        ReserveTrack.craftsman_reserve,
        description="What the member is cultivated towards: `craftsman_reserve` (百万工匠后备), "
        "or a skill-leader honour: `qilu_craftsman` (齐鲁工匠), `qilu_chief_technician` "
        "(齐鲁首席技师), `technical_skills_master` (技术技能大师).",
    )
    reason: str = Field(min_length=1, max_length=2000, description="Why this worker.")


class Confirmation(BaseModel):
    model_config = ConfigDict(
        # Confirming today, the usual case (a date before the nomination is refused).
        extra="forbid",
        json_schema_extra={"examples": [{}]},
    )

    confirmed_on: date | None = Field(
        None, description="When the member joins the pool; default today (Asia/Shanghai)."
    )


class Declination(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "近三年无技能等级晋升或竞赛成绩，暂不入库。"}]},
    )

    reason: str = Field(min_length=1, max_length=2000, description="Why the province declines.")


class Leaving(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "调离本省工作。"}]},
    )

    reason: str = Field(min_length=1, max_length=2000, description="Why the member leaves.")
    left_on: date | None = Field(
        None, description="When the member left the pool; default today (Asia/Shanghai)."
    )


class PlanPut(BaseModel):
    """The whole cultivation plan (a PUT replaces it)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "mentor_id": ex.THIRD_WORKER_ID,
                    "programme_ids": [ex.PROGRAMME_ID],
                    "target_grade": "principal_technician",
                    "target_competition_ids": [ex.COMPETITION_ID],
                    "review_on": ex.day(180),
                    "notes": "以五轴加工为主攻方向，年内参加省级竞赛。",
                }
            ]
        },
    )

    mentor_id: uuid.UUID | None = Field(
        None,
        description="The worker who mentors the member (in your scope). With `mentorship_id` it "
        "may be left out: the mentorship's mentor is taken.",
    )
    mentorship_id: uuid.UUID | None = Field(
        None, description="An existing mentorship in which the member is the apprentice."
    )
    programme_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=PLAN_ITEMS,
        description="Training programmes the member is to attend, in order.",
    )
    target_grade: SkillGrade | None = Field(
        None, description="The grade to reach: above the grade the member held when nominated."
    )
    target_competition_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=PLAN_ITEMS,
        description="Competitions (ids of the competitions service) the member is to take part "
        "in; their results on the talent file count as progress.",
    )
    review_on: date = Field(description="When the plan is next reviewed (not before nomination).")
    notes: str | None = Field(None, max_length=4000)

    _programmes = field_validator("programme_ids")(_unique)
    _competitions = field_validator("target_competition_ids")(_unique)


class ReserveWorker(BaseModel):
    """The member: enough to show who it is, never identity numbers."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str = Field(examples=[ex.WORKER_NAME])
    grade: SkillGrade = Field(examples=["senior_technician"])
    enterprise_id: uuid.UUID | None = None
    locality_code: str = Field(examples=[ex.COUNTY_CODE])


class Nominator(BaseModel):
    body: NominatingBody = Field(
        description="An enterprise, or a locality (a city, a county, the province)."
    )
    enterprise_id: uuid.UUID | None = Field(None, description="When an enterprise nominated.")
    locality_code: str | None = Field(
        None, description="When a locality nominated.", examples=[ex.CITY_CODE]
    )


class Plan(BaseModel):
    mentor_id: uuid.UUID | None = Field(None, examples=[ex.THIRD_WORKER_ID])
    mentorship_id: uuid.UUID | None = None
    programme_ids: list[uuid.UUID] = Field(examples=[[ex.PROGRAMME_ID]])
    target_grade: SkillGrade | None = Field(None, examples=["principal_technician"])
    target_competition_ids: list[uuid.UUID] = Field(examples=[[ex.COMPETITION_ID]])
    review_on: date
    notes: str | None = Field(None, examples=["以五轴加工为主攻方向，年内参加省级竞赛。"])
    updated_at: datetime


class ReserveMember(BaseModel):
    id: uuid.UUID
    worker: ReserveWorker
    track: ReserveTrack
    status: ReserveStatus
    reason: str = Field(examples=["连续三年获市级数控车工竞赛一等奖，带徒12名，技术革新成果2项。"])
    nominated_by: Nominator
    grade_at_nomination: SkillGrade = Field(examples=["senior_technician"])
    nominated_on: date
    confirmed_on: date | None = Field(None, description="Set when the province confirms.")
    declined_on: date | None = None
    decline_reason: str | None = Field(None, examples=[None])
    left_on: date | None = None
    leave_reason: str | None = Field(None, examples=[None])
    plan: Plan | None = Field(None, description="The cultivation plan, once one is set.")
    version: int = Field(description="Increases with every change; also sent as the ETag.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: MemberRow, programme_ids: list[uuid.UUID]) -> ReserveMember:
        plan = None
        if row.plan_updated_at is not None and row.review_on is not None:
            plan = Plan(
                mentor_id=row.mentor_id,
                mentorship_id=row.mentorship_id,
                programme_ids=programme_ids,
                target_grade=row.target_grade,
                target_competition_ids=list(row.target_competition_ids or []),
                review_on=row.review_on,
                notes=row.plan_notes,
                updated_at=row.plan_updated_at,
            )
        return cls(
            id=row.id,
            worker=ReserveWorker.model_validate(row.worker),
            track=row.track,
            status=row.status,
            reason=row.nomination_reason,
            nominated_by=Nominator(
                body=row.nominating_body,
                enterprise_id=row.nominating_enterprise_id,
                locality_code=row.nominating_locality_code,
            ),
            grade_at_nomination=row.grade_at_nomination,
            nominated_on=row.nominated_on,
            confirmed_on=row.confirmed_on,
            declined_on=row.declined_on,
            decline_reason=row.decline_reason,
            left_on=row.left_on,
            leave_reason=row.leave_reason,
            plan=plan,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


# --- progress ---------------------------------------------------------------------------------

Hours = JsonDecimal


class GradeProgress(BaseModel):
    at_nomination: SkillGrade = Field(examples=["senior_technician"])
    current: SkillGrade = Field(examples=["principal_technician"])
    target: SkillGrade | None = Field(None, examples=["principal_technician"])
    reached: bool | None = Field(None, description="Current grade at or above the target.")
    promotions: int = Field(
        ge=0,
        examples=[1],
        description="Promotions (certification or competition) since joining, up to `as_of`.",
    )


class ProgrammeProgress(BaseModel):
    programme_id: uuid.UUID
    title: str = Field(examples=["济南二机床五轴数控加工订单式培训班"])
    status: ProgrammeStatus
    enrolled: bool = Field(description="The member is enrolled (not withdrawn).")
    planned_hours: Hours = Field(ge=0, decimal_places=2, examples=[24])
    attended_hours: Hours = Field(ge=0, decimal_places=2, examples=[20.5])


class TrainingProgress(BaseModel):
    programmes: list[ProgrammeProgress]
    plan_attended_hours: Hours = Field(
        ge=0, decimal_places=2, examples=[20.5], description="In the plan's programmes."
    )
    attended_hours: Hours = Field(
        ge=0,
        decimal_places=2,
        examples=[32],
        description="In any programme, sessions since joining up to `as_of`.",
    )


class ResultOnFile(BaseModel):
    competition_id: uuid.UUID
    competition_name: str = Field(examples=[ex.PROVINCIAL_COMPETITION_NAME])
    stage_name: str = Field(examples=["省级决赛"])
    rank: int = Field(ge=1, examples=[1])
    prize: str | None = Field(None, examples=["first"])
    published_at: datetime


class CompetitionProgress(BaseModel):
    target_results: list[ResultOnFile] = Field(
        description="Results on the talent file in the plan's target competitions."
    )
    targets_with_result: int = Field(ge=0, examples=[1])
    results: int = Field(
        ge=0, examples=[2], description="Results in any competition since joining."
    )


class HonourOnFile(BaseModel):
    honour_code: str = Field(examples=[ex.HONOUR_CODE])
    granted_on: date


class HonourProgress(BaseModel):
    granted: list[HonourOnFile] = Field(description="Honours granted since joining, unrevoked.")
    track_honour_held: bool | None = Field(
        None,
        description="For a skill-leader track: the member holds that honour now (unrevoked).",
    )


class MentoringProgress(BaseModel):
    mentor_id: uuid.UUID | None = Field(None, examples=[ex.THIRD_WORKER_ID])
    mentorship_id: uuid.UUID | None = None
    mentorship_status: MentorshipStatus | None = Field(None, examples=["active"])


class MemberProgress(BaseModel):
    """Computed from the talent file at request time; nothing here is typed in."""

    member_id: uuid.UUID
    worker_id: uuid.UUID
    status: ReserveStatus
    since: date = Field(description="Confirmation date (nomination date while nominated).")
    as_of: date = Field(description="Today, or the day the member left.")
    grade: GradeProgress
    training: TrainingProgress
    competitions: CompetitionProgress
    honour_grants: HonourProgress
    mentoring: MentoringProgress
    review_on: date | None = None
    review_due: bool = Field(description="An open membership whose review date has come.")


# --- targets ----------------------------------------------------------------------------------


class TargetPut(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reserve_size": 1200, "grade_promotions": 3000, "honours": 40}]
        },
    )

    reserve_size: int = Field(
        ge=0, le=MAX_TARGET, description="Members in the pool at the end of the year."
    )
    grade_promotions: int = Field(
        ge=0, le=MAX_TARGET, description="Grade promotions of the locality's workers in the year."
    )
    honours: int = Field(
        ge=0, le=MAX_TARGET, description="Honours granted to the locality's workers in the year."
    )


class Target(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    locality_code: str = Field(examples=[ex.CITY_CODE])
    year: int = Field(examples=[ex.YEAR])
    reserve_size: int = Field(examples=[1200])
    grade_promotions: int = Field(examples=[3000])
    honours: int = Field(examples=[40])
    version: int
    updated_at: datetime

    @classmethod
    def of(cls, row: TargetRow) -> Target:
        return cls.model_validate(row)


class Measure(enum.StrEnum):
    reserve_size = "reserve_size"
    grade_promotions = "grade_promotions"
    honours = "honours"


class MeasureProgress(BaseModel):
    measure: Measure
    target: int | None = Field(None, examples=[1200], description="None: no target set.")
    actual: int = Field(ge=0, examples=[870])
    progress: Rounded3 | None = Field(
        None, examples=[0.725], description="actual / target, rounded to 3 decimals."
    )


class ProgressRow(BaseModel):
    locality_code: str | None = Field(None, examples=[ex.CITY_CODE])
    locality_name: str | None = Field(None, examples=["济南市"])
    enterprise_id: uuid.UUID | None = Field(None, description="An enterprise organiser's row.")
    measures: list[MeasureProgress]


class ProgressReport(BaseModel):
    year: int = Field(examples=[ex.YEAR])
    as_of: date = Field(description="The end of the year, or today for the current year.")
    rows: list[ProgressRow] = Field(
        description="One row per locality (the province and each city for the province; the "
        "caller's own locality or enterprise otherwise)."
    )


# --- webhooks ---------------------------------------------------------------------------------


class ReserveEventData(BaseModel):
    member_id: uuid.UUID
    worker_id: uuid.UUID
    locality_code: str = Field(examples=[ex.COUNTY_CODE], description="The worker's locality.")
    enterprise_id: uuid.UUID | None = None
    track: ReserveTrack
    status: ReserveStatus
    nominating_locality_code: str | None = Field(
        None, examples=[ex.CITY_CODE], description="When a locality nominated."
    )
    nominating_enterprise_id: uuid.UUID | None = None


class ReserveEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`."""

    type: str = Field(examples=["reserve.confirmed"])
    timestamp: datetime
    data: ReserveEventData
