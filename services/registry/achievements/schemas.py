"""Innovation achievement schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared import examples as ex
from shared.models.registry import AchievementStage, TeamRole, TechnologyArea

MAX_TEAM = 15


class TeamMember(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    worker_id: uuid.UUID
    role: TeamRole = Field(TeamRole.member, description="`lead` (exactly one) or `member`.")


class AchievementCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "基于5G的数控机床远程故障诊断系统",
                    "summary": "利用5G低时延网络采集机床振动数据，结合边缘计算实现故障预警。",
                    "enterprise_id": ex.ENTERPRISE_ID,
                    "technology_area": "five_g",
                    "stage": "prototype",
                    "team": [
                        {"worker_id": ex.WORKER_ID, "role": "lead"},
                        {"worker_id": ex.SECOND_WORKER_ID, "role": "member"},
                    ],
                    "entry_ids": [],
                }
            ]
        },
    )

    title: str = Field(min_length=1, max_length=200, description="The title, in Chinese.")
    summary: str | None = Field(None, max_length=5000)
    enterprise_id: uuid.UUID = Field(description="The enterprise where it was achieved.")
    technology_area: TechnologyArea
    stage: AchievementStage = Field(
        AchievementStage.idea, description="idea -> prototype -> applied -> incubated."
    )
    team: list[TeamMember] = Field(
        min_length=1,
        max_length=MAX_TEAM,
        description=f"The team in order: 1-{MAX_TEAM} distinct workers, exactly one `lead`.",
    )
    entry_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=50,
        description="Competition entries (competitions service ids) it was presented in.",
    )


class AchievementUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"stage": "applied"}]}
    )

    title: str | None = Field(None, min_length=1, max_length=200)
    summary: str | None = Field(None, max_length=5000)
    stage: AchievementStage | None = Field(
        None, description="Forward only: idea -> prototype -> applied -> incubated (409 back)."
    )


class EntryLinkCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"entry_id": ex.ENTRY_ID}]},
    )

    entry_id: uuid.UUID = Field(description="An entry id of the competitions service.")


class EntryLink(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    achievement_id: uuid.UUID
    entry_id: uuid.UUID
    linked_by: str | None = None
    created_at: datetime


class Achievement(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str = Field(examples=["基于5G的数控机床远程故障诊断系统"])
    summary: str | None = None
    enterprise_id: uuid.UUID
    technology_area: TechnologyArea = Field(examples=["five_g"])
    stage: AchievementStage = Field(examples=["prototype"])
    team: list[TeamMember] = Field(default_factory=list, description="In team order.")
    entry_ids: list[uuid.UUID] = Field(default_factory=list)
    version: int = Field(description="Sent as the ETag; send it back in If-Match to update.")
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
