"""Conflict-of-interest endpoints: per judge and stage, per stage, and declared relations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.judging.access import check_stage_manager, is_internal, is_own
from services.judging.conflicts import schemas, service
from services.judging.upstream import StageInfo, UpstreamDep
from shared.auth.deps import AdminOrOrganiserOrService, require
from shared.auth.principal import Principal, Role
from shared.db import SessionDep, get_or_404
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.competitions import StageStatus
from shared.models.judging import Judge

router = APIRouter(prefix="/v1", tags=["conflicts"])

Declarer = Annotated[Principal, Depends(require(Role.admin, Role.organiser, Role.judge))]
ConflictReader = Annotated[
    Principal, Depends(require(Role.admin, Role.organiser, Role.judge, scopes=("internal",)))
]


def _reveal(principal: Principal, stage: StageInfo) -> bool:
    # As the competitions service: entries behind blind codes only for admins and our services
    # until the stage is judged.
    return (
        principal.role is Role.admin
        or is_internal(principal)
        or stage.status in (StageStatus.judged, StageStatus.advanced)
    )


@router.get(
    "/judges/{judge_id}/conflicts",
    operation_id="listJudgeConflicts",
    response_model=schemas.JudgeConflicts,
    summary="A judge's conflicts of interest in a stage",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def judge_conflicts(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: ConflictReader,
    judge_id: uuid.UUID,
    stage_id: Annotated[uuid.UUID, Query(description="The stage whose entries are checked.")],
) -> schemas.JudgeConflicts:
    """Every entry of the stage this judge may not see or score, with the reasons: the judge is
    a competitor, works for a competitor's enterprise, comes from a competitor's city (at the
    competition levels in `JUDGE_LOCAL_CONFLICT_LEVELS`), is or was a competitor's mentor or
    apprentice (active or completed mentorships), or declared a relation. For the judge
    themselves and the organisers of the stage's competition; entries are shown by blind code
    (entry ids to admins, and to all once the stage is judged)."""
    judge = await get_or_404(session, Judge, judge_id, "judge")
    stage = await upstream.stage(stage_id)
    if not is_own(principal, judge):
        check_stage_manager(principal, stage, service=True)
    return await service.judge_conflicts(
        session, upstream, stage, judge, reveal=_reveal(principal, stage)
    )


@router.get(
    "/stages/{stage_id}/conflicts",
    operation_id="listStageConflicts",
    response_model=schemas.StageConflicts,
    summary="All conflicts of interest in a stage",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def stage_conflicts(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiserOrService,
    stage_id: uuid.UUID,
) -> schemas.StageConflicts:
    """Every judge × entry conflict of the stage, for the judges whose occupations include the
    event's occupation (the judges who could be assigned), with the reasons. Organisers of the
    stage's competition only."""
    stage = await upstream.stage(stage_id)
    check_stage_manager(principal, stage, service=True)
    return await service.stage_conflicts(session, upstream, stage, reveal=_reveal(principal, stage))


@router.post(
    "/judges/{judge_id}/declared-conflicts",
    response_model=schemas.DeclaredConflict,
    status_code=201,
    summary="Declare a conflict of interest",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def declare_conflict(
    request: Request,
    session: SessionDep,
    upstream: UpstreamDep,
    principal: Declarer,
    judge_id: uuid.UUID,
    data: schemas.DeclaredConflictCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Record a relation that disqualifies the judge: with a worker (a relative, a former
    colleague: every entry with that worker as a member), with an entry, or with an entry by
    its blind code (`stage_id` and `blind_code`: judges know entries only by code; the answer
    does not reveal the entry, 422 at `blind_code` when no entry of the stage has it, 403 when
    the judge neither is assigned to the stage nor judges its occupation). By the judge
    themselves, or an organiser whose scope covers the judge (by code: and the stage). Audited;
    declared once (409)."""

    async def create() -> schemas.DeclaredConflict:
        row = await service.declare_conflict(session, upstream, judge_id, data, principal)
        return service.present_declared(row, principal)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda _: f"/v1/judges/{judge_id}/declared-conflicts",
    )


@router.get(
    "/judges/{judge_id}/declared-conflicts",
    operation_id="listDeclaredConflicts",
    response_model=list[schemas.DeclaredConflict],
    summary="List a judge's declared conflicts",
    responses=error_responses(401, 403, 404, 422),
)
async def list_declared(
    session: SessionDep, principal: Declarer, judge_id: uuid.UUID
) -> list[schemas.DeclaredConflict]:
    """The relations declared for the judge, oldest first (the judge and their managers)."""
    rows = await service.list_declared(session, judge_id, principal)
    return [service.present_declared(r, principal) for r in rows]
