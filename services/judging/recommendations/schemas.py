"""The recommendation list of a provincial event for the national contest."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from shared import examples as ex
from shared.models.registry import Sex, SkillGrade
from shared.numbers import Rounded3


class RecommendedWorker(BaseModel):
    rank: int = Field(examples=[1])
    tied: bool = Field(description="Shares this rank with another entry.", examples=[False])
    tied_at_boundary: bool = Field(
        description="Shares the last recommended rank with entries that together exceed the "
        "number of places: the organisers choose among them.",
        examples=[False],
    )
    entry_id: uuid.UUID
    worker_id: uuid.UUID
    name: str = Field(examples=[ex.WORKER_NAME])
    sex: Sex
    id_number: str = Field(
        description="Masked unless you are an admin.", examples=[ex.WORKER_ID_NUMBER_MASKED]
    )
    enterprise_name: str | None = Field(examples=[ex.ENTERPRISE_NAME])
    city_code: str | None = Field(examples=[ex.CITY_CODE])
    city_name: str | None = Field(examples=["济南市"])
    grade: SkillGrade
    score: Rounded3 | None = Field(description="The final total score.", examples=[92.5])
    prize: Literal["first", "second", "third", "merit"] | None = Field(examples=["first"])


class NationalRecommendations(BaseModel):
    title: str = Field(examples=[f"{ex.PROVINCIAL_COMPETITION_NAME} 全国竞赛推荐人选名单"])
    competition_id: uuid.UUID
    competition_name: str = Field(examples=[ex.PROVINCIAL_COMPETITION_NAME])
    event_id: uuid.UUID
    event_name: str = Field(examples=[ex.EVENT_NAME])
    occupation: str
    year: int = Field(examples=[ex.YEAR])
    stage_id: uuid.UUID = Field(description="The final stage whose final results are used.")
    top: int = Field(description="The number of places recommended.", examples=[3])
    ties_at_boundary: bool = Field(
        description="More entries share the last place than there are places.", examples=[False]
    )
    hidden: int = Field(
        description="Recommended workers the registry did not show you (outside your scope).",
        examples=[0],
    )
    items: list[RecommendedWorker]
