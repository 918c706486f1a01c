"""The calendar across all levels (a read model over competitions, events and pathways), its
iCalendar feed, and "open to me": for a signed-in worker, each upcoming event they can enter
now or be nominated into, or why not (the events' eligibility rules on the worker's own
registry data)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.competitions.calendar import schemas
from services.competitions.entries.service import LIVE, Candidate, evaluate, fetch_facts
from services.competitions.pathways.service import links, nominations_open
from services.competitions.scheduling.exports import escape_text, fold_line, utc_stamp
from shared.clients import RegistryClient
from shared.models.competitions import (
    Competition,
    CompetitionKind,
    CompetitionLevel,
    CompetitionStatus,
    DirectPlace,
    Entry,
    Event,
    EventPathway,
    Nomination,
)
from shared.models.competitions.pathways import LIVE_NOMINATIONS
from shared.models.registry.enums import Industry
from shared.pagination import Page, keyset_rows
from shared.scope import locality_clause

#: Competitions a worker may still get into (registration, or nominations before it starts).
UPCOMING = (CompetitionStatus.registration_open, CompetitionStatus.registration_closed)
#: The most a calendar feed carries (a province's year is a few hundred competitions).
FEED_LIMIT = 2000


def _filtered(
    *,
    level: CompetitionLevel | None,
    kind: CompetitionKind | None,
    locality_code: str | None,
    industry: Industry | None,
    year: int | None,
    status: CompetitionStatus | None,
) -> Any:
    # Drafts are the organisers' work in progress, not the published programme.
    stmt = select(Competition).where(Competition.status != CompetitionStatus.draft)
    if level is not None:
        stmt = stmt.where(Competition.level == level)
    if kind is not None:
        stmt = stmt.where(Competition.kind == kind)
    if locality_code is not None:
        stmt = stmt.where(locality_clause(locality_code, Competition.organiser_locality_code))
    if industry is not None:
        stmt = stmt.where(Competition.industry == industry)
    if year is not None:
        stmt = stmt.where(Competition.year == year)
    if status is not None:
        stmt = stmt.where(Competition.status == status)
    return stmt


async def _items(
    session: AsyncSession, competitions: Sequence[Competition]
) -> list[schemas.CalendarItem]:
    """The competitions with their events and pathways, in four queries for any number."""
    ids = [c.id for c in competitions]
    events = (
        list(
            await session.scalars(
                select(Event)
                .where(Event.competition_id.in_(ids))
                .order_by(Event.created_at, Event.id)
            )
        )
        if ids
        else []
    )
    pathways = {
        p.event_id: p
        for p in (
            await session.scalars(
                select(EventPathway).where(EventPathway.event_id.in_([e.id for e in events]))
            )
            if events
            else []
        )
    }
    fed_by, feeds = await links(session, [e.id for e in events])
    by_competition: dict[uuid.UUID, list[schemas.CalendarEvent]] = {i: [] for i in ids}
    for e in events:
        p = pathways.get(e.id)
        by_competition[e.competition_id].append(
            schemas.CalendarEvent(
                event_id=e.id,
                name=e.name,
                occupation=e.occupation,
                mode=e.mode,
                pathway_declared=p is not None,
                open_registration=p.open_registration if p else True,
                nominations_close_at=p.nominations_close_at if p else None,
                direct_places=p.direct_places if p else 0,
                fed_by=fed_by[e.id],
                feeds=feeds[e.id],
            )
        )
    return [
        schemas.CalendarItem(
            competition_id=c.id,
            name=c.name,
            kind=c.kind,
            level=c.level,
            year=c.year,
            organiser_locality_code=c.organiser_locality_code,
            organiser_enterprise_id=c.organiser_enterprise_id,
            industry=c.industry,
            status=c.status,
            registration_opens_at=c.registration_opens_at,
            registration_closes_at=c.registration_closes_at,
            starts_on=c.starts_on,
            ends_on=c.ends_on,
            events=by_competition[c.id],
        )
        for c in competitions
    ]


async def calendar(
    session: AsyncSession, *, limit: int, cursor: str | None, **filters: Any
) -> Page[schemas.CalendarItem]:
    """By year, then in creation order (a stable keyset; dates may be unset in drafts)."""
    rows, next_cursor = await keyset_rows(
        session,
        _filtered(**filters),
        order_by=[Competition.year, Competition.created_at, Competition.id],
        limit=limit,
        cursor=cursor,
        key=lambda r: (r[0].year, r[0].created_at, r[0].id),
    )
    return Page[schemas.CalendarItem](
        items=await _items(session, [r[0] for r in rows]), next_cursor=next_cursor
    )


def _level_words(item: schemas.CalendarItem) -> str:
    return f"{item.level.value} · {item.kind.value} · {item.organiser_locality_code}"


async def calendar_ics(session: AsyncSession, **filters: Any) -> str:
    """RFC 5545: one all-day VEVENT per dated competition, its events' pathways described."""
    stmt = (
        _filtered(**filters)
        .where(Competition.starts_on.is_not(None))
        .order_by(Competition.starts_on, Competition.id)
        .limit(FEED_LIMIT)
    )
    items = await _items(session, list(await session.scalars(stmt)))
    stamp = utc_stamp(datetime.now(UTC))
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Shandong Skills//Competitions calendar//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text('山东省职工技能竞赛日历')}",
    ]
    for item in items:
        assert item.starts_on is not None
        end = (item.ends_on or item.starts_on) + timedelta(days=1)  # DTEND is exclusive
        about = [_level_words(item)]
        for e in item.events:
            about.append(f"{e.name}:")
            about += [f"  ← {r.competition_name} {r.event_name} ({r.quota})" for r in e.fed_by]
            about += [f"  → {r.competition_name} {r.event_name}" for r in e.feeds]
        lines += [
            "BEGIN:VEVENT",
            f"UID:{item.competition_id}@competitions.shandong-skills.example",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{item.starts_on:%Y%m%d}",
            f"DTEND;VALUE=DATE:{end:%Y%m%d}",
            f"SUMMARY:{escape_text(item.name)}",
            f"CATEGORIES:{item.level.value}",
            f"STATUS:{'CANCELLED' if item.status is CompetitionStatus.archived else 'CONFIRMED'}",
            f"DESCRIPTION:{escape_text(chr(10).join(about))}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold_line(line) + "\r\n" for line in lines)


def _open_now(competition: Competition, now: datetime) -> bool:
    opens, closes = competition.registration_opens_at, competition.registration_closes_at
    return (
        competition.status is CompetitionStatus.registration_open
        and (opens is None or opens <= now)
        and (closes is None or now <= closes)
    )


async def open_to_me(
    session: AsyncSession,
    registry: RegistryClient,
    token: str,
    worker_id: uuid.UUID,
    *,
    limit: int,
    cursor: str | None,
) -> Page[schemas.OpenEvent]:
    """Each upcoming event with the worker's verdict. One registry call (the worker's facts),
    a fixed number of queries per page."""
    rows, next_cursor = await keyset_rows(
        session,
        select(Event, Competition)
        .join(Competition, Competition.id == Event.competition_id)
        .where(Competition.status.in_(UPCOMING)),
        order_by=[Event.created_at, Event.id],
        limit=limit,
        cursor=cursor,
        key=lambda r: (r[0].created_at, r[0].id),
    )
    if not rows:
        return Page[schemas.OpenEvent](items=[], next_cursor=next_cursor)
    events = [(r[0], r[1]) for r in rows]
    event_ids = [e.id for e, _ in events]
    competition_ids = list({c.id for _, c in events})
    pathways = {
        p.event_id: p
        for p in await session.scalars(
            select(EventPathway).where(EventPathway.event_id.in_(event_ids))
        )
    }
    fed_by, _ = await links(session, event_ids)
    qualifier_events = {r.event_id for refs in fed_by.values() for r in refs}
    entered = {
        e.event_id: e.competition_id
        for e in await session.scalars(
            select(Entry).where(
                Entry.worker_id == worker_id,
                Entry.status.in_(LIVE),
                Entry.event_id.in_([*event_ids, *qualifier_events]),
            )
        )
    }
    in_competition = set(entered.values())
    nominated = {
        n.event_id: n
        for n in await session.scalars(
            select(Nomination).where(
                Nomination.worker_id == worker_id,
                Nomination.competition_id.in_(competition_ids),
                Nomination.status.in_(LIVE_NOMINATIONS),
            )
        )
    }
    placed = set(
        await session.scalars(
            select(DirectPlace.competition_id).where(
                DirectPlace.worker_id == worker_id,
                DirectPlace.competition_id.in_(competition_ids),
            )
        )
    )
    taken = in_competition | placed | {n.competition_id for n in nominated.values()}
    facts, missing = await fetch_facts(registry, token, [Candidate(members=[worker_id])])
    now = datetime.now(UTC)
    items = []
    for event, competition in events:
        item = schemas.OpenEvent(
            event_id=event.id,
            event_name=event.name,
            occupation=event.occupation,
            competition_id=competition.id,
            competition_name=competition.name,
            level=competition.level,
            competition_status=competition.status,
            starts_on=competition.starts_on,
            verdict="cannot",
        )
        items.append(item)
        if event.id in entered:
            item.verdict = "entered"
            continue
        if event.id in nominated:
            item.verdict = "nominated"
            continue
        reasons = item.reasons
        if competition.id in taken:
            reasons.append(
                schemas.OpenEventReason(
                    rule="already_qualified",
                    message="you already compete in another event of this competition",
                )
            )
        candidate = Candidate(members=[worker_id])
        evaluate(event, competition, candidate, facts, missing)
        reasons += [
            schemas.OpenEventReason(rule=f.rule, message=f.message) for f in candidate.failures
        ]
        pathway = pathways.get(event.id)
        registration = pathway is None or pathway.open_registration
        through = [r for r in fed_by[event.id] if r.event_id in entered]
        if not registration and not fed_by[event.id]:
            reasons.append(
                schemas.OpenEventReason(
                    rule="nomination_only", message="places are given directly only"
                )
            )
        if registration and not _open_now(competition, now):
            reasons.append(
                schemas.OpenEventReason(
                    rule="registration_closed",
                    message=f"registration is not open (the competition is "
                    f"{competition.status.value})",
                )
            )
        if fed_by[event.id] and not through:
            names = "; ".join(f"{r.competition_name} {r.event_name}" for r in fed_by[event.id])
            reasons.append(
                schemas.OpenEventReason(
                    rule="not_in_qualifier",
                    message=f"places come through qualifiers you do not compete in: {names}",
                )
            )
        if through and not nominations_open(pathway, now):
            reasons.append(
                schemas.OpenEventReason(
                    rule="nominations_closed", message="nominations have closed"
                )
            )
        blocking = {"already_qualified"} | {f.rule for f in candidate.failures}
        if blocking & {r.rule for r in reasons}:
            continue
        if registration and _open_now(competition, now):
            item.verdict, item.reasons = "can_enter", []
        elif through and nominations_open(pathway, now):
            item.verdict, item.through, item.reasons = "can_be_nominated", through, []
    return Page[schemas.OpenEvent](items=items, next_cursor=next_cursor)
