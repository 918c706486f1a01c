"""The quarterly programme report: the figures trade unions and HR departments report each
quarter, from the three services (competitions and judging over HTTP, with the caller's own
token, so that their scope and suppression apply), as JSON for machine clients and as an XLSX
workbook with native Excel charts for people.

Every sheet carries the period, the scope, the data freshness and the suppression rule.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clients.base import ServiceClient
from shared.errors import DownstreamError
from shared.numbers import JsonDecimal
from shared.stats import engine, render, schemas
from shared.stats import periods as P
from shared.stats.service import figure, period_info, scope_info, trend
from shared.stats.vocabulary import MEASURES

#: The summary lines, in the report's order.
SUMMARY = [
    "workers",
    "workers_registered",
    "grade_changes",
    "mentorships_started",
    "mentorships_active",
    "mentorships_completed",
    "training_programmes",
    "training_enrolments",
    "training_hours",
    "honours_granted",
    "honours_revoked",
    "achievements",
    "competitions_held",
    "entries",
    "participants",
    "finalists",
    "winners",
]


class SummaryLine(BaseModel):
    measure: str = Field(examples=["workers"])
    label: str = Field(examples=["在档职工人数"])
    unit: str = Field(examples=["人"])
    value: JsonDecimal | None = Field(decimal_places=2, examples=[1280])
    suppressed: bool = Field(examples=[False])
    previous_year: JsonDecimal | None = Field(decimal_places=2, examples=[1024])
    yoy_change: JsonDecimal | None = Field(decimal_places=2, examples=[256])
    yoy_percent: JsonDecimal | None = Field(decimal_places=1, examples=[25])


class Report(BaseModel):
    """The quarterly programme report (the same figures as the workbook)."""

    quarter: schemas.PeriodInfo
    scope: schemas.ScopeInfo
    threshold: int = Field(examples=[5])
    generated_at: datetime = Field(examples=["2025-10-08T09:30:00Z"])
    freshness: datetime | None = Field(examples=["2025-10-08T09:29:58Z"])
    summary: list[SummaryLine]
    workers_by_place_and_grade: schemas.Figure
    grade_changes_by_source: schemas.Figure
    workers_trend: schemas.Trend
    competitions_by_level_and_kind: schemas.Figure
    winners_by_level: schemas.Figure


def place_dimension(scope: engine.Scope) -> str | None:
    """Cities for the province, counties for a city, none for an enterprise."""
    if scope.enterprise_id is not None:
        return None
    return "city" if scope.locality_code in (None, "370000") else "county"


async def _remote(
    client: ServiceClient, path: str, params: dict[str, Any], token: str | None
) -> dict[str, Any]:
    response = await client.request("GET", path, params=params, token=token)
    if response.status_code != 200:
        raise DownstreamError(
            f"The {client.service} service refused its figures ({response.status_code}).",
            status=502,
            service=client.service,
        )
    data: dict[str, Any] = client.json_or_502(response, client.service)
    return data


async def build(
    session: AsyncSession,
    quarter: P.Period,
    scope: engine.Scope,
    threshold: int,
    clients: Any,
    token: str | None,
) -> Report:
    place = place_dimension(scope)

    def request(measure: str, by: list[str], periods: list[P.Period]) -> engine.Request:
        return engine.Request(MEASURES[measure], by, {}, periods, scope, threshold)

    summary: list[SummaryLine] = []
    fresh: list[datetime] = []
    remote = {"competitions": clients.competitions, "judging": clients.judging}
    for name in SUMMARY:
        m = MEASURES[name]
        if m.service == "registry":
            t = await trend(session, request(name, [], [quarter]))
        else:
            t = schemas.Trend.model_validate(
                await _remote(
                    remote[m.service],
                    "/v1/statistics/trends",
                    {
                        "measure": name,
                        "interval": "quarter",
                        "from": quarter.key,
                        "to": quarter.key,
                    },
                    token,
                )
            )
        point = t.series[-1].points[0]
        if t.freshness:
            fresh.append(t.freshness)
        summary.append(
            SummaryLine(
                measure=name,
                label=m.label,
                unit=m.unit,
                value=point.value,
                suppressed=point.suppressed,
                previous_year=point.previous_year,
                yoy_change=point.yoy_change,
                yoy_percent=point.yoy_percent,
            )
        )
    by_place = await figure(
        session, request("workers", [d for d in (place, "grade") if d], [quarter])
    )
    by_source = await figure(session, request("grade_changes", ["source"], [quarter]))
    workers_trend = await trend(
        session, request("workers", [], P.span(quarter.shift(-11), quarter))
    )
    competitions = schemas.Figure.model_validate(
        await _remote(
            clients.competitions,
            "/v1/statistics/figures",
            {"measure": "competitions_held", "by": "level,kind", "period": quarter.key},
            token,
        )
    )
    winners = schemas.Figure.model_validate(
        await _remote(
            clients.judging,
            "/v1/statistics/figures",
            {"measure": "winners", "by": "level", "period": quarter.key},
            token,
        )
    )
    for f in (by_place, by_source, workers_trend, competitions, winners):
        if f.freshness:
            fresh.append(f.freshness)
    return Report(
        quarter=period_info(quarter),
        scope=scope_info(scope),
        threshold=threshold,
        generated_at=datetime.now(UTC),
        freshness=max(fresh) if fresh else None,
        summary=summary,
        workers_by_place_and_grade=by_place,
        grade_changes_by_source=by_source,
        workers_trend=workers_trend,
        competitions_by_level_and_kind=competitions,
        winners_by_level=winners,
    )


def _cross(f: schemas.Figure) -> tuple[list[str], list[list[Any]]]:
    """A two-dimension figure as a header and rows (first dimension down, second across, with
    the totals last); a one-dimension figure as one column."""
    cells = {tuple(c.dims.get(d) for d in f.by): c for c in f.cells}
    label = f.labels
    if len(f.by) == 1:
        d = f.by[0]
        members = [*label.get(d, {}), None]
        rows = [[label[d].get(m, m) if m else "合计", cells[(m,)].value] for m in members]
        return ["", f.measure.label], rows
    first, second = f.by[0], f.by[1]
    across = [*label.get(second, {}), None]
    header = ["", *[label[second].get(s, s) if s else "合计" for s in across]]
    rows = []
    for m in [*label.get(first, {}), None]:
        row: list[Any] = [label[first].get(m, m) if m else "合计"]
        row += [cells[(m, s)].value if (m, s) in cells else Decimal(0) for s in across]
        rows.append(row)
    return header, rows


def workbook(report: Report) -> bytes:
    wb = Workbook()
    period, scope = report.quarter.label, report.scope.label

    def head(ws: Any, title: str, when: str = period) -> int:
        return render.stamp(ws, title, when, scope, report.freshness, report.threshold)

    ws = wb.active
    assert ws is not None
    ws.title = "概览"
    row = head(ws, f"{period} 职工技能人才工作统计报表")
    rows = [
        [s.label, s.unit, s.value, s.previous_year, s.yoy_change, s.yoy_percent]
        for s in report.summary
    ]
    first, last = render.write_table(
        ws, row, ["指标", "单位", "本期", "上年同期", "同比增减", "同比增长(%)"], rows
    )
    ws.column_dimensions["A"].width = 22
    render.bar_chart(ws, "本期与上年同期", row, first, last, 4, "I7")

    ws = wb.create_sheet("职工分布")
    f = report.workers_by_place_and_grade
    row = head(ws, f"{f.measure.label}（按地区、技能等级）")
    header, rows = _cross(f)
    first, last = render.write_table(ws, row, header, rows)
    # The chart leaves out the total row and column (they would dwarf the bars).
    render.bar_chart(
        ws,
        f.measure.label,
        row,
        first,
        last - 1,
        len(header) - 1,
        f"A{last + 3}",
        stacked=True,
        unit=f.measure.unit,
    )

    ws = wb.create_sheet("等级变动")
    f = report.grade_changes_by_source
    row = head(ws, f"{f.measure.label}（按变动来源）")
    header, rows = _cross(f)
    first, last = render.write_table(ws, row, header, rows)
    render.bar_chart(ws, f.measure.label, row, first, last - 1, 2, "D7", unit=f.measure.unit)

    ws = wb.create_sheet("趋势")
    t = report.workers_trend
    row = head(
        ws, f"{t.measure.label}（近12个季度）", f"{t.periods[0].label}—{t.periods[-1].label}"
    )
    points = t.series[-1].points
    first, last = render.write_table(
        ws,
        row,
        ["季度", t.measure.label, "上年同期", "同比增长(%)"],
        [[p.label, p.value, p.previous_year, p.yoy_percent] for p in points],
    )
    render.line_chart(ws, t.measure.label, row, first, last, 3, "F7", unit=t.measure.unit)

    ws = wb.create_sheet("竞赛")
    f = report.competitions_by_level_and_kind
    row = head(ws, f"{f.measure.label}（按级别、类型）")
    header, rows = _cross(f)
    first, last = render.write_table(ws, row, header, rows)
    render.bar_chart(
        ws,
        f.measure.label,
        row,
        first,
        max(first, last - 1),
        max(2, len(header) - 1),
        f"A{last + 3}",
        stacked=True,
        unit=f.measure.unit,
    )
    w = report.winners_by_level
    start = last + 26
    ws.cell(row=start - 1, column=1, value=f"{w.measure.label}（按竞赛级别）")
    header, rows = _cross(w)
    first, last = render.write_table(ws, start, header, rows)
    render.bar_chart(
        ws, w.measure.label, start, first, max(first, last - 1), 2, f"D{start}", unit=w.measure.unit
    )
    return render.workbook_bytes(wb)
