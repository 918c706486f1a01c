"""Stage, stage entry, advancement and blind-code schemas."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared import examples as ex
from shared.models.competitions import (
    AdvancementRule,
    StageComponent,
    StageEntryStatus,
    StageStatus,
)
from shared.numbers import JsonDecimal

#: Scores and rule values: exact decimals inside, JSON numbers outside; 3 decimals, as stored.
Number = Annotated[JsonDecimal, Field(decimal_places=3)]


class ComponentWeight(BaseModel):
    model_config = ConfigDict(extra="forbid")

    component: StageComponent
    weight: int = Field(gt=0, le=100, description="Percent of the stage score.", examples=[70])


def _check_components(value: list[ComponentWeight] | None) -> list[ComponentWeight] | None:
    if value is None:
        return value
    names = [c.component for c in value]
    duplicates = sorted({n.value for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"each component may appear once; repeated: {', '.join(duplicates)}")
    total = sum(c.weight for c in value)
    if total != 100:
        raise ValueError(f"the weights must sum to 100 (they sum to {total})")
    return value


STAGE_EXAMPLE: dict[str, Any] = {
    "name": "市级初赛",
    "seq": 1,
    "components": [
        {"component": "theory", "weight": 30},
        {"component": "practical", "weight": 70},
    ],
    "advancement_rule": "top_n_per_locality",
    "advancement_value": 2,
    "starts_on": ex.day(ex.STARTS),
    "ends_on": ex.day(ex.STARTS + 1),
}


class StageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [STAGE_EXAMPLE]})

    name: str = Field(min_length=2, max_length=100)
    seq: int = Field(ge=1, le=100, description="Order of the stage in its event (unique).")
    components: list[ComponentWeight] = Field(
        min_length=1,
        max_length=3,
        description="Theory, practical and/or defence with weights summing to 100.",
    )
    advancement_rule: AdvancementRule | None = Field(
        None, description="How entries qualify for the next stage; omit only for the last stage."
    )
    advancement_value: Number | None = Field(
        None,
        description="N (integer >= 1) for top_n and top_n_per_locality, a percentage "
        "(0 < p <= 100) for top_percent, a score (>= 0) for min_score.",
        examples=[2],
    )
    starts_on: date | None = None
    ends_on: date | None = None

    @field_validator("components")
    @classmethod
    def _valid_components(cls, value: list[ComponentWeight] | None) -> list[ComponentWeight] | None:
        return _check_components(value)


class StageUpdate(BaseModel):
    """Only the fields sent change; `null` clears an optional field."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"advancement_rule": "top_n", "advancement_value": 10}]},
    )

    name: str | None = Field(None, min_length=2, max_length=100)
    seq: int | None = Field(None, ge=1, le=100)
    components: list[ComponentWeight] | None = Field(None, min_length=1, max_length=3)
    advancement_rule: AdvancementRule | None = None
    advancement_value: Number | None = None
    starts_on: date | None = None
    ends_on: date | None = None

    @field_validator("components")
    @classmethod
    def _valid_components(cls, value: list[ComponentWeight] | None) -> list[ComponentWeight] | None:
        return _check_components(value)


class Stage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    competition_id: uuid.UUID
    event_id: uuid.UUID
    seq: int = Field(examples=[1])
    name: str = Field(examples=["市级初赛"])
    components: list[ComponentWeight]
    advancement_rule: AdvancementRule | None
    advancement_value: Number | None = Field(examples=[2])
    starts_on: date | None
    ends_on: date | None
    status: StageStatus
    version: int
    created_at: datetime
    updated_at: datetime


class SeedResult(BaseModel):
    stage_id: uuid.UUID
    added: int = Field(description="Stage entries created by this call.", examples=[42])
    total: int = Field(description="Stage entries of the stage after the call.", examples=[42])


class StageEntry(BaseModel):
    """A stage entry as judges see it; `entry_id`/`worker_id` are null until revealed."""

    id: uuid.UUID
    stage_id: uuid.UUID
    blind_code: str | None = Field(examples=["K7MXRA"])
    workstation_no: int | None = Field(
        examples=[12], description="Null for judges: they see blind codes only."
    )
    status: StageEntryStatus
    rank: int | None
    score: Number | None
    by_override: bool
    entry_id: uuid.UUID | None = Field(
        None, description="Shown to admins, and to everyone once the stage is judged."
    )
    worker_id: uuid.UUID | None = Field(None, description="As `entry_id`.")


class BlindCodeResult(BaseModel):
    stage_id: uuid.UUID
    assigned: int = Field(description="Codes assigned by this call.", examples=[42])
    total: int = Field(description="Stage entries of the stage.", examples=[42])
    workstations: bool = Field(description="Whether workstation numbers were drawn (practical).")


class BlindCodeMapping(BaseModel):
    blind_code: str = Field(examples=["K7MXRA"])
    workstation_no: int | None
    stage_entry_id: uuid.UUID
    entry_id: uuid.UUID
    worker_id: uuid.UUID | None
    team_name: str | None
    locality_code: str = Field(examples=["370100"])


class RankedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entry_id: uuid.UUID
    rank: int = Field(ge=1, examples=[1])
    score: Number = Field(ge=0, lt=10_000_000, decimal_places=3, examples=[92.5])


class AdvancementApply(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "next_stage_id": ex.NEXT_STAGE_ID,
                    "ranking": [
                        {
                            "entry_id": ex.ENTRY_ID,
                            "rank": 1,
                            "score": 95.5,
                        },
                        {
                            "entry_id": ex.SECOND_ENTRY_ID,
                            "rank": 2,
                            "score": 90,
                        },
                    ],
                }
            ]
        },
    )

    next_stage_id: uuid.UUID
    ranking: list[RankedEntry] = Field(max_length=100_000)


class Advancement(BaseModel):
    id: uuid.UUID
    stage_id: uuid.UUID
    next_stage_id: uuid.UUID
    advancement_rule: AdvancementRule
    advancement_value: Number
    ranking: list[RankedEntry]
    qualified_entry_ids: list[uuid.UUID] = Field(description="By rule and override, rank order.")
    included_by_override: list[uuid.UUID]
    excluded_by_override: list[uuid.UUID]
    applied_by: str
    created_at: datetime


class OverrideCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "entry_id": ex.ENTRY_ID,
                    "include": True,
                    "reason": "设备故障重赛，经仲裁委员会决定晋级",
                }
            ]
        },
    )

    entry_id: uuid.UUID
    include: bool = Field(description="true adds the entry to the qualifiers; false removes it.")
    reason: str = Field(min_length=2, max_length=2000)


class Override(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stage_id: uuid.UUID
    entry_id: uuid.UUID
    include: bool
    reason: str
    decided_by: str
    created_at: datetime


class StageAdvancedData(BaseModel):
    stage_id: uuid.UUID
    next_stage_id: uuid.UUID
    event_id: uuid.UUID
    competition_id: uuid.UUID
    organiser_locality_code: str = Field(examples=["370000"])
    qualified_count: int = Field(examples=[12])


class StageAdvancedEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`."""

    type: str = Field(examples=["stage.advanced"])
    timestamp: datetime
    data: StageAdvancedData
