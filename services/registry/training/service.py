"""Training programmes: lifecycle, sessions, enrolment under capacity, attendance, completion.

Enrolment, withdrawal, attendance and completion all lock the programme row first, so the
capacity check, the attendance of enrolled workers and the one-time crediting of hours at
completion each see a state no concurrent request can change under them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from services.registry.talent import timeline
from services.registry.talent.access import load_worker, locality_covers
from services.registry.training import schemas
from shared import audit, clock
from shared.auth.principal import Principal, Role
from shared.db import get_or_404
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound, RuleViolation
from shared.models.registry import (
    EnrolmentStatus,
    Enterprise,
    Locality,
    ProgrammeKind,
    ProgrammeStatus,
    TimelineKind,
    TrainingAttendance,
    TrainingEnrolment,
    TrainingProgramme,
    TrainingSession,
    Worker,
)
from shared.pagination import Page, paginate
from shared.scope import locality_clause

SERVICE = "registry"

#: The lifecycle: action -> (statuses it may start from, status it leads to).
TRANSITIONS: dict[str, tuple[frozenset[ProgrammeStatus], ProgrammeStatus]] = {
    "open": (frozenset({ProgrammeStatus.planned}), ProgrammeStatus.open),
    "start": (frozenset({ProgrammeStatus.open}), ProgrammeStatus.in_progress),
    "complete": (frozenset({ProgrammeStatus.in_progress}), ProgrammeStatus.completed),
    "cancel": (
        frozenset({ProgrammeStatus.planned, ProgrammeStatus.open, ProgrammeStatus.in_progress}),
        ProgrammeStatus.cancelled,
    ),
}

#: Statuses in which sessions may still be added and attendance taken.
RUNNING = frozenset({ProgrammeStatus.planned, ProgrammeStatus.open, ProgrammeStatus.in_progress})


def _allowed_from(status: ProgrammeStatus) -> list[str]:
    return [action for action, (sources, _) in TRANSITIONS.items() if status in sources]


def format_hours(hours: Decimal) -> str:
    """12.50 -> "12.5", 12.00 -> "12" (as a person writes them)."""
    return f"{hours.normalize():f}"


# --- who may do what -------------------------------------------------------------------------


def can_manage_programme(principal: Principal, programme: TrainingProgramme) -> bool:
    """Admins; organisers whose locality scope covers the programme's locality or whose
    enterprise organises or ordered it."""
    if principal.role is Role.admin:
        return True
    if principal.role is not Role.organiser:
        return False
    if principal.enterprise_id is not None:
        return principal.enterprise_id in (
            programme.enterprise_id,
            programme.ordering_enterprise_id,
        )
    return locality_covers(principal.locality_code, programme.locality_code)


def ensure_can_manage_programme(principal: Principal, programme: TrainingProgramme) -> None:
    if not can_manage_programme(principal, programme):
        raise Forbidden(
            "This training programme is outside your organiser scope (its locality "
            f"{programme.locality_code} or its enterprise)."
        )


def ensure_can_view_roster(principal: Principal, programme: TrainingProgramme) -> None:
    if can_manage_programme(principal, programme):
        return
    if principal.role is Role.integration and (
        principal.has_scope("registry:read") or principal.has_scope("internal")
    ):
        return
    raise Forbidden(
        "Only admins and the programme's organisers see its roster; workers see their own "
        "training at /v1/workers/{worker_id}/training."
    )


# --- programmes ------------------------------------------------------------------------------


def _snapshot(programme: TrainingProgramme) -> dict[str, Any]:
    return schemas.Programme.model_validate(programme).model_dump(mode="json")


async def _check_enterprise(session: AsyncSession, field: str, enterprise_id: uuid.UUID) -> None:
    if await session.get(Enterprise, enterprise_id) is None:
        raise RuleViolation(
            f"No enterprise with id {enterprise_id}.",
            errors=[FieldError(field=field, message="unknown enterprise")],
        )


async def create_programme(
    session: AsyncSession, data: schemas.ProgrammeCreate, principal: Principal
) -> TrainingProgramme:
    if data.kind is ProgrammeKind.order_based and data.ordering_enterprise_id is None:
        raise InvalidInput(
            "Order-based training (订单式培训) is ordered by an enterprise: give "
            "ordering_enterprise_id.",
            errors=[
                FieldError(field="ordering_enterprise_id", message="required for kind order_based")
            ],
        )
    if data.kind is not ProgrammeKind.order_based and data.ordering_enterprise_id is not None:
        raise InvalidInput(
            "Only order-based training (kind order_based) has an ordering enterprise.",
            errors=[
                FieldError(field="ordering_enterprise_id", message="only for kind order_based")
            ],
        )
    if data.ends_on < data.starts_on:
        raise InvalidInput(
            "A programme cannot end before it starts.",
            errors=[FieldError(field="ends_on", message="must be on or after starts_on")],
        )
    if await session.get(Locality, data.locality_code) is None:
        raise RuleViolation(
            f"No locality with code {data.locality_code}.",
            errors=[FieldError(field="locality_code", message="unknown locality")],
        )
    if data.enterprise_id is not None:
        await _check_enterprise(session, "enterprise_id", data.enterprise_id)
    if data.ordering_enterprise_id is not None:
        await _check_enterprise(session, "ordering_enterprise_id", data.ordering_enterprise_id)
    programme = TrainingProgramme(
        kind=data.kind,
        title=data.title,
        description=data.description,
        locality_code=data.locality_code,
        enterprise_id=data.enterprise_id,
        ordering_enterprise_id=data.ordering_enterprise_id,
        occupation=data.occupation,
        capacity=data.capacity,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
    )
    # Checked before writing: an organiser may only create inside their own scope.
    ensure_can_manage_programme(principal, programme)
    await audit.add_created(
        session,
        programme,
        service=SERVICE,
        principal=principal,
        action="training_programme.create",
        entity_type="training_programme",
        after=lambda: _snapshot(programme),
    )
    return programme


async def get_programme(
    session: AsyncSession, programme_id: uuid.UUID, *, for_update: bool = False
) -> TrainingProgramme:
    return await get_or_404(
        session, TrainingProgramme, programme_id, "training programme", for_update=for_update
    )


async def list_programmes(
    session: AsyncSession,
    *,
    kind: ProgrammeKind | None,
    status: ProgrammeStatus | None,
    locality_code: str | None,
    enterprise_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Programme]:
    stmt = select(TrainingProgramme)
    if kind:
        stmt = stmt.where(TrainingProgramme.kind == kind)
    if status:
        stmt = stmt.where(TrainingProgramme.status == status)
    if locality_code:  # a city: its own programmes and its counties'
        stmt = stmt.where(locality_clause(locality_code, TrainingProgramme.locality_code))
    if enterprise_id:
        stmt = stmt.where(
            or_(
                TrainingProgramme.enterprise_id == enterprise_id,
                TrainingProgramme.ordering_enterprise_id == enterprise_id,
            )
        )
    return await paginate(
        session,
        stmt,
        order_by=[TrainingProgramme.created_at, TrainingProgramme.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Programme.model_validate,
    )


async def transition(
    session: AsyncSession, programme_id: uuid.UUID, action: str, principal: Principal
) -> TrainingProgramme:
    """Move a programme along its lifecycle (`complete` goes through `complete_programme`)."""
    programme = await get_programme(session, programme_id, for_update=True)
    ensure_can_manage_programme(principal, programme)
    sources, target = TRANSITIONS[action]
    if programme.status not in sources:
        allowed = _allowed_from(programme.status)
        raise Conflict(
            f"Cannot {action} a programme that is {programme.status.value}: {action} is allowed "
            f"only from {', '.join(sorted(s.value for s in sources))}. From "
            f"{programme.status.value} the allowed actions are: "
            f"{', '.join(allowed) if allowed else 'none (final status)'}.",
            current_status=programme.status.value,
            allowed_actions=allowed,
        )
    before = _snapshot(programme)
    programme.status = target
    if target is ProgrammeStatus.completed:
        programme.completed_at = datetime.now(UTC)
    await session.flush()
    await session.refresh(programme)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action=f"training_programme.{action}",
        entity_type="training_programme",
        entity_id=programme.id,
        before=before,
        after=_snapshot(programme),
    )
    return programme


async def complete_programme(
    session: AsyncSession, programme_id: uuid.UUID, principal: Principal
) -> TrainingProgramme:
    """Complete the programme and credit each enrolled worker the hours of the sessions they
    attended, on the enrolment and (when they attended any) on their talent-file timeline.
    Runs once: the status check under the programme's row lock makes a second completion a
    409."""
    programme = await transition(session, programme_id, "complete", principal)
    attended = (
        select(
            TrainingAttendance.worker_id.label("worker_id"),
            func.sum(TrainingSession.hours).label("hours"),
        )
        .join(TrainingSession, TrainingSession.id == TrainingAttendance.session_id)
        .where(TrainingSession.programme_id == programme.id, TrainingAttendance.present)
        .group_by(TrainingAttendance.worker_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(TrainingEnrolment, func.coalesce(attended.c.hours, 0))
            .outerjoin(attended, attended.c.worker_id == TrainingEnrolment.worker_id)
            .where(
                TrainingEnrolment.programme_id == programme.id,
                TrainingEnrolment.status == EnrolmentStatus.enrolled,
            )
            .order_by(TrainingEnrolment.created_at, TrainingEnrolment.id)
        )
    ).all()
    completed_at = programme.completed_at or datetime.now(UTC)
    notes = []
    for enrolment, hours in rows:
        hours = Decimal(hours)
        enrolment.hours_credited = hours
        enrolment.completed_at = completed_at
        if hours <= 0:
            # Enrolled but attended no session: nothing to credit, and the file must not claim
            # a training the worker did not take.
            continue
        notes.append(
            timeline.Note(
                worker_id=enrolment.worker_id,
                kind=TimelineKind.training_completed,
                summary=f"完成培训《{programme.title}》，计 {format_hours(hours)} 学时",
                data={
                    "programme_id": str(programme.id),
                    "enrolment_id": str(enrolment.id),
                    "kind": programme.kind.value,
                    "title": programme.title,
                    "hours": float(hours),
                },
                occurred_at=completed_at,
                source_type="training_programme",
                source_id=programme.id,
            )
        )
    timeline.record_change(
        session,
        principal,
        notes=notes,
        action="training_programme.credit_hours",
        entity_type="training_programme",
        entity_id=programme.id,
        after={
            "credited": {str(e.worker_id): float(Decimal(h)) for e, h in rows},
        },
    )
    await session.flush()
    return programme


# --- sessions --------------------------------------------------------------------------------


async def add_session(
    session: AsyncSession,
    programme_id: uuid.UUID,
    data: schemas.SessionCreate,
    principal: Principal,
) -> TrainingSession:
    programme = await get_programme(session, programme_id, for_update=True)
    ensure_can_manage_programme(principal, programme)
    if data.ends_at <= data.starts_at:
        raise InvalidInput(
            "A session must end after it starts.",
            errors=[FieldError(field="ends_at", message="must be after starts_at")],
        )
    if programme.status not in RUNNING:
        raise Conflict(
            f"The programme is {programme.status.value}: sessions are added only while it is "
            "planned, open or in_progress."
        )
    first_day = clock.local(data.starts_at).date()
    last_day = clock.local(data.ends_at).date()
    if first_day < programme.starts_on or last_day > programme.ends_on:
        raise RuleViolation(
            f"Sessions fall within the programme's dates ({programme.starts_on} to "
            f"{programme.ends_on}, Asia/Shanghai).",
            errors=[
                FieldError(
                    field="starts_at" if first_day < programme.starts_on else "ends_at",
                    message="outside the programme's dates",
                )
            ],
        )
    row = TrainingSession(
        programme_id=programme.id,
        title=data.title,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        hours=data.hours,
        venue=data.venue,
    )
    await audit.add_created(
        session,
        row,
        service=SERVICE,
        principal=principal,
        action="training_session.create",
        entity_type="training_session",
        after=lambda: schemas.Session.model_validate(row).model_dump(mode="json"),
    )
    return row


async def list_sessions(
    session: AsyncSession, programme_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[schemas.Session]:
    await get_programme(session, programme_id)
    return await paginate(
        session,
        select(TrainingSession).where(TrainingSession.programme_id == programme_id),
        order_by=[TrainingSession.starts_at, TrainingSession.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Session.model_validate,
    )


async def _get_session(
    session: AsyncSession, programme_id: uuid.UUID, session_id: uuid.UUID
) -> TrainingSession:
    row = await session.get(TrainingSession, session_id)
    if row is None or row.programme_id != programme_id:
        raise NotFound(f"No session {session_id} in training programme {programme_id}.")
    return row


# --- enrolments ------------------------------------------------------------------------------


def _ensure_can_enrol(
    principal: Principal, programme: TrainingProgramme, worker_id: uuid.UUID
) -> None:
    if principal.role is Role.worker and principal.worker_id == worker_id:
        return
    if principal.role is Role.worker:
        raise Forbidden("Workers may enrol or withdraw only themselves.")
    ensure_can_manage_programme(principal, programme)


async def enrol(
    session: AsyncSession,
    programme_id: uuid.UUID,
    data: schemas.EnrolmentCreate,
    principal: Principal,
) -> TrainingEnrolment:
    programme = await get_programme(session, programme_id, for_update=True)
    _ensure_can_enrol(principal, programme, data.worker_id)
    worker = await load_worker(session, data.worker_id)
    if programme.status is not ProgrammeStatus.open:
        raise Conflict(
            f"The programme is {programme.status.value}: workers enrol only while it is open."
        )
    existing = await session.scalar(
        select(TrainingEnrolment).where(
            TrainingEnrolment.programme_id == programme.id,
            TrainingEnrolment.worker_id == worker.id,
        )
    )
    if existing is not None and existing.status is EnrolmentStatus.enrolled:
        raise Conflict(
            f"Worker {worker.id} is already enrolled in this programme (one enrolment per "
            "worker and programme)."
        )
    if programme.enrolled_count >= programme.capacity:
        raise Conflict(
            f"The programme is full: its capacity is {programme.capacity} and "
            f"{programme.enrolled_count} workers are enrolled.",
            capacity=programme.capacity,
        )
    before = None
    if existing is not None:  # withdrawn earlier: enrolling again reuses the row
        before = schemas.Enrolment.model_validate(existing).model_dump(mode="json")
        existing.status = EnrolmentStatus.enrolled
        existing.withdrawn_at = None
        enrolment = existing
    else:
        enrolment = TrainingEnrolment(programme_id=programme.id, worker_id=worker.id)
        session.add(enrolment)
    programme.enrolled_count += 1
    await session.flush()
    await session.refresh(enrolment)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="training_enrolment.create",
        entity_type="training_enrolment",
        entity_id=enrolment.id,
        before=before,
        after=schemas.Enrolment.model_validate(enrolment).model_dump(mode="json"),
    )
    return enrolment


async def withdraw(
    session: AsyncSession, programme_id: uuid.UUID, worker_id: uuid.UUID, principal: Principal
) -> TrainingEnrolment:
    programme = await get_programme(session, programme_id, for_update=True)
    _ensure_can_enrol(principal, programme, worker_id)
    enrolment = await session.scalar(
        select(TrainingEnrolment).where(
            TrainingEnrolment.programme_id == programme.id,
            TrainingEnrolment.worker_id == worker_id,
        )
    )
    if enrolment is None:
        raise NotFound(f"Worker {worker_id} has no enrolment in training programme {programme_id}.")
    if enrolment.status is EnrolmentStatus.withdrawn:
        raise Conflict(f"Worker {worker_id} has already withdrawn from this programme.")
    if programme.status not in (ProgrammeStatus.open, ProgrammeStatus.in_progress):
        raise Conflict(
            f"The programme is {programme.status.value}: workers withdraw only while it is open "
            "or in_progress."
        )
    before = schemas.Enrolment.model_validate(enrolment).model_dump(mode="json")
    enrolment.status = EnrolmentStatus.withdrawn
    enrolment.withdrawn_at = datetime.now(UTC)
    programme.enrolled_count -= 1
    await session.flush()
    await session.refresh(enrolment)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="training_enrolment.withdraw",
        entity_type="training_enrolment",
        entity_id=enrolment.id,
        before=before,
        after=schemas.Enrolment.model_validate(enrolment).model_dump(mode="json"),
    )
    return enrolment


async def list_enrolments(
    session: AsyncSession,
    programme_id: uuid.UUID,
    principal: Principal,
    *,
    status: EnrolmentStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Enrolment]:
    programme = await get_programme(session, programme_id)
    ensure_can_view_roster(principal, programme)
    stmt = select(TrainingEnrolment).where(TrainingEnrolment.programme_id == programme_id)
    if status:
        stmt = stmt.where(TrainingEnrolment.status == status)
    return await paginate(
        session,
        stmt,
        order_by=[TrainingEnrolment.created_at, TrainingEnrolment.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Enrolment.model_validate,
    )


async def list_worker_training(
    session: AsyncSession,
    worker: Worker,
    *,
    limit: int,
    cursor: str | None,
) -> Page[schemas.WorkerTraining]:
    """`worker`: checked by the route (`VisibleWorker`)."""
    return await paginate(
        session,
        select(TrainingEnrolment)
        .where(TrainingEnrolment.worker_id == worker.id)
        .options(joinedload(TrainingEnrolment.programme)),
        order_by=[TrainingEnrolment.created_at, TrainingEnrolment.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.WorkerTraining.model_validate,
    )


# --- attendance ------------------------------------------------------------------------------


async def record_attendance(
    session: AsyncSession,
    programme_id: uuid.UUID,
    session_id: uuid.UUID,
    marks: Sequence[schemas.AttendanceMark],
    principal: Principal,
) -> list[TrainingAttendance]:
    """Upsert present/absent for enrolled workers; the whole list is refused if one is not."""
    programme = await get_programme(session, programme_id, for_update=True)
    ensure_can_manage_programme(principal, programme)
    training_session = await _get_session(session, programme.id, session_id)
    if programme.status not in RUNNING:
        raise Conflict(
            f"The programme is {programme.status.value}: attendance is taken only until it is "
            "completed (hours are credited from it once)."
        )
    seen: dict[uuid.UUID, int] = {}
    for i, mark in enumerate(marks):
        if mark.worker_id in seen:
            raise InvalidInput(
                f"Worker {mark.worker_id} appears twice in the list.",
                errors=[FieldError(field=f"[{i}].worker_id", message="duplicate worker")],
            )
        seen[mark.worker_id] = i
    enrolled = set(
        (
            await session.scalars(
                select(TrainingEnrolment.worker_id).where(
                    TrainingEnrolment.programme_id == programme.id,
                    TrainingEnrolment.status == EnrolmentStatus.enrolled,
                    TrainingEnrolment.worker_id.in_(list(seen)),
                )
            )
        ).all()
    )
    missing = [(i, w) for w, i in seen.items() if w not in enrolled]
    if missing:
        raise RuleViolation(
            "Attendance is recorded only for workers enrolled in the programme; not enrolled: "
            + ", ".join(str(w) for _, w in missing)
            + ".",
            errors=[
                FieldError(field=f"[{i}].worker_id", message="not enrolled in this programme")
                for i, _ in missing
            ],
        )
    if marks:
        stmt = insert(TrainingAttendance).values(
            [
                {
                    "session_id": training_session.id,
                    "worker_id": m.worker_id,
                    "present": m.present,
                    "recorded_by": principal.sub,
                }
                for m in marks
            ]
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[TrainingAttendance.session_id, TrainingAttendance.worker_id],
                set_={
                    "present": stmt.excluded.present,
                    "recorded_by": stmt.excluded.recorded_by,
                    "updated_at": func.now(),
                },
            )
        )
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="training_attendance.record",
        entity_type="training_session",
        entity_id=training_session.id,
        after={"marks": {str(m.worker_id): m.present for m in marks}},
    )
    return await list_attendance(session, training_session.id)


async def list_attendance(session: AsyncSession, session_id: uuid.UUID) -> list[TrainingAttendance]:
    return list(
        (
            await session.scalars(
                select(TrainingAttendance)
                .where(TrainingAttendance.session_id == session_id)
                .order_by(TrainingAttendance.worker_id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )


async def get_attendance(
    session: AsyncSession, programme_id: uuid.UUID, session_id: uuid.UUID, principal: Principal
) -> list[TrainingAttendance]:
    programme = await get_programme(session, programme_id)
    ensure_can_view_roster(principal, programme)
    training_session = await _get_session(session, programme.id, session_id)
    return await list_attendance(session, training_session.id)
