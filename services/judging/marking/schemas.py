"""Marking scheme schemas: criteria -> sub-criteria -> aspects, per component."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.models.competitions import StageComponent
from shared.models.judging import AspectType
from shared.numbers import JsonDecimal

#: Marks: exact decimals inside, JSON numbers outside, at most 2 decimals (multipleOf 0.01).
Mark = Annotated[JsonDecimal, Field(decimal_places=2)]


class ComponentWeight(BaseModel):
    model_config = ConfigDict(extra="forbid")

    component: StageComponent
    weight: int = Field(gt=0, le=100, examples=[70])


class AspectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=2, max_length=2000, examples=["外圆直径 Φ40±0.02"])
    component: StageComponent
    type: AspectType = Field(
        description="`measurement`: objective, scored up to max_mark (optionally from "
        "`allowed_values`); `judgement`: 0-3 by several judges, with a descriptor per level."
    )
    max_mark: Mark = Field(gt=0, le=100, decimal_places=2, examples=[2])
    allowed_values: list[Mark] | None = Field(
        None,
        min_length=2,
        max_length=50,
        description="Measurement only: the marks a judge may give (e.g. all or nothing: [0, 2]); "
        "the highest must be max_mark.",
    )
    descriptors: list[str] | None = Field(
        None,
        description="Judgement only, required: exactly 4 written descriptors, for levels 0, 1, "
        "2 and 3.",
    )


class SubCriterionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["尺寸精度"])
    max_mark: Mark | None = Field(
        None, gt=0, le=100, decimal_places=2, description="If given, checked against its aspects."
    )
    aspects: list[AspectIn] = Field(min_length=1, max_length=200)


class CriterionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["零件加工"])
    max_mark: Mark | None = Field(
        None, gt=0, le=100, decimal_places=2, description="If given, checked against its aspects."
    )
    sub_criteria: list[SubCriterionIn] = Field(min_length=1, max_length=50)


SCHEME_EXAMPLE: dict[str, Any] = {
    "title": "数控车工市级初赛评分标准",
    "components": [
        {"component": "theory", "weight": 30},
        {"component": "practical", "weight": 70},
    ],
    "criteria": [
        {
            "name": "理论知识",
            "sub_criteria": [
                {
                    "name": "理论考试",
                    "aspects": [
                        {
                            "description": "理论试卷得分",
                            "component": "theory",
                            "type": "measurement",
                            "max_mark": 30,
                        }
                    ],
                }
            ],
        },
        {
            "name": "零件加工",
            "max_mark": 70,
            "sub_criteria": [
                {
                    "name": "尺寸精度",
                    "aspects": [
                        {
                            "description": "外圆直径 Φ40±0.02",
                            "component": "practical",
                            "type": "measurement",
                            "max_mark": 60,
                            "allowed_values": [0, 60],
                        }
                    ],
                },
                {
                    "name": "工艺与安全",
                    "aspects": [
                        {
                            "description": "加工工艺合理性",
                            "component": "practical",
                            "type": "judgement",
                            "max_mark": 10,
                            "descriptors": [
                                "工艺混乱，存在安全隐患",
                                "工艺基本可行",
                                "工艺合理，操作规范",
                                "工艺优化，效率与质量俱佳",
                            ],
                        }
                    ],
                },
            ],
        },
    ],
}


class MarkingSchemeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [SCHEME_EXAMPLE]})

    title: str = Field(min_length=2, max_length=200)
    components: list[ComponentWeight] = Field(
        min_length=1,
        max_length=3,
        description="Must be the stage's components with the stage's weights.",
    )
    criteria: list[CriterionIn] = Field(min_length=1, max_length=26)


class Aspect(BaseModel):
    id: uuid.UUID
    code: str = Field(examples=["B1.1"])
    description: str
    component: StageComponent
    type: AspectType
    max_mark: Mark
    allowed_values: list[Mark] | None = None
    descriptors: list[str] | None = None


class SubCriterion(BaseModel):
    code: str = Field(examples=["B1"])
    name: str
    max_mark: Mark
    aspects: list[Aspect]


class Criterion(BaseModel):
    code: str = Field(examples=["B"])
    name: str
    max_mark: Mark
    sub_criteria: list[SubCriterion]


class MarkingSchemeSummary(BaseModel):
    id: uuid.UUID
    stage_id: uuid.UUID
    version: int = Field(examples=[2])
    title: str
    total: Mark = Field(examples=[100])
    frozen: bool
    frozen_at: datetime | None
    created_by: str
    created_at: datetime


class MarkingScheme(MarkingSchemeSummary):
    components: list[ComponentWeight]
    component_marks: dict[str, Mark] = Field(
        description="Marks of the aspects of each component (equal to its weight).",
        examples=[{"theory": 30, "practical": 70}],
    )
    criteria: list[Criterion]


class AspectOutline(BaseModel):
    code: str = Field(examples=["B1.1"])
    description: str = Field(examples=["外圆直径 Φ40±0.02"])
    component: StageComponent
    type: AspectType
    max_mark: Mark = Field(examples=[60])


class SubCriterionOutline(BaseModel):
    code: str = Field(examples=["B1"])
    name: str = Field(examples=["尺寸精度"])
    max_mark: Mark
    aspects: list[AspectOutline]


class CriterionOutline(BaseModel):
    code: str = Field(examples=["B"])
    name: str = Field(examples=["零件加工"])
    max_mark: Mark
    sub_criteria: list[SubCriterionOutline]


class MarkingSchemeOutline(BaseModel):
    """What competitors see of a marking scheme once results are published: the tree of codes,
    names and max marks (no ids, allowed marks or judgement descriptors)."""

    stage_id: uuid.UUID
    version: int = Field(description="The scheme version the published results used.")
    title: str = Field(examples=["数控车工市级初赛评分标准"])
    criteria: list[CriterionOutline]
