"""Scheduling schemas: venues, workstations, sessions, schedules, moves and releases."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared import examples as ex


class VenueCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "济南市高级技工学校实训中心",
                    "address": "济南市历城区工业北路",
                    "locality_code": "370100",
                }
            ]
        },
    )

    name: str = Field(min_length=2, max_length=200)
    address: str | None = Field(None, max_length=300)
    locality_code: str = Field(pattern=r"^\d{6}$", description="Where it is (GB/T 2260).")


class Venue(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    competition_id: uuid.UUID
    name: str = Field(examples=["济南市高级技工学校实训中心"])
    address: str | None = None
    locality_code: str = Field(examples=["370100"])
    created_at: datetime


class WorkstationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32, pattern=r"^\S(.*\S)?$", examples=["A-01"])
    occupation: str = Field(
        min_length=1,
        max_length=100,
        description="Must equal the event's occupation for the scheduler to use it.",
        examples=["数控车工"],
    )


class WorkstationBatchCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "workstations": [
                        {"code": "A-01", "occupation": "数控车工"},
                        {"code": "A-02", "occupation": "数控车工"},
                    ]
                }
            ]
        },
    )

    workstations: list[WorkstationCreate] = Field(min_length=1, max_length=500)


class Workstation(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    venue_id: uuid.UUID
    code: str = Field(examples=["A-01"])
    occupation: str = Field(examples=["数控车工"])
    created_at: datetime


class WorkstationBatch(BaseModel):
    items: list[Workstation]


class SessionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "venue_id": ex.VENUE_ID,
                    "starts_at": ex.at(ex.STARTS, "08:30"),
                    "ends_at": ex.at(ex.STARTS, "11:30"),
                }
            ]
        },
    )

    venue_id: uuid.UUID = Field(description="A venue of the stage's competition.")
    starts_at: AwareDatetime = Field(description="With offset; by convention Asia/Shanghai.")
    ends_at: AwareDatetime = Field(description="After `starts_at`.")


class Session(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stage_id: uuid.UUID
    venue_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    created_at: datetime


class Slot(BaseModel):
    """Where and when a stage entry competes (the working schedule, before release)."""

    stage_entry_id: uuid.UUID
    entry_id: uuid.UUID | None = Field(
        None,
        description="Shown to admins, and to organisers once the stage is judged (until then "
        "entries are known by blind code only).",
    )
    blind_code: str | None = Field(None, examples=["J7K2QX"])
    session_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    venue_id: uuid.UUID
    workstation_id: uuid.UUID
    workstation_code: str = Field(examples=["A-01"])


class Schedule(BaseModel):
    stage_id: uuid.UUID
    slots: list[Slot]
    sessions_used: int = Field(description="Sessions holding at least one entry.")
    sessions_lower_bound: int = Field(
        description="ceil(entries / most matching workstations in one session): no schedule can "
        "use fewer sessions."
    )


class SlotMove(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "session_id": ex.SESSION_ID,
                    "workstation_id": ex.WORKSTATION_ID,
                }
            ]
        },
    )

    session_id: uuid.UUID = Field(description="A session of the entry's stage.")
    workstation_id: uuid.UUID = Field(description="A workstation at that session's venue.")


class ReleasedSlot(BaseModel):
    """A slot as published: entries appear by blind code (their entry id when none is set)."""

    code: str = Field(examples=["J7K2Q"], description="Blind code, or the entry id if none.")
    session_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    venue_id: uuid.UUID
    venue_name: str = Field(examples=["济南市高级技工学校实训中心"])
    workstation_code: str | None = Field(
        examples=["A-01"],
        description="Null for judges: they see blind codes only, never where a code sits.",
    )


class ReleaseSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stage_id: uuid.UUID
    version: int = Field(examples=[1])
    slot_count: int = Field(examples=[60])
    published_by: str
    published_at: datetime


class Release(ReleaseSummary):
    slots: list[ReleasedSlot]


class SchedulePublishedData(BaseModel):
    stage_id: uuid.UUID
    event_id: uuid.UUID
    competition_id: uuid.UUID
    organiser_locality_code: str = Field(examples=["370100"])
    version: int = Field(examples=[1])
    slot_count: int = Field(examples=[60])


class SchedulePublishedEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`."""

    type: str = Field(examples=["schedule.published"])
    timestamp: datetime
    data: SchedulePublishedData
