"""Event (contest item) schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from shared.models.competitions import TEAM_SIZE_DEFAULTS, EventMode
from shared.models.registry.enums import SkillGrade

#: The legal working age: the registry registers no one younger, so no event admits them.
MIN_WORKING_AGE = 16
AGE_DESCRIPTION = (
    f"Age on the competition's start day, {MIN_WORKING_AGE} (the legal working age: the registry "
    f"registers no one younger) to 80."
)


class EligibilityFields(BaseModel):
    min_age: int | None = Field(
        None, ge=MIN_WORKING_AGE, le=80, description=f"Lowest age admitted. {AGE_DESCRIPTION}"
    )
    max_age: int | None = Field(
        None, ge=MIN_WORKING_AGE, le=80, description=f"Highest age admitted. {AGE_DESCRIPTION}"
    )
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
        True,
        description="Refuse national winners: workers with a winning national result in "
        "their talent file (first to third) or a national-level honour.",
    )

    # Field validators (not one model validator) so that each refusal names its field; each
    # compares with the fields declared before it, which pydantic has already validated.
    @field_validator("max_age")
    @classmethod
    def _ages(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("min_age")
        if value is not None and low is not None and low > value:
            raise ValueError(f"must not be below min_age ({low})")
        return value

    @field_validator("max_grade")
    @classmethod
    def _grades(cls, value: SkillGrade | None, info: ValidationInfo) -> SkillGrade | None:
        low = info.data.get("min_grade")
        if value is not None and low is not None and low.rank > value.rank:
            raise ValueError(f"must not be below min_grade ({low.value})")
        return value

    @field_validator("allowed_locality_codes")
    @classmethod
    def _codes(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if not (len(c) == 6 and c.isdigit())]
        if bad:
            raise ValueError(f"not GB/T 2260 codes: {', '.join(bad)}")
        return value


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
    team_min: int | None = Field(
        None,
        ge=1,
        le=20,
        description="Team and innovation events: fewest members of a team, leader included "
        "(a team event's at least 2). Default: 2 for a team event, 1 for an innovation event. "
        "Not used in an individual event.",
    )
    team_max: int | None = Field(
        None,
        ge=1,
        le=20,
        description="Team and innovation events: most members of a team, leader included. "
        "Default: 20 for a team event, 15 (an innovation achievement's largest team) for an "
        "innovation event. Not used in an individual event.",
    )
    capacity: int = Field(ge=1, le=100000, description="Entries admitted; later ones wait.")

    @field_validator("team_min", "team_max")
    @classmethod
    def _team_size(cls, value: int | None, info: ValidationInfo) -> int | None:
        mode = info.data.get("mode")
        if value is None or mode is None:
            return value
        if mode is EventMode.individual:
            raise ValueError("not used in an individual event (teams only)")
        if mode is EventMode.team and value < 2:
            raise ValueError("a team event's teams have at least 2 members")
        low = info.data.get("team_min")
        if info.field_name == "team_max" and low is not None and value < low:
            raise ValueError(f"must not be below team_min ({low})")
        return value

    @model_validator(mode="after")
    def _team_defaults(self) -> EventCreate:
        """Store the sizes that apply, so the event shows its real rule."""
        defaults = TEAM_SIZE_DEFAULTS.get(self.mode)
        if defaults is None:
            return self
        low = self.team_min if self.team_min is not None else defaults[0]
        high = self.team_max if self.team_max is not None else max(defaults[1], low)
        self.team_min, self.team_max = low, high
        return self


class EventUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"capacity": 150, "enterprise_quota": 4}]}
    )

    name: str | None = Field(None, min_length=1, max_length=200)
    capacity: int | None = Field(None, ge=1, le=100000)
    min_age: int | None = Field(None, ge=MIN_WORKING_AGE, le=80, description=AGE_DESCRIPTION)
    max_age: int | None = Field(None, ge=MIN_WORKING_AGE, le=80, description=AGE_DESCRIPTION)
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
