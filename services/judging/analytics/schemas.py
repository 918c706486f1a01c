"""Judge analytics schemas."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field


class JudgeSeverity(BaseModel):
    judge_id: uuid.UUID
    name: str = Field(examples=["刘海峰"])
    mean_deviation: float | None = Field(
        description="Mean of (the judge's judgement level - the panel's mean level) over every "
        "entry and aspect the judge marked with at least one other judge; negative: severe, "
        "positive: lenient. Null when the judge shares no marking.",
        examples=[-0.42],
    )
    count: int = Field(description="Marks the mean is taken over.", examples=[36])
    tendency: Literal["severe", "lenient", "in_line", "unknown"] = Field(
        description="`severe` below -0.25 of a level, `lenient` above +0.25, else `in_line`."
    )
    marks: int = Field(description="Submitted marks of the judge in the stage, all aspects.")


class AspectAgreement(BaseModel):
    aspect_id: uuid.UUID
    code: str = Field(examples=["B1.2"])
    description: str
    alpha: float | None = Field(
        description="Krippendorff's alpha over the stage's entries (1 perfect agreement, 0 "
        "chance); null when undefined (fewer than two marks on any entry, or no variation).",
        examples=[0.71],
    )
    judges: int
    entries: int = Field(description="Entries marked by at least two judges on this aspect.")


class JudgeAnalytics(BaseModel):
    stage_id: uuid.UUID
    level_of_measurement: Literal["ordinal", "interval"]
    judges: list[JudgeSeverity]
    aspects: list[AspectAgreement]
