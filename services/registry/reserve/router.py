"""Craftsman reserve endpoints: nominations, the province's decisions, plans, progress, targets."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.registry.reserve import progress, schemas, service
from services.registry.reserve.access import ManagedMember, VisibleMember
from shared.auth.deps import Admin, AdminOrOrganiser, require
from shared.auth.principal import Principal, Role
from shared.concurrency import IfMatchHeader, TransitionIfMatchHeader, etag
from shared.db import SessionDep
from shared.errors import NotFound, error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.registry import ReserveMember, ReserveStatus, ReserveTrack
from shared.pagination import CursorQuery, LimitQuery, Page
from shared.responses import model_response

router = APIRouter(prefix="/v1", tags=["reserve"])

#: Admins, organisers, workers (their own membership) and machine clients reading the registry.
Reader = Annotated[
    Principal,
    Depends(require(Role.admin, Role.organiser, Role.worker, scopes=("registry:read", "internal"))),
]
#: Admins, organisers and machine clients reading the registry: figures and lists for organisers.
OrganiserReader = Annotated[
    Principal,
    Depends(require(Role.admin, Role.organiser, scopes=("registry:read", "internal"))),
]

LocalityCode = Annotated[
    str, Path(pattern=r"^\d{6}$", description="The province (370000) or a city (GB/T 2260).")
]
Year = Annotated[int, Path(ge=2000, le=2100, description="The calendar year.")]
LocalityFilter = Annotated[
    str | None,
    Query(
        pattern=r"^\d{6}$",
        description="Only workers of this locality (a city includes its counties).",
    ),
]


async def _answer(
    session: SessionDep, response: Response, member: ReserveMember
) -> schemas.ReserveMember:
    response.headers["ETag"] = etag(member.version)
    return await service.present(session, member)


@router.post(
    "/reserve-members",
    response_model=schemas.ReserveMember,
    status_code=201,
    summary="Nominate a worker to the reserve",
    responses=error_responses(401, 403, 409, 422),
)
async def nominate_reserve_member(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    data: schemas.Nomination,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Nominate a worker of your scope to the craftsman reserve (百万工匠后备人才库), with the
    reason; the membership starts as `nominated`, and the nominating body is your enterprise
    or locality (an admin's: the province). The province then confirms or declines it.

    A worker outside your scope gets the answer an unknown id gets (422 `worker_exists`). 422
    `active_file` when the worker's file is not active; 409 when the worker already has an
    open (nominated or confirmed) membership. Sends `reserve.nominated`."""

    async def create() -> schemas.ReserveMember:
        member = await service.nominate(session, data, principal)
        return await service.present(session, member)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda m: f"/v1/reserve-members/{m.id}",
    )


@router.get(
    "/reserve-members",
    response_model=Page[schemas.ReserveMember],
    summary="List reserve members",
    responses=error_responses(401, 403, 422),
)
async def list_reserve_members(
    session: SessionDep,
    principal: Reader,
    status: Annotated[ReserveStatus | None, Query(description="Only this status.")] = None,
    track: Annotated[ReserveTrack | None, Query(description="Only this track.")] = None,
    worker_id: Annotated[uuid.UUID | None, Query(description="Only this worker's.")] = None,
    locality_code: LocalityFilter = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.ReserveMember]:
    """Memberships (every nomination, whatever became of it) in nomination order. Organisers
    see those of the workers in their scope, a worker their own."""
    return await service.list_members(
        session,
        principal,
        status=status,
        track=track,
        worker_id=worker_id,
        locality_code=locality_code,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/reserve-reviews",
    response_model=Page[schemas.ReserveMember],
    summary="List plan reviews due",
    responses=error_responses(401, 403, 422),
)
async def list_reserve_reviews(
    session: SessionDep,
    principal: OrganiserReader,
    due_by: Annotated[
        date | None, Query(description="Reviews due on or before this day; default today.")
    ] = None,
    locality_code: LocalityFilter = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.ReserveMember]:
    """Open memberships (nominated or confirmed) of your scope whose cultivation plan is due
    for review by `due_by`, the most overdue first."""
    return await service.list_reviews_due(
        session, principal, due_by=due_by, locality_code=locality_code, limit=limit, cursor=cursor
    )


@router.get(
    "/reserve-members/{member_id}",
    response_model=schemas.ReserveMember,
    summary="Get a reserve member",
    responses=error_responses(401, 403, 404, 422),
)
async def get_reserve_member(
    session: SessionDep, principal: Reader, member: VisibleMember, response: Response
) -> schemas.ReserveMember:
    """One membership with its cultivation plan, and an `ETag` to send as `If-Match`. A
    membership of a worker you may not read is a 404, as an unknown id."""
    return await _answer(session, response, member)


@router.get(
    "/reserve-members/{member_id}/progress",
    response_model=schemas.MemberProgress,
    summary="Get a reserve member's progress",
    responses=error_responses(401, 403, 404, 422),
)
async def get_reserve_member_progress(
    session: SessionDep, principal: Reader, member: VisibleMember
) -> schemas.MemberProgress:
    """The member's progress against the plan, computed now from the talent file: grade
    promotions and the target grade, attended training hours, results in the target
    competitions, honours granted since joining, the mentorship, and whether the review is
    due. Nothing of it is typed in."""
    return await progress.member_progress(session, member)


@router.post(
    "/reserve-members/{member_id}/confirm",
    response_model=schemas.ReserveMember,
    summary="Confirm a nomination",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def confirm_reserve_member(
    session: SessionDep,
    principal: AdminOrOrganiser,
    member: ManagedMember,
    response: Response,
    data: schemas.Confirmation | None = None,
    if_match: TransitionIfMatchHeader = None,
) -> schemas.ReserveMember:
    """`nominated` -> `confirmed`: the worker joins the pool on `confirmed_on`. The province
    decides (admins, organisers of 370000; 403 for anyone else). The talent file gets a
    `reserve_joined` entry and `reserve.confirmed` is sent."""
    confirmed = await service.confirm(
        session, member, data or schemas.Confirmation(), principal, if_match=if_match
    )
    return await _answer(session, response, confirmed)


@router.post(
    "/reserve-members/{member_id}/decline",
    response_model=schemas.ReserveMember,
    summary="Decline a nomination",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def decline_reserve_member(
    session: SessionDep,
    principal: AdminOrOrganiser,
    member: ManagedMember,
    response: Response,
    data: schemas.Declination,
    if_match: TransitionIfMatchHeader = None,
) -> schemas.ReserveMember:
    """`nominated` -> `declined`, with the reason. The province decides (admins, organisers of
    370000). Sends `reserve.declined`; the worker may be nominated again later."""
    declined = await service.decline(session, member, data, principal, if_match=if_match)
    return await _answer(session, response, declined)


@router.post(
    "/reserve-members/{member_id}/leave",
    response_model=schemas.ReserveMember,
    summary="Record that a member leaves the reserve",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def leave_reserve_member(
    session: SessionDep,
    principal: AdminOrOrganiser,
    member: ManagedMember,
    response: Response,
    data: schemas.Leaving,
    if_match: TransitionIfMatchHeader = None,
) -> schemas.ReserveMember:
    """`confirmed` -> `left`, with the reason (admins, organisers covering the worker). The
    talent file gets a `reserve_left` entry and `reserve.left` is sent."""
    left = await service.leave(session, member, data, principal, if_match=if_match)
    return await _answer(session, response, left)


@router.put(
    "/reserve-members/{member_id}/plan",
    response_model=schemas.ReserveMember,
    summary="Set a member's cultivation plan",
    responses=error_responses(401, 403, 404, 409, 412, 422, 428),
)
async def put_reserve_plan(
    session: SessionDep,
    principal: AdminOrOrganiser,
    member: ManagedMember,
    response: Response,
    data: schemas.PlanPut,
    if_match: IfMatchHeader = None,
) -> schemas.ReserveMember:
    """Replace the cultivation plan of a nominated or confirmed member: the mentor (ideally
    through an existing mentorship with the member as apprentice), training programmes, the
    target grade and competitions, and the review date. Send the membership's ETag as
    `If-Match`. A mentor outside your scope is refused as an unknown id."""
    updated = await service.put_plan(session, member, data, principal, if_match=if_match)
    return await _answer(session, response, updated)


@router.get(
    "/reserve-progress",
    response_model=schemas.ProgressReport,
    summary="Get progress against the reserve targets",
    responses=error_responses(401, 403, 422),
)
async def get_reserve_progress(
    session: SessionDep,
    principal: OrganiserReader,
    year: Annotated[
        int | None, Query(ge=2000, le=2100, description="The year; default the current one.")
    ] = None,
    locality_code: Annotated[
        str | None,
        Query(pattern=r"^\d{6}$", description="One locality of your scope (a city, a county)."),
    ] = None,
) -> schemas.ProgressReport:
    """The year's targets beside the actual numbers, computed from the data: members in the
    pool at the end of the year (today for the current year), grade promotions (certification
    or competition) and honours granted (not revoked) to the locality's workers in the year.
    The province sees the province and every city; a city organiser its city (with its
    counties), or one of its counties; an enterprise organiser its enterprise (no targets)."""
    return await progress.report(
        session, principal, year=year or service.today().year, locality_code=locality_code
    )


@router.get(
    "/reserve-targets",
    response_model=Page[schemas.Target],
    summary="List reserve targets",
    responses=error_responses(401, 403, 422),
)
async def list_reserve_targets(
    session: SessionDep,
    principal: OrganiserReader,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Only this year.")] = None,
    locality_code: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="Only this locality.")
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Target]:
    """The targets the province set, by year and locality, for the localities of your scope."""
    return await service.list_targets(
        session, principal, year=year, locality_code=locality_code, limit=limit, cursor=cursor
    )


@router.get(
    "/reserve-targets/{locality_code}/{year}",
    response_model=schemas.Target,
    summary="Get a locality's reserve targets",
    responses=error_responses(401, 403, 404, 422),
)
async def get_reserve_target(
    session: SessionDep,
    principal: OrganiserReader,
    response: Response,
    locality_code: LocalityCode,
    year: Year,
) -> Response:
    """The targets of the province or a city for a year, with an `ETag`. Not set yet: 404 with
    `ETag: "0"` (set them without `If-Match`)."""
    target = await service.get_target(session, locality_code, year, principal)
    if target is None:
        raise NotFound(
            f"No targets set for {locality_code} in {year} yet.", headers={"ETag": etag(0)}
        )
    answer = model_response(schemas.Target.of(target))
    answer.headers["ETag"] = etag(target.version)
    return answer


@router.put(
    "/reserve-targets/{locality_code}/{year}",
    response_model=schemas.Target,
    summary="Set a locality's reserve targets",
    responses={
        **error_responses(401, 403, 404, 412, 422, 428),
        201: {"description": "Set for the first time.", "model": schemas.Target},
    },
)
async def put_reserve_target(
    session: SessionDep,
    principal: Admin,
    locality_code: LocalityCode,
    year: Year,
    data: schemas.TargetPut,
    if_match: IfMatchHeader = None,
) -> Response:
    """Set the targets of the province or a city for a year: the pool's size at the end of
    the year, grade promotions and honours in the year (the province: admins). The first
    setting answers 201 and needs no `If-Match`; a change sends the ETag it read."""
    target, created = await service.put_target(
        session, locality_code, year, data, principal, if_match=if_match
    )
    answer = model_response(schemas.Target.of(target), 201 if created else 200)
    answer.headers["ETag"] = etag(target.version)
    return answer


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["reserve"])


@webhooks.post("reserve.nominated", summary="A worker was nominated to the reserve")
async def reserve_nominated(event: schemas.ReserveEvent) -> None:
    """Sent when an enterprise, a locality or the province nominates a worker. `data` carries
    the worker's `locality_code` (and the nominating locality's, when a locality nominated)."""


@webhooks.post("reserve.confirmed", summary="A worker joined the reserve")
async def reserve_confirmed(event: schemas.ReserveEvent) -> None:
    """Sent when the province confirms a nomination: the worker is in the pool."""


@webhooks.post("reserve.declined", summary="A nomination was declined")
async def reserve_declined(event: schemas.ReserveEvent) -> None:
    """Sent when the province declines a nomination."""


@webhooks.post("reserve.left", summary="A member left the reserve")
async def reserve_left(event: schemas.ReserveEvent) -> None:
    """Sent when a confirmed member leaves the pool (the reason is in the registry)."""
