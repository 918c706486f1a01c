"""Progress of the craftsman reserve, computed from the data the registry already keeps.

Public: the programme statistics count the reserve with these (and the tables described in
`shared.models.registry.reserve`); nothing here is stored or typed in.

A member's progress (`member_progress`), over the window from joining (`confirmed_on`, or the
nomination while nominated) to today (or the day the member left):
- grade: promotions = grade changes by certification or competition to a higher grade,
  effective in the window; the target is reached when the current grade is at or above it;
- training: hours of sessions attended (`training_attendance.present`), in the plan's
  programmes and in any programme in the window;
- competitions: the talent file's `competition_result` entries, those of the plan's target
  competitions and the number in the window;
- honours: unrevoked grants dated in the window, and whether the track's honour is held now.

A locality's (or an enterprise's) actual numbers for a year (`actuals`), over its workers as
they are now (a worker who moved counts where they work now):
- reserve_size: members in the pool on `as_of` (the year's last day, or today for the current
  year): `confirmed_on <= as_of` and not left by then (`in_pool_on`);
- grade_promotions: grade changes of its workers, as above, effective in the year up to `as_of`;
- honours: grants to its workers dated in the year up to `as_of`, not revoked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.reserve import schemas
from services.registry.reserve.service import (
    OPEN_STATUSES,
    ensure_scope_covers,
    today,
)
from services.registry.talent.access import reads_all
from shared import clock
from shared.auth.principal import Principal, Role
from shared.errors import FieldError, InvalidInput
from shared.models.registry import (
    EnrolmentStatus,
    Enterprise,
    GradeChange,
    GradeSource,
    HonourGrant,
    Locality,
    LocalityLevel,
    Mentorship,
    ReserveMember,
    ReservePlanProgramme,
    ReserveTarget,
    ReserveTrack,
    SkillGrade,
    TimelineEntry,
    TimelineKind,
    TrainingAttendance,
    TrainingEnrolment,
    TrainingProgramme,
    TrainingSession,
    Worker,
)
from shared.scope import PROVINCE, locality_clause

#: Grade changes that count as promotions (an initial grade or an admin's correction does not).
PROMOTION_SOURCES = (GradeSource.certification, GradeSource.competition)
ZERO = Decimal("0.00")


def grade_rank(column: Any) -> Any:
    """SQL: the rank of a grade column on the national ladder (apprentice 0 ... chief 7)."""
    return case({g.value: g.rank for g in SkillGrade}, value=column)


def is_promotion() -> ColumnElement[bool]:
    """SQL: a grade change that is a promotion."""
    return and_(
        GradeChange.source.in_(PROMOTION_SOURCES),
        GradeChange.from_grade.is_not(None),
        grade_rank(GradeChange.to_grade) > grade_rank(GradeChange.from_grade),
    )


def in_pool_on(day: date) -> ColumnElement[bool]:
    """SQL: the membership is in the pool on `day` (whatever its status now)."""
    return and_(
        ReserveMember.confirmed_on.is_not(None),
        ReserveMember.confirmed_on <= day,
        or_(ReserveMember.left_on.is_(None), ReserveMember.left_on > day),
    )


def _start(day: date) -> datetime:
    return clock.start_of(day)


def _end(day: date) -> datetime:
    """The first instant after `day` (Asia/Shanghai)."""
    return _start(day + timedelta(days=1))


# --- one member -------------------------------------------------------------------------------


async def member_progress(session: AsyncSession, member: ReserveMember) -> schemas.MemberProgress:
    """`member` with its worker loaded (`access.load_member`)."""
    worker = member.worker
    since = member.confirmed_on or member.nominated_on
    end = member.left_on or member.declined_on or today()
    as_of = max(end, since)

    promotions = await session.scalar(
        select(func.count())
        .select_from(GradeChange)
        .where(
            GradeChange.worker_id == worker.id,
            GradeChange.effective_date >= since,
            GradeChange.effective_date <= as_of,
            is_promotion(),
        )
    )
    target = member.target_grade
    grade = schemas.GradeProgress(
        at_nomination=member.grade_at_nomination,
        current=worker.grade,
        target=target,
        reached=(worker.grade.rank >= target.rank) if target is not None else None,
        promotions=int(promotions or 0),
    )
    return schemas.MemberProgress(
        member_id=member.id,
        worker_id=worker.id,
        status=member.status,
        since=since,
        as_of=as_of,
        grade=grade,
        training=await _training(session, member, since, as_of),
        competitions=await _competitions(session, member, since, as_of),
        honour_grants=await _honours(session, member, since, as_of),
        mentoring=await _mentoring(session, member),
        review_on=member.review_on,
        review_due=(
            member.status in OPEN_STATUSES
            and member.review_on is not None
            and member.review_on <= today()
        ),
    )


def _attended(worker_id: uuid.UUID) -> Any:
    """Sessions the worker attended, with their hours."""
    return (
        select(TrainingSession.programme_id, TrainingSession.hours, TrainingSession.starts_at)
        .join(
            TrainingAttendance,
            and_(
                TrainingAttendance.session_id == TrainingSession.id,
                TrainingAttendance.worker_id == worker_id,
                TrainingAttendance.present.is_(True),
            ),
        )
        .subquery()
    )


async def _training(
    session: AsyncSession, member: ReserveMember, since: date, as_of: date
) -> schemas.TrainingProgress:
    worker_id = member.worker_id
    attended = _attended(worker_id)
    planned_hours = (
        select(TrainingSession.programme_id, func.sum(TrainingSession.hours).label("hours"))
        .group_by(TrainingSession.programme_id)
        .subquery()
    )
    attended_hours = (
        select(attended.c.programme_id, func.sum(attended.c.hours).label("hours"))
        .group_by(attended.c.programme_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            TrainingProgramme.id,
            TrainingProgramme.title,
            TrainingProgramme.status,
            TrainingEnrolment.status.label("enrolment"),
            planned_hours.c.hours.label("planned"),
            attended_hours.c.hours.label("attended"),
        )
        .join(ReservePlanProgramme, ReservePlanProgramme.programme_id == TrainingProgramme.id)
        .outerjoin(
            TrainingEnrolment,
            and_(
                TrainingEnrolment.programme_id == TrainingProgramme.id,
                TrainingEnrolment.worker_id == worker_id,
            ),
        )
        .outerjoin(planned_hours, planned_hours.c.programme_id == TrainingProgramme.id)
        .outerjoin(attended_hours, attended_hours.c.programme_id == TrainingProgramme.id)
        .where(ReservePlanProgramme.member_id == member.id)
        .order_by(ReservePlanProgramme.position)
    )
    programmes = [
        schemas.ProgrammeProgress(
            programme_id=row.id,
            title=row.title,
            status=row.status,
            enrolled=row.enrolment == EnrolmentStatus.enrolled,
            planned_hours=row.planned or ZERO,
            attended_hours=row.attended or ZERO,
        )
        for row in rows
    ]
    in_window = await session.scalar(
        select(func.coalesce(func.sum(attended.c.hours), ZERO)).where(
            attended.c.starts_at >= _start(since), attended.c.starts_at < _end(as_of)
        )
    )
    return schemas.TrainingProgress(
        programmes=programmes,
        plan_attended_hours=sum((p.attended_hours for p in programmes), ZERO),
        attended_hours=Decimal(in_window or ZERO),
    )


async def _competitions(
    session: AsyncSession, member: ReserveMember, since: date, as_of: date
) -> schemas.CompetitionProgress:
    results = (
        await session.scalars(
            select(TimelineEntry)
            .where(
                TimelineEntry.worker_id == member.worker_id,
                TimelineEntry.kind == TimelineKind.competition_result.value,
            )
            .order_by(TimelineEntry.occurred_at, TimelineEntry.id)
        )
    ).all()
    targets = {str(c) for c in member.target_competition_ids or []}
    in_targets = [
        schemas.ResultOnFile(
            competition_id=entry.data["competition_id"],
            competition_name=entry.data.get("competition_name", ""),
            stage_name=entry.data.get("stage_name", ""),
            rank=entry.data["rank"],
            prize=entry.data.get("prize"),
            published_at=entry.occurred_at,
        )
        for entry in results
        if str(entry.data.get("competition_id")) in targets
    ]
    window = [e for e in results if _start(since) <= e.occurred_at < _end(as_of)]
    return schemas.CompetitionProgress(
        target_results=in_targets,
        targets_with_result=len({str(r.competition_id) for r in in_targets}),
        results=len(window),
    )


async def _honours(
    session: AsyncSession, member: ReserveMember, since: date, as_of: date
) -> schemas.HonourProgress:
    grants = (
        await session.scalars(
            select(HonourGrant)
            .where(HonourGrant.worker_id == member.worker_id, HonourGrant.revoked_at.is_(None))
            .order_by(HonourGrant.granted_on, HonourGrant.id)
        )
    ).all()
    held = None
    if member.track is not ReserveTrack.craftsman_reserve:
        held = any(g.honour_code == member.track.value for g in grants)
    return schemas.HonourProgress(
        granted=[
            schemas.HonourOnFile(honour_code=g.honour_code, granted_on=g.granted_on)
            for g in grants
            if since <= g.granted_on <= as_of
        ],
        track_honour_held=held,
    )


async def _mentoring(session: AsyncSession, member: ReserveMember) -> schemas.MentoringProgress:
    status = None
    if member.mentorship_id is not None:
        status = await session.scalar(
            select(Mentorship.status).where(Mentorship.id == member.mentorship_id)
        )
    return schemas.MentoringProgress(
        mentor_id=member.mentor_id, mentorship_id=member.mentorship_id, mentorship_status=status
    )


# --- a locality's year ------------------------------------------------------------------------


@dataclass(frozen=True)
class Actuals:
    reserve_size: int
    grade_promotions: int
    honours: int


def year_window(year: int) -> tuple[date, date]:
    """(first day, `as_of`): the year's last day, or today for the current year."""
    return date(year, 1, 1), min(date(year, 12, 31), today())


async def actuals(session: AsyncSession, *, year: int, workers: ColumnElement[bool]) -> Actuals:
    """The year's actual numbers over the workers `workers` selects (a clause on `Worker`,
    e.g. `locality_clause(code, Worker.locality_code)` or `Worker.enterprise_id == id`)."""
    first, as_of = year_window(year)
    size = await session.scalar(
        select(func.count(func.distinct(ReserveMember.worker_id)))
        .join(Worker, Worker.id == ReserveMember.worker_id)
        .where(workers, in_pool_on(as_of))
    )
    promotions = await session.scalar(
        select(func.count())
        .select_from(GradeChange)
        .join(Worker, Worker.id == GradeChange.worker_id)
        .where(
            workers,
            is_promotion(),
            GradeChange.effective_date >= first,
            GradeChange.effective_date <= as_of,
        )
    )
    honours = await session.scalar(
        select(func.count())
        .select_from(HonourGrant)
        .join(Worker, Worker.id == HonourGrant.worker_id)
        .where(
            workers,
            HonourGrant.revoked_at.is_(None),
            HonourGrant.granted_on >= first,
            HonourGrant.granted_on <= as_of,
        )
    )
    return Actuals(int(size or 0), int(promotions or 0), int(honours or 0))


def _measures(found: Actuals, target: ReserveTarget | None) -> list[schemas.MeasureProgress]:
    out = []
    for measure in schemas.Measure:
        actual = getattr(found, measure.value)
        goal = getattr(target, measure.value) if target is not None else None
        out.append(
            schemas.MeasureProgress(
                measure=measure,
                target=goal,
                actual=actual,
                progress=round(actual / goal, 3) if goal else None,
            )
        )
    return out


async def report(
    session: AsyncSession, principal: Principal, *, year: int, locality_code: str | None
) -> schemas.ProgressReport:
    """Progress against the targets of `year`, for the localities (or the enterprise) of the
    caller's scope: the province sees the province and every city (or the one locality it
    asks for), a city its own (or one of its counties), an enterprise its enterprise.

    Only counts leave, and only over workers the caller may read one by one anyway."""
    if year > today().year:
        raise InvalidInput(
            f"{year} has not begun: progress is reported up to today.",
            errors=[FieldError(field="year", location="query", message="in the future")],
        )
    _, as_of = year_window(year)
    rows: list[schemas.ProgressRow] = []
    if principal.role is Role.organiser and principal.enterprise_id is not None:
        if locality_code:
            ensure_scope_covers(principal, locality_code)
        enterprise = await session.get(Enterprise, principal.enterprise_id)
        found = await actuals(
            session, year=year, workers=Worker.enterprise_id == principal.enterprise_id
        )
        rows.append(
            schemas.ProgressRow(
                enterprise_id=principal.enterprise_id,
                locality_code=enterprise.locality_code if enterprise else None,
                measures=_measures(found, None),
            )
        )
        return schemas.ProgressReport(year=year, as_of=as_of, rows=rows)

    if locality_code:
        ensure_scope_covers(principal, locality_code)
        codes = [locality_code]
    elif reads_all(principal) or principal.locality_code == PROVINCE:
        cities = await session.scalars(
            select(Locality.code)
            .where(Locality.level == LocalityLevel.city)
            .order_by(Locality.code)
        )
        codes = [PROVINCE, *cities]
    else:
        assert principal.locality_code is not None  # a locality organiser
        codes = [principal.locality_code]
    named = await session.execute(
        select(Locality.code, Locality.name).where(Locality.code.in_(codes))
    )
    names: dict[str, str] = {code: name for code, name in named.all()}
    targets = {
        t.locality_code: t
        for t in await session.scalars(
            select(ReserveTarget).where(
                ReserveTarget.year == year, ReserveTarget.locality_code.in_(codes)
            )
        )
    }
    for code in codes:
        if code not in names:
            raise InvalidInput(
                f"No locality with code {code}.",
                errors=[FieldError(field="locality_code", location="query", message="unknown")],
            )
        found = await actuals(
            session, year=year, workers=locality_clause(code, Worker.locality_code)
        )
        rows.append(
            schemas.ProgressRow(
                locality_code=code,
                locality_name=names[code],
                measures=_measures(found, targets.get(code)),
            )
        )
    return schemas.ProgressReport(year=year, as_of=as_of, rows=rows)


__all__ = [
    "PROMOTION_SOURCES",
    "Actuals",
    "actuals",
    "grade_rank",
    "in_pool_on",
    "is_promotion",
    "member_progress",
    "report",
    "year_window",
]
