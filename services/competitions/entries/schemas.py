"""Entry (registration) schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared import examples as ex
from shared.models.competitions import EntryStatus


class EntryCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"worker_id": ex.WORKER_ID},
                {
                    "team_name": "济南二机床 数控一队",
                    "leader_id": ex.WORKER_ID,
                    "members": [
                        ex.WORKER_ID,
                        ex.SECOND_WORKER_ID,
                    ],
                },
            ]
        },
    )

    worker_id: uuid.UUID | None = Field(None, description="Individual events: the competitor.")
    team_name: str | None = Field(None, min_length=1, max_length=200, description="Team events.")
    leader_id: uuid.UUID | None = Field(None, description="Team and innovation events.")
    members: list[uuid.UUID] | None = Field(
        None, max_length=20, description="Team and innovation events: every member, leader too."
    )
    achievement_id: uuid.UUID | None = Field(
        None, description="Innovation events: the innovation achievement entered."
    )


class Decision(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "经赛事组委会资格审查"}]}
    )

    reason: str | None = Field(None, max_length=1000)


class Member(BaseModel):
    worker_id: uuid.UUID
    role: str = Field(examples=["leader"])


class Entry(BaseModel):
    id: uuid.UUID
    competition_id: uuid.UUID
    event_id: uuid.UUID
    worker_id: uuid.UUID | None = Field(description="The competitor, or the team's leader.")
    team_name: str | None
    achievement_id: uuid.UUID | None
    members: list[Member]
    enterprise_id: uuid.UUID | None
    locality_code: str
    status: EntryStatus
    status_reason: str | None
    waitlist_position: int | None = Field(None, description="1 = next to get a place.")
    registered_by: str
    version: int
    created_at: datetime
    updated_at: datetime


class RuleFailure(BaseModel):
    rule: str = Field(examples=["max_grade"])
    worker_id: uuid.UUID | None = None
    message: str = Field(examples=["grade senior_technician is above the maximum technician"])


class ImportRow(BaseModel):
    row_number: int
    status: str = Field(description="created, waitlisted or refused", examples=["created"])
    entry_id: uuid.UUID | None = None
    failures: list[RuleFailure] = Field(default_factory=list)


class ImportReport(BaseModel):
    created: int
    waitlisted: int
    refused: int
    rows: list[ImportRow]


class BatchGet(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"ids": [ex.ENTRY_ID, ex.SECOND_ENTRY_ID]}]}
    )

    ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)
