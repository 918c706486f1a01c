"""Entry (registration) schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

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


#: At most this many entries per bulk action (one transaction holds the event's lock for it).
MAX_BULK = 500

#: What happened to one entry of a bulk action: `ok` (done), `unchanged` (it already had the
#: status: nothing done, nothing sent), or why it was refused, as the single action would have
#: answered: `not_found` (404: no such entry in this event), `forbidden` (403), `stale` (412:
#: `version` is not the current one), `wrong_state` (409: not possible from its status),
#: `invalid` (422).
BulkOutcomeKind = Literal[
    "ok", "unchanged", "not_found", "forbidden", "stale", "wrong_state", "invalid"
]


class BulkItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entry_id: uuid.UUID
    version: int | None = Field(
        None,
        ge=1,
        description="Optional: the entry's `version` (its ETag) you decided on. If the entry "
        "has changed since, it is left alone and reported `stale`.",
        examples=[1],
    )


class BulkAction(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "items": [{"entry_id": ex.ENTRY_ID}, {"entry_id": ex.SECOND_ENTRY_ID}],
                    "reason": "经资格审查，按赛务组决定办理",
                }
            ]
        },
    )

    items: list[BulkItem] = Field(
        min_length=1, max_length=MAX_BULK, description=f"1 to {MAX_BULK} entries of the event."
    )
    reason: str | None = Field(
        None,
        max_length=1000,
        description="For every item; required to reject or disqualify, as for one entry.",
    )


class BulkItemOutcome(BaseModel):
    entry_id: uuid.UUID
    outcome: BulkOutcomeKind = Field(examples=["ok"])
    status: EntryStatus | None = Field(
        None, description="The entry's status now (not shown when not found or forbidden)."
    )
    version: int | None = Field(None, description="Its version now (the next `version`).")
    detail: str | None = Field(
        None,
        description="Why it was refused: the single action's problem `detail`.",
        examples=["An entry that is withdrawn cannot be approved; possible now: nothing."],
    )
    allowed_actions: list[str] | None = Field(
        None, description="For `wrong_state`: what is possible from its status."
    )


class Promoted(BaseModel):
    entry_id: uuid.UUID
    status: EntryStatus = Field(
        description="`approved` when the organisers had registered it, else `pending`."
    )


class BulkOutcome(BaseModel):
    action: str = Field(examples=["approve"])
    ok: int = Field(examples=[26])
    unchanged: int = Field(examples=[0])
    refused: int = Field(examples=[1])
    items: list[BulkItemOutcome] = Field(description="One per item, in the order given.")
    promoted: list[Promoted] = Field(
        default_factory=list,
        description="Waitlisted entries that took the places freed (reject, withdraw, "
        "disqualify), oldest first.",
    )
