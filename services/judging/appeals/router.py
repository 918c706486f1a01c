"""Appeal endpoints: file, list, read, decide, re-lock; and the marking scheme's outline that an
appeal names its aspects from."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from services.judging.appeals import flows, schemas, service
from services.judging.marking import schemas as marking_schemas
from services.judging.marking import service as marking
from services.judging.results.service import published_scheme_id
from services.judging.upstream import UpstreamDep
from shared.auth.deps import AdminOrOrganiser, require
from shared.auth.principal import Principal, Role
from shared.concurrency import TransitionIfMatchHeader, etag
from shared.db import SessionDep, get_or_404
from shared.errors import Conflict, error_responses
from shared.models.judging import Appeal, AppealStatus
from shared.pagination import CursorQuery, LimitQuery, Page

#: Tagged per route: the appeals under "results", the outline under "marking schemes".
router = APIRouter()

Appellant = Annotated[Principal, Depends(require(Role.worker))]
AppealReader = Annotated[
    Principal, Depends(require(Role.admin, Role.organiser, Role.worker, scopes=("internal",)))
]
#: The outline (codes and titles) is for everyone once results are published.
OutlineReader = Annotated[
    Principal,
    Depends(
        require(
            Role.admin,
            Role.organiser,
            Role.judge,
            Role.worker,
            scopes=("competitions:read", "internal"),
        )
    ),
]


@router.get(
    "/v1/stages/{stage_id}/marking-schemes/outline",
    tags=["marking schemes"],
    response_model=marking_schemas.MarkingSchemeOutline,
    summary="Get the marking scheme's outline (aspect codes and titles)",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def get_outline(
    session: SessionDep,
    upstream: UpstreamDep,
    _: OutlineReader,
    stage_id: uuid.UUID,
) -> marking_schemas.MarkingSchemeOutline:
    """Once the stage's results are published (provisional or final), for anyone signed in,
    competitors included: the criteria, sub-criteria and aspects of the scheme the results were
    computed with, by code and title with their max marks, so that an appeal can name the
    aspects disputed (`aspect_codes`). 409 before the results are published."""
    stage = await upstream.stage(stage_id)
    scheme_id = await published_scheme_id(session, stage.id)
    if scheme_id is None:
        raise Conflict(
            f"Stage {stage.id} has no published results yet: the scheme's outline is shown "
            "with them."
        )
    return marking.outline(await marking.by_id(session, scheme_id))


@router.post(
    "/v1/stages/{stage_id}/appeals",
    tags=["results"],
    response_model=schemas.Appeal,
    status_code=201,
    summary="Appeal a provisional result",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def file_appeal(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: Appellant,
    stage_id: uuid.UUID,
    data: schemas.AppealCreate,
    response: Response,
) -> schemas.Appeal:
    """By the competitor (worker account; for a team its leader) about their own entry, naming
    the aspects disputed and why, while the appeal window of the provisional results is open:
    409 naming the deadline after it (or once final), 403 for someone else's entry, 422 for an
    aspect not of the stage's scheme. Emits `appeal.filed`."""
    stage = await upstream.stage(stage_id)
    appeal = await flows.file(session, stage, data, principal)
    response.headers["ETag"] = etag(appeal.version)
    response.headers["Location"] = f"/v1/appeals/{appeal.id}"
    return service.view(appeal)


@router.get(
    "/v1/stages/{stage_id}/appeals",
    tags=["results"],
    response_model=Page[schemas.Appeal],
    summary="List the appeals of a stage",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def list_appeals(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AppealReader,
    stage_id: uuid.UUID,
    status: Annotated[AppealStatus | None, Query()] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Appeal]:
    """Organisers of the stage, admins and arbiters see every appeal; a competitor sees their
    own. Oldest first, optionally by status."""
    stage = await upstream.stage(stage_id)
    return await service.list_appeals(
        session, stage, principal, status=status, limit=limit, cursor=cursor
    )


@router.get(
    "/v1/appeals/{appeal_id}",
    tags=["results"],
    response_model=schemas.Appeal,
    summary="Get an appeal",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def get_appeal(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AppealReader,
    appeal_id: uuid.UUID,
    response: Response,
) -> schemas.Appeal:
    """The appeal with its status and decision (the `Location` of a filed appeal). The
    competitor who filed it, the stage's organisers, admins and its arbiters may read it; for
    any other competitor it does not exist (404). The ETag is what `:decide` takes in
    `If-Match`."""
    appeal = await get_or_404(session, Appeal, appeal_id, "appeal")
    stage = await upstream.stage(appeal.stage_id)
    found = await service.read(session, appeal_id, stage, principal)
    response.headers["ETag"] = etag(found.version)
    return service.view(found)


@router.post(
    "/v1/appeals/{appeal_id}:decide",
    tags=["results"],
    response_model=schemas.Appeal,
    summary="Decide an appeal",
    responses=error_responses(401, 403, 404, 409, 412, 422, 502, 503, 504),
)
async def decide_appeal(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    appeal_id: uuid.UUID,
    data: schemas.AppealDecision,
    response: Response,
    if_match: TransitionIfMatchHeader = None,
) -> schemas.Appeal:
    """By the arbitration panel: admins, and organisers covering the stage whom its result rules
    name in `arbiters`. `upheld` reopens the appeal's scores (the named aspects of that entry,
    every judge) for re-scoring; the judges re-score and sign off, the panel locks again, and
    the organisers compute and publish a new provisional version. `rejected` changes nothing.
    A decided appeal is a 409; `If-Match` with the appeal's ETag guards against a concurrent
    decision (412). Emits `appeal.decided`; audited."""
    appeal = await get_or_404(session, Appeal, appeal_id, "appeal")
    stage = await upstream.stage(appeal.stage_id)
    decided = await flows.decide(session, appeal_id, stage, data, if_match, principal)
    response.headers["ETag"] = etag(decided.version)
    return service.view(decided)


@router.post(
    "/v1/appeals/{appeal_id}:relock-scores",
    tags=["results"],
    response_model=schemas.Appeal,
    summary="Lock the re-scored marks of an upheld appeal",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def relock_scores(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    appeal_id: uuid.UUID,
) -> schemas.Appeal:
    """Once the judges have re-scored the marks an upheld appeal reopened, the arbitration panel
    (or the stage's organisers) locks them again; results can then be recomputed (`:compute`)
    and published as a new provisional version. 409 unless the appeal was upheld. Audited."""
    appeal = await get_or_404(session, Appeal, appeal_id, "appeal")
    stage = await upstream.stage(appeal.stage_id)
    await flows.relock(session, appeal_id, stage, principal)
    await session.refresh(appeal)
    return service.view(appeal)


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["results"])


@webhooks.post("appeal.filed", summary="An appeal was filed")
async def appeal_filed(event: schemas.AppealEvent) -> None:
    """A competitor appealed a provisional result, naming the aspects disputed by code."""


@webhooks.post("appeal.decided", summary="An appeal was decided")
async def appeal_decided(event: schemas.AppealEvent) -> None:
    """Upheld (the named marks reopened for re-scoring: `data.unlocked_scores`) or rejected."""
