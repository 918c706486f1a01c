"""Mentorship endpoints: "master and apprentice" pairs and "help in pairs"."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.registry.mentorships import schemas, service
from shared.auth.deps import AdminOrOrganiser, require
from shared.auth.principal import Principal, Role
from shared.concurrency import TransitionIfMatchHeader
from shared.config import Settings
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.registry import Mentorship, MentorshipKind, MentorshipStatus
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1", tags=["mentorships"])

#: Admins, organisers, workers (object checks narrow them to their scope or their own pairs)
#: and machine clients allowed to read the registry.
Reader = Annotated[
    Principal,
    Depends(require(Role.admin, Role.organiser, Role.worker, scopes=("registry:read", "internal"))),
]


def _rules(request: Request) -> service.Rules:
    settings: Settings = request.app.state.settings
    return service.Rules(
        min_grade=settings.mentor_min_grade, max_active=settings.mentor_max_apprentices
    )


RulesDep = Annotated[service.Rules, Depends(_rules)]


def _answer(response: Response, mentorship: Mentorship) -> schemas.Mentorship:
    response.headers["ETag"] = f'"{mentorship.version}"'
    return schemas.Mentorship.of(mentorship)


@router.post(
    "/mentorships",
    response_model=schemas.Mentorship,
    status_code=201,
    summary="Propose a mentorship",
    responses=error_responses(401, 403, 409, 422),
)
async def create_mentorship(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    rules: RulesDep,
    data: schemas.MentorshipCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Pair a mentor with an apprentice; the mentorship starts as `proposed`. Admins, and
    organisers whose scope covers the apprentice, may do this.

    Refused with 422 (`rule-violation`, `rules` naming them) when the mentor is below
    MENTOR_MIN_GRADE, mentor and apprentice are the same worker, or either file is not active;
    with 409 when the mentor already has MENTOR_MAX_APPRENTICES active mentorships, the
    apprentice already has an active mentor, or the pair already has an open mentorship."""

    async def create() -> schemas.Mentorship:
        return schemas.Mentorship.of(await service.create(session, data, principal, rules))

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda m: f"/v1/mentorships/{m.id}",
    )


@router.get(
    "/mentorships",
    response_model=Page[schemas.Mentorship],
    summary="List mentorships",
    responses=error_responses(401, 403, 422),
)
async def list_mentorships(
    session: SessionDep,
    principal: Reader,
    mentor_id: Annotated[uuid.UUID | None, Query(description="Only this mentor's.")] = None,
    apprentice_id: Annotated[uuid.UUID | None, Query(description="Only this apprentice's.")] = None,
    status: Annotated[MentorshipStatus | None, Query(description="Only this status.")] = None,
    kind: Annotated[MentorshipKind | None, Query(description="Only this kind.")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Mentorship]:
    """Mentorships in creation order. Organisers see those with either worker in their scope;
    a worker sees their own (as mentor or apprentice). A worker's mentorships:
    `?mentor_id=...` and `?apprentice_id=...`."""
    return await service.list_mentorships(
        session,
        principal,
        mentor_id=mentor_id,
        apprentice_id=apprentice_id,
        status=status,
        kind=kind,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/mentorships/{mentorship_id}",
    response_model=schemas.Mentorship,
    summary="Get a mentorship",
    responses=error_responses(401, 403, 404, 422),
)
async def get_mentorship(
    session: SessionDep, principal: Reader, response: Response, mentorship_id: uuid.UUID
) -> schemas.Mentorship:
    """One mentorship, with an `ETag` to send as `If-Match` with a transition. Visible to
    admins, organisers whose scope covers either worker, and the two workers."""
    return _answer(response, await service.get_visible(session, mentorship_id, principal))


@router.post(
    "/mentorships/{mentorship_id}/activate",
    response_model=schemas.Mentorship,
    summary="Activate a mentorship",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def activate_mentorship(
    session: SessionDep,
    principal: AdminOrOrganiser,
    rules: RulesDep,
    response: Response,
    mentorship_id: uuid.UUID,
    data: schemas.Activation | None = None,
    if_match: TransitionIfMatchHeader = None,
) -> schemas.Mentorship:
    """`proposed` -> `active`: the pair has started. Both talent files get a
    `mentorship_started` entry and `mentorship.started` is sent.

    The rules are checked again with both workers locked, so concurrent activations cannot
    give a mentor more than MENTOR_MAX_APPRENTICES active mentorships (409) or an apprentice a
    second active mentor (409)."""
    mentorship = await service.activate(
        session,
        mentorship_id,
        data or schemas.Activation(),
        principal,
        rules,
        if_match=if_match,
    )
    return _answer(response, mentorship)


@router.post(
    "/mentorships/{mentorship_id}/complete",
    response_model=schemas.Mentorship,
    summary="Complete a mentorship",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def complete_mentorship(
    session: SessionDep,
    principal: AdminOrOrganiser,
    response: Response,
    mentorship_id: uuid.UUID,
    data: schemas.Completion,
    if_match: TransitionIfMatchHeader = None,
) -> schemas.Mentorship:
    """`active` -> `completed`, with the final evaluation (rating and comment). Both talent
    files get a `mentorship_ended` entry and `mentorship.ended` is sent."""
    mentorship = await service.complete(session, mentorship_id, data, principal, if_match=if_match)
    return _answer(response, mentorship)


@router.post(
    "/mentorships/{mentorship_id}/terminate",
    response_model=schemas.Mentorship,
    summary="Terminate a mentorship",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def terminate_mentorship(
    session: SessionDep,
    principal: AdminOrOrganiser,
    response: Response,
    mentorship_id: uuid.UUID,
    data: schemas.Termination,
    if_match: TransitionIfMatchHeader = None,
) -> schemas.Mentorship:
    """`proposed` or `active` -> `terminated`, with a reason. Ending an active mentorship
    writes `mentorship_ended` on both talent files and sends `mentorship.ended`; withdrawing a
    proposal that never started only records the reason."""
    mentorship = await service.terminate(session, mentorship_id, data, principal, if_match=if_match)
    return _answer(response, mentorship)


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["mentorships"])


@webhooks.post("mentorship.started", summary="A mentorship started")
async def mentorship_started(event: schemas.MentorshipEvent) -> None:
    """Sent when a proposed mentorship is activated. Signed per Standard Webhooks
    (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""


@webhooks.post("mentorship.ended", summary="A mentorship ended")
async def mentorship_ended(event: schemas.MentorshipEvent) -> None:
    """Sent when an active mentorship is completed or terminated (`data.status` says which).
    Withdrawing a proposal that never started sends nothing."""
