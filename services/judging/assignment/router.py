"""Judge assignment endpoints: solve a stage's assignment, list it, a judge's own blind codes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.judging.access import check_stage_manager, reveal
from services.judging.assignment import schemas, service
from services.judging.upstream import UpstreamDep
from shared.auth.deps import AdminOrOrganiser, AdminOrOrganiserOrService, require
from shared.auth.principal import Principal, Role
from shared.db import SessionDep
from shared.errors import error_responses
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1", tags=["assignments"])

JudgeSelf = Annotated[Principal, Depends(require(Role.judge))]


@router.post(
    "/stages/{stage_id}/assignments:solve",
    operation_id="solveAssignments",
    response_model=schemas.AssignmentOutcome,
    summary="Assign k judges to every entry (min-cost flow)",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def solve(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    stage_id: uuid.UUID,
    data: schemas.AssignmentSolve,
) -> schemas.AssignmentOutcome:
    """Assign `k` judges to every entry of the stage with no conflict of interest (competitor,
    enterprise, locality at the configured levels, mentorship, declared) and balanced loads:
    a min-cost flow (OR-Tools) whose optimum has loads differing by at most 1 wherever the
    conflicts allow. The pool is `judge_ids`, or every judge of the event's occupation
    (available on `on_date` when given).

    When some entry cannot get `k` eligible judges, 422 with `entries`: each such entry's blind
    code, how many eligible judges it has and how many judges each conflict kind removed.
    `dry_run` solves and reports without storing. A stored solve replaces the previous
    assignment, which is refused (409) once the stage has scores. Organisers of the stage's
    competition and admins."""
    stage = await upstream.stage(stage_id)
    check_stage_manager(principal, stage)
    return await service.solve(session, upstream, stage, data, principal)


@router.get(
    "/stages/{stage_id}/assignments",
    response_model=Page[schemas.Assignment],
    summary="List the stage's judge assignments",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def list_assignments(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiserOrService,
    stage_id: uuid.UUID,
    judge_id: Annotated[uuid.UUID | None, Query(description="Only this judge.")] = None,
    blind_code: Annotated[
        str | None, Query(max_length=16, description="Only this entry.", examples=["K7MXRA"])
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Assignment]:
    """Every (entry, judge) pair, by blind code then judge. `entry_id` is shown to admins (and
    to everyone once the stage is judged). Organisers of the stage's competition, admins and
    our services."""
    stage = await upstream.stage(stage_id)
    check_stage_manager(principal, stage, service=True)
    return await service.list_assignments(
        session,
        stage.id,
        judge_id=judge_id,
        blind_code=blind_code,
        reveal=reveal(principal, stage),
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/judges/me/assignments",
    operation_id="listMyAssignments",
    response_model=Page[schemas.MyAssignment],
    summary="My assignments (blind codes)",
    responses=error_responses(401, 403, 404, 422),
)
async def my_assignments(
    session: SessionDep,
    principal: JudgeSelf,
    stage_id: Annotated[uuid.UUID | None, Query(description="Only this stage.")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.MyAssignment]:
    """The entries the calling judge must mark, by blind code only (never the entry or its
    competitors), with each score sheet's `etag` and submission time."""
    return await service.my_assignments(
        session, principal, stage_id=stage_id, limit=limit, cursor=cursor
    )


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["assignments"])


@webhooks.post("assignments.created", summary="A stage's judges were assigned")
async def assignments_created(event: schemas.AssignmentsCreatedEvent) -> None:
    """Sent when a stage's judge assignment is stored (or replaced, before any mark). Signed per
    Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""
