"""Shapes of the talent file shared by the areas that write it: a timeline entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TimelineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    kind: str = Field(examples=["grade_changed"])
    summary: str = Field(examples=["晋升为技师（二级）"])
    data: dict[str, Any]
    source_type: str | None
    source_id: str | None
    recorded_at: datetime
