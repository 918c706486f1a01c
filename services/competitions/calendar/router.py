"""Calendar endpoints: competitions across all levels with their pathways, an iCalendar feed,
and "open to me" for a signed-in worker."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from services.competitions.calendar import schemas, service
from shared.auth.deps import CompetitionsReader, require
from shared.auth.principal import Principal, Role
from shared.db import SessionDep
from shared.errors import error_responses
from shared.models.competitions import CompetitionKind, CompetitionLevel, CompetitionStatus
from shared.models.registry.enums import Industry
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1", tags=["calendar"])

Worker = Annotated[Principal, Depends(require(Role.worker))]


def calendar_filters(
    level: Annotated[CompetitionLevel | None, Query()] = None,
    kind: Annotated[CompetitionKind | None, Query()] = None,
    locality_code: Annotated[
        str | None,
        Query(
            pattern=r"^\d{6}$",
            description="Organised in this locality (a city includes its counties).",
        ),
    ] = None,
    industry: Annotated[Industry | None, Query(description="A Top Ten industry.")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    status: Annotated[CompetitionStatus | None, Query()] = None,
) -> dict[str, Any]:
    return {
        "level": level,
        "kind": kind,
        "locality_code": locality_code,
        "industry": industry,
        "year": year,
        "status": status,
    }


Filters = Annotated[dict[str, Any], Depends(calendar_filters)]


@router.get(
    "/calendar",
    operation_id="listCalendar",
    response_model=Page[schemas.CalendarItem],
    summary="The competition calendar across all levels",
    responses=error_responses(401, 422),
)
async def list_calendar(
    session: SessionDep,
    _: CompetitionsReader,
    filters: Filters,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.CalendarItem]:
    """Published competitions of every level (enterprise to province), filtered by level, kind,
    organising locality (a city includes its counties), Top Ten industry, year and status;
    each event with its pathway: the qualifier events feeding it (with their quotas) and the
    higher events it feeds."""
    return await service.calendar(session, limit=limit, cursor=cursor, **filters)


@router.get(
    "/calendar.ics",
    operation_id="getCalendarIcs",
    response_class=Response,
    summary="The competition calendar as iCalendar",
    responses={
        200: {
            "content": {"text/calendar": {"schema": {"type": "string"}}},
            "description": "An RFC 5545 calendar.",
        },
        **error_responses(401, 422),
    },
)
async def calendar_ics(session: SessionDep, _: CompetitionsReader, filters: Filters) -> Response:
    """The same competitions (with the same filters) as all-day events from `starts_on` to
    `ends_on`, each event's pathway in the description; for calendar applications."""
    return Response(
        await service.calendar_ics(session, **filters),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="competitions.ics"'},
    )


@router.get(
    "/me/open-events",
    operation_id="listOpenEvents",
    response_model=Page[schemas.OpenEvent],
    summary="Events open to me",
    responses=error_responses(401, 403, 422, 502, 503, 504),
)
async def list_open_events(
    request: Request,
    session: SessionDep,
    principal: Worker,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.OpenEvent]:
    """For a signed-in worker, every upcoming event: `can_enter` (registration is open and
    the rules admit you), `can_be_nominated` (you compete in a qualifier feeding it),
    `entered`, `nominated`, or `cannot` with each reason (the event's eligibility rules on
    your registry data, registration closed, places by nomination only...)."""
    assert principal.worker_id is not None
    token: str = await request.app.state.service_token.get()
    return await service.open_to_me(
        session,
        request.app.state.clients.registry,
        token,
        principal.worker_id,
        limit=limit,
        cursor=cursor,
    )
