"""Marking scheme endpoints: save a version, read current or any version, freeze."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from services.judging.access import check_stage_manager
from services.judging.marking import schemas, service
from services.judging.upstream import StageInfo, UpstreamDep
from shared.auth.deps import AdminOrOrganiser, AdminOrOrganiserOrService, require
from shared.auth.principal import Principal, Role
from shared.concurrency import IfMatchHeader, etag
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/stages/{stage_id}/marking-schemes", tags=["marking schemes"])

SchemeReader = Annotated[
    Principal, Depends(require(Role.admin, Role.organiser, Role.judge, scopes=("internal",)))
]


async def _readable_stage(
    upstream: UpstreamDep, principal: SchemeReader, stage_id: uuid.UUID
) -> StageInfo:
    """The stage, for judges, our services and the organisers of its competition."""
    stage = await upstream.stage(stage_id)
    if principal.role is not Role.judge:
        check_stage_manager(principal, stage, service=True)
    return stage


ReadableStage = Annotated[StageInfo, Depends(_readable_stage)]


def _answer(response: Response, scheme: service.MarkingScheme) -> schemas.MarkingScheme:
    response.headers["ETag"] = etag(scheme.version)
    return service.present(scheme)


@router.post(
    "",
    operation_id="saveMarkingScheme",
    response_model=schemas.MarkingScheme,
    status_code=201,
    summary="Save a new version of the stage's marking scheme",
    responses=error_responses(401, 403, 404, 409, 412, 422, 502, 503, 504),
)
async def save_scheme(
    request: Request,
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    stage_id: uuid.UUID,
    data: schemas.MarkingSchemeCreate,
    if_match: IfMatchHeader = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Each save creates the next version (1, 2, ...). Once a version exists, send its `ETag`
    as `If-Match` (428 without it, 412 over a version you have not seen). Criteria (coded A,
    B, ...) hold sub-criteria (A1, A2, ...) holding aspects (A1.1, ...). A `measurement` aspect
    has a max mark and optionally its allowed marks; a `judgement` aspect is scored 0-3 with a
    descriptor for each level. Every aspect belongs to a component; the components and weights
    must be the stage's, each component's aspects total its weight and the scheme totals exactly
    100 (422 naming the criterion path otherwise). Refused (409) once the scheme is frozen.
    Organisers of the stage's competition only."""
    stage = await upstream.stage(stage_id)
    check_stage_manager(principal, stage)

    saved: list[int] = []

    async def create() -> schemas.MarkingScheme:
        scheme = await service.save_scheme(session, stage, data, if_match, principal)
        saved.append(scheme.version)
        return service.present(scheme)

    answer = await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda s: f"/v1/stages/{stage_id}/marking-schemes/versions/{s.version}",
    )
    if saved:  # the version to send as If-Match with the next save
        answer.headers["ETag"] = etag(saved[0])
    return answer


@router.get(
    "",
    operation_id="listMarkingSchemeVersions",
    response_model=Page[schemas.MarkingSchemeSummary],
    summary="List the versions of the stage's marking scheme",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def list_versions(
    session: SessionDep,
    stage: ReadableStage,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.MarkingSchemeSummary]:
    """Every saved version, oldest first, without their criteria."""
    return await service.list_versions(session, stage.id, limit=limit, cursor=cursor)


@router.get(
    "/current",
    operation_id="getCurrentMarkingScheme",
    response_model=schemas.MarkingScheme,
    summary="Get the current marking scheme",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def get_current(
    session: SessionDep, stage: ReadableStage, response: Response
) -> schemas.MarkingScheme:
    """The latest version, with its `ETag` (the version number) for the next save."""
    return _answer(response, await service.current(session, stage.id))


@router.get(
    "/versions/{version}",
    operation_id="getMarkingSchemeVersion",
    response_model=schemas.MarkingScheme,
    summary="Get one version of the marking scheme",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def get_version(
    session: SessionDep,
    stage: ReadableStage,
    response: Response,
    version: Annotated[int, Path(ge=1, le=100_000)],
) -> schemas.MarkingScheme:
    """A version as it was saved (scores keep pointing at the version they were given under)."""
    return _answer(response, await service.version(session, stage.id, version))


@router.post(
    "/freeze",
    operation_id="freezeMarkingScheme",
    response_model=schemas.MarkingScheme,
    summary="Freeze the marking scheme",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def freeze(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiserOrService,
    stage_id: uuid.UUID,
    response: Response,
) -> schemas.MarkingScheme:
    """Freeze the current version when scoring starts: from then on no new version can be saved
    (409). Freezing a frozen scheme answers it unchanged; a stage without a scheme is a 409."""
    stage = await upstream.stage(stage_id)
    check_stage_manager(principal, stage, service=True)
    return _answer(response, await service.freeze(session, stage, principal))
