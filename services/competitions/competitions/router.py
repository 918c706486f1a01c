"""Competition endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.competitions.competitions import schemas, service
from services.competitions.competitions.access import ManagedCompetition, ReadableCompetition
from shared.auth.deps import AdminOrOrganiser, CompetitionsReader
from shared.concurrency import IfMatchHeader, etag
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.competitions import CompetitionStatus
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/competitions", tags=["competitions"])


@router.post(
    "",
    response_model=schemas.Competition,
    status_code=201,
    summary="Create a competition",
    responses=error_responses(401, 403, 409, 422, 502, 503, 504),
)
async def create_competition(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    data: schemas.CompetitionCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Create a competition in `draft`. The organising locality is checked with the registry; an
    organiser may only create competitions of their own locality (a city organiser also covers
    its counties). Send an `Idempotency-Key` to make retries safe."""

    async def create() -> schemas.Competition:
        competition = await service.create_competition(
            session, request.app.state.clients.registry, data, principal
        )
        return schemas.Competition.model_validate(competition)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda c: f"/v1/competitions/{c.id}",
    )


@router.get(
    "",
    response_model=Page[schemas.Competition],
    summary="List competitions",
    responses=error_responses(401, 422),
)
async def list_competitions(
    session: SessionDep,
    _: CompetitionsReader,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    status: Annotated[CompetitionStatus | None, Query()] = None,
    locality_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Competition]:
    """Competitions in creation order, filtered by year, status or organising locality."""
    return await service.list_competitions(
        session, year=year, status=status, locality_code=locality_code, limit=limit, cursor=cursor
    )


@router.get(
    "/{competition_id}",
    response_model=schemas.Competition,
    summary="Get a competition",
    responses=error_responses(401, 404, 422),
)
async def get_competition(
    competition: ReadableCompetition, response: Response
) -> schemas.Competition:
    """One competition, with the statuses it may move to next; `ETag` is its version."""
    response.headers["ETag"] = etag(competition.version)
    return schemas.Competition.model_validate(competition)


@router.patch(
    "/{competition_id}",
    response_model=schemas.Competition,
    summary="Update a competition",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def update_competition(
    session: SessionDep,
    principal: AdminOrOrganiser,
    competition: ManagedCompetition,
    data: schemas.CompetitionUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> schemas.Competition:
    """Change details (name, dates, documents, tracks...) until the competition starts. Send
    `If-Match` with the `ETag` you read (428 without it; a concurrent change makes this a
    412)."""
    competition = await service.update_competition(session, competition, data, principal, if_match)
    response.headers["ETag"] = etag(competition.version)
    return schemas.Competition.model_validate(competition)


@router.post(
    "/{competition_id}/status",
    operation_id="changeCompetitionStatus",
    response_model=schemas.Competition,
    summary="Move a competition through its lifecycle",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def change_status(
    session: SessionDep,
    principal: AdminOrOrganiser,
    competition: ManagedCompetition,
    data: schemas.StatusChange,
    response: Response,
    if_match: IfMatchHeader = None,
) -> schemas.Competition:
    """draft → registration_open → registration_closed → (registration_open again, or)
    in_progress → results_published → archived. Any other move is a 409 naming the allowed
    ones. Publishing (leaving draft) sends `competition.published`; opening registration sends
    `registration.opened`."""
    competition = await service.change_status(
        session, competition, data.status, principal, if_match
    )
    response.headers["ETag"] = etag(competition.version)
    return schemas.Competition.model_validate(competition)
