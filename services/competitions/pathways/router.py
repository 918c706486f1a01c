"""Pathway endpoints: how a higher event is filled, its qualifiers' quotas and their history,
direct places."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.competitions.pathways import schemas, service
from services.competitions.pathways.access import (
    ManagedEvent,
    ManagedQualifier,
    QualifierReader,
    ReadableEvent,
    ReadableQualifier,
)
from shared.auth.deps import AdminOrOrganiser, CompetitionsReader
from shared.concurrency import IfMatchHeader, etag
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1", tags=["pathways"])


async def _token(request: Request) -> str:
    token: str = await request.app.state.service_token.get()
    return token


@router.get(
    "/events/{event_id}/pathway",
    operation_id="getEventPathway",
    response_model=schemas.Pathway,
    summary="Get an event's pathway",
    responses=error_responses(401, 404, 422),
)
async def get_pathway(
    session: SessionDep, principal: CompetitionsReader, ctx: ReadableEvent, response: Response
) -> schemas.Pathway:
    """How the event is filled (its qualifiers and their quotas, direct places, open
    registration, the nominations deadline) and what it feeds. Every signed-in reader sees
    the quotas of every qualifier; the workers holding direct places only the event's
    organisers. `ETag` is the version of the settings (`"0"` before any are saved)."""
    pathway = await service.get_pathway(session, ctx, principal)
    response.headers["ETag"] = etag(pathway.version)
    return pathway


@router.put(
    "/events/{event_id}/pathway",
    operation_id="setEventPathway",
    response_model=schemas.Pathway,
    summary="Declare how an event is filled",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def set_pathway(
    session: SessionDep,
    principal: AdminOrOrganiser,
    ctx: ManagedEvent,
    data: schemas.PathwayUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> schemas.Pathway:
    """The event's organisers declare (or change) its pathway settings until the competition
    starts: whether workers may also register themselves, the nominations deadline, the number
    of direct places, and occupations of qualifiers accepted besides the event's own. The
    first declaration needs no `If-Match`; a change sends the `ETag` it read."""
    pathway = await service.set_pathway(session, ctx, data, principal, if_match)
    response.headers["ETag"] = etag(pathway.version)
    return pathway


@router.post(
    "/events/{event_id}/pathway/qualifiers",
    operation_id="addPathwayQualifier",
    response_model=schemas.Qualifier,
    status_code=201,
    summary="Add a qualifier event with its quota",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def add_qualifier(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    ctx: ManagedEvent,
    data: schemas.QualifierCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """A lower-level event (a city's for a provincial event, an enterprise's for a city's) of
    the same occupation or one the pathway maps, with its quota: places in all, or per city or
    per enterprise of the nominees. Its final results (of `qualifier_stage_id`, else its last
    stage) rank the nominees. The first quota is the start of the quota history."""

    async def create() -> schemas.Qualifier:
        qualifier = await service.add_qualifier(session, ctx, data, principal)
        return schemas.Qualifier.model_validate(qualifier)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda q: f"/v1/pathway-qualifiers/{q.id}",
    )


@router.get(
    "/pathway-qualifiers/{qualifier_id}",
    operation_id="getPathwayQualifier",
    response_model=schemas.Qualifier,
    summary="Get a qualifier and its quota",
    responses=error_responses(401, 404, 422),
)
async def get_qualifier(
    _: CompetitionsReader, ctx: ReadableQualifier, response: Response
) -> schemas.Qualifier:
    """A pathway link: the qualifier event, the higher event, the quota and its basis (quotas
    are public). `ETag` is its version, for changing the quota."""
    response.headers["ETag"] = etag(ctx.qualifier.version)
    return schemas.Qualifier.model_validate(ctx.qualifier)


@router.patch(
    "/pathway-qualifiers/{qualifier_id}",
    operation_id="updatePathwayQualifier",
    response_model=schemas.Qualifier,
    summary="Change a qualifier's quota",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def update_qualifier(
    session: SessionDep,
    principal: AdminOrOrganiser,
    ctx: ManagedQualifier,
    data: schemas.QualifierUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> schemas.Qualifier:
    """The higher event's organisers change a quota (and its basis) until nominations close,
    with a reason; every change is kept (`quota-history`). A quota below the nominations
    already made is a 409. Send `If-Match` with the qualifier's `ETag`."""
    qualifier = await service.update_qualifier(session, ctx, data, principal, if_match)
    response.headers["ETag"] = etag(qualifier.version)
    return schemas.Qualifier.model_validate(qualifier)


@router.get(
    "/pathway-qualifiers/{qualifier_id}/quota-history",
    operation_id="listQuotaChanges",
    response_model=Page[schemas.QuotaChange],
    summary="List a qualifier's quota changes",
    responses=error_responses(401, 403, 404, 422),
)
async def quota_history(
    session: SessionDep, ctx: QualifierReader, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[schemas.QuotaChange]:
    """Every quota the qualifier had, oldest first: who changed it, when, from what to what,
    and why. For the organisers of either end."""
    return await service.quota_history(session, ctx.qualifier, limit=limit, cursor=cursor)


@router.post(
    "/events/{event_id}/pathway/direct-places",
    operation_id="addDirectPlace",
    response_model=schemas.DirectPlace,
    status_code=201,
    summary="Give a worker a direct place",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def add_direct_place(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    ctx: ManagedEvent,
    data: schemas.DirectPlaceCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """A place without qualifying (last year's top three, holders of a named honour), within
    the pathway's number of direct places, with its reason. An honour is checked against the
    registry; the event's eligibility rules apply as to any entry (a 422 names each failed
    rule, and nothing is written); a worker already placed in the competition is a 409. The
    worker's entry is made at once (approved)."""

    async def create() -> schemas.DirectPlace:
        place = await service.add_direct_place(
            session,
            request.app.state.clients.registry,
            await _token(request),
            ctx,
            data,
            principal,
        )
        return schemas.DirectPlace.model_validate(place)

    return await idempotent_create(session, request, principal, idempotency_key, data, create)
