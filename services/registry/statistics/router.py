"""Statistics endpoints of the registry: its measures (`shared.stats.api`) and the quarterly
programme report, which also carries the competitions and judging figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response

from services.registry.statistics import report
from shared.auth.principal import Principal
from shared.db import AutocommitSessionDep
from shared.errors import error_responses
from shared.stats.api import StatsReader, parse_period, statistics_router, threshold
from shared.stats.periods import Interval
from shared.stats.render import XLSX
from shared.stats.service import scope_of

router = statistics_router("registry")
Reader = Annotated[Principal, Depends(StatsReader)]
QuarterQ = Annotated[
    str | None,
    Query(description="The quarter, `2025-Q3` (default: the current one).", examples=["2025-Q3"]),
]


async def _report(
    session: AutocommitSessionDep, principal: Principal, request: Request, quarter: str | None
) -> report.Report:
    period = parse_period(quarter, "quarter", Interval.quarter)
    return await report.build(
        session,
        period,
        scope_of(principal),
        threshold(request),
        request.app.state.clients,
        principal.token,
    )


@router.get(
    "/reports/quarterly",
    operation_id="getQuarterlyReport",
    response_model=report.Report,
    summary="Quarterly programme report (JSON)",
    responses=error_responses(401, 403, 422, 502, 503, 504),
)
async def quarterly_report(
    session: AutocommitSessionDep, principal: Reader, request: Request, quarter: QuarterQ = None
) -> report.Report:
    """The quarter's programme figures within the caller's scope: each measure of the three
    services with the same quarter a year before, workers by place and grade, grade changes by
    source, the 12-quarter trend of workers, competitions by level and kind, winners by level.
    The same figures as the workbook, for the machine clients of other government systems."""
    return await _report(session, principal, request, quarter)


@router.get(
    "/reports/quarterly.xlsx",
    operation_id="getQuarterlyReportWorkbook",
    summary="Quarterly programme report (XLSX with charts)",
    response_class=Response,
    responses={
        200: {"content": {XLSX: {}}, "description": "The workbook, one sheet per table."},
        **error_responses(401, 403, 422, 502, 503, 504),
    },
)
async def quarterly_workbook(
    session: AutocommitSessionDep, principal: Reader, request: Request, quarter: QuarterQ = None
) -> Response:
    """The quarterly report as an Excel workbook in Chinese: an overview with the year-on-year
    change, workers by place and grade, grade changes, the 12-quarter trend and the
    competitions, each sheet with native Excel charts and stamped with the period, the scope,
    the data freshness and the suppression rule."""
    data = await _report(session, principal, request, quarter)
    body = report.workbook(data)
    name = f"programme-report-{data.quarter.key}.xlsx"
    return Response(
        body, media_type=XLSX, headers={"content-disposition": f'attachment; filename="{name}"'}
    )
