"""Competition schemas."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from services.competitions.competitions.lifecycle import TRANSITIONS
from shared import examples as ex
from shared.models.competitions import CompetitionKind, CompetitionLevel, CompetitionStatus
from shared.models.registry.enums import Industry

TRACKS = ("big_data", "ai", "five_g", "blockchain", "other")


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, examples=["竞赛技术文件"])
    url: HttpUrl


class CompetitionFields(BaseModel):
    description: str | None = Field(None, max_length=10000)
    industry: Industry | None = Field(None, description="One of Shandong's Top Ten industries.")
    tracks: list[str] = Field(
        default_factory=list,
        description="Innovation competitions' tracks: big_data, ai, five_g, blockchain, other.",
    )
    documents: list[Document] = Field(default_factory=list, max_length=50)
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    starts_on: date | None = Field(None, description="Competitors' ages are taken on this day.")
    ends_on: date | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CompetitionFields:
        unknown = sorted(set(self.tracks) - set(TRACKS))
        if unknown:
            raise ValueError(f"unknown tracks: {', '.join(unknown)}")
        opens, closes = self.registration_opens_at, self.registration_closes_at
        if opens and closes and closes <= opens:
            raise ValueError("registration_closes_at must be after registration_opens_at")
        for name in ("registration_opens_at", "registration_closes_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone offset, e.g. +08:00")
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        return self


class CompetitionCreate(CompetitionFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": ex.COMPETITION_NAME,
                    "kind": "skill_competition",
                    "level": "city",
                    "year": 2026,
                    "organiser_locality_code": "370100",
                    "industry": "high_end_equipment",
                    "registration_opens_at": ex.at(ex.REGISTRATION_OPENS, "09:00"),
                    "registration_closes_at": ex.at(ex.REGISTRATION_CLOSES, "17:00"),
                    "starts_on": ex.day(ex.STARTS),
                    "ends_on": ex.day(ex.ENDS),
                }
            ]
        },
    )

    name: str = Field(min_length=2, max_length=200)
    kind: CompetitionKind
    level: CompetitionLevel = Field(
        description="`enterprise`, `county`, `city` or `provincial`. `national` is refused: "
        "national contests are run outside the province, and their results are recorded in "
        "talent files (`POST /v1/workers/{id}/national-results` in the registry)."
    )
    year: int = Field(ge=2000, le=2100)
    organiser_locality_code: str = Field(
        pattern=r"^\d{6}$",
        description="The organising locality (GB/T 2260), known to the registry.",
    )
    organiser_enterprise_id: uuid.UUID | None = Field(
        None, description="For enterprise-level competitions: the organising enterprise."
    )

    @field_validator("level")
    @classmethod
    def _organised_here(cls, level: CompetitionLevel) -> CompetitionLevel:
        if level is CompetitionLevel.national:
            raise ValueError(
                "national contests are not organised here: record a worker's national result "
                "in their talent file instead"
            )
        return level


class CompetitionUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"starts_on": ex.day(ex.STARTS + 1), "ends_on": ex.day(ex.ENDS + 1)}]
        },
    )

    name: str | None = Field(None, min_length=2, max_length=200)
    description: str | None = Field(None, max_length=10000)
    industry: Industry | None = None
    tracks: list[str] | None = None
    documents: list[Document] | None = Field(None, max_length=50)
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    starts_on: date | None = None
    ends_on: date | None = None


class StatusChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"status": "registration_open"}]}
    )

    status: CompetitionStatus


class Competition(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str = Field(examples=[ex.COMPETITION_NAME])
    kind: CompetitionKind
    level: CompetitionLevel
    year: int = Field(examples=[2026])
    organiser_locality_code: str = Field(examples=["370100"])
    organiser_enterprise_id: uuid.UUID | None = None
    industry: Industry | None = None
    tracks: list[str]
    description: str | None = None
    documents: list[Document]
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    status: CompetitionStatus
    allowed_transitions: list[CompetitionStatus] = Field(
        default_factory=list, description="Statuses this competition may move to next."
    )
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="after")
    def _transitions(self) -> Competition:
        self.allowed_transitions = list(TRANSITIONS[self.status])
        return self
