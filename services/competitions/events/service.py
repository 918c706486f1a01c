"""Events (contest items) of a competition and their eligibility rules."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.competitions.access import check_organiser_scope
from services.competitions.competitions.service import (
    SERVICE,
    get_competition,
)
from services.competitions.entries.service import promote_waitlist
from services.competitions.events import schemas
from shared import audit
from shared.auth.principal import Principal
from shared.concurrency import check_if_match
from shared.db import get_or_404
from shared.errors import Conflict, FieldError, InvalidInput, NotFound, RuleViolation
from shared.models.competitions import (
    HOLDING_PLACE,
    Competition,
    CompetitionKind,
    CompetitionStatus,
    Entry,
    EntryStatus,
    Event,
    EventMode,
)
from shared.pagination import Page, paginate_rows

CLOSED = (
    CompetitionStatus.in_progress,
    CompetitionStatus.results_published,
    CompetitionStatus.archived,
)


def counts_query() -> Any:
    """Places taken and waitlist length per event, as columns to join."""
    return (
        select(
            Entry.event_id.label("event_id"),
            func.count().filter(Entry.status.in_(HOLDING_PLACE)).label("taken"),
            func.count().filter(Entry.status == EntryStatus.waitlisted).label("waiting"),
        )
        .group_by(Entry.event_id)
        .subquery()
    )


def present(event: Event, taken: int = 0, waiting: int = 0) -> schemas.Event:
    out = schemas.Event.model_validate(event)
    out.places_taken, out.waitlisted = taken, waiting
    return out


async def load_event(
    session: AsyncSession, event_id: uuid.UUID, *, for_update: bool = False
) -> Event:
    return await get_or_404(session, Event, event_id, "event", for_update=for_update)


async def create_event(
    session: AsyncSession,
    competition: Competition,
    data: schemas.EventCreate,
    principal: Principal,
) -> Event:
    """`competition`: locked and checked by the route (`scope.ManagedCompetition`)."""
    if competition.status in CLOSED:
        raise Conflict(
            f"Events cannot be added to a competition that is {competition.status.value}."
        )
    innovation = competition.kind is CompetitionKind.innovation_competition
    if (data.mode is EventMode.innovation) != innovation:
        raise RuleViolation(
            "Innovation competitions have innovation events (an achievement and its team); "
            "other competitions have individual or team events.",
            errors=[FieldError(field="mode", message="does not fit the competition's kind")],
        )
    event = Event(competition_id=competition.id, **data.model_dump())
    await audit.add_created(
        session,
        event,
        service=SERVICE,
        principal=principal,
        action="event.create",
        entity_type="event",
        after=lambda: schemas.Event.model_validate(event).model_dump(mode="json"),
    )
    return event


async def get_event(session: AsyncSession, event_id: uuid.UUID) -> schemas.Event:
    counts = counts_query()
    row = (
        await session.execute(
            select(Event, func.coalesce(counts.c.taken, 0), func.coalesce(counts.c.waiting, 0))
            .outerjoin(counts, counts.c.event_id == Event.id)
            .where(Event.id == event_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"No event with id {event_id}.")
    return present(row[0], row[1], row[2])


async def list_events(
    session: AsyncSession,
    competition_id: uuid.UUID,
    *,
    occupation: str | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Event]:
    counts = counts_query()
    stmt = (
        select(Event, func.coalesce(counts.c.taken, 0), func.coalesce(counts.c.waiting, 0))
        .outerjoin(counts, counts.c.event_id == Event.id)
        .where(Event.competition_id == competition_id)
    )
    if occupation:
        stmt = stmt.where(Event.occupation == occupation)
    return await paginate_rows(
        session,
        stmt,
        order_by=[Event.created_at, Event.id],
        limit=limit,
        cursor=cursor,
        key=lambda r: (r[0].created_at, r[0].id),
        transform=lambda r: present(r[0], r[1], r[2]),
    )


async def update_event(
    session: AsyncSession,
    event_id: uuid.UUID,
    data: schemas.EventUpdate,
    principal: Principal,
    if_match: str | None,
) -> schemas.Event:
    event = await load_event(session, event_id, for_update=True)
    competition = await get_competition(session, event.competition_id)
    check_organiser_scope(principal, competition)
    check_if_match(if_match, event.version)
    if competition.status in CLOSED:
        raise Conflict(f"The competition is {competition.status.value}: its events are fixed.")
    changes = data.model_dump(exclude_unset=True)
    current = {name: getattr(event, name) for name in schemas.EligibilityFields.model_fields}
    try:
        schemas.EligibilityFields.model_validate(
            {**current, **{k: v for k, v in changes.items() if k in current}}
        )
    except ValidationError as exc:
        raise InvalidInput(
            "The change leaves the eligibility rules inconsistent.",
            errors=[
                FieldError(
                    field=".".join(str(part) for part in e["loc"]) or "body",
                    message=e["msg"].removeprefix("Value error, "),
                )
                for e in exc.errors()
            ],
        ) from exc
    if "capacity" in changes:
        taken = await session.scalar(
            select(func.count()).where(Entry.event_id == event.id, Entry.status.in_(HOLDING_PLACE))
        )
        if changes["capacity"] < (taken or 0):
            raise Conflict(
                f"{taken} entries already hold places; the capacity cannot go below that.",
                errors=[FieldError(field="capacity", message=f"at least {taken}")],
            )
    before = schemas.Event.model_validate(event).model_dump(mode="json")
    for name, value in changes.items():
        setattr(event, name, value)
    event.version += 1
    await session.flush()
    await session.refresh(event)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="event.update",
        entity_type="event",
        entity_id=event.id,
        before=before,
        after=schemas.Event.model_validate(event).model_dump(mode="json"),
    )
    if "capacity" in changes:
        await promote_waitlist(session, event, principal)
    return await get_event(session, event.id)
