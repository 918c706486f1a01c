"""Judge endpoints: the people who judge, their qualification, occupations and availability."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.judging.judges import schemas, service
from services.judging.upstream import UpstreamDep
from shared.auth.deps import AdminOrOrganiser, require
from shared.auth.principal import Principal, Role
from shared.concurrency import IfMatchHeader, etag
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.judging import QualificationLevel
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1", tags=["judges"])

#: Admins, organisers (narrowed to their scope) and judges (narrowed to themselves).
JudgeReader = Annotated[Principal, Depends(require(Role.admin, Role.organiser, Role.judge))]
JudgeSelf = Annotated[Principal, Depends(require(Role.judge))]


@router.post(
    "/judges",
    response_model=schemas.Judge,
    status_code=201,
    summary="Create a judge",
    responses=error_responses(401, 403, 409, 422, 502, 503, 504),
)
async def create_judge(
    request: Request,
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    data: schemas.JudgeCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Add a judge: a registered worker (`kind: worker`, `worker_id` checked with the registry,
    whose name, enterprise and locality are taken from the worker's file unless given) or an
    outside expert (`kind: expert` with name, employer and locality). Organisers create judges
    of their own locality or enterprise (403 otherwise). A worker can be one judge only, and an
    account is linked to one judge only (409)."""

    async def create() -> schemas.Judge:
        judge = await service.create_judge(session, upstream, data, principal)
        return schemas.Judge.model_validate(judge)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda j: f"/v1/judges/{j.id}",
    )


@router.get(
    "/judges",
    response_model=Page[schemas.Judge],
    summary="List judges",
    responses=error_responses(401, 403, 422),
)
async def list_judges(
    session: SessionDep,
    principal: JudgeReader,
    occupation: Annotated[str | None, Query(description="Judges of this occupation.")] = None,
    qualification: Annotated[QualificationLevel | None, Query()] = None,
    locality_code: Annotated[
        str | None,
        Query(
            pattern=r"^\d{6}$", description="Judges of this locality (a city: its counties too)."
        ),
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Judge]:
    """Judges in creation order. Organisers see the judges of their scope, a judge themselves."""
    return await service.list_judges(
        session,
        principal,
        occupation=occupation,
        qualification=qualification,
        locality_code=locality_code,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/judges/me",
    operation_id="getMyJudge",
    response_model=schemas.Judge,
    summary="The judge I am",
    responses=error_responses(401, 403, 404),
)
async def my_judge(session: SessionDep, principal: JudgeSelf, response: Response) -> schemas.Judge:
    """The judge record linked to the calling `judge` account (404 when none is linked)."""
    judge = await service.judge_of(session, principal)
    response.headers["ETag"] = etag(judge.version)
    return schemas.Judge.model_validate(judge)


@router.get(
    "/judges/{judge_id}",
    response_model=schemas.Judge,
    summary="Get a judge",
    responses=error_responses(401, 403, 404, 422),
)
async def get_judge(
    session: SessionDep, principal: JudgeReader, judge_id: uuid.UUID, response: Response
) -> schemas.Judge:
    """One judge, with its `ETag` for a later `PATCH`. A judge may read only their own."""
    judge = await service.get_judge(session, judge_id, principal)
    response.headers["ETag"] = etag(judge.version)
    return schemas.Judge.model_validate(judge)


@router.patch(
    "/judges/{judge_id}",
    response_model=schemas.Judge,
    summary="Update a judge",
    responses=error_responses(401, 403, 404, 409, 412, 422, 502, 503, 504),
)
async def update_judge(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    judge_id: uuid.UUID,
    data: schemas.JudgeUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> schemas.Judge:
    """Change a judge's name, employer, locality, occupations, qualification, availability or
    account link. Send the `ETag` you read as `If-Match` (412 when stale). Kind and worker are
    fixed. An organiser may neither edit a judge outside their scope nor move one out of it."""
    judge = await service.update_judge(session, upstream, judge_id, data, if_match, principal)
    response.headers["ETag"] = etag(judge.version)
    return schemas.Judge.model_validate(judge)


@router.delete(
    "/judges/{judge_id}",
    status_code=204,
    summary="Delete a judge",
    responses=error_responses(401, 403, 404, 412, 422),
)
async def delete_judge(
    session: SessionDep,
    principal: AdminOrOrganiser,
    judge_id: uuid.UUID,
    if_match: IfMatchHeader = None,
) -> Response:
    """Remove a judge (and the conflicts declared for them) from the pool. Send the `ETag` you
    read as `If-Match` (412 when stale). Admins, and organisers whose scope covers the judge."""
    await service.delete_judge(session, judge_id, if_match, principal)
    return Response(status_code=204)
