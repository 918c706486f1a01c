"""Loader dependencies of the pathway routes and of the nomination routes' events and
qualifiers: the route's event or pathway qualifier, loaded and checked against the caller's
scope in one place (a nomination itself: services/competitions/nominations/access.py).

- `ManagedEvent`: the route's `event_id` with its competition, the event row locked, for the
  competition's organisers (404 unknown, 403 outside their scope);
- `ReadableEvent`: the same for any reader;
- `ManagedQualifier`: a pathway link, locked, for the higher event's organisers (quotas);
- `NominatingQualifier`: a pathway link, locked, for the qualifier's organisers (nominations);
- `QualifierReader`: a pathway link for the organisers of either end.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from services.competitions.access import check_organiser_scope, organiser_covers
from services.competitions.pathways.service import (
    EventContext,
    QualifierContext,
    decides,
    load_context,
    load_qualifier,
    nominates,
)
from shared.auth.deps import AdminOrOrganiser, CompetitionsReader, require
from shared.auth.principal import Principal, Role
from shared.db import SessionDep
from shared.errors import Forbidden
from shared.scope import describe, scope_loader

#: Nominations: the organisers of either end, the nominee, and our own services.
NOMINATION_READERS = require(Role.admin, Role.organiser, Role.worker, scopes=("internal",))
NominationReader = Annotated[Principal, Depends(NOMINATION_READERS)]


@scope_loader("event")
async def managed_event(
    session: SessionDep, principal: AdminOrOrganiser, event_id: uuid.UUID
) -> EventContext:
    ctx = await load_context(session, event_id, for_update=True)
    check_organiser_scope(principal, ctx.competition)
    return ctx


@scope_loader("event")
async def readable_event(
    session: SessionDep, _: CompetitionsReader, event_id: uuid.UUID
) -> EventContext:
    return await load_context(session, event_id)


@scope_loader("event")
async def nominations_event(
    session: SessionDep, _: NominationReader, event_id: uuid.UUID
) -> EventContext:
    """The event whose nominations are listed (which ones the caller sees is the service's
    `visible_clause`)."""
    return await load_context(session, event_id)


def _qualifier_forbidden(principal: Principal, side: str) -> Forbidden:
    return Forbidden(
        f"Your scope ({describe(principal)}) does not cover the {side} of this pathway."
    )


@scope_loader("pathway_qualifier")
async def readable_qualifier(
    session: SessionDep, _: CompetitionsReader, qualifier_id: uuid.UUID
) -> QualifierContext:
    """Quotas are public: every city sees what every qualifier may send."""
    return await load_qualifier(session, qualifier_id)


@scope_loader("pathway_qualifier")
async def managed_qualifier(
    session: SessionDep, principal: AdminOrOrganiser, qualifier_id: uuid.UUID
) -> QualifierContext:
    ctx = await load_qualifier(session, qualifier_id, for_update=True)
    if not organiser_covers(principal, ctx.competition):
        raise _qualifier_forbidden(principal, "higher event")
    return ctx


@scope_loader("pathway_qualifier")
async def nominating_qualifier(
    session: SessionDep, principal: AdminOrOrganiser, qualifier_id: uuid.UUID
) -> QualifierContext:
    ctx = await load_qualifier(session, qualifier_id, for_update=True)
    if not nominates(principal, ctx):
        raise _qualifier_forbidden(principal, "qualifier")
    return ctx


@scope_loader("pathway_qualifier")
async def qualifier_reader(
    session: SessionDep, principal: AdminOrOrganiser, qualifier_id: uuid.UUID
) -> QualifierContext:
    ctx = await load_qualifier(session, qualifier_id)
    if not (nominates(principal, ctx) or decides(principal, ctx)):
        raise _qualifier_forbidden(principal, "qualifier or the higher event")
    return ctx


ManagedEvent = Annotated[EventContext, Depends(managed_event)]
ReadableEvent = Annotated[EventContext, Depends(readable_event)]
NominationsEvent = Annotated[EventContext, Depends(nominations_event)]
ReadableQualifier = Annotated[QualifierContext, Depends(readable_qualifier)]
ManagedQualifier = Annotated[QualifierContext, Depends(managed_qualifier)]
NominatingQualifier = Annotated[QualifierContext, Depends(nominating_qualifier)]
QualifierReader = Annotated[QualifierContext, Depends(qualifier_reader)]
