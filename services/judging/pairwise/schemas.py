"""Pairwise judging schemas."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

BlindCode = Field(min_length=1, max_length=16, pattern=r"^[A-Z0-9]+$", examples=["K7MXRA"])


class Pair(BaseModel):
    a: str = Field(examples=["K7MXRA"], description="Blind code of one entry.")
    b: str = Field(examples=["P3QWTE"], description="Blind code of the other.")
    information_gain: float = Field(description="Why this pair: what the vote should teach.")
    remaining: int = Field(description="Pairs of your entries you have not compared yet.")


class VoteCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"winner": "K7MXRA", "loser": "P3QWTE"}]}
    )

    winner: str = BlindCode
    loser: str = BlindCode


class Standing(BaseModel):
    rank: int
    stage_entry_id: uuid.UUID
    entry_id: uuid.UUID
    blind_code: str
    mu: float = Field(description="Estimated quality (log-odds scale, prior 0).")
    sigma_sq: float = Field(description="Its uncertainty (prior 1; shrinks with comparisons).")
    comparisons: int


class Vote(BaseModel):
    winner: Standing
    loser: Standing
    probability: float = Field(
        description="How likely the model thought this vote was before it was made."
    )
    judge_reliability: float = Field(
        description="The judge's estimated probability of voting as the qualities say."
    )


class Ranking(BaseModel):
    stage_id: uuid.UUID
    votes: int
    items: list[Standing]
