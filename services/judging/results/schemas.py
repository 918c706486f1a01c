"""Pydantic schemas of results: rules, completion times, result versions, leaderboard, appeals."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.judging.marking.schemas import ComponentWeight
from shared import examples as ex
from shared.models.judging import Aggregation, ResultStatus, Standardisation
from shared.numbers import JsonDecimal, Rounded3
from shared.outbox import StageScope

ZERO = Decimal(0)
#: Pydantic documents a Decimal default as a string ("0"); the schema says number.
ZERO_DEFAULT: dict[str, Any] = {"default": 0}

#: A prize band or medal: a number of places (whole) or a percent of the ranked entries.
Band = Annotated[JsonDecimal, Field(decimal_places=2)]

TIE_BREAK = re.compile(r"^(component:(theory|practical|defence)|completion_time)$")


class PrizeBands(BaseModel):
    """First, second, third prize and merit: how many places each band takes, in rank order."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"basis": "percent", "first": 10, "second": 20}]},
    )

    basis: Literal["count", "percent"] = Field(
        "count", description="`count`: places; `percent`: of the ranked entries, rounded up."
    )
    first: Band = Field(ZERO, ge=0, le=100_000, json_schema_extra=ZERO_DEFAULT)
    second: Band = Field(ZERO, ge=0, le=100_000, json_schema_extra=ZERO_DEFAULT)
    third: Band = Field(ZERO, ge=0, le=100_000, json_schema_extra=ZERO_DEFAULT)
    merit: Band = Field(ZERO, ge=0, le=100_000, json_schema_extra=ZERO_DEFAULT)

    @model_validator(mode="after")
    def _sizes(self) -> PrizeBands:
        values = (self.first, self.second, self.third, self.merit)
        if self.basis == "percent" and sum(values) > 100:
            raise ValueError("percent bands may total at most 100")
        if self.basis == "count" and any(v != int(v) for v in values):
            raise ValueError("count bands are whole numbers of places")
        return self


class Medals(BaseModel):
    """Gold, silver and bronze by count or percent, with a tie band in points."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"basis": "count", "gold": 1, "silver": 1, "bronze": 1, "tie_band": 0.5}]
        },
    )

    basis: Literal["count", "percent"] = "count"
    gold: Band = Field(ZERO, ge=0, le=100_000, json_schema_extra=ZERO_DEFAULT)
    silver: Band = Field(ZERO, ge=0, le=100_000, json_schema_extra=ZERO_DEFAULT)
    bronze: Band = Field(ZERO, ge=0, le=100_000, json_schema_extra=ZERO_DEFAULT)
    tie_band: JsonDecimal = Field(
        ZERO,
        json_schema_extra=ZERO_DEFAULT,
        ge=0,
        le=100,
        decimal_places=3,
        description="Entries within this many points below a medal's cut-off score share it.",
    )


RULES_EXAMPLE: dict[str, Any] = {
    "aggregation": "trimmed_mean",
    "standardisation": "none",
    "tie_breaks": ["component:practical", "component:theory", "completion_time"],
    "prize_bands": {"basis": "count", "first": 1, "second": 2, "third": 3, "merit": 4},
    "medals": {"basis": "count", "gold": 1, "silver": 1, "bronze": 1, "tie_band": 0.5},
    "appeal_window_minutes": 120,
    "arbiters": [],
}


class ResultRulesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [RULES_EXAMPLE]})

    aggregation: Aggregation = Field(
        Aggregation.mean,
        description="Per entry and aspect over its judges: `mean`, `trimmed_mean` (highest and "
        "lowest dropped when at least 5 judges scored it, else the mean) or `median`.",
    )
    standardisation: Standardisation = Field(
        Standardisation.none,
        description="`none`; `zscore`: z = (x - judge mean) / judge sd; `robust`: z = (x - judge "
        "median) / (1.4826 x judge MAD); per judge and aspect, each value becoming 700 + 100 z.",
    )
    tie_breaks: list[str] = Field(
        default_factory=list,
        max_length=4,
        description="In order: `component:<name>` (higher wins) or `completion_time` (lower "
        "wins); entries still equal share the rank.",
    )
    prize_bands: PrizeBands | None = None
    medals: Medals | None = None
    appeal_window_minutes: int = Field(120, ge=1, le=10_080)
    arbiters: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Registry account ids (`sub`) of the organisers on the stage's arbitration "
        "panel, who may decide appeals besides admins.",
    )

    @field_validator("tie_breaks")
    @classmethod
    def _tie_breaks(cls, value: list[str]) -> list[str]:
        for tb in value:
            if not TIE_BREAK.match(tb):
                raise ValueError(
                    f"{tb!r}: use component:theory, component:practical, component:defence "
                    "or completion_time"
                )
        if len(set(value)) != len(value):
            raise ValueError("each tie-break may appear once")
        return value


class ResultRules(ResultRulesUpdate):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    **RULES_EXAMPLE,
                    "stage_id": ex.STAGE_ID,
                    "components": [
                        {"component": "theory", "weight": 30},
                        {"component": "practical", "weight": 70},
                    ],
                    "version": 1,
                    "updated_at": ex.TIMESTAMP,
                }
            ]
        },
    )

    stage_id: uuid.UUID
    components: list[ComponentWeight] = Field(
        description="The stage's components and weights (set on the stage, read here).",
        examples=[
            [{"component": "theory", "weight": 30}, {"component": "practical", "weight": 70}]
        ],
    )
    version: int = Field(0, description="0: the defaults, never saved.")
    updated_at: datetime | None = None


class CompletionTimeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    blind_code: str = Field(min_length=1, max_length=16, examples=["K7MXRA"])
    seconds: JsonDecimal = Field(ge=0, lt=10_000_000, decimal_places=3, examples=[5400.5])


class CompletionTimes(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"times": [{"blind_code": "K7MXRA", "seconds": 5400.5}]}]},
    )

    times: list[CompletionTimeIn] = Field(min_length=1, max_length=100_000)


class CompletionTimesResult(BaseModel):
    stage_id: uuid.UUID
    recorded: int = Field(examples=[1])
    total: int = Field(description="Entries of the stage with a completion time.", examples=[42])


class ResultEntry(BaseModel):
    rank: int = Field(examples=[1])
    stage_entry_id: uuid.UUID
    blind_code: str | None = Field(
        None,
        description="Decoded at publication (drafts are keyed by stage entry only).",
        examples=["K7MXRA"],
    )
    entry_id: uuid.UUID | None = None
    team_name: str | None = None
    locality_code: str | None = Field(None, examples=["370100"])
    score: Rounded3 = Field(examples=[86.125])
    component_scores: dict[str, Rounded3] = Field(examples=[{"theory": 80.5, "practical": 88.536}])
    completion_seconds: Rounded3 | None = None
    prize: str | None = Field(None, examples=["first"])
    medal: str | None = Field(None, examples=["gold"])


class StageResultSummary(BaseModel):
    id: uuid.UUID
    stage_id: uuid.UUID
    version: int = Field(examples=[1])
    status: ResultStatus
    digest: str = Field(description="sha256 of every input that formed the result.")
    entry_count: int
    score_count: int
    computed_by: str
    computed_at: datetime
    published_at: datetime | None
    appeal_deadline: datetime | None
    finalised_at: datetime | None
    rules: dict[str, object] = Field(description="The rules, components and scheme used.")


class StageResult(StageResultSummary):
    entries: list[ResultEntry]
    next_offset: int | None = Field(None, description="Pass as `offset` for the next page.")


class Reproduction(BaseModel):
    version: int
    stored_digest: str
    recomputed_digest: str
    digest_matches: bool = Field(description="The stored inputs are unchanged.")
    results_match: bool = Field(
        description="Recomputing gives the same scores, ranks, prizes and medals."
    )
    differences: int = Field(description="Entries whose recomputed result differs.")


class LeaderboardEntry(BaseModel):
    rank: int = Field(examples=[1])
    blind_code: str | None = Field(examples=["K7MXRA"])
    entry_id: uuid.UUID | None
    team_name: str | None
    locality_code: str | None = Field(examples=["370100"])
    score: Rounded3 = Field(examples=[86.125])
    component_scores: dict[str, Rounded3]
    prize: str | None = Field(examples=["first"])
    medal: str | None = Field(examples=["gold"])


class Leaderboard(BaseModel):
    stage_id: uuid.UUID
    version: int
    status: ResultStatus = Field(description="provisional (appeals open) or final.")
    published_at: datetime | None
    appeal_deadline: datetime | None
    total: int
    entries: list[LeaderboardEntry]


class ResultsEventData(StageScope):
    result_id: uuid.UUID
    version: int = Field(examples=[1])
    entry_count: int = Field(examples=[60])
    appeal_deadline: datetime | None = Field(None, description="`results.provisional`.")
    advanced: bool | None = Field(
        None, description="`results.final`: the ranking was sent to competitions to advance."
    )


class ResultsEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`."""

    type: str = Field(examples=["results.provisional"])
    timestamp: datetime
    data: ResultsEventData
