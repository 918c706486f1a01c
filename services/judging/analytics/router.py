"""Judge analytics endpoints (organisers of the stage only: judges never see them)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from services.judging.access import check_stage_manager
from services.judging.analytics import schemas, service
from services.judging.upstream import UpstreamDep
from shared.auth.deps import AdminOrOrganiser
from shared.db import SessionDep
from shared.errors import error_responses
from shared.responses import file_download

router = APIRouter(prefix="/v1/stages/{stage_id}/analytics", tags=["judge analytics"])


@router.get(
    "/judges",
    operation_id="getJudgeAnalytics",
    response_model=schemas.JudgeAnalytics,
    summary="Judge severity and inter-rater agreement",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def judge_analytics(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    stage_id: uuid.UUID,
    level: Annotated[
        Literal["ordinal", "interval"],
        Query(description="Krippendorff's alpha for ordinal (default) or interval levels."),
    ] = "ordinal",
) -> schemas.JudgeAnalytics:
    """From the stage's submitted marks: per judge, the mean deviation of their judgement
    levels from the panel mean on the same entry and aspect (negative: severe, positive:
    lenient) with the number of marks; per judgement aspect, Krippendorff's alpha across the
    judges. Admins and organisers of the stage's competition; judges may not (403)."""
    check_stage_manager(principal, await upstream.stage(stage_id))
    return await service.judge_analytics(session, stage_id, level)


@router.get(
    "/judges.png",
    operation_id="getJudgeAnalyticsPlot",
    summary="Box plot of marks per judge (PNG)",
    response_class=Response,
    responses={
        **file_download("image/png", "One box per judge."),
        **error_responses(401, 403, 404, 422, 502, 503, 504),
    },
)
async def judge_plot(
    session: SessionDep, upstream: UpstreamDep, principal: AdminOrOrganiser, stage_id: uuid.UUID
) -> Response:
    """Each judge's submitted marks as a percentage of the aspect's maximum, one box per judge
    (median, quartiles, mean as a triangle). Judges are labelled J1, J2... in the order of
    `GET .../analytics/judges` by name, with their id's first characters."""
    check_stage_manager(principal, await upstream.stage(stage_id))
    marks, names, _ = await service.load_marks(session, stage_id)
    body = await asyncio.to_thread(service.box_plot, marks, names)
    return Response(body, media_type="image/png")
