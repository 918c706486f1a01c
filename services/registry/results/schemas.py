"""Competition results in the talent file by level and year, and national results recorded."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import examples as ex
from shared.models.competitions import CompetitionLevel

Prize = Literal["first", "second", "third", "merit"]


class NationalResultCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "contest_name": ex.NATIONAL_CONTEST_NAME,
                    "year": ex.NATIONAL_YEAR,
                    "occupation": ex.OCCUPATION,
                    "rank": 2,
                    "prize": "first",
                    "honour_code": ex.NATIONAL_HONOUR_CODE,
                    "awarded_on": ex.day(0),
                }
            ]
        },
    )

    contest_name: str = Field(
        min_length=2, max_length=200, description="The national contest, as on its certificate."
    )
    year: int = Field(ge=2000, le=2100, description="The contest's year.")
    occupation: str | None = Field(None, min_length=1, max_length=100)
    rank: int | None = Field(None, ge=1, le=100000, description="The worker's final rank.")
    prize: Prize | None = Field(
        None, description="first/second/third (gold, silver, bronze) or merit (优秀奖)."
    )
    honour_code: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="A national honour the result brought (e.g. `national_technical_expert`, "
        "全国技术能手): granted with the result, by the honours rules (admins grant national "
        "honours).",
    )
    awarded_on: date | None = Field(
        None, description="When the result was announced (not in the future); default today."
    )


class LevelResult(BaseModel):
    """One result on the worker's path upwards: enterprise → county → city → province →
    nation."""

    level: CompetitionLevel | None = Field(
        description="The competition's level; null for results reported before levels were "
        "recorded.",
        examples=["provincial"],
    )
    year: int = Field(examples=[ex.YEAR])
    competition_name: str = Field(examples=[ex.PROVINCIAL_COMPETITION_NAME])
    stage_name: str | None = Field(None, examples=["省级决赛"])
    event_name: str | None = Field(None, examples=[ex.EVENT_NAME])
    competition_id: uuid.UUID | None = Field(
        None, description="Null for national results (not run in this system)."
    )
    rank: int | None = Field(examples=[5])
    prize: Prize | None = Field(examples=["first"])
    source: Literal["competition_result", "national_result"] = Field(
        description="Reported by judging, or recorded by an organiser (national)."
    )
    occurred_at: datetime
    timeline_entry_id: int = Field(examples=[42])
