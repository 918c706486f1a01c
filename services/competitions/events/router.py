"""Event (contest item) endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.competitions.competitions.access import ManagedCompetition, ReadableCompetition
from services.competitions.events import schemas, service
from shared.auth.deps import AdminOrOrganiser, CompetitionsReader
from shared.concurrency import IfMatchHeader, etag
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1", tags=["events"])


@router.post(
    "/competitions/{competition_id}/events",
    response_model=schemas.Event,
    status_code=201,
    summary="Add an event (contest item)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_event(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    competition: ManagedCompetition,
    data: schemas.EventCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """An event of the competition: occupation, individual / team / innovation, capacity and
    the eligibility rules entries are checked against (age on the start day, grade range,
    localities, enterprise quota, national winners excluded)."""

    async def create() -> schemas.Event:
        return service.present(await service.create_event(session, competition, data, principal))

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda e: f"/v1/events/{e.id}",
    )


@router.get(
    "/competitions/{competition_id}/events",
    response_model=Page[schemas.Event],
    summary="List a competition's events",
    responses=error_responses(401, 404, 422),
)
async def list_events(
    session: SessionDep,
    competition: ReadableCompetition,
    occupation: Annotated[str | None, Query(max_length=100)] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Event]:
    """Events with their places taken and waitlist length."""
    return await service.list_events(
        session, competition.id, occupation=occupation, limit=limit, cursor=cursor
    )


@router.get(
    "/events/{event_id}",
    response_model=schemas.Event,
    summary="Get an event",
    responses=error_responses(401, 404, 422),
)
async def get_event(
    session: SessionDep, _: CompetitionsReader, event_id: uuid.UUID, response: Response
) -> schemas.Event:
    """One event with its rules, places taken and waitlist; `ETag` is its version."""
    event = await service.get_event(session, event_id)
    response.headers["ETag"] = etag(event.version)
    return event


@router.patch(
    "/events/{event_id}",
    response_model=schemas.Event,
    summary="Update an event",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def update_event(
    session: SessionDep,
    principal: AdminOrOrganiser,
    event_id: uuid.UUID,
    data: schemas.EventUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> schemas.Event:
    """Change the capacity or the rules before the competition starts. Raising the capacity
    promotes waitlisted entries; lowering it below the places taken is a 409."""
    event = await service.update_event(session, event_id, data, principal, if_match)
    response.headers["ETag"] = etag(event.version)
    return event
