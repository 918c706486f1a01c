"""The recommendation list of a provincial event for the national contest: JSON and XLSX."""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from services.judging.access import ManagedEvent
from services.judging.recommendations import schemas, service
from services.judging.recommendations.xlsx import recommendations_xlsx
from services.judging.upstream import UpstreamDep
from shared.auth.deps import AdminOrOrganiser
from shared.db import SessionDep
from shared.errors import error_responses

router = APIRouter(prefix="/v1", tags=["results"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

TopQuery = Annotated[
    int | None,
    Query(
        ge=1,
        le=100,
        description="Places to recommend; default the `NATIONAL_RECOMMENDATION_TOP_N` setting.",
    ),
]


async def _list(
    request: Request,
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    event: ManagedEvent,
    top: int | None,
) -> schemas.NationalRecommendations:
    places = top or request.app.state.settings.national_recommendation_top_n
    return await service.recommendations(session, upstream, event, principal, top=places)


@router.get(
    "/events/{event_id}/national-recommendations",
    operation_id="getNationalRecommendations",
    response_model=schemas.NationalRecommendations,
    summary="Recommended workers for the national contest",
    responses=error_responses(401, 403, 404, 409, 412, 422, 502, 503, 504),
)
async def get_recommendations(
    request: Request,
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    event: ManagedEvent,
    top: TopQuery = None,
) -> schemas.NationalRecommendations:
    """From a provincial event's final results (its last stage; 412 before they are final):
    the workers recommended to the national contest, the top `top` places in rank order, each
    member of a team listed. Entries sharing a rank are `tied`; when more entries share the
    last place than there are places, all are listed and flagged `tied_at_boundary` for the
    organisers to choose. Identity numbers are masked unless you are an admin. For the
    provincial organisers and admins; 409 for an event of a lower level (those nominate
    upwards)."""
    return await _list(request, session, upstream, principal, event, top)


@router.get(
    "/events/{event_id}/national-recommendations.xlsx",
    operation_id="getNationalRecommendationsXlsx",
    summary="The national recommendation list as a spreadsheet",
    response_class=Response,
    responses={
        200: {
            "description": "An XLSX workbook: one sheet, title, event and a row per worker.",
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(401, 403, 404, 409, 412, 422, 502, 503, 504),
    },
)
async def get_recommendations_xlsx(
    request: Request,
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    event: ManagedEvent,
    top: TopQuery = None,
) -> Response:
    """The same list in the layout organisers hand on to the national organisers: a title,
    the event, occupation and year, then 序号, 名次, 姓名, 性别, 身份证号, 工作单位, 所在市,
    职业（工种）, 技能等级, 总成绩, 奖项, 备注 (ties noted), with borders, widths and page set-up
    for A4 landscape printing (the header row repeats on every page)."""
    data = await _list(request, session, upstream, principal, event, top)
    body = await asyncio.to_thread(recommendations_xlsx, data)
    name = quote(f"{data.competition_name}-{data.event_name}-全国推荐名单.xlsx")
    return Response(
        body,
        media_type=XLSX,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )
