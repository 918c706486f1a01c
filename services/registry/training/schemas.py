"""Training schemas: programmes, sessions, enrolments, attendance."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
)

from shared import examples as ex
from shared.models.registry import EnrolmentStatus, ProgrammeKind, ProgrammeStatus
from shared.numbers import JsonDecimal

#: Hours are exact decimals in the database and JSON numbers on the wire (e.g. 3.5).
Hours = Annotated[JsonDecimal, Field(decimal_places=2, examples=[3.5])]

KIND_DESCRIPTION = (
    "`order_based` 订单式培训 (ordered by an enterprise: `ordering_enterprise_id` required), "
    "`master_heritage_hall` 大师传承讲堂, `expert_talent_hall` 专家人才讲堂, `team_hall` 班组讲堂, "
    "`post_training` 岗位培训."
)


class ProgrammeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "order_based",
                    "title": "数控加工技能提升订单式培训",
                    "description": "为济南二机床集团定制的五轴数控加工培训。",
                    "locality_code": "370100",
                    "ordering_enterprise_id": ex.ENTERPRISE_ID,
                    "occupation": "数控车工",
                    "capacity": 30,
                    "starts_on": ex.day(0),
                    "ends_on": ex.day(19),
                }
            ]
        },
    )

    kind: ProgrammeKind = Field(description=KIND_DESCRIPTION)
    title: str = Field(min_length=1, max_length=200, examples=["大师传承讲堂·焊接工艺"])
    description: str | None = Field(None, max_length=10_000)
    locality_code: str = Field(
        pattern=r"^\d{6}$", description="The organising locality (GB/T 2260).", examples=["370100"]
    )
    enterprise_id: uuid.UUID | None = Field(
        None, description="The organising enterprise, if an enterprise runs it."
    )
    ordering_enterprise_id: uuid.UUID | None = Field(
        None, description="The enterprise that ordered the training; only for `order_based`."
    )
    occupation: str | None = Field(None, min_length=1, max_length=100, examples=["数控车工"])
    capacity: int = Field(gt=0, le=100_000, description="Most workers enrolled at once.")
    starts_on: date
    ends_on: date = Field(description="On or after `starts_on`.")


class Programme(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: ProgrammeKind
    title: str = Field(examples=["数控加工技能提升订单式培训"])
    description: str | None = None
    locality_code: str = Field(examples=["370100"])
    enterprise_id: uuid.UUID | None = None
    ordering_enterprise_id: uuid.UUID | None = None
    occupation: str | None = Field(None, examples=["数控车工"])
    capacity: int = Field(examples=[30])
    enrolled_count: int = Field(description="Workers currently enrolled.", examples=[12])
    status: ProgrammeStatus = Field(
        description="`planned` -> `open` (enrolling) -> `in_progress` -> `completed`; or "
        "`cancelled` before completion."
    )
    starts_on: date
    ends_on: date
    completed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class SessionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "五轴联动编程实操",
                    "starts_at": ex.at(1, "09:00"),
                    "ends_at": ex.at(1, "12:30"),
                    "hours": 3.5,
                    "venue": "济南市技师学院 实训楼 305",
                }
            ]
        },
    )

    title: str = Field(min_length=1, max_length=200)
    starts_at: AwareDatetime = Field(description="With offset, e.g. `+08:00`.")
    ends_at: AwareDatetime = Field(description="After `starts_at`.")
    hours: Hours = Field(
        gt=0,
        max_digits=5,
        decimal_places=2,
        description="Hours credited to each worker present (positive, e.g. 3.5).",
    )
    venue: str | None = Field(None, max_length=200)


class Session(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    programme_id: uuid.UUID
    title: str = Field(examples=["五轴联动编程实操"])
    starts_at: datetime
    ends_at: datetime
    hours: Hours = Field(examples=[3.5])
    venue: str | None = Field(None, examples=["济南市技师学院 实训楼 305"])
    created_at: datetime


class EnrolmentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"worker_id": ex.WORKER_ID}]},
    )

    worker_id: uuid.UUID = Field(description="The worker to enrol (workers enrol themselves).")


class Enrolment(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    programme_id: uuid.UUID
    worker_id: uuid.UUID
    status: EnrolmentStatus
    withdrawn_at: datetime | None = None
    hours_credited: Hours | None = Field(
        None, description="Hours credited when the programme completed.", examples=[12.5]
    )
    completed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class AttendanceMark(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: uuid.UUID
    present: bool


class Attendance(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    session_id: uuid.UUID
    worker_id: uuid.UUID
    present: bool
    recorded_by: str | None = None
    updated_at: datetime


class ProgrammeSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: ProgrammeKind
    title: str
    status: ProgrammeStatus
    starts_on: date
    ends_on: date


class WorkerTraining(Enrolment):
    """An enrolment as the worker's file shows it: with the programme it belongs to."""

    programme: ProgrammeSummary
