"""Response shapes of the statistics endpoints (the same in the three services)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from shared.numbers import JsonDecimal


class MeasureInfo(BaseModel):
    name: str = Field(examples=["workers"])
    label: str = Field(examples=["在档职工人数"])
    description: str = Field(examples=["Workers on file at the end of the period."])
    service: str = Field(examples=["registry"])
    kind: str = Field(
        description="`flow` (in the period) or `stock` (at its end).", examples=["stock"]
    )
    unit: str = Field(examples=["人"])
    people: bool = Field(description="Counts people: small cells are suppressed.", examples=[True])
    dimensions: list[str] = Field(examples=[["city", "grade", "sex"]])


class DimensionInfo(BaseModel):
    name: str = Field(examples=["grade"])
    label: str = Field(examples=["技能等级"])
    description: str = Field(examples=["Skill grade on the national ladder."])
    members: dict[str, str] = Field(
        description="Known values and their Chinese labels (empty: open set, e.g. enterprise).",
        examples=[{"senior": "高级工"}],
    )


class Vocabulary(BaseModel):
    measures: list[MeasureInfo]
    dimensions: list[DimensionInfo]
    threshold: int = Field(
        description="STATS_MIN_CELL: cells counting fewer people are suppressed.", examples=[5]
    )


class PeriodInfo(BaseModel):
    key: str = Field(examples=["2025-Q3"])
    label: str = Field(examples=["2025年第3季度"])
    start: date = Field(examples=["2025-07-01"])
    end: date = Field(examples=["2025-09-30"])


class ScopeInfo(BaseModel):
    label: str = Field(examples=["青岛市"])
    locality_code: str | None = Field(default=None, examples=["370200"])
    enterprise_id: str | None = Field(default=None, examples=[None])


class Cell(BaseModel):
    dims: dict[str, str | None] = Field(
        description="The cell's value of each grouped dimension; null is the total over it.",
        examples=[{"city": "370200", "grade": "senior"}],
    )
    value: JsonDecimal | None = Field(
        description="null when suppressed.", decimal_places=2, examples=[128]
    )
    suppressed: bool = Field(examples=[False])


class Figure(BaseModel):
    measure: MeasureInfo
    by: list[str] = Field(examples=[["city", "grade"]])
    filters: dict[str, str] = Field(examples=[{"sex": "female"}])
    period: PeriodInfo
    scope: ScopeInfo
    threshold: int = Field(examples=[5])
    freshness: datetime | None = Field(
        description="When the summaries read last changed (null: nothing recorded yet).",
        examples=["2025-10-08T09:30:00+08:00"],
    )
    labels: dict[str, dict[str, str]] = Field(examples=[{"grade": {"senior": "高级工"}}])
    cells: list[Cell]


class Point(BaseModel):
    period: str = Field(examples=["2025-07"])
    label: str = Field(examples=["2025年7月"])
    value: JsonDecimal | None = Field(decimal_places=2, examples=[1280])
    suppressed: bool = Field(examples=[False])
    previous_year: JsonDecimal | None = Field(
        description="The same period a year before (null: suppressed).",
        decimal_places=2,
        examples=[1024],
    )
    yoy_change: JsonDecimal | None = Field(decimal_places=2, examples=[256])
    yoy_percent: JsonDecimal | None = Field(
        description="Change on the year before, percent (null when that was zero).",
        decimal_places=1,
        examples=[25],
    )


class Series(BaseModel):
    dims: dict[str, str | None] = Field(examples=[{"city": "370200"}])
    points: list[Point]


class Trend(BaseModel):
    measure: MeasureInfo
    interval: str = Field(examples=["month"])
    by: list[str] = Field(examples=[["city"]])
    filters: dict[str, str] = Field(examples=[{}])
    periods: list[PeriodInfo]
    scope: ScopeInfo
    threshold: int = Field(examples=[5])
    freshness: datetime | None = Field(examples=["2025-10-08T09:30:00+08:00"])
    labels: dict[str, dict[str, str]] = Field(examples=[{"city": {"370200": "青岛市"}}])
    series: list[Series]
