"""Judge assignment schemas: the solve request, its outcome, and the assignments."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from shared import examples as ex
from shared.outbox import StageScope


class AssignmentSolve(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"k": 3, "on_date": ex.day(ex.STARTS), "dry_run": True},
                {
                    "k": 2,
                    "judge_ids": [
                        ex.JUDGE_ID,
                        ex.SECOND_JUDGE_ID,
                        ex.THIRD_JUDGE_ID,
                    ],
                },
            ]
        },
    )

    k: int = Field(ge=1, le=20, description="Judges per entry.", examples=[3])
    judge_ids: list[uuid.UUID] | None = Field(
        None,
        min_length=1,
        max_length=5000,
        description="The judge pool; default: every judge whose occupations include the "
        "event's occupation (and, with `on_date`, who is available that day).",
    )
    on_date: date | None = Field(
        None,
        description="Keep only judges whose availability covers this day (judges without "
        "recorded availability are left out).",
    )
    dry_run: bool = Field(False, description="Solve and report, store nothing.")


class JudgeLoad(BaseModel):
    judge_id: uuid.UUID
    name: str = Field(examples=["刘海峰"])
    load: int = Field(description="Entries assigned.", examples=[14])


class AssignmentRun(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stage_id: uuid.UUID
    k: int = Field(examples=[3])
    entries: int = Field(examples=[120])
    judges: int = Field(examples=[26])
    load_min: int | None = Field(examples=[13])
    load_max: int | None = Field(examples=[14])
    solver_status: str = Field(
        examples=["OPTIMAL"], description="OR-Tools min-cost flow status (OPTIMAL when solved)."
    )
    cost: int | None = Field(
        description="Balance cost: units above floor(N*k/J) (cost 1 each, convexly more for "
        "further units). Equal to the lower bound when loads differ by at most 1.",
        examples=[22],
    )
    solve_ms: int = Field(examples=[35])
    dry_run: bool
    created_by: str
    created_at: datetime


class AssignmentOutcome(BaseModel):
    run: AssignmentRun
    balanced: bool = Field(description="max load - min load <= 1.")
    loads: list[JudgeLoad]


class Assignment(BaseModel):
    """One judge assigned to one entry (what organisers see)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stage_id: uuid.UUID
    stage_entry_id: uuid.UUID
    entry_id: uuid.UUID | None = Field(
        None, description="Shown to admins, and to everyone once the stage is judged."
    )
    blind_code: str = Field(examples=["K7MXRA"])
    judge_id: uuid.UUID
    submitted_at: datetime | None
    created_at: datetime


class MyAssignment(BaseModel):
    """What a judge sees of an assignment: the blind code only, never the entry."""

    stage_id: uuid.UUID
    blind_code: str = Field(examples=["K7MXRA"])
    submitted_at: datetime | None
    #: The ETag to send as If-Match when updating the marks of this entry.
    etag: str = Field(examples=['"0"'])


class ShortEntry(BaseModel):
    """An entry that cannot get k judges, and why."""

    stage_entry_id: uuid.UUID
    blind_code: str | None = Field(examples=["K7MXRA"])
    eligible_judges: int = Field(examples=[1])
    needed: int = Field(examples=[3])
    #: How many judges of the pool each conflict kind removed (a judge may count under several).
    removed_by: dict[str, int] = Field(examples=[{"same_enterprise": 2, "same_locality": 4}])


class AssignmentsCreatedData(StageScope):
    run_id: uuid.UUID
    k: int = Field(examples=[3])
    entries: int = Field(examples=[120])
    judges: int = Field(examples=[26])
    load_min: int | None = Field(examples=[13])
    load_max: int | None = Field(examples=[14])


class AssignmentsCreatedEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`."""

    type: str = Field(examples=["assignments.created"])
    timestamp: datetime
    data: AssignmentsCreatedData
