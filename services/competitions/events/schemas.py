"""Event (contest item) schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.models.competitions import EventMode
from shared.models.registry.enums import SkillGrade


class EligibilityFields(BaseModel):
    min_age: int | None = Field(None, ge=16, le=80, description="On the competition's start day.")
    max_age: int | None = Field(None, ge=16, le=80)
    min_grade: SkillGrade | None = Field(None, description="Lowest grade admitted.")
    max_grade: SkillGrade | None = Field(None, description="Highest grade admitted.")
    allowed_locality_codes: list[str] = Field(
        default_factory=list,
        description="Only workers of these localities (a city includes its counties); empty: all.",
    )
    enterprise_quota: int | None = Field(
        None, ge=1, le=1000, description="At most this many entries per enterprise."
    )
    exclude_national_winners: bool = Field(
        True, description="Refuse workers who already hold a national-level honour."
    )

    @model_validator(mode="after")
    def _ranges(self) -> EligibilityFields:
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("min_age must not exceed max_age")
        if self.min_grade and self.max_grade and self.min_grade.rank > self.max_grade.rank:
            raise ValueError("min_grade must not be above max_grade")
        bad = [c for c in self.allowed_locality_codes if not (len(c) == 6 and c.isdigit())]
        if bad:
            raise ValueError(f"not GB/T 2260 codes: {', '.join(bad)}")
        return self


class EventCreate(EligibilityFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "数控车工（职工组）",
                    "occupation": "数控车工",
                    "mode": "individual",
                    "capacity": 120,
                    "min_age": 18,
                    "max_age": 55,
                    "min_grade": "intermediate",
                    "max_grade": "technician",
                    "allowed_locality_codes": ["370100", "370200"],
                    "enterprise_quota": 3,
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    occupation: str = Field(min_length=1, max_length=100)
    mode: EventMode
    team_min: int | None = Field(None, ge=2, le=20)
    team_max: int | None = Field(None, ge=2, le=20)
    capacity: int = Field(ge=1, le=100000, description="Entries admitted; later ones wait.")

    @model_validator(mode="after")
    def _team(self) -> EventCreate:
        if self.mode is EventMode.individual:
            if self.team_min is not None or self.team_max is not None:
                raise ValueError("team_min/team_max are only for team and innovation events")
        else:
            if self.team_min is None or self.team_max is None:
                raise ValueError("team and innovation events need team_min and team_max")
            if self.team_min > self.team_max:
                raise ValueError("team_min must not exceed team_max")
        return self


class EventUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"capacity": 150, "enterprise_quota": 4}]}
    )

    name: str | None = Field(None, min_length=1, max_length=200)
    capacity: int | None = Field(None, ge=1, le=100000)
    min_age: int | None = Field(None, ge=16, le=80)
    max_age: int | None = Field(None, ge=16, le=80)
    min_grade: SkillGrade | None = None
    max_grade: SkillGrade | None = None
    allowed_locality_codes: list[str] | None = None
    enterprise_quota: int | None = Field(None, ge=1, le=1000)
    exclude_national_winners: bool | None = None


class Event(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    competition_id: uuid.UUID
    name: str = Field(examples=["数控车工（职工组）"])
    occupation: str
    mode: EventMode
    team_min: int | None
    team_max: int | None
    capacity: int
    min_age: int | None
    max_age: int | None
    min_grade: SkillGrade | None
    max_grade: SkillGrade | None
    allowed_locality_codes: list[str]
    enterprise_quota: int | None
    exclude_national_winners: bool
    places_taken: int = Field(
        0, description="Entries holding a place (pending, approved, checked in)."
    )
    waitlisted: int = 0
    version: int
    created_at: datetime
    updated_at: datetime
