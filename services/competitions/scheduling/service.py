"""Venues, workstations, sessions; the stage scheduler, manual moves and schedule releases.

Every schedule write takes the stage row `FOR UPDATE` and a transaction-level advisory lock on
the competition, because a worker's clash spans the stages of all events of a competition: two
stages must not be scheduled (or moved into) at the same moment with the same worker.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.competitions.access import check_organiser_scope
from services.competitions.scheduling import schemas, solver
from shared import audit, clock, outbox
from shared.auth.principal import Principal, Role
from shared.concurrency import check_if_match_tag
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from shared.models.competitions import (
    Competition,
    Entry,
    EntryMember,
    EntryStatus,
    Event,
    ScheduleRelease,
    ScheduleSlot,
    Stage,
    StageEntry,
    StageEntryStatus,
    StageSession,
    StageStatus,
    Venue,
    Workstation,
)
from shared.pagination import Page, paginate

SERVICE = "competitions"
#: Entries the scheduler places: approved, or already checked in on the day.
SCHEDULABLE = (EntryStatus.approved, EntryStatus.checked_in)
#: As for stage entries: until judging locks the stage, only admins see which entry is which.
REVEALED = (StageStatus.judged, StageStatus.advanced)


def _reveals(principal: Principal, stage: Stage) -> bool:
    return principal.role is Role.admin or stage.status in REVEALED


def _local(moment: datetime) -> str:
    return clock.local(moment).strftime("%Y-%m-%d %H:%M")


# --- loading and authorising -------------------------------------------------------------------


async def _competition(session: AsyncSession, competition_id: uuid.UUID) -> Competition:
    competition = await session.get(Competition, competition_id)
    if competition is None:
        raise NotFound(f"No competition with id {competition_id}.")
    return competition


async def authorise(session: AsyncSession, principal: Principal, competition_id: uuid.UUID) -> None:
    """Admins, and organisers whose scope covers the competition's organising locality."""
    if principal.role not in (Role.admin, Role.organiser):
        raise Forbidden(f"Role {principal.role.value} may not do this (allowed: admin, organiser).")
    check_organiser_scope(principal, await _competition(session, competition_id))


async def _venue(session: AsyncSession, venue_id: uuid.UUID) -> Venue:
    venue = await session.get(Venue, venue_id)
    if venue is None:
        raise NotFound(f"No venue with id {venue_id}.")
    return venue


async def _stage(session: AsyncSession, stage_id: uuid.UUID, *, lock: bool = False) -> Stage:
    stmt = select(Stage).where(Stage.id == stage_id)
    if lock:
        stmt = stmt.with_for_update()
    stage = await session.scalar(stmt)
    if stage is None:
        raise NotFound(f"No stage with id {stage_id}.")
    if lock:
        # Serialise schedule writes across the competition (clashes span its stages).
        key = func.hashtextextended(f"schedule:{stage.competition_id}", 0)
        await session.execute(select(func.pg_advisory_xact_lock(key)))
    return stage


async def authorised_stage(
    session: AsyncSession, principal: Principal, stage_id: uuid.UUID, *, lock: bool = False
) -> Stage:
    stage = await _stage(session, stage_id)
    await authorise(session, principal, stage.competition_id)
    if lock:
        stage = await _stage(session, stage_id, lock=True)
    return stage


# --- venues, workstations, sessions -------------------------------------------------------------


async def create_venue(
    session: AsyncSession,
    competition: Competition,
    data: schemas.VenueCreate,
    principal: Principal,
) -> Venue:
    """`competition`: checked by the route (`scope.ManagedCompetition`)."""
    venue = Venue(competition_id=competition.id, **data.model_dump())
    await audit.add_created(
        session,
        venue,
        service=SERVICE,
        principal=principal,
        action="venue.create",
        entity_type="venue",
        after=lambda: schemas.Venue.model_validate(venue).model_dump(mode="json"),
    )
    return venue


async def list_venues(
    session: AsyncSession, competition_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[schemas.Venue]:
    return await paginate(
        session,
        select(Venue).where(Venue.competition_id == competition_id),
        order_by=[Venue.created_at, Venue.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Venue.model_validate,
    )


async def create_workstations(
    session: AsyncSession,
    venue_id: uuid.UUID,
    data: schemas.WorkstationBatchCreate,
    principal: Principal,
) -> list[Workstation]:
    venue = await _venue(session, venue_id)
    await authorise(session, principal, venue.competition_id)
    # Lock the venue so two batches cannot both pass the duplicate check.
    await session.execute(select(Venue.id).where(Venue.id == venue_id).with_for_update())
    codes = [w.code for w in data.workstations]
    repeated = sorted(c for c, n in Counter(codes).items() if n > 1)
    existing = sorted(
        (
            await session.scalars(
                select(Workstation.code).where(
                    Workstation.venue_id == venue_id, Workstation.code.in_(codes)
                )
            )
        ).all()
    )
    if repeated or existing:
        parts = []
        if repeated:
            parts.append(f"repeated in the request: {', '.join(repeated)}")
        if existing:
            parts.append(f"already at this venue: {', '.join(existing)}")
        raise Conflict(
            "Workstation codes are unique per venue; " + "; ".join(parts) + ". Nothing was added.",
            duplicates=sorted(set(repeated) | set(existing)),
        )
    stations = [Workstation(venue_id=venue_id, **w.model_dump()) for w in data.workstations]
    session.add_all(stations)
    await session.flush()
    for station in stations:
        await session.refresh(station)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="workstation.create_batch",
        entity_type="venue",
        entity_id=venue_id,
        after={"workstations": [{"code": w.code, "occupation": w.occupation} for w in stations]},
    )
    return stations


async def list_workstations(
    session: AsyncSession, venue_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[schemas.Workstation]:
    await _venue(session, venue_id)
    return await paginate(
        session,
        select(Workstation).where(Workstation.venue_id == venue_id),
        order_by=[Workstation.code, Workstation.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Workstation.model_validate,
    )


async def create_session(
    session: AsyncSession, stage_id: uuid.UUID, data: schemas.SessionCreate, principal: Principal
) -> StageSession:
    stage = await authorised_stage(session, principal, stage_id)
    if data.ends_at <= data.starts_at:
        raise InvalidInput(
            "A session must end after it starts.",
            errors=[FieldError(field="ends_at", message="must be after starts_at")],
        )
    venue = await session.get(Venue, data.venue_id)
    if venue is None or venue.competition_id != stage.competition_id:
        raise InvalidInput(
            f"Venue {data.venue_id} is not a venue of this stage's competition.",
            errors=[FieldError(field="venue_id", message="not a venue of this competition")],
        )
    row = StageSession(stage_id=stage_id, **data.model_dump())
    await audit.add_created(
        session,
        row,
        service=SERVICE,
        principal=principal,
        action="stage_session.create",
        entity_type="stage_session",
        after=lambda: schemas.Session.model_validate(row).model_dump(mode="json"),
    )
    return row


async def list_sessions(
    session: AsyncSession, stage_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[schemas.Session]:
    await _stage(session, stage_id)
    return await paginate(
        session,
        select(StageSession).where(StageSession.stage_id == stage_id),
        order_by=[StageSession.starts_at, StageSession.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Session.model_validate,
    )


# --- who sits where ----------------------------------------------------------------------------


async def _workers_of(
    session: AsyncSession, entry_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    """Every worker of each entry: the competitor or leader, and the active team members."""
    ids = list(entry_ids)
    found: dict[uuid.UUID, set[uuid.UUID]] = {e: set() for e in ids}
    if not ids:
        return {}
    for entry_id, worker_id in await session.execute(
        select(Entry.id, Entry.worker_id).where(Entry.id.in_(ids))
    ):
        if worker_id is not None:
            found[entry_id].add(worker_id)
    for entry_id, worker_id in await session.execute(
        select(EntryMember.entry_id, EntryMember.worker_id).where(
            EntryMember.entry_id.in_(ids), EntryMember.active.is_(True)
        )
    ):
        found[entry_id].add(worker_id)
    return {e: frozenset(ws) for e, ws in found.items()}


async def _busy(
    session: AsyncSession,
    competition_id: uuid.UUID,
    workers: set[uuid.UUID],
    *,
    exclude_stage_id: uuid.UUID | None = None,
    exclude_stage_entry_id: uuid.UUID | None = None,
) -> dict[uuid.UUID, list[solver.Interval]]:
    """The time each of `workers` already sits in a slot anywhere in the competition."""
    if not workers:
        return {}
    members = select(EntryMember.entry_id).where(
        EntryMember.worker_id.in_(workers), EntryMember.active.is_(True)
    )
    stmt = (
        select(StageEntry.id, StageEntry.entry_id, StageEntry.blind_code, StageSession)
        .join(ScheduleSlot, ScheduleSlot.stage_entry_id == StageEntry.id)
        .join(StageSession, StageSession.id == ScheduleSlot.session_id)
        .join(Entry, Entry.id == StageEntry.entry_id)
        .where(
            Entry.competition_id == competition_id,
            or_(Entry.worker_id.in_(workers), Entry.id.in_(members)),
        )
    )
    if exclude_stage_id is not None:
        stmt = stmt.where(StageEntry.stage_id != exclude_stage_id)
    if exclude_stage_entry_id is not None:
        stmt = stmt.where(StageEntry.id != exclude_stage_entry_id)
    rows = (await session.execute(stmt)).all()
    entry_workers = await _workers_of(session, {r[1] for r in rows})
    busy: dict[uuid.UUID, list[solver.Interval]] = defaultdict(list)
    for stage_entry_id, entry_id, blind_code, s in rows:
        label = (
            f"session {s.id} ({_local(s.starts_at)}–{_local(s.ends_at)} Asia/Shanghai) as stage "
            f"entry {stage_entry_id}" + (f" ({blind_code})" if blind_code else "")
        )
        for worker in entry_workers.get(entry_id, frozenset()) & workers:
            busy[worker].append(solver.Interval(s.starts_at, s.ends_at, label))
    return busy


async def _station_busy(
    session: AsyncSession,
    station_ids: Iterable[uuid.UUID],
    *,
    exclude_stage_id: uuid.UUID | None = None,
    exclude_stage_entry_id: uuid.UUID | None = None,
) -> dict[uuid.UUID, list[solver.Interval]]:
    """The time each workstation is already used (by other stages sharing the venue)."""
    ids = list(station_ids)
    if not ids:
        return {}
    stmt = (
        select(ScheduleSlot.workstation_id, StageEntry.id, StageEntry.blind_code, StageSession)
        .join(StageEntry, StageEntry.id == ScheduleSlot.stage_entry_id)
        .join(StageSession, StageSession.id == ScheduleSlot.session_id)
        .where(ScheduleSlot.workstation_id.in_(ids))
    )
    if exclude_stage_id is not None:
        stmt = stmt.where(StageEntry.stage_id != exclude_stage_id)
    if exclude_stage_entry_id is not None:
        stmt = stmt.where(StageEntry.id != exclude_stage_entry_id)
    busy: dict[uuid.UUID, list[solver.Interval]] = defaultdict(list)
    for station_id, stage_entry_id, blind_code, s in await session.execute(stmt):
        label = (
            f"session {s.id} ({_local(s.starts_at)}–{_local(s.ends_at)} Asia/Shanghai) by stage "
            f"entry {stage_entry_id}" + (f" ({blind_code})" if blind_code else "")
        )
        busy[station_id].append(solver.Interval(s.starts_at, s.ends_at, label))
    return busy


async def _slots(
    session: AsyncSession, stage_id: uuid.UUID, *, reveal: bool = False
) -> list[schemas.Slot]:
    rows = await session.execute(
        select(ScheduleSlot, StageEntry, StageSession, Workstation)
        .join(StageEntry, StageEntry.id == ScheduleSlot.stage_entry_id)
        .join(StageSession, StageSession.id == ScheduleSlot.session_id)
        .join(Workstation, Workstation.id == ScheduleSlot.workstation_id)
        .where(StageEntry.stage_id == stage_id)
        .order_by(StageSession.starts_at, StageSession.id, Workstation.code)
    )
    return [
        schemas.Slot(
            stage_entry_id=se.id,
            entry_id=se.entry_id if reveal else None,
            blind_code=se.blind_code,
            session_id=s.id,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            venue_id=s.venue_id,
            workstation_id=w.id,
            workstation_code=w.code,
        )
        for _slot, se, s, w in rows
    ]


async def _inputs(
    session: AsyncSession, stage: Stage
) -> tuple[
    str,
    list[solver.Session],
    list[solver.Station],
    dict[uuid.UUID, uuid.UUID],
    dict[uuid.UUID, frozenset[uuid.UUID]],
]:
    """The stage's occupation, sessions, workstations, stage entry -> entry, and workers."""
    event = await session.get(Event, stage.event_id)
    if event is None:  # pragma: no cover - a foreign key guarantees it
        raise NotFound(f"No event with id {stage.event_id}.")
    sessions = [
        solver.Session(s.id, s.venue_id, s.starts_at, s.ends_at)
        for s in await session.scalars(
            select(StageSession).where(StageSession.stage_id == stage.id)
        )
    ]
    stations = [
        solver.Station(w.id, w.venue_id, w.code, w.occupation)
        for w in await session.scalars(
            select(Workstation).where(Workstation.venue_id.in_({s.venue_id for s in sessions}))
        )
    ]
    pairs = (
        await session.execute(
            select(StageEntry.id, StageEntry.entry_id)
            .join(Entry, Entry.id == StageEntry.entry_id)
            .where(
                StageEntry.stage_id == stage.id,
                StageEntry.status == StageEntryStatus.active,
                Entry.status.in_(SCHEDULABLE),
            )
        )
    ).all()
    entry_of = {se: e for se, e in pairs}
    workers = await _workers_of(session, entry_of.values())
    return (
        event.occupation,
        sessions,
        stations,
        entry_of,
        {se: workers[e] for se, e in entry_of.items()},
    )


# --- the schedule's ETag ------------------------------------------------------------------------


def schedule_etag(slots: Iterable[schemas.Slot]) -> str:
    """A digest of who sits where: any change to the stage's slots changes it."""
    lines = sorted(f"{s.stage_entry_id}:{s.session_id}:{s.workstation_id}" for s in slots)
    return '"' + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:20] + '"'


def _ensure_match(if_match: str | None, slots: list[schemas.Slot]) -> None:
    """`If-Match`: refuse a change based on a schedule that has changed since it was read (a
    stage with no schedule yet has nothing to match)."""
    check_if_match_tag(if_match, schedule_etag(slots), exists=bool(slots))


# --- the scheduler -------------------------------------------------------------------------------


async def get_schedule(
    session: AsyncSession, stage_id: uuid.UUID, principal: Principal
) -> schemas.Schedule:
    stage = await authorised_stage(session, principal, stage_id)
    slots = await _slots(session, stage_id, reveal=_reveals(principal, stage))
    occupation, sessions, stations, _, entries = await _inputs(session, stage)
    return schemas.Schedule(
        stage_id=stage_id,
        slots=slots,
        sessions_used=len({s.session_id for s in slots}),
        sessions_lower_bound=solver.lower_bound(len(entries), sessions, stations, occupation),
    )


async def schedule_stage(
    session: AsyncSession, stage_id: uuid.UUID, principal: Principal, if_match: str | None = None
) -> schemas.Schedule:
    """Place every schedulable entry of the stage, replacing its working schedule at once."""
    stage = await authorised_stage(session, principal, stage_id, lock=True)
    _ensure_match(if_match, await _slots(session, stage.id))
    occupation, sessions, stations, _, entries = await _inputs(session, stage)
    places = solver.capacity(sessions, stations, occupation)
    if len(entries) > places:
        matching = sum(1 for w in stations if w.occupation == occupation)
        raise Conflict(
            f"{len(entries)} entries but only {places} places: {len(sessions)} session(s) × the "
            f"workstations for {occupation} at their venues ({matching} in all). "
            f"{len(entries) - places} entries could not be placed; add sessions or workstations.",
            unplaced_count=len(entries) - places,
        )
    all_workers = set().union(*entries.values()) if entries else set()
    busy = await _busy(session, stage.competition_id, all_workers, exclude_stage_id=stage.id)
    station_busy = await _station_busy(session, (w.id for w in stations), exclude_stage_id=stage.id)
    result = solver.place(entries, sessions, stations, occupation, busy, station_busy)
    if result.unplaced:
        reasons = Counter(result.unplaced.values())
        raise Conflict(
            f"{len(result.unplaced)} of {len(entries)} entries could not be placed: "
            + "; ".join(f"{n} because {why}" for why, n in reasons.most_common())
            + ". Nothing was changed.",
            unplaced_count=len(result.unplaced),
            unplaced=[
                {"stage_entry_id": str(e), "reason": why} for e, why in result.unplaced.items()
            ],
        )
    problems = solver.check(
        result.placements, entries, sessions, stations, occupation, busy, station_busy
    )
    if problems:  # a scheduler bug: refuse to write rather than store a clash
        raise RuntimeError("The scheduler produced an invalid schedule: " + "; ".join(problems))
    before = await session.scalar(
        select(func.count())
        .select_from(ScheduleSlot)
        .join(StageEntry, StageEntry.id == ScheduleSlot.stage_entry_id)
        .where(StageEntry.stage_id == stage.id)
    )
    await session.execute(
        delete(ScheduleSlot).where(
            ScheduleSlot.stage_entry_id.in_(
                select(StageEntry.id).where(StageEntry.stage_id == stage.id)
            )
        )
    )
    session.add_all(
        ScheduleSlot(
            stage_entry_id=p.entry_id, session_id=p.session_id, workstation_id=p.station_id
        )
        for p in result.placements
    )
    await session.flush()
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="schedule.generate",
        entity_type="stage",
        entity_id=stage.id,
        before={"slots": before},
        after={
            "slots": len(result.placements),
            "sessions_used": result.sessions_used,
            "sessions_lower_bound": result.lower_bound,
        },
    )
    return schemas.Schedule(
        stage_id=stage.id,
        slots=await _slots(session, stage.id, reveal=_reveals(principal, stage)),
        sessions_used=result.sessions_used,
        sessions_lower_bound=result.lower_bound,
    )


async def move_slot(
    session: AsyncSession,
    stage_entry_id: uuid.UUID,
    data: schemas.SlotMove,
    principal: Principal,
    if_match: str | None = None,
) -> tuple[schemas.Slot, str]:
    """Move one entry; answers the slot and the schedule's new ETag."""
    stage_entry = await session.get(StageEntry, stage_entry_id)
    if stage_entry is None:
        raise NotFound(f"No stage entry with id {stage_entry_id}.")
    stage = await authorised_stage(session, principal, stage_entry.stage_id, lock=True)
    _ensure_match(if_match, await _slots(session, stage.id))
    entry = await session.get(Entry, stage_entry.entry_id)
    assert entry is not None  # a foreign key guarantees it
    if stage_entry.status is not StageEntryStatus.active or entry.status not in SCHEDULABLE:
        raise Conflict(
            f"Stage entry {stage_entry_id} is not schedulable (stage entry {stage_entry.status}, "
            f"entry {entry.status}); only active stage entries of approved or checked-in entries "
            "get a slot."
        )
    target = await session.get(StageSession, data.session_id)
    if target is None or target.stage_id != stage.id:
        raise InvalidInput(
            f"Session {data.session_id} is not a session of this entry's stage.",
            errors=[FieldError(field="session_id", message="not a session of this stage")],
        )
    station = await session.get(Workstation, data.workstation_id)
    if station is None or station.venue_id != target.venue_id:
        raise InvalidInput(
            f"Workstation {data.workstation_id} is not at the venue of session {target.id}.",
            errors=[FieldError(field="workstation_id", message="not at the session's venue")],
        )
    event = await session.get(Event, stage.event_id)
    assert event is not None
    if station.occupation != event.occupation:
        raise Conflict(
            f"Wrong occupation: workstation {station.code} is for {station.occupation}, but the "
            f"event's occupation is {event.occupation}.",
            clash="occupation",
        )
    holder = (
        await session.execute(
            select(StageEntry)
            .join(ScheduleSlot, ScheduleSlot.stage_entry_id == StageEntry.id)
            .where(
                ScheduleSlot.session_id == target.id,
                ScheduleSlot.workstation_id == station.id,
                StageEntry.id != stage_entry.id,
            )
        )
    ).scalar_one_or_none()
    if holder is not None:
        raise Conflict(
            f"Workstation {station.code} is already taken in session {target.id} by stage entry "
            f"{holder.id}" + (f" (blind code {holder.blind_code})." if holder.blind_code else "."),
            clash="workstation",
            other_stage_entry_id=str(holder.id),
        )
    station_busy = await _station_busy(session, [station.id], exclude_stage_entry_id=stage_entry.id)
    for interval in station_busy.get(station.id, []):
        if solver.overlaps(interval.starts_at, interval.ends_at, target.starts_at, target.ends_at):
            raise Conflict(
                f"Workstation {station.code} is already used in {interval.label}, which overlaps "
                f"session {target.id} ({_local(target.starts_at)}–{_local(target.ends_at)}).",
                clash="workstation",
            )
    workers = (await _workers_of(session, [entry.id]))[entry.id]
    busy = await _busy(
        session, stage.competition_id, set(workers), exclude_stage_entry_id=stage_entry.id
    )
    for worker in sorted(busy, key=str):
        for interval in busy[worker]:
            if solver.overlaps(
                interval.starts_at, interval.ends_at, target.starts_at, target.ends_at
            ):
                raise Conflict(
                    f"Worker {worker} already sits in {interval.label}, which overlaps session "
                    f"{target.id} ({_local(target.starts_at)}–{_local(target.ends_at)}).",
                    clash="worker",
                    worker_id=str(worker),
                )
    slot = await session.scalar(
        select(ScheduleSlot).where(ScheduleSlot.stage_entry_id == stage_entry.id)
    )
    before: dict[str, Any] | None = None
    if slot is None:
        slot = ScheduleSlot(
            stage_entry_id=stage_entry.id, session_id=target.id, workstation_id=station.id
        )
        session.add(slot)
    else:
        before = {"session_id": str(slot.session_id), "workstation_id": str(slot.workstation_id)}
        slot.session_id, slot.workstation_id = target.id, station.id
    await session.flush()
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="schedule_slot.move",
        entity_type="stage_entry",
        entity_id=stage_entry.id,
        before=before,
        after={"session_id": str(target.id), "workstation_id": str(station.id)},
    )
    moved = schemas.Slot(
        stage_entry_id=stage_entry.id,
        entry_id=entry.id if _reveals(principal, stage) else None,
        blind_code=stage_entry.blind_code,
        session_id=target.id,
        starts_at=target.starts_at,
        ends_at=target.ends_at,
        venue_id=target.venue_id,
        workstation_id=station.id,
        workstation_code=station.code,
    )
    return moved, schedule_etag(await _slots(session, stage.id))


# --- releases ------------------------------------------------------------------------------------


def release_schema(release: ScheduleRelease) -> schemas.Release:
    return schemas.Release(
        id=release.id,
        stage_id=release.stage_id,
        version=release.version,
        slot_count=len(release.snapshot),
        published_by=release.published_by,
        published_at=release.published_at,
        slots=[schemas.ReleasedSlot.model_validate(s) for s in release.snapshot],
    )


async def publish_release(
    session: AsyncSession, stage_id: uuid.UUID, principal: Principal
) -> schemas.Release:
    stage = await authorised_stage(session, principal, stage_id, lock=True)
    slots = await _slots(session, stage.id, reveal=True)
    if not slots:
        raise Conflict("The stage has no schedule to publish; run the scheduler first.")
    venues = {
        v.id: v.name
        for v in await session.scalars(
            select(Venue).where(Venue.id.in_({s.venue_id for s in slots}))
        )
    }
    snapshot = [
        schemas.ReleasedSlot(
            code=s.blind_code or str(s.entry_id),  # no blind code: nothing to keep blind
            session_id=s.session_id,
            starts_at=s.starts_at,
            ends_at=s.ends_at,
            venue_id=s.venue_id,
            venue_name=venues[s.venue_id],
            workstation_code=s.workstation_code,
        ).model_dump(mode="json")
        for s in slots
    ]
    last = await session.scalar(
        select(func.max(ScheduleRelease.version)).where(ScheduleRelease.stage_id == stage.id)
    )
    release = ScheduleRelease(
        stage_id=stage.id, version=(last or 0) + 1, snapshot=snapshot, published_by=principal.sub
    )
    session.add(release)
    await session.flush()
    await session.refresh(release)
    organiser: str = (
        await session.execute(
            select(Competition.organiser_locality_code).where(
                Competition.id == stage.competition_id
            )
        )
    ).scalar_one()
    data = {
        **outbox.competition_scope(
            competition_id=stage.competition_id,
            organiser_locality_code=organiser,
            event_id=stage.event_id,
            stage_id=stage.id,
        ),
        "version": release.version,
        "slot_count": len(snapshot),
    }
    outbox.emit(
        session, service=SERVICE, type="schedule.published", subject=f"stage:{stage.id}", data=data
    )
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="schedule.publish",
        entity_type="schedule_release",
        entity_id=release.id,
        after=data,
    )
    return release_schema(release)


async def list_releases(
    session: AsyncSession, stage_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[schemas.ReleaseSummary]:
    await _stage(session, stage_id)
    return await paginate(
        session,
        select(ScheduleRelease).where(ScheduleRelease.stage_id == stage_id),
        order_by=[ScheduleRelease.version, ScheduleRelease.id],
        limit=limit,
        cursor=cursor,
        transform=lambda r: schemas.ReleaseSummary(
            id=r.id,
            stage_id=r.stage_id,
            version=r.version,
            slot_count=len(r.snapshot),
            published_by=r.published_by,
            published_at=r.published_at,
        ),
    )


def blind_release(principal: Principal, release: ScheduleRelease) -> ScheduleRelease:
    """The release as `principal` may read it. Judges get blind codes only: a workstation next
    to a code would let anyone at the venue match the code to the person sitting there, so
    their copy has no workstations and lists each session's codes in code order (a detached
    copy: the stored release is never changed)."""
    if principal.role is not Role.judge:
        return release
    slots = [{**slot, "workstation_code": None} for slot in release.snapshot]
    slots.sort(key=lambda slot: (slot["starts_at"], slot["session_id"], slot["code"]))
    return ScheduleRelease(
        id=release.id,
        stage_id=release.stage_id,
        version=release.version,
        snapshot=slots,
        published_by=release.published_by,
        published_at=release.published_at,
    )


async def get_release(
    session: AsyncSession, stage_id: uuid.UUID, version: int
) -> tuple[Stage, ScheduleRelease]:
    stage = await _stage(session, stage_id)
    release = await session.scalar(
        select(ScheduleRelease).where(
            ScheduleRelease.stage_id == stage_id, ScheduleRelease.version == version
        )
    )
    if release is None:
        raise NotFound(f"Stage {stage_id} has no schedule release {version}.")
    return stage, release
