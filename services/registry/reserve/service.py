"""The craftsman reserve: nominating workers, the province's decision, plans, leaving, targets.

The lifecycle: an enterprise or a locality nominates a worker of its scope (`nominated`), the
province confirms (`confirmed`: the worker is in the pool from `confirmed_on`) or declines
(`declined`, with a reason), and a member leaves with a reason (`left`). A worker has one open
(nominated or confirmed) membership at a time: nominating locks the worker's row and looks
for one, and a partial unique index backs the check. Joining and leaving are written on the
worker's talent file; every change is audited and sent as a `reserve.*` webhook carrying the
worker's `locality_code`.

Every write here takes the membership through `access.ManagedMember` (locked, in scope) or
checks the worker's scope itself (`nominate`), and a worker outside the caller's scope is
refused with the words an unknown id gets.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from services.registry.reserve import schemas
from services.registry.reserve.access import ensure_province, load_member
from services.registry.talent import timeline
from services.registry.talent.access import WorkerScope, can_manage, can_view, reads_all
from shared import audit, clock
from shared.auth.principal import Principal, Role
from shared.concurrency import check_if_match, check_transition_if_match
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound, RuleViolation
from shared.models.registry import (
    FileStatus,
    Locality,
    LocalityLevel,
    Mentorship,
    NominatingBody,
    ReserveMember,
    ReservePlanProgramme,
    ReserveStatus,
    ReserveTarget,
    ReserveTrack,
    TimelineKind,
    TrainingProgramme,
    Worker,
)
from shared.pagination import Page, keyset_rows
from shared.scope import PROVINCE, describe, locality_clause, locality_covers

#: The lifecycle: which statuses each status may move to.
TRANSITIONS: dict[ReserveStatus, tuple[ReserveStatus, ...]] = {
    ReserveStatus.nominated: (ReserveStatus.confirmed, ReserveStatus.declined),
    ReserveStatus.confirmed: (ReserveStatus.left,),
    ReserveStatus.declined: (),
    ReserveStatus.left: (),
}
OPEN_STATUSES = (ReserveStatus.nominated, ReserveStatus.confirmed)

TRACK_NAMES = {
    ReserveTrack.craftsman_reserve: "百万工匠后备人才",
    ReserveTrack.qilu_craftsman: "齐鲁工匠后备人选",
    ReserveTrack.qilu_chief_technician: "齐鲁首席技师后备人选",
    ReserveTrack.technical_skills_master: "技术技能大师后备人选",
}


def today() -> date:
    """Today where the programme runs (`shared.clock`)."""
    return clock.today()


def _snapshot(m: ReserveMember, programme_ids: list[uuid.UUID] | None = None) -> dict[str, Any]:
    return {
        "worker_id": str(m.worker_id),
        "track": m.track.value,
        "status": m.status.value,
        "nomination_reason": m.nomination_reason,
        "nominating_body": m.nominating_body.value,
        "nominating_enterprise_id": (
            str(m.nominating_enterprise_id) if m.nominating_enterprise_id else None
        ),
        "nominating_locality_code": m.nominating_locality_code,
        "grade_at_nomination": m.grade_at_nomination.value,
        "nominated_on": m.nominated_on.isoformat(),
        "confirmed_on": m.confirmed_on.isoformat() if m.confirmed_on else None,
        "declined_on": m.declined_on.isoformat() if m.declined_on else None,
        "decline_reason": m.decline_reason,
        "left_on": m.left_on.isoformat() if m.left_on else None,
        "leave_reason": m.leave_reason,
        "mentor_id": str(m.mentor_id) if m.mentor_id else None,
        "mentorship_id": str(m.mentorship_id) if m.mentorship_id else None,
        "programme_ids": [str(p) for p in programme_ids] if programme_ids is not None else None,
        "target_grade": m.target_grade.value if m.target_grade else None,
        "target_competition_ids": [str(c) for c in m.target_competition_ids or []],
        "review_on": m.review_on.isoformat() if m.review_on else None,
        "plan_notes": m.plan_notes,
        "version": m.version,
    }


def _record_change(
    session: AsyncSession,
    principal: Principal,
    action: str,
    member: ReserveMember,
    before: dict[str, Any] | None,
    programme_ids: list[uuid.UUID] | None = None,
    *,
    event: str | None = None,
    worker: Worker | None = None,
    notes: list[timeline.Note] | None = None,
) -> None:
    """A change of a membership: on the talent file (`notes`), in the audit log and, with
    `event`, in the outbox (for `worker`, the member)."""
    data = None
    if event is not None:
        assert worker is not None
        data = {
            "member_id": str(member.id),
            "worker_id": str(worker.id),
            # The worker's locality: a city's subscription hears of its workers' memberships.
            "locality_code": worker.locality_code,
            "enterprise_id": str(worker.enterprise_id) if worker.enterprise_id else None,
            "track": member.track.value,
            "status": member.status.value,
            "nominating_locality_code": member.nominating_locality_code,
            "nominating_enterprise_id": (
                str(member.nominating_enterprise_id) if member.nominating_enterprise_id else None
            ),
        }
    timeline.record_change(
        session,
        principal,
        notes=notes or [],
        action=action,
        entity_type="reserve_member",
        entity_id=member.id,
        before=before,
        after=_snapshot(member, programme_ids),
        event=event,
        subject=f"reserve-members/{member.id}",
        event_data=data,
    )


def _at(day: date) -> datetime:
    """A timeline time for an event dated `day`: now if today, else the start of that day."""
    now = clock.local(clock.now())
    return now if day == now.date() else clock.start_of(day)


def _ensure_transition(member: ReserveMember, target: ReserveStatus) -> None:
    allowed = TRANSITIONS[member.status]
    if target not in allowed:
        names = ", ".join(s.value for s in allowed) or "nothing (it is final)"
        raise Conflict(
            f"A {member.status.value} membership cannot become {target.value}; from "
            f"{member.status.value} it may go to: {names}.",
            current_status=member.status.value,
            allowed=[s.value for s in allowed],
        )


def _day(value: date | None, field: str, *, not_before: date, what: str) -> date:
    day = value or today()
    if day > today():
        raise InvalidInput(
            f"{field} cannot be in the future.",
            errors=[FieldError(field=field, message="must not be after today")],
        )
    if day < not_before:
        raise InvalidInput(
            f"{field} {day} is before {what} ({not_before}).",
            errors=[FieldError(field=field, message=f"must be on or after {not_before}")],
        )
    return day


async def programme_ids_of(session: AsyncSession, member_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(ReservePlanProgramme.programme_id)
        .where(ReservePlanProgramme.member_id == member_id)
        .order_by(ReservePlanProgramme.position)
    )
    return list(rows)


async def present(session: AsyncSession, member: ReserveMember) -> schemas.ReserveMember:
    return schemas.ReserveMember.of(member, await programme_ids_of(session, member.id))


async def _reload(session: AsyncSession, member_id: uuid.UUID) -> ReserveMember:
    member = await load_member(session, member_id)
    assert member is not None  # written in this transaction
    return member


# --- nominating and deciding ------------------------------------------------------------------


def _unknown_worker(field: str) -> RuleViolation:
    """The one refusal for a worker id nobody has and for a worker outside the caller's scope."""
    return RuleViolation(
        "No such worker in your scope: check the id.",
        errors=[FieldError(field=field, message="no such worker in your scope")],
        rule="worker_exists",
    )


def _nominator(principal: Principal) -> dict[str, Any]:
    """The nominating body: the organiser's enterprise or locality; an admin speaks for the
    province."""
    if principal.role is Role.organiser and principal.enterprise_id is not None:
        return {
            "nominating_body": NominatingBody.enterprise,
            "nominating_enterprise_id": principal.enterprise_id,
        }
    if principal.role is Role.organiser and principal.locality_code:
        return {
            "nominating_body": NominatingBody.locality,
            "nominating_locality_code": principal.locality_code,
        }
    if principal.role is Role.admin:
        return {"nominating_body": NominatingBody.locality, "nominating_locality_code": PROVINCE}
    raise Forbidden("Only an enterprise, a locality or the province nominates to the reserve.")


async def nominate(
    session: AsyncSession, data: schemas.Nomination, principal: Principal
) -> ReserveMember:
    nominator = _nominator(principal)
    # Locked: two nominations of one worker are serialised, the second sees the first.
    worker = await session.scalar(
        select(Worker).where(Worker.id == data.worker_id).with_for_update()
    )
    if worker is None or not can_manage(principal, worker):
        raise _unknown_worker("worker_id")
    if worker.file_status is not FileStatus.active:
        raise RuleViolation(
            f"Only workers whose file is active are nominated; this file is "
            f"{worker.file_status.value}.",
            errors=[
                FieldError(field="worker_id", message=f"file status is {worker.file_status.value}")
            ],
            rule="active_file",
        )
    open_member = await session.scalar(
        select(ReserveMember.id).where(
            ReserveMember.worker_id == worker.id, ReserveMember.status.in_(OPEN_STATUSES)
        )
    )
    if open_member is not None:
        raise Conflict(
            f"{worker.name} already has an open reserve membership ({open_member}): a worker is "
            "nominated once at a time; it must be declined or left first.",
            rule="one_open_membership",
            member_id=str(open_member),
        )
    member = ReserveMember(
        worker_id=worker.id,
        track=data.track,
        status=ReserveStatus.nominated,
        nomination_reason=data.reason,
        grade_at_nomination=worker.grade,
        nominated_on=today(),
        nominated_by=principal.sub,
        **nominator,
    )
    session.add(member)
    try:
        await session.flush()
    except IntegrityError as exc:  # the partial unique index: only if the lock was bypassed
        raise Conflict(
            "This worker already has an open reserve membership.", rule="one_open_membership"
        ) from exc
    member = await _reload(session, member.id)
    _record_change(
        session,
        principal,
        "reserve.nominate",
        member,
        None,
        [],
        event="reserve.nominated",
        worker=member.worker,
    )
    return member


async def confirm(
    session: AsyncSession,
    member: ReserveMember,
    data: schemas.Confirmation,
    principal: Principal,
    *,
    if_match: str | None,
) -> ReserveMember:
    """`member`: locked and in scope (`ManagedMember`)."""
    ensure_province(principal)
    check_transition_if_match(if_match, member.version)
    _ensure_transition(member, ReserveStatus.confirmed)
    worker = member.worker
    if worker.file_status is not FileStatus.active:
        raise RuleViolation(
            f"The worker's file is {worker.file_status.value} now: only active files join the "
            "reserve; decline the nomination instead.",
            rule="active_file",
        )
    confirmed_on = _day(
        data.confirmed_on, "confirmed_on", not_before=member.nominated_on, what="the nomination"
    )
    before = _snapshot(member)
    member.status = ReserveStatus.confirmed
    member.confirmed_on = confirmed_on
    member.decided_by = principal.sub
    member.version += 1
    await session.flush()
    note = timeline.Note(
        worker_id=worker.id,
        kind=TimelineKind.reserve_joined,
        summary=f"入选{TRACK_NAMES[member.track]}（百万工匠后备人才库）",
        data={"member_id": str(member.id), "track": member.track.value},
        occurred_at=_at(confirmed_on),
        source_type="reserve_member",
        source_id=member.id,
    )
    _record_change(
        session,
        principal,
        "reserve.confirm",
        member,
        before,
        event="reserve.confirmed",
        worker=worker,
        notes=[note],
    )
    return await _reload(session, member.id)


async def decline(
    session: AsyncSession,
    member: ReserveMember,
    data: schemas.Declination,
    principal: Principal,
    *,
    if_match: str | None,
) -> ReserveMember:
    """`member`: locked and in scope (`ManagedMember`). Nothing was on the talent file yet."""
    ensure_province(principal)
    check_transition_if_match(if_match, member.version)
    _ensure_transition(member, ReserveStatus.declined)
    before = _snapshot(member)
    member.status = ReserveStatus.declined
    member.declined_on = today()
    member.decline_reason = data.reason
    member.decided_by = principal.sub
    member.version += 1
    await session.flush()
    _record_change(
        session,
        principal,
        "reserve.decline",
        member,
        before,
        event="reserve.declined",
        worker=member.worker,
    )
    return await _reload(session, member.id)


async def leave(
    session: AsyncSession,
    member: ReserveMember,
    data: schemas.Leaving,
    principal: Principal,
    *,
    if_match: str | None,
) -> ReserveMember:
    """`member`: locked and in scope (`ManagedMember`)."""
    check_transition_if_match(if_match, member.version)
    _ensure_transition(member, ReserveStatus.left)
    assert member.confirmed_on is not None  # a check constraint of confirmed memberships
    left_on = _day(data.left_on, "left_on", not_before=member.confirmed_on, what="joining")
    before = _snapshot(member)
    member.status = ReserveStatus.left
    member.left_on = left_on
    member.leave_reason = data.reason
    member.left_by = principal.sub
    member.version += 1
    await session.flush()
    note = timeline.Note(
        worker_id=member.worker_id,
        kind=TimelineKind.reserve_left,
        summary=f"退出百万工匠后备人才库：{data.reason}",
        data={"member_id": str(member.id), "track": member.track.value, "reason": data.reason},
        occurred_at=_at(left_on),
        source_type="reserve_member",
        source_id=member.id,
    )
    _record_change(
        session,
        principal,
        "reserve.leave",
        member,
        before,
        event="reserve.left",
        worker=member.worker,
        notes=[note],
    )
    return await _reload(session, member.id)


# --- the cultivation plan ---------------------------------------------------------------------


async def _plan_mentor(
    session: AsyncSession,
    member: ReserveMember,
    data: schemas.PlanPut,
    principal: Principal,
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The plan's (mentor_id, mentorship_id), checked."""
    mentor_id = data.mentor_id
    if data.mentorship_id is not None:
        mentorship = await session.get(Mentorship, data.mentorship_id)
        # The member is the apprentice, so the caller (who manages the member) may read it.
        if mentorship is None or mentorship.apprentice_id != member.worker_id:
            raise RuleViolation(
                "The plan's mentorship must be one in which the member is the apprentice.",
                errors=[
                    FieldError(
                        field="mentorship_id", message="no mentorship with the member as apprentice"
                    )
                ],
                rule="member_mentorship",
            )
        if mentor_id is not None and mentor_id != mentorship.mentor_id:
            raise RuleViolation(
                "mentor_id differs from the mentorship's mentor: leave it out or send that one.",
                errors=[FieldError(field="mentor_id", message="not the mentorship's mentor")],
                rule="member_mentorship",
            )
        mentor_id = mentorship.mentor_id
    elif mentor_id is not None:
        mentor = await session.get(Worker, mentor_id)
        if mentor is None or not can_view(principal, mentor):
            raise _unknown_worker("mentor_id")
    if mentor_id is not None and mentor_id == member.worker_id:
        raise RuleViolation(
            "A member cannot mentor themselves.",
            errors=[FieldError(field="mentor_id", message="must differ from the member")],
            rule="distinct_parties",
        )
    return mentor_id, data.mentorship_id


async def put_plan(
    session: AsyncSession,
    member: ReserveMember,
    data: schemas.PlanPut,
    principal: Principal,
    *,
    if_match: str | None,
) -> ReserveMember:
    """Replace the plan of an open membership. `member`: locked and in scope (`ManagedMember`)."""
    check_if_match(if_match, member.version)
    if member.status not in OPEN_STATUSES:
        raise Conflict(
            f"The membership is {member.status.value}: only a nominated or confirmed member's "
            "plan changes.",
            current_status=member.status.value,
        )
    errors: list[FieldError] = []
    if data.target_grade is not None and data.target_grade.rank <= member.grade_at_nomination.rank:
        errors.append(
            FieldError(
                field="target_grade",
                message=f"must be above {member.grade_at_nomination.value}, the grade held when "
                "nominated",
            )
        )
    if data.review_on < member.nominated_on:
        errors.append(
            FieldError(field="review_on", message=f"must be on or after {member.nominated_on}")
        )
    if data.programme_ids:
        known = set(
            await session.scalars(
                select(TrainingProgramme.id).where(TrainingProgramme.id.in_(data.programme_ids))
            )
        )
        errors += [
            FieldError(field=f"programme_ids[{i}]", message="unknown training programme")
            for i, programme_id in enumerate(data.programme_ids)
            if programme_id not in known
        ]
    if errors:
        raise InvalidInput("The plan is not valid: see `errors`.", errors=errors)
    mentor_id, mentorship_id = await _plan_mentor(session, member, data, principal)

    before = _snapshot(member, await programme_ids_of(session, member.id))
    member.mentor_id = mentor_id
    member.mentorship_id = mentorship_id
    member.target_grade = data.target_grade
    member.target_competition_ids = list(data.target_competition_ids)
    member.review_on = data.review_on
    member.plan_notes = data.notes
    member.plan_updated_at = clock.now()
    member.plan_updated_by = principal.sub
    member.version += 1
    existing = await session.scalars(
        select(ReservePlanProgramme).where(ReservePlanProgramme.member_id == member.id)
    )
    for row in existing:
        await session.delete(row)
    await session.flush()
    for position, programme_id in enumerate(data.programme_ids):
        session.add(
            ReservePlanProgramme(member_id=member.id, programme_id=programme_id, position=position)
        )
    await session.flush()
    _record_change(session, principal, "reserve.plan", member, before, list(data.programme_ids))
    return await _reload(session, member.id)


# --- lists ------------------------------------------------------------------------------------


async def _page(
    session: AsyncSession,
    stmt: Any,
    order_by: list[Any],
    limit: int,
    cursor: str | None,
) -> Page[schemas.ReserveMember]:
    rows, next_cursor = await keyset_rows(
        session,
        stmt,
        order_by=order_by,
        limit=limit,
        cursor=cursor,
        key=lambda row: [getattr(row[0], c.key) for c in order_by],
    )
    members = [row[0] for row in rows]
    programmes: dict[uuid.UUID, list[uuid.UUID]] = {m.id: [] for m in members}
    if members:
        # One query for the page's plans, not one per member.
        for member_id, programme_id in await session.execute(
            select(ReservePlanProgramme.member_id, ReservePlanProgramme.programme_id)
            .where(ReservePlanProgramme.member_id.in_(list(programmes)))
            .order_by(ReservePlanProgramme.member_id, ReservePlanProgramme.position)
        ):
            programmes[member_id].append(programme_id)
    return Page[schemas.ReserveMember](
        items=[schemas.ReserveMember.of(m, programmes[m.id]) for m in members],
        next_cursor=next_cursor,
    )


def _scoped(principal: Principal) -> Any:
    """Memberships whose worker the caller may read (the worker joined for the clause)."""
    return (
        select(ReserveMember)
        .join(Worker, Worker.id == ReserveMember.worker_id)
        .options(joinedload(ReserveMember.worker, innerjoin=True))
        .where(WorkerScope(principal).clause())
    )


async def list_members(
    session: AsyncSession,
    principal: Principal,
    *,
    status: ReserveStatus | None,
    track: ReserveTrack | None,
    worker_id: uuid.UUID | None,
    locality_code: str | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.ReserveMember]:
    stmt = _scoped(principal)
    if status:
        stmt = stmt.where(ReserveMember.status == status)
    if track:
        stmt = stmt.where(ReserveMember.track == track)
    if worker_id:
        stmt = stmt.where(ReserveMember.worker_id == worker_id)
    if locality_code:
        stmt = stmt.where(locality_clause(locality_code, Worker.locality_code))
    order = [ReserveMember.created_at, ReserveMember.id]
    return await _page(session, stmt, order, limit, cursor)


async def list_reviews_due(
    session: AsyncSession,
    principal: Principal,
    *,
    due_by: date | None,
    locality_code: str | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.ReserveMember]:
    """Open memberships whose plan is due for review by `due_by` (default today), soonest
    first."""
    stmt = _scoped(principal).where(
        ReserveMember.status.in_(OPEN_STATUSES),
        ReserveMember.review_on.is_not(None),
        ReserveMember.review_on <= (due_by or today()),
    )
    if locality_code:
        stmt = stmt.where(locality_clause(locality_code, Worker.locality_code))
    order = [ReserveMember.review_on, ReserveMember.id]
    return await _page(session, stmt, order, limit, cursor)


# --- targets ----------------------------------------------------------------------------------


async def target_locality(session: AsyncSession, code: str) -> Locality:
    """The province or a city: targets are set for no other locality."""
    locality = await session.get(Locality, code)
    if locality is None or locality.level not in (LocalityLevel.province, LocalityLevel.city):
        raise NotFound(f"No province or city with code {code}: targets are set for those.")
    return locality


def sees_targets_of(principal: Principal, code: str) -> bool:
    """Admins and reading machine clients every target; a locality organiser those of the
    localities it covers (a city its own, the province every one)."""
    if reads_all(principal):
        return True
    if principal.role is not Role.organiser or principal.enterprise_id is not None:
        return False
    return locality_covers(principal.locality_code, code)


async def get_target(
    session: AsyncSession, code: str, year: int, principal: Principal
) -> ReserveTarget | None:
    """The target, None when none is set yet (a 404 when the caller may not see it)."""
    await target_locality(session, code)
    if not sees_targets_of(principal, code):
        raise NotFound(f"No target for {code} in {year} that you may see.")
    return await session.get(ReserveTarget, (code, year))


async def put_target(
    session: AsyncSession,
    code: str,
    year: int,
    data: schemas.TargetPut,
    principal: Principal,
    *,
    if_match: str | None,
) -> tuple[ReserveTarget, bool]:
    """Set a locality's targets for a year (admins). Version 0 (none set yet) needs no If-Match."""
    await target_locality(session, code)
    target = await session.get(
        ReserveTarget, (code, year), with_for_update=True, populate_existing=True
    )
    check_if_match(if_match, target.version if target is not None else 0)
    created = target is None
    before = None
    if target is None:
        target = ReserveTarget(locality_code=code, year=year, version=0, **data.model_dump())
        session.add(target)
    else:
        before = _target_snapshot(target)
        for key, value in data.model_dump().items():
            setattr(target, key, value)
    target.set_by = principal.sub
    target.version += 1
    try:
        await session.flush()
    except IntegrityError as exc:  # two first writes at once: the primary key decides
        raise Conflict(
            f"The target for {code} in {year} was set meanwhile: read it and retry with If-Match."
        ) from exc
    await session.refresh(target)
    audit.record(
        session,
        service="registry",
        principal=principal,
        action="reserve.target",
        entity_type="reserve_target",
        entity_id=f"{code}:{year}",
        before=before,
        after=_target_snapshot(target),
    )
    return target, created


def _target_snapshot(t: ReserveTarget) -> dict[str, Any]:
    return {
        "locality_code": t.locality_code,
        "year": t.year,
        "reserve_size": t.reserve_size,
        "grade_promotions": t.grade_promotions,
        "honours": t.honours,
        "version": t.version,
    }


async def list_targets(
    session: AsyncSession,
    principal: Principal,
    *,
    year: int | None,
    locality_code: str | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Target]:
    stmt = select(ReserveTarget)
    if not reads_all(principal):
        if principal.role is not Role.organiser or principal.enterprise_id is not None:
            stmt = stmt.where(~true())  # an enterprise has no targets of its own
        else:
            stmt = stmt.where(locality_clause(principal.locality_code, ReserveTarget.locality_code))
    if year is not None:
        stmt = stmt.where(ReserveTarget.year == year)
    if locality_code:
        stmt = stmt.where(ReserveTarget.locality_code == locality_code)
    order = [ReserveTarget.year, ReserveTarget.locality_code]
    rows, next_cursor = await keyset_rows(
        session,
        stmt,
        order_by=order,
        limit=limit,
        cursor=cursor,
        key=lambda row: [row[0].year, row[0].locality_code],
    )
    return Page[schemas.Target](
        items=[schemas.Target.of(row[0]) for row in rows], next_cursor=next_cursor
    )


def ensure_scope_covers(principal: Principal, code: str) -> None:
    """A locality filter of the progress report must be within the caller's scope."""
    if reads_all(principal):
        return
    if (
        principal.role is Role.organiser
        and principal.enterprise_id is None
        and locality_covers(principal.locality_code, code)
    ):
        return
    raise Forbidden(
        f"Locality {code} is outside your scope ({describe(principal)}).",
        errors=[FieldError(field="locality_code", location="query", message="outside your scope")],
    )
