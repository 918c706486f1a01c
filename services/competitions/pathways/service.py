"""Pathways: how a higher event is filled (qualifiers with quotas, direct places, open
registration), the quota history, and the pathway read model both ways (what feeds an event,
what it feeds)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.competitions.access import organiser_covers
from services.competitions.competitions.service import SERVICE
from services.competitions.entries.service import LIVE, admit, fetch_facts
from services.competitions.entries.service import Candidate as EntryCandidate
from services.competitions.pathways import schemas
from shared import audit
from shared.auth.principal import Principal, Role
from shared.clients import RegistryClient
from shared.concurrency import check_if_match
from shared.errors import Conflict, FieldError, NotFound, RuleViolation
from shared.models.competitions import (
    Competition,
    CompetitionStatus,
    DirectPlace,
    DirectPlaceReason,
    Entry,
    Event,
    EventPathway,
    Nomination,
    PathwayQualifier,
    QuotaBasis,
    QuotaChange,
    Stage,
)
from shared.models.competitions.pathways import LIVE_NOMINATIONS
from shared.pagination import Page, paginate

#: Levels from the lowest; a qualifier is at a lower level than the event it feeds. (A level
#: added later, such as national, sorts above the province.)
LEVEL_RANK = {"enterprise": 0, "county": 1, "city": 2, "provincial": 3, "national": 4}
#: Once the higher competition runs, its pathway is history.
STARTED = (
    CompetitionStatus.in_progress,
    CompetitionStatus.results_published,
    CompetitionStatus.archived,
)


@dataclass(frozen=True)
class EventContext:
    """An event with its competition (what the loaders hand to the routes)."""

    event: Event
    competition: Competition


@dataclass(frozen=True)
class QualifierContext:
    """A pathway link with both ends' competitions."""

    qualifier: PathwayQualifier
    competition: Competition  # the higher one
    event: Event  # the higher one
    qualifier_competition: Competition
    qualifier_event: Event


class PathwaySides(Protocol):
    """Both ends of a pathway link: a qualifier (or one of its nominations) in context."""

    @property
    def competition(self) -> Competition: ...  # the higher one

    @property
    def qualifier_competition(self) -> Competition: ...


def nominates(principal: Principal, ctx: PathwaySides) -> bool:
    """The qualifier's organisers (and those above them) nominate."""
    return principal.role in (Role.admin, Role.organiser) and organiser_covers(
        principal, ctx.qualifier_competition
    )


def decides(principal: Principal, ctx: PathwaySides) -> bool:
    """The higher event's organisers accept and return."""
    return principal.role in (Role.admin, Role.organiser) and organiser_covers(
        principal, ctx.competition
    )


def group_key(basis: QuotaBasis, locality_code: str, enterprise_id: uuid.UUID | None) -> str:
    """The quota group of a nominee: the whole qualifier, their city, or their enterprise."""
    if basis is QuotaBasis.city:
        return locality_code[:4] + "00"
    if basis is QuotaBasis.enterprise:
        return str(enterprise_id) if enterprise_id else "-"
    return "all"


def nominations_open(pathway: EventPathway | None, now: datetime | None = None) -> bool:
    if pathway is None or pathway.nominations_close_at is None:
        return True
    return (now or datetime.now(UTC)) < pathway.nominations_close_at


def check_nominations_open(pathway: EventPathway | None, what: str) -> None:
    if not nominations_open(pathway):
        assert pathway is not None
        assert pathway.nominations_close_at is not None
        raise Conflict(
            f"Nominations closed at {pathway.nominations_close_at.isoformat()}: {what} no "
            "longer possible.",
            nominations_close_at=pathway.nominations_close_at.isoformat(),
        )


def _check_not_started(competition: Competition) -> None:
    if competition.status in STARTED:
        raise Conflict(
            f"The competition is {competition.status.value}: its pathway can no longer change."
        )


async def load_pathway(
    session: AsyncSession, event_id: uuid.UUID, *, for_update: bool = False
) -> EventPathway | None:
    stmt = select(EventPathway).where(EventPathway.event_id == event_id)
    if for_update:
        stmt = stmt.execution_options(populate_existing=True).with_for_update()
    found: EventPathway | None = await session.scalar(stmt)
    return found


async def load_context(
    session: AsyncSession, event_id: uuid.UUID, *, for_update: bool = False
) -> EventContext:
    stmt = (
        select(Event, Competition)
        .join(Competition, Competition.id == Event.competition_id)
        .where(Event.id == event_id)
    )
    if for_update:
        stmt = stmt.execution_options(populate_existing=True).with_for_update(of=Event)
    found = (await session.execute(stmt)).first()
    if found is None:
        raise NotFound(f"No event with id {event_id}.")
    return EventContext(found[0], found[1])


async def load_qualifier(
    session: AsyncSession, qualifier_id: uuid.UUID, *, for_update: bool = False
) -> QualifierContext:
    lower_competition = aliased(Competition)
    lower_event = aliased(Event)
    stmt = (
        select(PathwayQualifier, Competition, Event, lower_competition, lower_event)
        .join(Competition, Competition.id == PathwayQualifier.competition_id)
        .join(Event, Event.id == PathwayQualifier.event_id)
        .join(lower_competition, lower_competition.id == PathwayQualifier.qualifier_competition_id)
        .join(lower_event, lower_event.id == PathwayQualifier.qualifier_event_id)
        .where(PathwayQualifier.id == qualifier_id)
    )
    if for_update:
        stmt = stmt.execution_options(populate_existing=True).with_for_update(of=PathwayQualifier)
    found = (await session.execute(stmt)).first()
    if found is None:
        raise NotFound(f"No pathway qualifier with id {qualifier_id}.")
    return QualifierContext(*found)


def _refs(rows: list[Any]) -> list[schemas.EventRef]:
    return [
        schemas.EventRef(
            event_id=event.id,
            event_name=event.name,
            competition_id=competition.id,
            competition_name=competition.name,
            level=competition.level,
            organiser_locality_code=competition.organiser_locality_code,
            status=competition.status,
            qualifier_id=link.id,
            quota=link.quota,
            quota_basis=link.quota_basis,
        )
        for link, event, competition in rows
    ]


async def links(
    session: AsyncSession, event_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, list[schemas.EventRef]], dict[uuid.UUID, list[schemas.EventRef]]]:
    """For many events at once: what feeds each (qualifiers), and what each feeds."""
    fed_by: dict[uuid.UUID, list[schemas.EventRef]] = {e: [] for e in event_ids}
    feeds: dict[uuid.UUID, list[schemas.EventRef]] = {e: [] for e in event_ids}
    if not event_ids:
        return fed_by, feeds
    rows = (
        await session.execute(
            select(PathwayQualifier, Event, Competition)
            .join(Event, Event.id == PathwayQualifier.qualifier_event_id)
            .join(Competition, Competition.id == Event.competition_id)
            .where(PathwayQualifier.event_id.in_(event_ids))
            .order_by(Competition.organiser_locality_code, PathwayQualifier.created_at)
        )
    ).all()
    for row in rows:
        fed_by[row[0].event_id] += _refs([row])
    rows = (
        await session.execute(
            select(PathwayQualifier, Event, Competition)
            .join(Event, Event.id == PathwayQualifier.event_id)
            .join(Competition, Competition.id == Event.competition_id)
            .where(PathwayQualifier.qualifier_event_id.in_(event_ids))
            .order_by(PathwayQualifier.created_at)
        )
    ).all()
    for row in rows:
        feeds[row[0].qualifier_event_id] += _refs([row])
    return fed_by, feeds


async def get_pathway(
    session: AsyncSession, ctx: EventContext, principal: Principal
) -> schemas.Pathway:
    """The event's pathway. Quotas are public (every city sees the others' quotas); the direct
    place holders (people) only to the event's organisers."""
    pathway = await load_pathway(session, ctx.event.id)
    fed_by, feeds = await links(session, [ctx.event.id])
    holders = None
    if organiser_covers(principal, ctx.competition):
        holders = [
            schemas.DirectPlace.model_validate(d)
            for d in await session.scalars(
                select(DirectPlace)
                .where(DirectPlace.event_id == ctx.event.id)
                .order_by(DirectPlace.created_at, DirectPlace.id)
            )
        ]
    return schemas.Pathway(
        event_id=ctx.event.id,
        competition_id=ctx.competition.id,
        declared=pathway is not None,
        open_registration=pathway.open_registration if pathway else True,
        nominations_close_at=pathway.nominations_close_at if pathway else None,
        nominations_open=nominations_open(pathway),
        direct_places=pathway.direct_places if pathway else 0,
        occupations=list(pathway.occupations) if pathway else [],
        fed_by=fed_by[ctx.event.id],
        feeds=feeds[ctx.event.id],
        direct_place_holders=holders,
        version=pathway.version if pathway else 0,
    )


def _settings(pathway: EventPathway) -> dict[str, Any]:
    return {
        "open_registration": pathway.open_registration,
        "nominations_close_at": pathway.nominations_close_at.isoformat()
        if pathway.nominations_close_at
        else None,
        "direct_places": pathway.direct_places,
        "occupations": list(pathway.occupations),
    }


async def set_pathway(
    session: AsyncSession,
    ctx: EventContext,
    data: schemas.PathwayUpdate,
    principal: Principal,
    if_match: str | None,
) -> schemas.Pathway:
    """`ctx`: locked and checked by the route (the event's organisers)."""
    _check_not_started(ctx.competition)
    pathway = await load_pathway(session, ctx.event.id, for_update=True)
    check_if_match(if_match, pathway.version if pathway else 0)
    placed = await session.scalar(select(func.count()).where(DirectPlace.event_id == ctx.event.id))
    if data.direct_places < (placed or 0):
        raise Conflict(
            f"{placed} direct places are already given; the count cannot go below that.",
            errors=[FieldError(field="direct_places", message=f"at least {placed}")],
        )
    before = _settings(pathway) if pathway else None
    if pathway is None:
        pathway = EventPathway(
            event_id=ctx.event.id, competition_id=ctx.competition.id, created_by=principal.sub
        )
        session.add(pathway)
    else:
        pathway.version += 1
    pathway.open_registration = data.open_registration
    pathway.nominations_close_at = data.nominations_close_at
    pathway.direct_places = data.direct_places
    pathway.occupations = data.occupations
    await session.flush()
    await session.refresh(pathway)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="pathway.set",
        entity_type="event_pathway",
        entity_id=ctx.event.id,
        before=before,
        after=_settings(pathway),
    )
    return await get_pathway(session, ctx, principal)


async def add_qualifier(
    session: AsyncSession,
    ctx: EventContext,
    data: schemas.QualifierCreate,
    principal: Principal,
) -> PathwayQualifier:
    """`ctx`: the higher event, locked and checked by the route."""
    _check_not_started(ctx.competition)
    pathway = await load_pathway(session, ctx.event.id)
    if pathway is None:
        raise Conflict(
            "Declare the event's pathway first (PUT /v1/events/{id}/pathway).",
            errors=[FieldError(field="event_id", message="no pathway declared")],
        )
    check_nominations_open(pathway, "adding qualifiers is")
    if data.qualifier_event_id == ctx.event.id:
        raise RuleViolation(
            "An event cannot qualify for itself.",
            errors=[FieldError(field="qualifier_event_id", message="the event itself")],
        )
    found = (
        await session.execute(
            select(Event, Competition)
            .join(Competition, Competition.id == Event.competition_id)
            .where(Event.id == data.qualifier_event_id)
        )
    ).first()
    if found is None:
        raise RuleViolation(
            f"No event with id {data.qualifier_event_id}.",
            errors=[FieldError(field="qualifier_event_id", message="no such event")],
        )
    lower_event, lower = found[0], found[1]
    errors = []
    if LEVEL_RANK.get(lower.level.value, 0) >= LEVEL_RANK.get(ctx.competition.level.value, 0):
        errors.append(
            FieldError(
                field="qualifier_event_id",
                message=f"a {lower.level.value} event cannot qualify for a "
                f"{ctx.competition.level.value} one (qualifiers are at a lower level)",
            )
        )
    accepted = {ctx.event.occupation, *pathway.occupations}
    if lower_event.occupation not in accepted:
        errors.append(
            FieldError(
                field="qualifier_event_id",
                message=f"occupation {lower_event.occupation} is not among "
                f"{', '.join(sorted(accepted))} (add it to the pathway's occupations)",
            )
        )
    if data.qualifier_stage_id is not None:
        stage = await session.get(Stage, data.qualifier_stage_id)
        if stage is None or stage.event_id != lower_event.id:
            errors.append(
                FieldError(field="qualifier_stage_id", message="not a stage of the qualifier")
            )
    if errors:
        raise RuleViolation(
            "The qualifier does not fit the pathway: " + "; ".join(e.message for e in errors),
            errors=errors,
        )
    qualifier = PathwayQualifier(
        event_id=ctx.event.id,
        competition_id=ctx.competition.id,
        qualifier_event_id=lower_event.id,
        qualifier_competition_id=lower.id,
        qualifier_stage_id=data.qualifier_stage_id,
        quota=data.quota,
        quota_basis=data.quota_basis,
        created_by=principal.sub,
    )
    try:
        async with session.begin_nested():
            session.add(qualifier)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "That event already qualifies for this one.",
            errors=[FieldError(field="qualifier_event_id", message="already a qualifier")],
        ) from exc
    await session.refresh(qualifier)
    session.add(
        QuotaChange(
            qualifier_id=qualifier.id,
            changed_by=principal.sub,
            old_quota=None,
            new_quota=qualifier.quota,
            old_basis=None,
            new_basis=qualifier.quota_basis,
            reason="set when the qualifier was added",
        )
    )
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="pathway.qualifier.add",
        entity_type="pathway_qualifier",
        entity_id=qualifier.id,
        after=schemas.Qualifier.model_validate(qualifier).model_dump(mode="json"),
    )
    return qualifier


async def live_counts(
    session: AsyncSession, qualifier: PathwayQualifier, basis: QuotaBasis
) -> dict[str, int]:
    """Live nominations (draft, submitted, accepted) of a qualifier per quota group."""
    rows = await session.execute(
        select(Nomination.locality_code, Nomination.enterprise_id).where(
            Nomination.qualifier_id == qualifier.id,
            Nomination.status.in_(LIVE_NOMINATIONS),
        )
    )
    counts: dict[str, int] = {}
    for locality_code, enterprise_id in rows:
        key = group_key(basis, locality_code, enterprise_id)
        counts[key] = counts.get(key, 0) + 1
    return counts


async def update_qualifier(
    session: AsyncSession,
    ctx: QualifierContext,
    data: schemas.QualifierUpdate,
    principal: Principal,
    if_match: str | None,
) -> PathwayQualifier:
    """Change a quota until nominations close; each change is kept with its reason."""
    qualifier = ctx.qualifier
    check_if_match(if_match, qualifier.version)
    _check_not_started(ctx.competition)
    check_nominations_open(await load_pathway(session, ctx.event.id), "changing quotas is")
    basis = data.quota_basis or qualifier.quota_basis
    over = {
        k: n for k, n in (await live_counts(session, qualifier, basis)).items() if n > data.quota
    }
    if over:
        raise Conflict(
            f"{max(over.values())} nominations are already made in one quota group; withdraw "
            "some before lowering the quota below that.",
            errors=[FieldError(field="quota", message=f"at least {max(over.values())}")],
        )
    before = schemas.Qualifier.model_validate(qualifier).model_dump(mode="json")
    session.add(
        QuotaChange(
            qualifier_id=qualifier.id,
            changed_by=principal.sub,
            old_quota=qualifier.quota,
            new_quota=data.quota,
            old_basis=qualifier.quota_basis,
            new_basis=basis,
            reason=data.reason,
        )
    )
    qualifier.quota = data.quota
    qualifier.quota_basis = basis
    qualifier.version += 1
    await session.flush()
    await session.refresh(qualifier)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="pathway.qualifier.quota",
        entity_type="pathway_qualifier",
        entity_id=qualifier.id,
        before=before,
        after={
            **schemas.Qualifier.model_validate(qualifier).model_dump(mode="json"),
            "reason": data.reason,
        },
    )
    return qualifier


async def quota_history(
    session: AsyncSession, qualifier: PathwayQualifier, *, limit: int, cursor: str | None
) -> Page[schemas.QuotaChange]:
    return await paginate(
        session,
        select(QuotaChange).where(QuotaChange.qualifier_id == qualifier.id),
        order_by=[QuotaChange.changed_at, QuotaChange.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.QuotaChange.model_validate,
    )


async def qualified_elsewhere(
    session: AsyncSession, competition_id: uuid.UUID, worker_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Workers already placed in a competition, and how: a live nomination, a direct place or
    a live entry of one of its events."""
    if not worker_ids:
        return {}
    out: dict[uuid.UUID, str] = {}
    for worker_id, status in await session.execute(
        select(Nomination.worker_id, Nomination.status).where(
            Nomination.competition_id == competition_id,
            Nomination.worker_id.in_(worker_ids),
            Nomination.status.in_(LIVE_NOMINATIONS),
        )
    ):
        out[worker_id] = f"already nominated into this competition ({status.value})"
    for (worker_id,) in await session.execute(
        select(DirectPlace.worker_id).where(
            DirectPlace.competition_id == competition_id, DirectPlace.worker_id.in_(worker_ids)
        )
    ):
        out.setdefault(worker_id, "holds a direct place in this competition")
    for (entered,) in await session.execute(
        select(Entry.worker_id).where(
            Entry.competition_id == competition_id,
            Entry.worker_id.in_(worker_ids),
            Entry.status.in_(LIVE),
        )
    ):
        if entered is not None:
            out.setdefault(entered, "already entered in this competition")
    return out


async def add_direct_place(
    session: AsyncSession,
    registry: RegistryClient,
    token: str,
    ctx: EventContext,
    data: schemas.DirectPlaceCreate,
    principal: Principal,
) -> DirectPlace:
    """A direct place: checked against the registry (the worker, the honour named), the
    event's eligibility rules and the pathway's count; the worker's entry is made at once."""
    _check_not_started(ctx.competition)
    pathway = await load_pathway(session, ctx.event.id, for_update=True)
    given = await session.scalar(select(func.count()).where(DirectPlace.event_id == ctx.event.id))
    if pathway is None or (given or 0) >= pathway.direct_places:
        allowed = pathway.direct_places if pathway else 0
        raise Conflict(
            f"The pathway gives {allowed} direct places and {given} are taken.",
            errors=[FieldError(field="worker_id", message="no direct place left")],
        )
    errors = []
    if data.reason_kind is DirectPlaceReason.honour and not data.honour_code:
        errors.append(FieldError(field="honour_code", message="required for an honour"))
    if data.reason_kind is not DirectPlaceReason.honour and data.honour_code:
        errors.append(FieldError(field="honour_code", message="only for reason_kind honour"))
    if errors:
        raise RuleViolation("The direct place's reason is incomplete.", errors=errors)
    if data.reason_kind is DirectPlaceReason.honour:
        facts, _ = await fetch_facts(registry, token, [EntryCandidate(members=[data.worker_id])])
        held = facts.get(data.worker_id, {}).get("honours") or []
        if data.worker_id in facts and data.honour_code not in held:
            raise RuleViolation(
                f"The registry shows no {data.honour_code} honour held by this worker.",
                errors=[FieldError(field="honour_code", message="not held by the worker")],
            )
    already = await qualified_elsewhere(session, ctx.competition.id, [data.worker_id])
    if data.worker_id in already:
        raise Conflict(
            f"The worker is already placed: {already[data.worker_id]}.",
            errors=[FieldError(field="worker_id", message=already[data.worker_id])],
        )
    entry = await admit(
        session, registry, token, ctx.event, ctx.competition, data.worker_id, principal
    )
    place = DirectPlace(
        event_id=ctx.event.id,
        competition_id=ctx.competition.id,
        worker_id=data.worker_id,
        reason_kind=data.reason_kind,
        honour_code=data.honour_code,
        reason=data.reason,
        entry_id=entry.id,
        created_by=principal.sub,
    )
    await audit.add_created(
        session,
        place,
        service=SERVICE,
        principal=principal,
        action="pathway.direct_place.add",
        entity_type="direct_place",
        after=lambda: schemas.DirectPlace.model_validate(place).model_dump(mode="json"),
    )
    return place
