"""Certificate schemas."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared import examples as ex


class Certificate(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str = Field(
        description="Verification code (16 characters, no look-alikes); printed in groups of four.",
        examples=["7KQ2MZ9RH4TXWC3N"],
    )
    verify_url: str = Field(
        examples=["https://skills.shandong.example/v1/certificates:verify?code=7KQ2MZ9RH4TXWC3N"]
    )
    stage_id: uuid.UUID
    entry_id: uuid.UUID
    worker_id: uuid.UUID
    worker_name: str = Field(examples=["张卫国"])
    competition_id: uuid.UUID
    competition_name: str = Field(examples=[ex.PROVINCIAL_COMPETITION_NAME])
    event_name: str = Field(examples=["数控车工（职工组）"])
    stage_name: str = Field(examples=["省级决赛"])
    award_title: str = Field(examples=["一等奖"])
    rank: int
    prize: str | None
    issued_on: date
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None
    created_at: datetime


class CertificateRevoke(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "成绩因违规被取消"}]}
    )

    reason: str = Field(min_length=2, max_length=2000)


class Verification(BaseModel):
    """What anyone holding the code may learn: enough to trust the paper, no personal data."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "valid",
                    "code": "7KQ2MZ9RH4TXWC3N",
                    "holder": "张*国",
                    "competition_name": ex.PROVINCIAL_COMPETITION_NAME,
                    "event_name": "数控车工（职工组）",
                    "stage_name": "省级决赛",
                    "award_title": "一等奖",
                    "issued_on": ex.day(0),
                    "revoked_on": None,
                }
            ]
        }
    )

    status: Literal["valid", "revoked"]
    code: str
    holder: str = Field(description="The holder's name, masked (surname and last character).")
    competition_name: str
    event_name: str
    stage_name: str
    award_title: str
    issued_on: date
    revoked_on: date | None = None
