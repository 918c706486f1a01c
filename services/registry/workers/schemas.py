"""Worker and talent-file schemas."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict

from services.registry.results.schemas import LevelResult
from shared import examples as ex
from shared.models.competitions import CompetitionLevel
from shared.models.registry import FileStatus, FileType, GradeSource, Sex, SkillGrade
from shared.numbers import Rounded3

PHONE_PATTERN = r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$"


class WorkerCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": ex.WORKER_NAME,
                    "id_number": ex.WORKER_ID_NUMBER,
                    "phone": ex.WORKER_PHONE,
                    "occupation": "数控车工",
                    "enterprise_id": ex.ENTERPRISE_ID,
                    "locality_code": "370100",
                    "grade": "technician",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=64, description="Name as on the identity card.")
    id_number: str = Field(
        min_length=1,
        max_length=32,
        description="Resident identity number (GB 11643). The worker must be at least 16 (the "
        "legal working age) today, by the birth date in the number: younger is a 422 at "
        "`id_number`.",
    )
    sex: Sex | None = Field(None, description="Optional; must match the identity number.")
    birth_date: date | None = Field(None, description="Optional; must match the identity number.")
    phone: str | None = Field(None, pattern=PHONE_PATTERN, description="Mobile or landline.")
    occupation: str = Field(min_length=1, max_length=100, examples=["数控车工"])
    enterprise_id: uuid.UUID | None = Field(None, description="Current employer.")
    locality_code: str | None = Field(
        None, pattern=r"^\d{6}$", description="Default: the enterprise's locality."
    )
    grade: SkillGrade = Field(description="Current grade on the eight-level ladder.")


class WorkerUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"phone": "13905320002"}]}
    )

    name: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="The legal name on the identity card: organisers and admins only.",
    )
    phone: str | None = Field(
        None, pattern=PHONE_PATTERN, description="Contact number: the worker may change it too."
    )
    occupation: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="The trade the grade certifies: organisers and admins only.",
    )


class Worker(BaseModel):
    id: uuid.UUID
    name: str = Field(examples=["王建国"])
    id_number: str = Field(
        description=f"Masked (`{ex.WORKER_ID_NUMBER_MASKED}`) unless you are an admin or this "
        "worker.",
        examples=[ex.WORKER_ID_NUMBER_MASKED],
    )
    sex: Sex
    birth_date: date
    phone: str | None = Field(None, description="Masked unless admin or this worker.")
    occupation: str
    enterprise_id: uuid.UUID | None
    locality_code: str
    grade: SkillGrade
    file_type: FileType
    file_status: FileStatus
    version: int
    created_at: datetime
    updated_at: datetime


class WorkerFile(Worker):
    """One worker with their competition path (`GET /v1/workers/{id}`)."""

    results_by_level: list[LevelResult] = Field(
        default_factory=list,
        description="Every competition result in the talent file, in path order: by year, "
        "then level (enterprise → county → city → provincial → national). Reported by judging "
        "when a stage's results are final; national results recorded by organisers.",
    )


class WorkerItem(TypedDict):
    """`Worker` as a plain dict, for pages built straight from database rows (see
    `WORKER_PAGE`): the same fields, types and JSON, which tests/architecture/test_shapes.py
    checks (as for every TypedDict copy of a shape)."""

    id: uuid.UUID
    name: str
    id_number: str
    sex: Sex
    birth_date: date
    phone: str | None
    occupation: str
    enterprise_id: uuid.UUID | None
    locality_code: str
    grade: SkillGrade
    file_type: FileType
    file_status: FileStatus
    version: int
    created_at: datetime
    updated_at: datetime


class WorkerPage(TypedDict):
    items: list[WorkerItem]
    next_cursor: str | None


#: Serialises a `WorkerPage` exactly as FastAPI would a `Page[Worker]` (pydantic's JSON),
#: without building a model per row.
WORKER_PAGE = TypeAdapter(WorkerPage)


class WorkerEligibility(BaseModel):
    """What other services need to check eligibility, in one batch (no personal numbers)."""

    id: uuid.UUID
    name: str
    sex: Sex
    birth_date: date
    occupation: str
    enterprise_id: uuid.UUID | None
    locality_code: str
    grade: SkillGrade
    file_status: FileStatus
    honours: list[str] = Field(default_factory=list, description="Honour codes held now.")
    national_winner: bool = Field(
        False,
        description="A national winner: a recorded national result with a first, second or "
        "third prize (or rank 1 to 3), or a national-level honour held.",
    )
    national_wins: list[str] = Field(
        default_factory=list,
        description="The winning national results, as recorded in the file (for a rule's reason).",
        examples=[[f"全国：{ex.NATIONAL_CONTEST_NAME}（{ex.NATIONAL_YEAR}）一等奖"]],
    )


class BatchGet(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ids": [ex.WORKER_ID]}]},
    )

    ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class IdNumberLookup(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"id_numbers": [ex.WORKER_ID_NUMBER]}]}
    )

    id_numbers: list[str] = Field(min_length=1, max_length=1000)


class IdNumberMatch(BaseModel):
    id_number: str = Field(
        description="Masked, in the order asked.", examples=[ex.WORKER_ID_NUMBER_MASKED]
    )
    worker_id: uuid.UUID | None = Field(description="Null when no worker you may see has it.")


class Roster(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ids": [ex.WORKER_ID, ex.SECOND_WORKER_ID]}]},
    )

    ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class RosterLine(BaseModel):
    """A worker as lists handed on to other bodies show them (recommendation lists)."""

    id: uuid.UUID
    name: str = Field(examples=[ex.WORKER_NAME])
    sex: Sex
    id_number: str = Field(
        description="Masked unless you are an admin or this worker.",
        examples=[ex.WORKER_ID_NUMBER_MASKED],
    )
    occupation: str
    grade: SkillGrade
    enterprise_id: uuid.UUID | None
    enterprise_name: str | None = Field(examples=[ex.ENTERPRISE_NAME])
    locality_code: str
    city_code: str | None = Field(
        description="The prefecture-level city of the worker's locality.", examples=["370100"]
    )
    city_name: str | None = Field(examples=["济南市"])


class RosterResult(BaseModel):
    items: list[RosterLine] = Field(description="In the order asked.")
    missing: list[uuid.UUID] = Field(description="Ids that do not exist or you may not read.")


class BatchGetResult(BaseModel):
    items: list[WorkerEligibility]
    missing: list[uuid.UUID] = Field(description="Requested ids that do not exist.")


class GradeChangeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "to_grade": "technician",
                    "effective_date": ex.day(0),
                    "source": "certification",
                    "certificate_no": "S000037010002264000123",
                    "issuing_body": "济南市职业技能鉴定指导中心",
                }
            ]
        },
    )

    to_grade: SkillGrade
    effective_date: date = Field(description="Today or earlier (Asia/Shanghai).")
    source: GradeSource = Field(
        description="`certification` (one level up, certificate required) or `correction` "
        "(admin only, any level, reason required). Competition promotions use the internal "
        "endpoint."
    )
    certificate_no: str | None = Field(None, max_length=64)
    issuing_body: str | None = Field(None, max_length=200)
    reason: str | None = Field(None, max_length=1000)


class CompetitionPromotion(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "worker_id": ex.WORKER_ID,
                    "to_grade": "senior_technician",
                    "effective_date": ex.day(0),
                    "competition_id": ex.COMPETITION_ID,
                    "reason": f"{ex.PROVINCIAL_COMPETITION_NAME} 一等奖",
                }
            ]
        },
    )

    worker_id: uuid.UUID
    to_grade: SkillGrade
    effective_date: date = Field(description="Today or earlier (Asia/Shanghai).")
    competition_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=1000)


class GradeChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    worker_id: uuid.UUID
    from_grade: SkillGrade | None
    to_grade: SkillGrade
    effective_date: date
    certificate_no: str | None
    issuing_body: str | None
    source: GradeSource
    source_ref: str | None
    reason: str | None
    created_at: datetime


# A field named `date` below would shadow the type inside the class body.
Day = date


class Transfer(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"to_enterprise_id": ex.SECOND_ENTERPRISE_ID, "date": ex.day(0)}]
        },
    )

    to_enterprise_id: uuid.UUID
    date: Day = Field(description="When the move took effect: today or earlier (Asia/Shanghai).")
    reason: str | None = Field(None, max_length=1000)


class FileStatusChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "retired", "reason": "到龄退休"}]},
    )

    status: FileStatus
    reason: str = Field(min_length=1, max_length=1000)


PRIZE_NAMES = {"first": "一等奖", "second": "二等奖", "third": "三等奖", "merit": "优秀奖"}


class CompetitionResult(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "worker_id": ex.WORKER_ID,
                    "competition_id": ex.COMPETITION_ID,
                    "competition_name": ex.PROVINCIAL_COMPETITION_NAME,
                    "stage_name": "省级决赛",
                    "event_name": ex.EVENT_NAME,
                    "level": "provincial",
                    "year": ex.YEAR,
                    "rank": 1,
                    "prize": "first",
                    "score": 86.125,
                    "published_at": ex.at(0, "10:00"),
                }
            ]
        },
    )

    worker_id: uuid.UUID
    competition_id: uuid.UUID
    competition_name: str = Field(min_length=1, max_length=200)
    stage_name: str = Field(min_length=1, max_length=100)
    event_name: str | None = Field(None, min_length=1, max_length=200)
    level: CompetitionLevel | None = Field(
        None, description="The competition's level: the file shows results by level and year."
    )
    year: int | None = Field(None, ge=2000, le=2100, description="The competition's year.")
    rank: int = Field(ge=1)
    prize: str | None = Field(None, pattern="^(first|second|third|merit)$")
    score: Rounded3 | None = Field(None, ge=0)
    published_at: datetime


class WorkerEventData(BaseModel):
    worker_id: uuid.UUID
    grade: SkillGrade | None = Field(None, description="worker.created: the grade registered.")
    from_grade: SkillGrade | None = Field(None, description="worker.grade_changed")
    to_grade: SkillGrade | None = Field(None, description="worker.grade_changed")
    source: GradeSource | None = Field(None, description="worker.grade_changed")
    effective_date: Day | None = Field(None, description="worker.grade_changed")
    grade_change_id: uuid.UUID | None = Field(None, description="worker.grade_changed")
    enterprise_id: uuid.UUID | None = Field(
        None, description="worker.created, worker.grade_changed: the employer."
    )
    from_enterprise_id: uuid.UUID | None = Field(None, description="worker.transferred")
    to_enterprise_id: uuid.UUID | None = Field(None, description="worker.transferred")
    date: Day | None = Field(None, description="worker.transferred")
    locality_code: str = Field(
        examples=["370102"], description="The worker's locality (after a transfer: the new one)."
    )
    from_locality_code: str | None = Field(
        None, description="worker.transferred: the locality the worker left."
    )
    competition_id: uuid.UUID | None = Field(
        None, description="worker.grade_changed for a competition result: the competition."
    )


class WorkerEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`; never identity numbers."""

    type: str = Field(examples=["worker.grade_changed"])
    timestamp: datetime
    data: WorkerEventData
