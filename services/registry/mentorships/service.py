"""Mentorships: proposing, activating, completing and terminating mentor-apprentice pairs.

The rules: the mentor holds at least MENTOR_MIN_GRADE; mentor and apprentice are different
workers whose files are active; a mentor has at most MENTOR_MAX_APPRENTICES active mentorships
and an apprentice at most one active mentor. The two limits are checked again on activation
with both workers' rows locked (always in id order, so two activations sharing workers cannot
deadlock), which serialises concurrent activations: the second one counts the first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload

from services.registry.mentorships import schemas
from services.registry.talent import timeline
from services.registry.talent.access import can_view, ensure_can_manage, load_worker
from shared import audit, clock
from shared.auth.principal import Principal, Role
from shared.concurrency import check_transition_if_match
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    RuleViolation,
)
from shared.models.registry import (
    FileStatus,
    Mentorship,
    MentorshipKind,
    MentorshipStatus,
    SkillGrade,
    TimelineKind,
    Worker,
)
from shared.pagination import Page, paginate
from shared.scope import scope_clause

#: The lifecycle: which statuses each status may move to.
TRANSITIONS: dict[MentorshipStatus, tuple[MentorshipStatus, ...]] = {
    MentorshipStatus.proposed: (MentorshipStatus.active, MentorshipStatus.terminated),
    MentorshipStatus.active: (MentorshipStatus.completed, MentorshipStatus.terminated),
    MentorshipStatus.completed: (),
    MentorshipStatus.terminated: (),
}

OPEN_STATUSES = (MentorshipStatus.proposed, MentorshipStatus.active)

RATING_LABELS = {"excellent": "优秀", "good": "良好", "pass": "合格", "fail": "不合格"}


@dataclass(frozen=True)
class Rules:
    """The configurable limits (settings MENTOR_MIN_GRADE, MENTOR_MAX_APPRENTICES)."""

    min_grade: SkillGrade = SkillGrade.technician
    max_active: int = 5


def _snapshot(m: Mentorship) -> dict[str, Any]:
    return {
        "mentor_id": str(m.mentor_id),
        "apprentice_id": str(m.apprentice_id),
        "kind": m.kind.value,
        "goals": m.goals,
        "planned_start_date": m.planned_start_date.isoformat(),
        "planned_end_date": m.planned_end_date.isoformat(),
        "actual_start_date": m.actual_start_date.isoformat() if m.actual_start_date else None,
        "actual_end_date": m.actual_end_date.isoformat() if m.actual_end_date else None,
        "status": m.status.value,
        "evaluation_rating": m.evaluation_rating.value if m.evaluation_rating else None,
        "evaluation_comment": m.evaluation_comment,
        "termination_reason": m.termination_reason,
        "version": m.version,
    }


# --- loading and visibility -------------------------------------------------------------------


async def get(session: AsyncSession, mentorship_id: uuid.UUID) -> Mentorship:
    """The mentorship with both workers loaded, or a 404."""
    mentorship = await session.scalar(
        select(Mentorship)
        .where(Mentorship.id == mentorship_id)
        .options(joinedload(Mentorship.mentor), joinedload(Mentorship.apprentice))
        .execution_options(populate_existing=True)
    )
    if mentorship is None:
        raise NotFound(f"No mentorship with id {mentorship_id}.")
    return mentorship


async def get_visible(
    session: AsyncSession, mentorship_id: uuid.UUID, principal: Principal
) -> Mentorship:
    """Admins, organisers whose scope covers either party, and the two workers themselves."""
    mentorship = await get(session, mentorship_id)
    if not (can_view(principal, mentorship.mentor) or can_view(principal, mentorship.apprentice)):
        raise Forbidden("You may not see this mentorship: neither worker is yours to see.")
    return mentorship


def _in_scope(principal: Principal, worker: Any) -> ColumnElement[bool]:
    """SQL twin of `talent.access.can_manage` for an organiser, on an aliased Worker."""
    return scope_clause(principal, worker.locality_code, worker.enterprise_id)


async def list_mentorships(
    session: AsyncSession,
    principal: Principal,
    *,
    mentor_id: uuid.UUID | None,
    apprentice_id: uuid.UUID | None,
    status: MentorshipStatus | None,
    kind: MentorshipKind | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Mentorship]:
    stmt = select(Mentorship).options(
        joinedload(Mentorship.mentor), joinedload(Mentorship.apprentice)
    )
    if principal.role is Role.organiser:
        mentor, apprentice = aliased(Worker), aliased(Worker)
        stmt = (
            stmt.join(mentor, Mentorship.mentor_id == mentor.id)
            .join(apprentice, Mentorship.apprentice_id == apprentice.id)
            .where(or_(_in_scope(principal, mentor), _in_scope(principal, apprentice)))
        )
    elif principal.role is Role.worker:
        own = principal.worker_id
        stmt = stmt.where(
            or_(Mentorship.mentor_id == own, Mentorship.apprentice_id == own)
            if own is not None
            else false()
        )
    elif principal.role not in (Role.admin, Role.integration):
        raise Forbidden(f"Role {principal.role.value} may not see mentorships.")
    if mentor_id:
        stmt = stmt.where(Mentorship.mentor_id == mentor_id)
    if apprentice_id:
        stmt = stmt.where(Mentorship.apprentice_id == apprentice_id)
    if status:
        stmt = stmt.where(Mentorship.status == status)
    if kind:
        stmt = stmt.where(Mentorship.kind == kind)
    return await paginate(
        session,
        stmt,
        order_by=[Mentorship.created_at, Mentorship.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Mentorship.of,
    )


# --- rules ------------------------------------------------------------------------------------


def _check_eligibility(mentor: Worker, apprentice: Worker, rules: Rules) -> None:
    """The 422 rules: who may be a mentor or an apprentice at all."""
    problems: list[tuple[str, str, FieldError]] = []
    if mentor.id == apprentice.id:
        problems.append(
            (
                "distinct_parties",
                "A worker cannot mentor themselves: mentor and apprentice must differ.",
                FieldError(field="apprentice_id", message="must differ from mentor_id"),
            )
        )
    if mentor.grade.rank < rules.min_grade.rank:
        problems.append(
            (
                "mentor_min_grade",
                f"A mentor must hold at least the grade {rules.min_grade.value} "
                f"(MENTOR_MIN_GRADE); {mentor.name} holds {mentor.grade.value}.",
                FieldError(
                    field="mentor_id",
                    message=f"grade {mentor.grade.value} is below {rules.min_grade.value}",
                ),
            )
        )
    for role, worker in (("mentor", mentor), ("apprentice", apprentice)):
        if role == "apprentice" and worker.id == mentor.id:
            continue  # one worker: already reported as the mentor
        if worker.file_status is not FileStatus.active:
            problems.append(
                (
                    "active_file",
                    f"Both workers' files must be active; the {role} {worker.name}'s file is "
                    f"{worker.file_status.value}.",
                    FieldError(
                        field=f"{role}_id", message=f"file status is {worker.file_status.value}"
                    ),
                )
            )
    if problems:
        names = [rule for rule, _, _ in problems]
        raise RuleViolation(
            " ".join(detail for _, detail, _ in problems),
            errors=[error for _, _, error in problems],
            rules=names,
            min_grade=rules.min_grade.value if "mentor_min_grade" in names else None,
        )


async def _active_count(session: AsyncSession, column: Any, worker_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Mentorship)
        .where(column == worker_id, Mentorship.status == MentorshipStatus.active)
    )
    return int(count or 0)


async def _check_limits(
    session: AsyncSession, mentor: Worker, apprentice: Worker, rules: Rules
) -> None:
    """The 409 rules, counting active mentorships only (proposals do not take a place)."""
    active = await _active_count(session, Mentorship.mentor_id, mentor.id)
    if active >= rules.max_active:
        raise Conflict(
            f"{mentor.name} already has {active} active mentorships, the most a mentor may have "
            f"(MENTOR_MAX_APPRENTICES = {rules.max_active}): complete or terminate one first.",
            rule="mentor_max_apprentices",
            limit=rules.max_active,
        )
    if await _active_count(session, Mentorship.apprentice_id, apprentice.id):
        raise Conflict(
            f"{apprentice.name} already has an active mentor; an apprentice has at most one "
            "active mentor at a time: complete or terminate that mentorship first.",
            rule="one_active_mentor",
            limit=1,
        )


def _ensure_transition(mentorship: Mentorship, target: MentorshipStatus) -> None:
    allowed = TRANSITIONS[mentorship.status]
    if target not in allowed:
        names = ", ".join(s.value for s in allowed) or "nothing (it is final)"
        raise Conflict(
            f"A {mentorship.status.value} mentorship cannot become {target.value}; from "
            f"{mentorship.status.value} it may go to: {names}.",
            current_status=mentorship.status.value,
            allowed=[s.value for s in allowed],
        )


def _ended_on(mentorship: Mentorship, ended_on: date | None) -> date:
    ended = ended_on or clock.today()
    start = mentorship.actual_start_date
    if start is not None and ended < start:
        raise InvalidInput(
            f"ended_on {ended} is before the mentorship started ({start}).",
            errors=[FieldError(field="ended_on", message=f"must be on or after {start}")],
        )
    if ended > clock.today():
        raise InvalidInput(
            "ended_on cannot be in the future.",
            errors=[FieldError(field="ended_on", message="must not be after today")],
        )
    return ended


# --- writes -----------------------------------------------------------------------------------


async def _party(session: AsyncSession, worker_id: uuid.UUID, field: str) -> Worker:
    worker = await session.get(Worker, worker_id)
    if worker is None:
        raise RuleViolation(
            f"No worker with id {worker_id}.",
            errors=[FieldError(field=field, message="unknown worker")],
        )
    return worker


async def create(
    session: AsyncSession,
    data: schemas.MentorshipCreate,
    principal: Principal,
    rules: Rules,
) -> Mentorship:
    mentor = await _party(session, data.mentor_id, "mentor_id")
    apprentice = await _party(session, data.apprentice_id, "apprentice_id")
    ensure_can_manage(principal, apprentice)
    _check_eligibility(mentor, apprentice, rules)
    await _check_limits(session, mentor, apprentice, rules)
    duplicate = await session.scalar(
        select(Mentorship.id).where(
            Mentorship.mentor_id == mentor.id,
            Mentorship.apprentice_id == apprentice.id,
            Mentorship.status.in_(OPEN_STATUSES),
        )
    )
    if duplicate:
        raise Conflict(
            f"{mentor.name} and {apprentice.name} already have an open mentorship ({duplicate}); "
            "a pair has one proposed or active mentorship at a time.",
            rule="one_open_per_pair",
            mentorship_id=str(duplicate),
        )
    mentorship = Mentorship(
        mentor_id=mentor.id,
        apprentice_id=apprentice.id,
        kind=data.kind,
        goals=data.goals,
        planned_start_date=data.planned_start_date,
        planned_end_date=data.planned_end_date,
        status=MentorshipStatus.proposed,
        created_by=principal.sub,
    )
    session.add(mentorship)
    await session.flush()
    mentorship = await get(session, mentorship.id)
    audit.record(
        session,
        service="registry",
        principal=principal,
        action="mentorship.create",
        entity_type="mentorship",
        entity_id=mentorship.id,
        after=_snapshot(mentorship),
    )
    return mentorship


async def _lock(
    session: AsyncSession, mentorship_id: uuid.UUID
) -> tuple[Mentorship, Worker, Worker]:
    """Lock the mentorship, then both workers in id order; returns (mentorship, mentor,
    apprentice) as they are now."""
    mentorship = await session.scalar(
        select(Mentorship)
        .where(Mentorship.id == mentorship_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if mentorship is None:
        raise NotFound(f"No mentorship with id {mentorship_id}.")
    workers = {
        worker_id: await load_worker(session, worker_id, for_update=True)
        for worker_id in sorted({mentorship.mentor_id, mentorship.apprentice_id})
    }
    return mentorship, workers[mentorship.mentor_id], workers[mentorship.apprentice_id]


def _notes(
    mentorship: Mentorship,
    mentor: Worker,
    apprentice: Worker,
    *,
    kind: TimelineKind,
    summaries: tuple[str, str],
    occurred_on: date,
    extra: dict[str, Any] | None = None,
) -> list[timeline.Note]:
    """The entry of a start or end on both people's talent files."""
    # A back-dated start or end is placed at the start of that day in the programme's zone.
    now = clock.local(clock.now())
    occurred_at = now if occurred_on == now.date() else clock.start_of(occurred_on)
    parties = ((mentor, "mentor", apprentice), (apprentice, "apprentice", mentor))
    return [
        timeline.Note(
            worker_id=worker.id,
            kind=kind,
            summary=summary,
            data={
                "mentorship_id": str(mentorship.id),
                "kind": mentorship.kind.value,
                "role": role,
                "counterpart_id": str(other.id),
                "counterpart_name": other.name,
                "status": mentorship.status.value,
                **(extra or {}),
            },
            occurred_at=occurred_at,
            source_type="mentorship",
            source_id=mentorship.id,
        )
        for (worker, role, other), summary in zip(parties, summaries, strict=True)
    ]


def _record_change(
    session: AsyncSession,
    principal: Principal,
    action: str,
    mentorship: Mentorship,
    before: dict[str, Any],
    *,
    notes: list[timeline.Note] | None = None,
    event: str | None = None,
    mentor: Worker | None = None,
    apprentice: Worker | None = None,
) -> None:
    """A transition on the talent files (`notes`), the audit log and, with `event`, the outbox."""
    data = None
    if event is not None:
        assert mentor is not None
        assert apprentice is not None
        data = {
            "mentorship_id": str(mentorship.id),
            "mentor_id": str(mentorship.mentor_id),
            "apprentice_id": str(mentorship.apprentice_id),
            # Both people's localities: a city's subscription hears of its workers' pairs.
            "mentor_locality_code": mentor.locality_code,
            "apprentice_locality_code": apprentice.locality_code,
            "kind": mentorship.kind.value,
            "status": mentorship.status.value,
        }
    timeline.record_change(
        session,
        principal,
        notes=notes or [],
        action=action,
        entity_type="mentorship",
        entity_id=mentorship.id,
        before=before,
        after=_snapshot(mentorship),
        event=event,
        subject=f"mentorships/{mentorship.id}",
        event_data=data,
    )


async def activate(
    session: AsyncSession,
    mentorship_id: uuid.UUID,
    data: schemas.Activation,
    principal: Principal,
    rules: Rules,
    *,
    if_match: str | None = None,
) -> Mentorship:
    mentorship, mentor, apprentice = await _lock(session, mentorship_id)
    ensure_can_manage(principal, apprentice)
    check_transition_if_match(if_match, mentorship.version)
    _ensure_transition(mentorship, MentorshipStatus.active)
    started_on = data.started_on or clock.today()
    if started_on > clock.today():
        raise InvalidInput(
            "started_on cannot be in the future: activate the mentorship when it starts.",
            errors=[FieldError(field="started_on", message="must not be after today")],
        )
    # Grades and file statuses may have changed since the proposal: check again, locked.
    _check_eligibility(mentor, apprentice, rules)
    await _check_limits(session, mentor, apprentice, rules)
    before = _snapshot(mentorship)
    apprentice_name = apprentice.name  # a failed flush expires every loaded object
    mentorship.status = MentorshipStatus.active
    mentorship.actual_start_date = started_on
    mentorship.version += 1
    try:
        await session.flush()
    except IntegrityError as exc:  # the partial unique index: only if the lock was bypassed
        raise Conflict(
            f"{apprentice_name} already has an active mentor; an apprentice has at most one "
            "active mentor at a time.",
            rule="one_active_mentor",
            limit=1,
        ) from exc
    if mentorship.kind is MentorshipKind.master_apprentice:
        summaries = (f"收 {apprentice.name} 为徒（师带徒）", f"拜 {mentor.name} 为师（师带徒）")
    else:
        summaries = (
            f"与 {apprentice.name} 结对帮扶（帮扶人）",
            f"与 {mentor.name} 结对帮扶（受帮扶人）",
        )
    notes = _notes(
        mentorship,
        mentor,
        apprentice,
        kind=TimelineKind.mentorship_started,
        summaries=summaries,
        occurred_on=started_on,
    )
    _record_change(
        session,
        principal,
        "mentorship.activate",
        mentorship,
        before,
        notes=notes,
        event="mentorship.started",
        mentor=mentor,
        apprentice=apprentice,
    )
    return await get(session, mentorship.id)


def _pair_word(mentorship: Mentorship) -> str:
    return "师徒关系" if mentorship.kind is MentorshipKind.master_apprentice else "结对帮扶"


async def complete(
    session: AsyncSession,
    mentorship_id: uuid.UUID,
    data: schemas.Completion,
    principal: Principal,
    *,
    if_match: str | None = None,
) -> Mentorship:
    mentorship, mentor, apprentice = await _lock(session, mentorship_id)
    ensure_can_manage(principal, apprentice)
    check_transition_if_match(if_match, mentorship.version)
    _ensure_transition(mentorship, MentorshipStatus.completed)
    ended_on = _ended_on(mentorship, data.ended_on)
    before = _snapshot(mentorship)
    mentorship.status = MentorshipStatus.completed
    mentorship.actual_end_date = ended_on
    mentorship.evaluation_rating = data.evaluation.rating
    mentorship.evaluation_comment = data.evaluation.comment
    mentorship.version += 1
    await session.flush()
    rating = data.evaluation.rating.value
    label = f"{_pair_word(mentorship)}期满结业（评价：{RATING_LABELS[rating]}）"
    notes = _notes(
        mentorship,
        mentor,
        apprentice,
        kind=TimelineKind.mentorship_ended,
        summaries=(f"与 {apprentice.name} 的{label}", f"与 {mentor.name} 的{label}"),
        occurred_on=ended_on,
        extra={"rating": rating},
    )
    _record_change(
        session,
        principal,
        "mentorship.complete",
        mentorship,
        before,
        notes=notes,
        event="mentorship.ended",
        mentor=mentor,
        apprentice=apprentice,
    )
    return await get(session, mentorship.id)


async def terminate(
    session: AsyncSession,
    mentorship_id: uuid.UUID,
    data: schemas.Termination,
    principal: Principal,
    *,
    if_match: str | None = None,
) -> Mentorship:
    """End a mentorship early. A proposal that never started leaves the talent files alone
    (nothing had been recorded there) and sends no event; an active one ends on both files."""
    mentorship, mentor, apprentice = await _lock(session, mentorship_id)
    ensure_can_manage(principal, apprentice)
    check_transition_if_match(if_match, mentorship.version)
    _ensure_transition(mentorship, MentorshipStatus.terminated)
    had_started = mentorship.status is MentorshipStatus.active
    ended_on = _ended_on(mentorship, data.ended_on) if had_started else None
    before = _snapshot(mentorship)
    mentorship.status = MentorshipStatus.terminated
    mentorship.termination_reason = data.reason
    mentorship.actual_end_date = ended_on
    mentorship.version += 1
    await session.flush()
    if ended_on is None:
        _record_change(session, principal, "mentorship.terminate", mentorship, before)
    else:
        label = f"{_pair_word(mentorship)}提前终止：{data.reason}"
        notes = _notes(
            mentorship,
            mentor,
            apprentice,
            kind=TimelineKind.mentorship_ended,
            summaries=(f"与 {apprentice.name} 的{label}", f"与 {mentor.name} 的{label}"),
            occurred_on=ended_on,
            extra={"reason": data.reason},
        )
        _record_change(
            session,
            principal,
            "mentorship.terminate",
            mentorship,
            before,
            notes=notes,
            event="mentorship.ended",
            mentor=mentor,
            apprentice=apprentice,
        )
    return await get(session, mentorship.id)
