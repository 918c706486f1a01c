"""Conflict-of-interest schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared import examples as ex
from shared.models.judging import ConflictKind


class ConflictReason(BaseModel):
    kind: ConflictKind
    detail: str = Field(examples=["the judge works for the same enterprise as a competitor"])


class EntryConflict(BaseModel):
    stage_entry_id: uuid.UUID
    blind_code: str | None = Field(examples=["K7MXRA"])
    entry_id: uuid.UUID | None = Field(
        None, description="Shown to admins, and to everyone once the stage is judged."
    )
    reasons: list[ConflictReason]


class JudgeConflicts(BaseModel):
    judge_id: uuid.UUID
    stage_id: uuid.UUID
    entries_checked: int = Field(examples=[42])
    conflicts: list[EntryConflict]


class StageConflict(EntryConflict):
    judge_id: uuid.UUID
    judge_name: str = Field(examples=["刘海峰"])


class StageConflicts(BaseModel):
    stage_id: uuid.UUID
    occupation: str = Field(description="Judges of this occupation were checked.")
    judges_checked: int
    entries_checked: int
    conflicts: list[StageConflict]


class DeclaredConflictCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "worker_id": ex.WORKER_ID,
                    "reason": "选手系本人表弟",
                },
                {
                    "stage_id": ex.STAGE_ID,
                    "blind_code": "K7MXRA",
                    "reason": "选手系本人表弟",
                },
            ]
        },
    )

    worker_id: uuid.UUID | None = Field(None, description="A person the judge is related to.")
    entry_id: uuid.UUID | None = Field(None, description="Or an entry, as a whole.")
    blind_code: str | None = Field(
        None,
        min_length=1,
        max_length=16,
        description="Or an entry by the blind code the judge sees (with `stage_id`): for judges, "
        "who know entries only so. The answer does not reveal the entry behind the code.",
        examples=["K7MXRA"],
    )
    stage_id: uuid.UUID | None = Field(
        None,
        description="With `blind_code`: the stage the code belongs to (one the judge is "
        "assigned to or whose occupation they judge).",
    )
    reason: str = Field(min_length=2, max_length=2000)


class DeclaredConflict(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    judge_id: uuid.UUID
    worker_id: uuid.UUID | None
    entry_id: uuid.UUID | None = Field(
        description="Shown to admins and our services, and to organisers for a conflict "
        "declared by entry id; never to the judge (a conflict declared by blind code shows its "
        "code and stage instead)."
    )
    stage_id: uuid.UUID | None = Field(None, description="Declared by blind code: the stage.")
    blind_code: str | None = Field(None, examples=["K7MXRA"])
    reason: str
    declared_by: str
    declared_by_role: str = Field(examples=["judge"])
    created_at: datetime
