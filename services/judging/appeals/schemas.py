"""Request and response shapes of appeals, and the payload of their webhook events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.models.judging import AppealStatus
from shared.outbox import StageScope

#: An aspect's code in its stage's marking scheme: criterion letter, sub-criterion number,
#: aspect number (as score sheets name aspects).
ASPECT_CODE = r"^[A-Z][0-9]{1,3}\.[0-9]{1,3}$"


class AppealCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "aspect_codes": ["B1.1"],
                    "reason": "B1.1 外圆直径测量有误：复测 Φ40.01，在公差内，记录为超差",
                }
            ]
        },
    )

    entry_id: uuid.UUID | None = Field(
        None, description="Your entry in the stage (needed only if you have several)."
    )
    aspect_codes: list[Annotated[str, Field(pattern=ASPECT_CODE)]] | None = Field(
        None,
        min_length=1,
        max_length=50,
        description="The aspects disputed, by code (`B1.1`), as score sheets and the scheme's "
        "outline (`GET /v1/stages/{stage_id}/marking-schemes/outline`) name them.",
        examples=[["B1.1", "B1.2"]],
    )
    aspect_ids: list[uuid.UUID] | None = Field(
        None,
        min_length=1,
        max_length=50,
        description="Deprecated (kept for existing clients): the aspects by id. Give "
        "`aspect_codes` or this, not both.",
        json_schema_extra={"deprecated": True},
    )
    reason: str = Field(min_length=2, max_length=4000)


class AppealDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"outcome": "upheld", "reason": "复核测量记录，确认误记，重新评分"}]
        },
    )

    outcome: Literal["upheld", "rejected"]
    reason: str = Field(min_length=2, max_length=4000)


class Appeal(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    stage_id: uuid.UUID
    result_id: uuid.UUID
    stage_entry_id: uuid.UUID
    entry_id: uuid.UUID
    aspect_codes: list[str] = Field(examples=[["B1.1"]])
    aspect_ids: list[uuid.UUID]
    reason: str
    status: AppealStatus
    filed_by: str
    decision_reason: str | None
    decided_by: str | None
    decided_at: datetime | None
    unlocked_score_ids: list[uuid.UUID] | None
    version: int
    created_at: datetime


class AppealEventData(StageScope):
    appeal_id: uuid.UUID
    entry_id: uuid.UUID
    result_version: int | None = Field(None, description="`appeal.filed`.")
    aspect_codes: list[str] | None = Field(None, description="`appeal.filed`.")
    aspect_ids: list[uuid.UUID] | None = Field(None, description="`appeal.filed` (deprecated).")
    outcome: Literal["upheld", "rejected"] | None = Field(None, description="`appeal.decided`.")
    unlocked_scores: int | None = Field(None, description="`appeal.decided`.")


class AppealEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`."""

    type: str = Field(examples=["appeal.filed"])
    timestamp: datetime
    data: AppealEventData
