"""Scheduling endpoints: venues, workstations, sessions, the scheduler, moves and releases."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from services.competitions.competitions.access import ManagedCompetition, ReadableCompetition
from services.competitions.scheduling import exports, schemas, service
from shared.auth.deps import AdminOrOrganiser, CompetitionsReader
from shared.concurrency import IfMatchHeader
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.pagination import CursorQuery, LimitQuery, Page
from shared.responses import file_download

router = APIRouter(prefix="/v1", tags=["scheduling"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ICS = "text/calendar"


# --- venues --------------------------------------------------------------------------------------


@router.post(
    "/competitions/{competition_id}/venues",
    response_model=schemas.Venue,
    status_code=201,
    summary="Add a venue to a competition",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_venue(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    competition: ManagedCompetition,
    data: schemas.VenueCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """A place where sessions of the competition's stages are held (an admin, or an organiser
    whose scope covers the competition). Send an `Idempotency-Key` to make retries safe."""

    async def create() -> schemas.Venue:
        venue = await service.create_venue(session, competition, data, principal)
        return schemas.Venue.model_validate(venue)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda v: f"/v1/competitions/{competition.id}/venues",
    )


@router.get(
    "/competitions/{competition_id}/venues",
    response_model=Page[schemas.Venue],
    summary="List a competition's venues",
    responses=error_responses(401, 404, 422),
)
async def list_venues(
    session: SessionDep,
    competition: ReadableCompetition,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Venue]:
    """The competition's venues in creation order."""
    return await service.list_venues(session, competition.id, limit=limit, cursor=cursor)


# --- workstations --------------------------------------------------------------------------------


@router.post(
    "/venues/{venue_id}/workstations",
    response_model=schemas.WorkstationBatch,
    status_code=201,
    summary="Add workstations to a venue (in bulk)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_workstations(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    venue_id: uuid.UUID,
    data: schemas.WorkstationBatchCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Add a list of workstations, each with its code and the occupation it is equipped for
    (the scheduler only seats an event's entries at workstations of the event's occupation).
    Codes are unique per venue: a code repeated in the request or already present is a 409
    naming the duplicates, and nothing is added."""

    async def create() -> schemas.WorkstationBatch:
        stations = await service.create_workstations(session, venue_id, data, principal)
        return schemas.WorkstationBatch(
            items=[schemas.Workstation.model_validate(w) for w in stations]
        )

    return await idempotent_create(session, request, principal, idempotency_key, data, create)


@router.get(
    "/venues/{venue_id}/workstations",
    response_model=Page[schemas.Workstation],
    summary="List a venue's workstations",
    responses=error_responses(401, 404, 422),
)
async def list_workstations(
    session: SessionDep,
    _: CompetitionsReader,
    venue_id: uuid.UUID,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Workstation]:
    """The venue's workstations ordered by code."""
    return await service.list_workstations(session, venue_id, limit=limit, cursor=cursor)


# --- sessions ------------------------------------------------------------------------------------


@router.post(
    "/stages/{stage_id}/sessions",
    response_model=schemas.Session,
    status_code=201,
    summary="Add a session (time slot) to a stage",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_session(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    stage_id: uuid.UUID,
    data: schemas.SessionCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """A time slot of the stage at one of the competition's venues. Times carry their offset
    (competitions run in Asia/Shanghai, `+08:00`); a time without offset, or an end not after
    the start, is a 422."""

    async def create() -> schemas.Session:
        row = await service.create_session(session, stage_id, data, principal)
        return schemas.Session.model_validate(row)

    return await idempotent_create(session, request, principal, idempotency_key, data, create)


@router.get(
    "/stages/{stage_id}/sessions",
    response_model=Page[schemas.Session],
    summary="List a stage's sessions",
    responses=error_responses(401, 404, 422),
)
async def list_sessions(
    session: SessionDep,
    _: CompetitionsReader,
    stage_id: uuid.UUID,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Session]:
    """The stage's sessions by start time."""
    return await service.list_sessions(session, stage_id, limit=limit, cursor=cursor)


# --- the schedule --------------------------------------------------------------------------------


@router.post(
    "/stages/{stage_id}/schedule",
    response_model=schemas.Schedule,
    summary="Schedule a stage (conflict-free)",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def schedule_stage(
    response: Response,
    session: SessionDep,
    principal: AdminOrOrganiser,
    stage_id: uuid.UUID,
    if_match: IfMatchHeader = None,
) -> schemas.Schedule:
    """Seat every active stage entry whose entry is approved or checked in: one workstation of
    the event's occupation per entry per session, a whole team at one workstation, and no
    worker in two overlapping sessions anywhere in the competition (their other events
    included). Most constrained entries are placed first, each in the earliest session that
    fits; the result is verified by an independent checker, then replaces the stage's working
    schedule in one go. The answer compares the sessions used with the lower bound
    ceil(entries / workstations per session). When some entries cannot be placed the answer is
    a 409 saying how many and why, and the previous schedule stays. Answers the new `ETag`;
    once the stage has a schedule, send it as `If-Match` (428 without it, 412 if the schedule
    changed since you read it)."""
    schedule = await service.schedule_stage(session, stage_id, principal, if_match)
    response.headers["ETag"] = service.schedule_etag(schedule.slots)
    return schedule


@router.get(
    "/stages/{stage_id}/schedule",
    response_model=schemas.Schedule,
    summary="Get a stage's working schedule",
    responses=error_responses(401, 403, 404, 422),
)
async def get_schedule(
    response: Response, session: SessionDep, principal: AdminOrOrganiser, stage_id: uuid.UUID
) -> schemas.Schedule:
    """The current (unpublished) slots, for admins and organisers in scope; everyone else reads
    published releases. The `ETag` identifies this state of the schedule (for `If-Match`)."""
    schedule = await service.get_schedule(session, stage_id, principal)
    response.headers["ETag"] = service.schedule_etag(schedule.slots)
    return schedule


@router.put(
    "/stage-entries/{stage_entry_id}/slot",
    operation_id="moveScheduleSlot",
    response_model=schemas.Slot,
    summary="Move a stage entry to a session and workstation",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def move_slot(
    response: Response,
    session: SessionDep,
    principal: AdminOrOrganiser,
    stage_entry_id: uuid.UUID,
    data: schemas.SlotMove,
    if_match: IfMatchHeader = None,
) -> schemas.Slot:
    """Put the entry at this workstation in this session. Refused with 409 naming the clash:
    the other entry holding the workstation in that session, an overlapping session one of the
    entry's workers already sits in, or a workstation of another occupation. Send the schedule's
    `ETag` as `If-Match` (428 without it, 412 if the stage's schedule changed since you read
    it); the answer carries the new `ETag`."""
    slot, etag = await service.move_slot(session, stage_entry_id, data, principal, if_match)
    response.headers["ETag"] = etag
    return slot


# --- releases ------------------------------------------------------------------------------------


@router.post(
    "/stages/{stage_id}/schedule/releases",
    operation_id="publishScheduleRelease",
    response_model=schemas.Release,
    status_code=201,
    summary="Publish the stage's schedule as a new release",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def publish_release(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    stage_id: uuid.UUID,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Freeze the current slots into release n+1; later edits never change a published release.
    Entries appear by blind code (their entry id when none is set). Emits `schedule.published`."""

    async def create() -> schemas.Release:
        return await service.publish_release(session, stage_id, principal)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        None,
        create,
        location=lambda r: f"/v1/stages/{stage_id}/schedule/releases/{r.version}",
    )


@router.get(
    "/stages/{stage_id}/schedule/releases",
    operation_id="listScheduleReleases",
    response_model=Page[schemas.ReleaseSummary],
    summary="List a stage's schedule releases",
    responses=error_responses(401, 404, 422),
)
async def list_releases(
    session: SessionDep,
    _: CompetitionsReader,
    stage_id: uuid.UUID,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.ReleaseSummary]:
    """Published releases, oldest first (the last is the one in force)."""
    return await service.list_releases(session, stage_id, limit=limit, cursor=cursor)


# The file routes come before `/{version}`, which would otherwise match `1.xlsx`.
@router.get(
    "/stages/{stage_id}/schedule/releases/{version}.xlsx",
    operation_id="getScheduleReleaseXlsx",
    response_class=Response,
    summary="Download a release as XLSX",
    responses={
        **file_download(XLSX, "The release as one sheet."),
        **error_responses(401, 404, 422),
    },
)
async def release_xlsx(
    session: SessionDep, principal: CompetitionsReader, stage_id: uuid.UUID, version: int
) -> Response:
    """One sheet, a row per slot: session start and end in Asia/Shanghai, venue, workstation
    and the entry's code. Cells that a spreadsheet would run as a formula are escaped."""
    stage, release = await service.get_release(session, stage_id, version)
    release = service.blind_release(principal, release)
    body = await asyncio.to_thread(exports.release_xlsx, stage, release)
    name = f"schedule-{stage_id}-v{version}.xlsx"
    return Response(
        body, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get(
    "/stages/{stage_id}/schedule/releases/{version}.ics",
    operation_id="getScheduleReleaseIcs",
    response_class=Response,
    summary="Download a release as iCalendar",
    responses={
        **file_download(ICS, "The release as an RFC 5545 calendar.", binary=False),
        **error_responses(401, 404, 422),
    },
)
async def release_ics(
    session: SessionDep, principal: CompetitionsReader, stage_id: uuid.UUID, version: int
) -> Response:
    """An RFC 5545 calendar: one event per session (times in UTC), its entries and
    workstations in the description."""
    stage, release = await service.get_release(session, stage_id, version)
    release = service.blind_release(principal, release)
    return Response(
        exports.release_ics(stage, release),
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="schedule-{stage_id}-v{version}.ics"'
        },
    )


@router.get(
    "/stages/{stage_id}/schedule/releases/{version}",
    operation_id="getScheduleRelease",
    response_model=schemas.Release,
    summary="Get a schedule release",
    responses=error_responses(401, 404, 422),
)
async def get_release(
    session: SessionDep, principal: CompetitionsReader, stage_id: uuid.UUID, version: int
) -> schemas.Release:
    """A published release with its frozen slots (judges: blind codes without workstations)."""
    _stage, release = await service.get_release(session, stage_id, version)
    return service.release_schema(service.blind_release(principal, release))


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["scheduling"])


@webhooks.post("schedule.published", summary="A stage's schedule was published")
async def schedule_published(event: schemas.SchedulePublishedEvent) -> None:
    """Sent when a new release of a stage's schedule is published (its version and number of
    slots); fetch it from `/v1/stages/{stage_id}/schedule/releases/{version}`."""
