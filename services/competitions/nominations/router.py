"""Nomination (推荐) endpoints: suggestions from a qualifier's final results, nominating,
substituting, submitting; accepting and returning; and the `nomination.*` webhooks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from services.competitions.nominations import flows, schemas, service
from services.competitions.nominations.access import (
    ActingNomination,
    LockedNomination,
    VisibleNomination,
)
from services.competitions.pathways.access import (
    NominatingQualifier,
    NominationReader,
    NominationsEvent,
    QualifierReader,
)
from services.competitions.pathways.service import load_qualifier
from shared import examples as ex
from shared.auth.deps import AdminOrOrganiser
from shared.concurrency import etag
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.competitions import NominationStatus
from shared.outbox import CompetitionScope
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1", tags=["nominations"])
webhooks = APIRouter(tags=["webhooks"])

REMOTE = (502, 503, 504)


async def _token(request: Request) -> str:
    token: str = await request.app.state.service_token.get()
    return token


@router.get(
    "/pathway-qualifiers/{qualifier_id}/suggestions",
    operation_id="getNominationSuggestions",
    response_model=schemas.Suggestions,
    summary="Suggested nominees from a qualifier's final results",
    responses=error_responses(401, 403, 404, 409, 422, *REMOTE),
)
async def get_suggestions(
    request: Request, session: SessionDep, ctx: QualifierReader
) -> schemas.Suggestions:
    """The qualifier's final ranking (from judging; a 409 while the results are not final),
    each worker placed: `suggested` within the quota (in all, or per city or enterprise),
    `reserve` beyond it, `nominated` when already nominated, or `skipped` with the reasons
    (already qualified for the competition, the higher event's eligibility rules, an earlier
    nomination declined or returned...). Workers tied at the quota boundary are flagged. For
    the organisers of either end."""
    return await flows.suggestions(
        session,
        request.app.state.clients.judging,
        request.app.state.clients.registry,
        await _token(request),
        ctx,
    )


@router.post(
    "/pathway-qualifiers/{qualifier_id}/nominations",
    operation_id="createNominations",
    response_model=schemas.Nominations,
    status_code=201,
    summary="Nominate workers from a qualifier's results",
    responses=error_responses(401, 403, 404, 409, 422, *REMOTE),
)
async def create_nominations(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    ctx: NominatingQualifier,
    data: schemas.NominationCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """The qualifier's organisers confirm nominees (drafts, until submitted): suggested
    entries, or reserves tied at the boundary when they settle a tie, within the quota. Each
    refused entry is named with its reason (422); a worker is nominated into one event of a
    competition once (409). Until the nominations deadline."""

    async def create() -> schemas.Nominations:
        made = await flows.confirm(
            session,
            request.app.state.clients.judging,
            request.app.state.clients.registry,
            await _token(request),
            ctx,
            data,
            principal,
        )
        return schemas.Nominations(items=[service.present(n) for n in made])

    return await idempotent_create(session, request, principal, idempotency_key, data, create)


@router.post(
    "/pathway-qualifiers/{qualifier_id}/nominations:submit",
    operation_id="submitNominations",
    response_model=schemas.Nominations,
    summary="Submit a qualifier's nominations",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def submit_nominations(
    session: SessionDep, principal: AdminOrOrganiser, ctx: NominatingQualifier
) -> schemas.Nominations:
    """Every draft nomination of the qualifier goes to the higher event's organisers
    (`nomination.submitted` each), within the quota and before the deadline (409 after it)."""
    done = await service.submit(session, ctx, principal)
    return schemas.Nominations(items=[service.present(n) for n in done])


@router.get(
    "/nominations/{nomination_id}",
    operation_id="getNomination",
    response_model=schemas.Nomination,
    summary="Get a nomination",
    responses=error_responses(401, 404, 422),
)
async def get_nomination(
    _: NominationReader, ctx: VisibleNomination, response: Response
) -> schemas.Nomination:
    """For the organisers of the qualifier and of the higher event, and the nominee."""
    response.headers["ETag"] = etag(ctx.nomination.version)
    return service.present(ctx.nomination)


@router.post(
    "/nominations/{nomination_id}/substitute",
    operation_id="substituteNomination",
    response_model=schemas.Nomination,
    status_code=201,
    summary="Replace a nominee by the next in rank",
    responses=error_responses(401, 403, 404, 409, 422, *REMOTE),
)
async def substitute(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    ctx: ActingNomination,
    data: schemas.Substitution,
) -> schemas.Nomination:
    """The nominee declined or is unavailable (or the nomination was returned): it is marked
    `declined` with the reason (`nomination.declined`) and the next in rank of the same quota
    group is nominated in their place, submitted at once if the declined one had been. The
    qualifier's organisers; a draft only before the deadline. 409 when nobody is left."""
    # Lock order: the qualifier, then the nomination (as `submit`).
    qctx = await load_qualifier(session, ctx.nomination.qualifier_id, for_update=True)
    locked = await service.load(session, ctx.nomination.id, for_update=True)
    made = await flows.substitute(
        session,
        request.app.state.clients.judging,
        request.app.state.clients.registry,
        await _token(request),
        locked,
        qctx,
        data,
        principal,
    )
    return service.present(made)


@router.post(
    "/nominations/{nomination_id}/accept",
    operation_id="acceptNomination",
    response_model=schemas.Nomination,
    summary="Accept a nomination",
    responses=error_responses(401, 403, 404, 409, 422, *REMOTE),
)
async def accept(
    request: Request, session: SessionDep, principal: AdminOrOrganiser, ctx: LockedNomination
) -> schemas.Nomination:
    """The higher event's organisers accept a submitted nomination: the nominee gets an
    approved entry in the higher event, its eligibility rules checked against the registry
    again: a 422 names each failed rule (`rules`) and nothing is written. Sends
    `nomination.accepted` (and `entry.approved`)."""
    done = await flows.accept(
        session, request.app.state.clients.registry, await _token(request), ctx, principal
    )
    return service.present(done)


@router.post(
    "/nominations/{nomination_id}/return",
    operation_id="returnNomination",
    response_model=schemas.Nomination,
    summary="Return a nomination with a reason",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def return_nomination(
    session: SessionDep,
    principal: AdminOrOrganiser,
    ctx: LockedNomination,
    data: schemas.NominationDecision,
) -> schemas.Nomination:
    """The higher event's organisers send a submitted nomination back with the reason
    (`nomination.returned`); the qualifier may nominate the next in rank instead
    (`substitute`)."""
    return service.present(await service.return_nomination(session, ctx, data.reason, principal))


@router.post(
    "/nominations/{nomination_id}/withdraw",
    operation_id="withdrawNomination",
    response_model=schemas.Nomination,
    summary="Withdraw a nomination",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def withdraw(
    session: SessionDep,
    principal: AdminOrOrganiser,
    ctx: LockedNomination,
    data: schemas.NominationDecision,
) -> schemas.Nomination:
    """The qualifier's organisers take back a draft or submitted nomination, with the reason
    (`nomination.withdrawn`); its place is not refilled."""
    return service.present(await service.withdraw(session, ctx, data.reason, principal))


@router.get(
    "/events/{event_id}/nominations",
    operation_id="listNominations",
    response_model=Page[schemas.Nomination],
    summary="List the nominations into an event",
    responses=error_responses(401, 404, 422),
)
async def list_nominations(
    session: SessionDep,
    principal: NominationReader,
    ctx: NominationsEvent,
    status: Annotated[NominationStatus | None, Query()] = None,
    qualifier_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Nomination]:
    """All of them for the event's organisers; a qualifier's organisers see only their own
    qualifiers' nominees (never another city's), a worker their own."""
    return await service.list_nominations(
        session,
        ctx.event.id,
        ctx.competition,
        principal,
        status=status,
        qualifier_id=qualifier_id,
        limit=limit,
        cursor=cursor,
    )


# -- webhooks ---------------------------------------------------------------------------------


class NominationEventData(CompetitionScope):
    """The higher competition's identifiers, the qualifier's, and the nominee's locality."""

    nomination_id: uuid.UUID
    event_id: uuid.UUID = Field(description="The higher event.")
    qualifier_competition_id: uuid.UUID
    qualifier_event_id: uuid.UUID
    qualifier_organiser_locality_code: str = Field(examples=[ex.CITY_CODE])
    locality_code: str = Field(examples=[ex.COUNTY_CODE], description="The nominee's locality.")
    worker_id: uuid.UUID
    rank: int = Field(examples=[1])
    status: NominationStatus
    reason: str | None = Field(None, examples=[None])
    entry_id: uuid.UUID | None = Field(None, description="`nomination.accepted`: the entry.")


class NominationEvent(BaseModel):
    type: str = Field(examples=["nomination.submitted"])
    timestamp: datetime
    data: NominationEventData


@webhooks.post("nomination.submitted", summary="A nomination was submitted")
async def nomination_submitted(event: NominationEvent) -> None:
    """Sent for each nomination a qualifier submits to the higher event (and for a substitute
    replacing a submitted one)."""


@webhooks.post("nomination.accepted", summary="A nomination was accepted")
async def nomination_accepted(event: NominationEvent) -> None:
    """Sent when the higher event's organisers accept it; `entry_id` is the nominee's entry."""


@webhooks.post("nomination.returned", summary="A nomination was returned")
async def nomination_returned(event: NominationEvent) -> None:
    """Sent with the higher event's organisers' reason."""


@webhooks.post("nomination.withdrawn", summary="A nomination was withdrawn")
async def nomination_withdrawn(event: NominationEvent) -> None:
    """Sent when the qualifier's organisers take it back, with their reason."""


@webhooks.post("nomination.declined", summary="A nominee declined or is unavailable")
async def nomination_declined(event: NominationEvent) -> None:
    """Sent when a nominee is replaced by the next in rank, with the reason."""
