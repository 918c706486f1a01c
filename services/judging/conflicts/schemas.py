"""Conflict-of-interest schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
                }
            ]
        },
    )

    worker_id: uuid.UUID | None = Field(None, description="A person the judge is related to.")
    entry_id: uuid.UUID | None = Field(None, description="Or an entry, as a whole.")
    reason: str = Field(min_length=2, max_length=2000)

    @model_validator(mode="after")
    def _one_target(self) -> DeclaredConflictCreate:
        if (self.worker_id is None) == (self.entry_id is None):
            raise ValueError("give exactly one of worker_id and entry_id")
        return self


class DeclaredConflict(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    judge_id: uuid.UUID
    worker_id: uuid.UUID | None
    entry_id: uuid.UUID | None
    reason: str
    declared_by: str
    declared_by_role: str = Field(examples=["judge"])
    created_at: datetime
