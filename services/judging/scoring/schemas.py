"""Score entry schemas: a judge's marks for one entry, the panel's, flags, sign-offs, locks."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.judging.marking.schemas import Mark
from shared.models.judging import AspectType
from shared.outbox import StageScope


class MarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    aspect_code: str = Field(min_length=1, max_length=16, examples=["A1.1"])
    value: Mark = Field(
        ge=0,
        le=100,
        decimal_places=2,
        description="Measurement: 0..max_mark (one of allowed_values when the aspect has them); "
        "judgement: an integer 0..3.",
        examples=[2],
    )


class ScoreSheetUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    # The aspects of the documented marking scheme (POST .../marking-schemes).
                    "marks": [
                        {"aspect_code": "A1.1", "value": 26.5},
                        {"aspect_code": "B1.1", "value": 60},
                        {"aspect_code": "B2.1", "value": 3},
                    ]
                },
                {
                    "marks": [{"aspect_code": "B1.1", "value": 60}],
                    "reason": "复议后重新评分：外圆直径复测 Φ40.01，在公差内",
                },
            ]
        },
    )

    marks: list[MarkIn] = Field(min_length=1, max_length=500)
    reason: str | None = Field(
        None, max_length=1000, description="Why marks changed (kept in the score history)."
    )


class ScoreMark(BaseModel):
    aspect_code: str = Field(examples=["A1.1"])
    aspect_type: AspectType
    value: Mark = Field(examples=[2])
    version: int = Field(examples=[1])
    submitted_at: datetime | None
    locked_at: datetime | None
    updated_at: datetime


class ScoreSheet(BaseModel):
    """One judge's marks for one entry (the entry known by its blind code only)."""

    stage_id: uuid.UUID
    blind_code: str = Field(examples=["K7MXRA"])
    judge_id: uuid.UUID
    version: int = Field(description="The sheet's version: its `ETag`.", examples=[3])
    submitted_at: datetime | None
    locked: bool = Field(description="Every mark is locked (sign-off or panel lock).")
    marks: list[ScoreMark]


class PanelJudge(BaseModel):
    judge_id: uuid.UUID
    name: str = Field(examples=["刘海峰"])
    submitted_at: datetime | None
    marks: list[ScoreMark]


class PanelScores(BaseModel):
    """Every judge's marks for one entry, shown to a judge of the entry once they submitted."""

    stage_id: uuid.UUID
    blind_code: str = Field(examples=["K7MXRA"])
    judges: list[PanelJudge]


class Score(BaseModel):
    """One mark, as organisers list them."""

    id: uuid.UUID
    stage_id: uuid.UUID
    stage_entry_id: uuid.UUID
    entry_id: uuid.UUID | None = Field(
        None, description="Shown to admins and our services, and to everyone once judged."
    )
    blind_code: str = Field(examples=["K7MXRA"])
    judge_id: uuid.UUID
    aspect_id: uuid.UUID
    aspect_code: str = Field(examples=["A1.1"])
    scheme_id: uuid.UUID
    value: Mark = Field(examples=[2])
    version: int
    submitted_at: datetime | None
    locked_at: datetime | None
    updated_at: datetime


class FlagValue(BaseModel):
    judge_id: uuid.UUID
    value: Mark = Field(examples=[3])


class ScoreFlag(BaseModel):
    """Submitted judgement marks of one entry and aspect more than 1 apart: discuss, re-score."""

    blind_code: str = Field(examples=["K7MXRA"])
    stage_entry_id: uuid.UUID
    aspect_code: str = Field(examples=["B1.1"])
    spread: Mark = Field(examples=[2])
    values: list[FlagValue]


class ScoreFlags(BaseModel):
    stage_id: uuid.UUID
    flags: list[ScoreFlag]


class SignoffCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"username": "judge.liu", "password": "S3cure-passw0rd"}]},
    )

    username: str = Field(
        min_length=1, max_length=64, description="Your account's username.", examples=["judge.liu"]
    )
    password: str = Field(
        min_length=1,
        max_length=256,
        description="Your account's password: sign-off re-authenticates with the registry "
        "(five wrong passwords lock the account for 15 minutes).",
    )


class Signoff(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    stage_id: uuid.UUID
    judge_id: uuid.UUID
    signed_at: datetime
    method: str = Field(examples=["password"])
    scores_locked: int = Field(description="Marks of the judge locked by this sign-off.")
    stage_locked: bool = Field(description="This was the last sign-off: the stage is locked.")


class StageLock(BaseModel):
    stage_id: uuid.UUID
    locked_at: datetime
    locked_by: str
    reason: str = Field(examples=["signoffs"], description="signoffs or organiser.")
    scores_locked: int


class StageLockCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"allow_unsubmitted": False}]}
    )

    allow_unsubmitted: bool = Field(
        False,
        description="Lock even if some assigned judge has not submitted an entry's marks "
        "(otherwise 409 listing them).",
    )


class ScoresLockedData(StageScope):
    reason: str = Field(examples=["signoffs"], description="signoffs or organiser.")
    scores: int = Field(examples=[3600], description="Marks locked in the stage.")
    locked_at: datetime


class ScoresLockedEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`."""

    type: str = Field(examples=["scores.locked"])
    timestamp: datetime
    data: ScoresLockedData
