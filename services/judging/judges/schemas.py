"""Judge schemas."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared import examples as ex
from shared.models.judging import JudgeKind, QualificationLevel

LOCALITY = r"^\d{6}$"


class DateRange(BaseModel):
    """An inclusive period the judge is available."""

    model_config = ConfigDict(extra="forbid")

    start: date = Field(examples=[ex.day(ex.STARTS - 2)])
    end: date = Field(examples=[ex.day(ex.STARTS + 2)])

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        return self


def _clean_occupations(value: list[str] | None) -> list[str] | None:
    if value is None:
        return value
    cleaned = [v.strip() for v in value]
    if any(not v for v in cleaned):
        raise ValueError("occupations must not be blank")
    return list(dict.fromkeys(cleaned))


def _ordered_ranges(value: list[DateRange] | None) -> list[DateRange] | None:
    if value is None:
        return value
    ranges = sorted(value, key=lambda r: r.start)
    for before, after in itertools.pairwise(ranges):
        if after.start <= before.end:
            raise ValueError(f"the periods starting {before.start} and {after.start} overlap")
    return ranges


JUDGE_EXAMPLE: dict[str, Any] = {
    "kind": "expert",
    "name": "刘海峰",
    "employer_name": "山东大学机械工程学院",
    "locality_code": "370100",
    "occupations": ["数控车工", "数控铣工"],
    "qualification": "provincial_judge",
    "availability": [{"start": ex.day(ex.STARTS - 2), "end": ex.day(ex.STARTS + 2)}],
    "account_sub": ex.ACCOUNT_ID,
}


class JudgeCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                JUDGE_EXAMPLE,
                {
                    "kind": "worker",
                    "worker_id": ex.WORKER_ID,
                    "occupations": ["数控车工"],
                    "qualification": "city_judge",
                },
            ]
        },
    )

    kind: JudgeKind = Field(description="`worker` (a registered worker) or `expert` (outside).")
    worker_id: uuid.UUID | None = Field(
        None, description="Required for `worker`: checked with the registry."
    )
    name: str | None = Field(
        None,
        min_length=2,
        max_length=100,
        description="Required for `expert`; a worker's name comes from the registry unless given.",
    )
    employer_name: str | None = Field(
        None, min_length=2, max_length=200, description="Required for `expert`."
    )
    enterprise_id: uuid.UUID | None = Field(
        None, description="The employer, if registered. A worker's comes from the registry."
    )
    locality_code: str | None = Field(
        None, pattern=LOCALITY, description="GB/T 2260 code; a worker's comes from the registry."
    )
    occupations: list[str] = Field(min_length=1, max_length=20)
    qualification: QualificationLevel
    availability: list[DateRange] = Field(default_factory=list, max_length=50)
    account_sub: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="The registry account of the person (its `sub`): a `judge` token with this "
        "sub acts as this judge.",
    )

    _occupations = field_validator("occupations")(classmethod(lambda cls, v: _clean_occupations(v)))
    _availability = field_validator("availability")(classmethod(lambda cls, v: _ordered_ranges(v)))


class JudgeUpdate(BaseModel):
    """Only the fields sent change; `null` clears an optional field. Kind and worker are fixed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "qualification": "national_judge",
                    "availability": [
                        {"start": ex.day(ex.STARTS + 60), "end": ex.day(ex.STARTS + 64)}
                    ],
                }
            ]
        },
    )

    name: str | None = Field(None, min_length=2, max_length=100)
    employer_name: str | None = Field(None, min_length=2, max_length=200)
    enterprise_id: uuid.UUID | None = None
    locality_code: str | None = Field(None, pattern=LOCALITY)
    occupations: list[str] | None = Field(None, min_length=1, max_length=20)
    qualification: QualificationLevel | None = None
    availability: list[DateRange] | None = Field(None, max_length=50)
    account_sub: str | None = Field(None, min_length=1, max_length=64)

    _occupations = field_validator("occupations")(classmethod(lambda cls, v: _clean_occupations(v)))
    _availability = field_validator("availability")(classmethod(lambda cls, v: _ordered_ranges(v)))


class Judge(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: JudgeKind
    worker_id: uuid.UUID | None
    name: str = Field(examples=["刘海峰"])
    employer_name: str | None = Field(examples=["山东大学机械工程学院"])
    enterprise_id: uuid.UUID | None
    locality_code: str = Field(examples=["370100"])
    occupations: list[str] = Field(examples=[["数控车工"]])
    qualification: QualificationLevel
    availability: list[DateRange]
    account_sub: str | None
    created_by: str
    version: int = Field(description="Increases with every change; also sent as the ETag.")
    created_at: datetime
    updated_at: datetime
