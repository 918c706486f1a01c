"""The statistics endpoints every service serves for the measures it owns: the vocabulary,
figures, trends and their charts. Each service mounts `statistics_router(service)` from its
`statistics/router.py`; the registry adds the quarterly report.

Query parameters (the same in the three services):
- `measure`: a measure of this service (`GET /v1/statistics/measures`);
- `by`: dimensions to break the figure down by, comma-separated (at most three);
- `filter`: `dimension:value`, repeatable (`filter=sex:female&filter=city:370200`);
- figures: `period` (`2025`, `2025-Q3`, `2025-07`; default: the current year);
- trends: `interval` (month, quarter, year), `from` and `to` (periods of that interval;
  default: the 36 months, 12 quarters or 5 years up to the current one).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from shared.auth.deps import require
from shared.auth.principal import Principal, Role
from shared.db import AutocommitSessionDep
from shared.errors import FieldError, InvalidInput, error_responses
from shared.responses import model_response
from shared.stats import engine, render, schemas
from shared.stats import periods as P
from shared.stats.service import (
    describe_measure,
    figure,
    scope_of,
    trend,
    vocabulary,
)

#: Machine clients (other government systems) read figures with this scope.
SCOPE = "statistics:read"

StatsReader = require(Role.admin, Role.organiser, scopes=(SCOPE,))
Reader = Annotated[Principal, Depends(StatsReader)]

MeasureQ = Annotated[str, Query(description="A measure this service owns.", examples=["workers"])]
ByQ = Annotated[
    str | None,
    Query(
        description="Dimensions to group by, comma-separated (at most three).",
        examples=["city,grade"],
    ),
]
FilterQ = Annotated[
    list[str] | None,
    Query(
        alias="filter",
        description="`dimension:value`, repeatable. A locality keeps its subtree.",
        examples=[["sex:female"]],
    ),
]
PeriodQ = Annotated[
    str | None,
    Query(description="`2025`, `2025-Q3` or `2025-07` (default: this year).", examples=["2025-Q3"]),
]
IntervalQ = Annotated[
    Literal["month", "quarter", "year"], Query(description="Points of the series.")
]
FromQ = Annotated[
    str | None, Query(alias="from", description="First period of the series.", examples=["2023-01"])
]
ToQ = Annotated[str | None, Query(description="Last period of the series.", examples=["2025-12"])]
FormatQ = Annotated[Literal["png", "svg"], Query(description="Image format.")]


def parse_by(by: str | None) -> list[str]:
    return [d.strip() for d in by.split(",") if d.strip()] if by else []


def parse_filters(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition(":")
        if not sep or not name or not value:
            raise InvalidInput(
                "A filter is `dimension:value`.",
                errors=[FieldError(field="filter", message=f"not dimension:value: {item!r}")],
            )
        if name in out:
            raise InvalidInput(
                "A dimension is filtered once.",
                errors=[FieldError(field="filter", message=f"{name} given twice")],
            )
        out[name] = value
    return out


def parse_period(text: str | None, field: str, interval: P.Interval | None = None) -> P.Period:
    try:
        period = P.parse(text) if text else P.current(interval or P.Interval.year)
    except ValueError as exc:
        raise InvalidInput(
            "The period is not understood.", errors=[FieldError(field=field, message=str(exc))]
        ) from exc
    if interval is not None and period.interval is not interval:
        raise InvalidInput(
            "The period does not match the interval.",
            errors=[FieldError(field=field, message=f"a {interval.value} period")],
        )
    return period


DEFAULT_SPAN = {P.Interval.month: 36, P.Interval.quarter: 12, P.Interval.year: 5}
MAX_SPAN = {P.Interval.month: 120, P.Interval.quarter: 40, P.Interval.year: 20}


def parse_span(interval: str, first: str | None, last: str | None) -> list[P.Period]:
    kind = P.Interval(interval)
    end = parse_period(last, "to", kind)
    start = parse_period(first, "from", kind) if first else end.shift(1 - DEFAULT_SPAN[kind])
    periods = P.span(start, end)
    if not periods:
        raise InvalidInput(
            "The series is empty.", errors=[FieldError(field="from", message="not after `to`")]
        )
    if len(periods) > MAX_SPAN[kind]:
        raise InvalidInput(
            "The series is too long.",
            errors=[FieldError(field="from", message=f"at most {MAX_SPAN[kind]} {kind.value}s")],
        )
    return periods


def threshold(request: Request) -> int:
    return int(request.app.state.settings.stats_min_cell)


def statistics_router(service: str) -> APIRouter:
    """The vocabulary, figure, trend and chart endpoints of one service's measures."""
    router = APIRouter(prefix="/v1/statistics", tags=["statistics"])

    def measure_of(name: str) -> engine.Measure:
        return describe_measure(service, name)

    @router.get(
        "/measures",
        operation_id="listStatisticsMeasures",
        response_model=schemas.Vocabulary,
        summary="Measures and dimensions of the programme statistics",
        responses=error_responses(401, 403),
    )
    async def list_measures(principal: Reader, request: Request) -> schemas.Vocabulary:
        """The measures this service owns, with the dimensions each can be broken down by, and
        the whole vocabulary of dimensions with their values' Chinese labels (the same in the
        three services). Admins, organisers and machine clients with `statistics:read`."""
        return vocabulary(service, threshold(request))

    @router.get(
        "/figures",
        operation_id="getStatisticsFigure",
        response_model=schemas.Figure,
        summary="A figure by dimensions, with its margins",
        responses=error_responses(401, 403, 422),
    )
    async def get_figure(
        session: AutocommitSessionDep,
        principal: Reader,
        request: Request,
        measure: MeasureQ,
        by: ByQ = None,
        filters: FilterQ = None,
        period: PeriodQ = None,
    ) -> Response:
        """One measure for one period, broken down by up to three dimensions, with the total
        along each (a dimension's value `null` in a cell). Read from the summaries, within the
        caller's scope (the province everything, a city its city and counties, an enterprise
        organiser its enterprise). Cells counting fewer people than `threshold` are
        suppressed (`value: null`), with complementary cells so that no suppressed cell can be
        recovered from the totals or by changing the filters."""
        req = engine.Request(
            measure_of(measure),
            parse_by(by),
            parse_filters(filters),
            [parse_period(period, "period")],
            scope_of(principal),
            threshold(request),
        )
        return model_response(await figure(session, req))

    @router.get(
        "/trends",
        operation_id="getStatisticsTrend",
        response_model=schemas.Trend,
        summary="A figure as a time series, with year-on-year change",
        responses=error_responses(401, 403, 422),
    )
    async def get_trend(
        session: AutocommitSessionDep,
        principal: Reader,
        request: Request,
        measure: MeasureQ,
        interval: IntervalQ = "month",
        first: FromQ = None,
        to: ToQ = None,
        by: ByQ = None,
        filters: FilterQ = None,
    ) -> Response:
        """The measure for each month, quarter or year from `from` to `to`, one series per
        value of the `by` dimensions (at most two) and one for their total, each point with
        the same period a year before and the change on it. Suppression as for figures; a
        change is null when either value is suppressed."""
        req = engine.Request(
            measure_of(measure),
            parse_by(by),
            parse_filters(filters),
            parse_span(interval, first, to),
            scope_of(principal),
            threshold(request),
        )
        if len(req.by) > 2:
            raise InvalidInput(
                "A trend has at most two dimensions.",
                errors=[FieldError(field="by", message="at most two")],
            )
        return model_response(await trend(session, req))

    @router.get(
        "/charts/figure",
        operation_id="getStatisticsFigureChart",
        summary="A figure as a bar chart (PNG or SVG)",
        response_class=Response,
        responses={
            200: {
                "content": {"image/png": {}, "image/svg+xml": {}},
                "description": "Bars per value of the first dimension, grouped by the second.",
            },
            **error_responses(401, 403, 422),
        },
    )
    async def figure_chart(
        session: AutocommitSessionDep,
        principal: Reader,
        request: Request,
        measure: MeasureQ,
        by: ByQ = None,
        filters: FilterQ = None,
        period: PeriodQ = None,
        format: FormatQ = "png",
    ) -> Response:
        """The figure of `GET /v1/statistics/figures` as a chart, titled in Chinese with the
        period, scope and data freshness; suppressed cells are drawn empty and marked."""
        req = engine.Request(
            measure_of(measure),
            parse_by(by),
            parse_filters(filters),
            [parse_period(period, "period")],
            scope_of(principal),
            threshold(request),
        )
        if len(req.by) > 2:
            raise InvalidInput(
                "A chart has at most two dimensions.",
                errors=[FieldError(field="by", message="at most two")],
            )
        data = await figure(session, req)
        body = await asyncio.to_thread(render.figure_chart, data, format)
        return Response(body, media_type=render.MEDIA_TYPES[format])

    @router.get(
        "/charts/trend",
        operation_id="getStatisticsTrendChart",
        summary="A trend as a line chart (PNG or SVG)",
        response_class=Response,
        responses={
            200: {
                "content": {"image/png": {}, "image/svg+xml": {}},
                "description": "One line per series.",
            },
            **error_responses(401, 403, 422),
        },
    )
    async def trend_chart(
        session: AutocommitSessionDep,
        principal: Reader,
        request: Request,
        measure: MeasureQ,
        interval: IntervalQ = "month",
        first: FromQ = None,
        to: ToQ = None,
        by: ByQ = None,
        filters: FilterQ = None,
        format: FormatQ = "png",
    ) -> Response:
        """The series of `GET /v1/statistics/trends` as a line chart (at most one `by`
        dimension), titled in Chinese with the scope and data freshness."""
        req = engine.Request(
            measure_of(measure),
            parse_by(by),
            parse_filters(filters),
            parse_span(interval, first, to),
            scope_of(principal),
            threshold(request),
        )
        if len(req.by) > 1:
            raise InvalidInput(
                "A trend chart has at most one dimension.",
                errors=[FieldError(field="by", message="at most one")],
            )
        data = await trend(session, req)
        body = await asyncio.to_thread(render.trend_chart, data, format)
        return Response(body, media_type=render.MEDIA_TYPES[format])

    return router
