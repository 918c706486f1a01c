"""Competition schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.models.competitions import CompetitionKind, CompetitionLevel, CompetitionStatus


class CompetitionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "2026年济南市数控车工职业技能竞赛",
                    "kind": "skill_competition",
                    "level": "city",
                    "year": 2026,
                    "organiser_locality_code": "370100",
                }
            ]
        },
    )

    name: str = Field(min_length=2, max_length=200)
    kind: CompetitionKind
    level: CompetitionLevel
    year: int = Field(ge=2000, le=2100)
    organiser_locality_code: str = Field(
        pattern=r"^\d{6}$",
        description="The organising locality (GB/T 2260), known to the registry.",
    )
    organiser_enterprise_id: uuid.UUID | None = Field(
        None, description="For enterprise-level competitions: the organising enterprise."
    )


class Competition(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str = Field(examples=["2026年济南市数控车工职业技能竞赛"])
    kind: CompetitionKind
    level: CompetitionLevel
    year: int = Field(examples=[2026])
    organiser_locality_code: str = Field(examples=["370100"])
    organiser_enterprise_id: uuid.UUID | None = None
    status: CompetitionStatus
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
