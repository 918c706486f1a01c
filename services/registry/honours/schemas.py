"""Honour catalogue and honour grant schemas."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, computed_field

from shared import examples as ex
from shared.models.registry import HonourLevel, HonourSource


class HonourCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "jinan_golden_craftsman",
                    "name": "泉城金牌工匠",
                    "name_en": "Quancheng Golden Craftsman",
                    "level": "city",
                    "awarding_body": "济南市总工会",
                    "description": "济南市职工技能大赛一等奖获得者。",
                }
            ]
        },
    )

    code: str = Field(
        pattern=r"^[a-z][a-z0-9_]{2,63}$",
        description="Stable identifier: lower case letters, digits and `_`, 3-64 characters.",
    )
    name: str = Field(min_length=1, max_length=100, description="The honour's name in Chinese.")
    name_en: str | None = Field(None, max_length=200)
    level: HonourLevel
    awarding_body: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)


class Honour(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(examples=["qilu_craftsman"])
    name: str = Field(examples=["齐鲁工匠"])
    name_en: str | None = Field(None, examples=["Qilu Craftsman"])
    level: HonourLevel = Field(examples=["provincial"])
    awarding_body: str = Field(examples=["山东省总工会"])
    description: str | None = None
    is_system: bool = Field(description="Seeded with the system (the province's honours).")
    created_at: datetime


class HonourGrantCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "worker_id": ex.WORKER_ID,
                    "granted_on": ex.day(0),
                    "source": "competition_result",
                    "source_ref": ex.SOURCE_REF,
                    "citation": f"{ex.YEAR}年山东省职业技能大赛数控车工项目第一名",
                }
            ]
        },
    )

    worker_id: uuid.UUID
    granted_on: date = Field(description="The date of the award (not in the future).")
    source: HonourSource = Field(
        description="`competition_result` (reported by judging) or `nomination`."
    )
    source_ref: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="What the grant rests on: the competition result id (required for "
        "`competition_result`) or a nomination file number. Reporting the same honour, worker, "
        "source and source_ref again returns the existing grant (200).",
    )
    citation: str | None = Field(None, max_length=2000, description="The citation, in Chinese.")
    competition_id: uuid.UUID | None = Field(
        None,
        description="The competition the grant comes from (judging's awards send it): "
        "`honour.granted` and `honour.revoked` carry it, so a subscription filtered by the "
        "competition receives them.",
    )


class HonourGrantRevoke(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "比赛成绩因违规被取消"}]},
    )

    reason: str = Field(min_length=1, max_length=2000, description="Why the grant is revoked.")


class HonourGrant(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    honour_code: str = Field(examples=["qilu_craftsman"])
    worker_id: uuid.UUID
    granted_on: date
    source: HonourSource
    source_ref: str | None = None
    citation: str | None = Field(
        None, examples=[f"{ex.YEAR}年山东省职业技能大赛数控车工项目第一名"]
    )
    competition_id: uuid.UUID | None = Field(
        None, description="The competition the grant comes from, where it does."
    )
    granted_by: str | None = Field(None, description="Account or machine client that granted.")
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented computed field
    @property
    def active(self) -> bool:
        """True until the grant is revoked."""
        return self.revoked_at is None


class HonourEventData(BaseModel):
    grant_id: uuid.UUID
    worker_id: uuid.UUID
    locality_code: str = Field(examples=["370102"], description="The worker's locality.")
    honour_code: str = Field(examples=["qilu_craftsman"])
    source: HonourSource
    source_ref: str | None = None
    competition_id: uuid.UUID | None = Field(
        None, description="The competition the grant comes from, where it does."
    )
    granted_on: date | None = Field(None, description="In `honour.granted`.")
    revoked_at: datetime | None = Field(None, description="In `honour.revoked`.")


class HonourEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`."""

    type: str = Field(examples=["honour.granted"])
    timestamp: datetime
    data: HonourEventData
