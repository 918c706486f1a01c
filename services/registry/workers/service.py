"""Workers and their talent files: registration, search, grades, moves, status, timeline.

Rules kept here:
- identity numbers validated (GB 11643 check digit, real birth date); birth date and sex are
  derived from them and any given value must agree; one worker per identity number;
- workers are at least 16 (the legal working age) when registered;
- grades climb the eight-level ladder one level at a time by certification; competitions may
  promote one level above the current grade (judging reports it, idempotently); only an
  admin's correction may move a grade down or by several levels;
- the file type follows the grade (apprentice file below junior, technician file above).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.identifiers import id_number_facts, validate_id_number
from services.registry.results.service import results_by_level
from services.registry.search import search_page
from services.registry.talent import schemas as talent_schemas
from services.registry.talent import timeline
from services.registry.talent.access import (
    WorkerScope,
    can_view,
    ensure_can_manage,
    load_worker,
)
from services.registry.workers import schemas
from shared import audit, clock
from shared.auth.principal import Principal, Role
from shared.concurrency import check_if_match
from shared.crypto import PersonalDataCipher, mask_id_number, mask_phone
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, RuleViolation
from shared.models.competitions import CompetitionLevel
from shared.models.registry import (
    Employment,
    Enterprise,
    FileStatus,
    FileType,
    GradeChange,
    GradeSource,
    HonourGrant,
    Locality,
    SkillGrade,
    TimelineEntry,
    TimelineKind,
    Worker,
)
from shared.models.registry.eligibility import worker_eligibility
from shared.models.registry.enums import SKILL_GRADE_NAMES
from shared.pagination import Page, keyset_rows, paginate
from shared.scope import locality_clause

MIN_WORKING_AGE = 16
PROVINCE_CODE = "370000"

LEVEL_NAMES = {
    CompetitionLevel.enterprise: "企业级",
    CompetitionLevel.county: "县级",
    CompetitionLevel.city: "市级",
    CompetitionLevel.provincial: "省级",
    CompetitionLevel.national: "全国",
}

#: Chinese names of the grades (shared: lists other services print show them too).
GRADE_NAMES = SKILL_GRADE_NAMES


def may_see_personal_data(principal: Principal, worker: Worker) -> bool:
    return principal.role is Role.admin or (
        principal.role is Role.worker and principal.worker_id == worker.id
    )


def present(worker: Worker, cipher: PersonalDataCipher, principal: Principal) -> schemas.Worker:
    clear = may_see_personal_data(principal, worker)
    phone = None
    if worker.phone_enc is not None:
        phone = cipher.decrypt(worker.phone_enc) if clear else worker.phone_masked
    return schemas.Worker(
        id=worker.id,
        name=worker.name,
        id_number=cipher.decrypt(worker.id_number_enc) if clear else worker.id_number_masked,
        sex=worker.sex,
        birth_date=worker.birth_date,
        phone=phone,
        occupation=worker.occupation,
        enterprise_id=worker.enterprise_id,
        locality_code=worker.locality_code,
        grade=worker.grade,
        file_type=worker.file_type,
        file_status=worker.file_status,
        version=worker.version,
        created_at=worker.created_at,
        updated_at=worker.updated_at,
    )


async def present_file(
    session: AsyncSession, worker: Worker, cipher: PersonalDataCipher, principal: Principal
) -> schemas.WorkerFile:
    """`present`, with the worker's competition path by level and year."""
    return schemas.WorkerFile(
        **present(worker, cipher, principal).model_dump(),
        results_by_level=await results_by_level(session, worker.id),
    )


def _audit_view(worker: Worker) -> dict[str, object]:
    """What the audit log keeps of a worker: masked personal numbers only."""
    return {
        "name": worker.name,
        "id_number": worker.id_number_masked,
        "phone": worker.phone_masked,
        "occupation": worker.occupation,
        "enterprise_id": str(worker.enterprise_id) if worker.enterprise_id else None,
        "locality_code": worker.locality_code,
        "grade": worker.grade.value,
        "file_type": worker.file_type.value,
        "file_status": worker.file_status.value,
    }


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


async def _enterprise(session: AsyncSession, enterprise_id: uuid.UUID, field: str) -> Enterprise:
    enterprise = await session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise RuleViolation(
            f"No enterprise with id {enterprise_id}.",
            errors=[FieldError(field=field, message="unknown enterprise")],
        )
    return enterprise


async def create(
    session: AsyncSession,
    cipher: PersonalDataCipher,
    data: schemas.WorkerCreate,
    principal: Principal,
) -> Worker:
    number = validate_id_number(data.id_number)
    birth, sex = id_number_facts(number)
    mismatches = []
    if data.birth_date is not None and data.birth_date != birth:
        mismatches.append(
            FieldError(field="birth_date", message="differs from the identity number")
        )
    if data.sex is not None and data.sex != sex:
        mismatches.append(FieldError(field="sex", message="differs from the identity number"))
    if mismatches:
        raise InvalidInput(
            "The birth date or sex given does not match the identity number.", errors=mismatches
        )
    if _age_on(birth, clock.today()) < MIN_WORKING_AGE:
        raise RuleViolation(
            f"Workers must be at least {MIN_WORKING_AGE} years old.",
            errors=[FieldError(field="id_number", message="under the legal working age")],
        )
    enterprise = (
        await _enterprise(session, data.enterprise_id, "enterprise_id")
        if data.enterprise_id
        else None
    )
    locality_code = data.locality_code or (enterprise.locality_code if enterprise else None)
    if locality_code is None:
        raise InvalidInput(
            "Give locality_code, or an enterprise_id to take its locality.",
            errors=[
                FieldError(field="locality_code", message="Field required without enterprise_id")
            ],
        )
    if await session.get(Locality, locality_code) is None:
        raise RuleViolation(
            f"No locality with code {locality_code}.",
            errors=[FieldError(field="locality_code", message="unknown locality")],
        )
    lookup = cipher.lookup_hash(number)
    worker = Worker(
        name=data.name.strip(),
        id_number_hash=lookup,
        id_number_enc=cipher.encrypt(number),
        id_number_masked=mask_id_number(number),
        sex=sex,
        birth_date=birth,
        phone_enc=cipher.encrypt(data.phone) if data.phone else None,
        phone_masked=mask_phone(data.phone) if data.phone else None,
        occupation=data.occupation.strip(),
        enterprise_id=enterprise.id if enterprise else None,
        locality_code=locality_code,
        grade=data.grade,
        file_type=FileType.for_grade(data.grade),
    )
    # The caller's own scope first (it says nothing about anybody else), then duplicates.
    ensure_can_manage(principal, worker)
    existing = (
        await session.execute(
            select(Worker.id, Worker.enterprise_id, Worker.locality_code).where(
                Worker.id_number_hash == lookup
            )
        )
    ).first()
    if existing is not None:
        raise duplicate_worker(principal, existing)
    session.add(worker)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "A worker with this identity number was registered at the same moment; look it up."
        ) from exc
    await session.refresh(worker)
    today = clock.today()
    session.add(
        GradeChange(
            worker_id=worker.id,
            from_grade=None,
            to_grade=data.grade,
            effective_date=today,
            source=GradeSource.initial,
            recorded_by=principal.sub,
        )
    )
    if enterprise:
        session.add(Employment(worker_id=worker.id, enterprise_id=enterprise.id, started_on=today))
    timeline.record_change(
        session,
        principal,
        notes=[
            timeline.Note(
                worker_id=worker.id,
                kind=TimelineKind.registered,
                summary=f"建立{'学徒' if worker.file_type is FileType.apprentice else '技术工人'}"
                f"档案，等级：{GRADE_NAMES[worker.grade]}",
                data={
                    "grade": worker.grade.value,
                    "file_type": worker.file_type.value,
                    "enterprise_id": str(worker.enterprise_id) if worker.enterprise_id else None,
                },
                source_type="worker",
                source_id=worker.id,
            )
        ],
        action="worker.create",
        entity_type="worker",
        entity_id=worker.id,
        after=_audit_view(worker),
        event="worker.created",
        event_data={
            "worker_id": str(worker.id),
            "grade": worker.grade.value,
            "enterprise_id": str(worker.enterprise_id) if worker.enterprise_id else None,
            "locality_code": worker.locality_code,
        },
    )
    return worker


#: What an organiser is told when the identity number belongs to a worker it may not read.
#: The same words, and nothing else, for every such worker: no id, locality or employer.
#: (Uniqueness of the identity number makes a refusal unavoidable; see the README, Security.)
NOT_REGISTRABLE = (
    "This identity number cannot be registered in your scope. If the person has moved to "
    "you, ask the province (an admin) to transfer their file."
)


def duplicate_worker(principal: Principal, existing: Any) -> Conflict:
    """The 409 for an identity number already on file: naming the worker only to a caller who
    may read them (`existing`: its id, enterprise_id and locality_code)."""
    if can_view(principal, existing):
        return Conflict(
            f"A worker with this identity number is already registered (id {existing.id}).",
            existing_worker_id=str(existing.id),
        )
    return Conflict(NOT_REGISTRABLE)


async def list_workers(
    session: AsyncSession,
    cipher: PersonalDataCipher,
    principal: Principal,
    *,
    q: str | None,
    enterprise_id: uuid.UUID | None,
    locality_code: str | None,
    grade: SkillGrade | None,
    min_grade: SkillGrade | None,
    occupation: str | None,
    file_status: FileStatus | None,
    honour: str | None,
    limit: int,
    cursor: str | None,
) -> schemas.WorkerPage:
    # Columns, not entities: no ORM object per row. The encrypted numbers are read only for
    # callers who may see them in clear (admins, a worker their own file).
    clear = principal.role is Role.admin or principal.role is Role.worker
    columns = [*LIST_COLUMNS, *(SECRET_COLUMNS if clear else ())]
    stmt = select(*columns)
    if principal.role not in (Role.admin, Role.integration, Role.organiser, Role.worker):
        raise Forbidden(f"Role {principal.role.value} may not list workers.")
    stmt = stmt.where(WorkerScope(principal).clause())
    if enterprise_id:
        stmt = stmt.where(Worker.enterprise_id == enterprise_id)
    if locality_code:
        stmt = stmt.where(locality_clause(locality_code, Worker.locality_code))
    if grade:
        stmt = stmt.where(Worker.grade == grade)
    if min_grade:
        stmt = stmt.where(Worker.grade.in_([g for g in SkillGrade if g.rank >= min_grade.rank]))
    if occupation:
        stmt = stmt.where(Worker.occupation == occupation)
    if file_status:
        stmt = stmt.where(Worker.file_status == file_status)
    if honour:
        stmt = stmt.where(
            exists().where(
                HonourGrant.worker_id == Worker.id,
                HonourGrant.honour_code == honour,
                HonourGrant.revoked_at.is_(None),
            )
        )
    if q:
        # Exact, then prefix, then elsewhere; by name within each (services.registry.search).
        rows, next_cursor = await search_page(
            session,
            stmt,
            Worker.name,
            Worker.name_tokens,
            Worker.id,
            q,
            limit=limit,
            cursor=cursor,
        )
    else:
        rows, next_cursor = await keyset_rows(
            session,
            stmt,
            order_by=[Worker.created_at, Worker.id],
            limit=limit,
            cursor=cursor,
            key=lambda r: (r.created_at, r.id),
            core=True,
        )
    return {"items": [present_row(r, cipher, principal) for r in rows], "next_cursor": next_cursor}


#: What a list shows of a worker, and the encrypted numbers for clear views.
LIST_COLUMNS = (
    Worker.id,
    Worker.name,
    Worker.id_number_masked,
    Worker.sex,
    Worker.birth_date,
    Worker.phone_masked,
    Worker.occupation,
    Worker.enterprise_id,
    Worker.locality_code,
    Worker.grade,
    Worker.file_type,
    Worker.file_status,
    Worker.version,
    Worker.created_at,
    Worker.updated_at,
)
SECRET_COLUMNS = (Worker.id_number_enc, Worker.phone_enc)


def present_row(row: Any, cipher: PersonalDataCipher, principal: Principal) -> schemas.WorkerItem:
    """`present` for a row of LIST_COLUMNS (+ SECRET_COLUMNS when the caller may see them), as
    a plain dict: the values come typed from the database, nothing to validate again. Columns
    are read by name."""
    clear = principal.role is Role.admin or (
        principal.role is Role.worker and principal.worker_id == row.id
    )
    id_number, phone = row.id_number_masked, row.phone_masked
    if clear:
        id_number = cipher.decrypt(row.id_number_enc)
        if row.phone_enc is not None:
            phone = cipher.decrypt(row.phone_enc)
    return {
        "id": row.id,
        "name": row.name,
        "id_number": id_number,
        "sex": row.sex,
        "birth_date": row.birth_date,
        "phone": phone,
        "occupation": row.occupation,
        "enterprise_id": row.enterprise_id,
        "locality_code": row.locality_code,
        "grade": row.grade,
        "file_type": row.file_type,
        "file_status": row.file_status,
        "version": row.version,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


#: What a worker may change on their own talent file: their contact number. The name is the
#: legal name on the identity card and the occupation is the trade their grade certifies, so
#: both change through an organiser in scope (or an admin), who answer for the record; identity
#: number, sex and birth date never change (they are the identity number), and grade, employer
#: and file status change through their own endpoints, which keep history.
SELF_SERVICE_FIELDS = frozenset({"phone"})


def _check_self_service(changes: dict[str, object]) -> None:
    refused = sorted(set(changes) - SELF_SERVICE_FIELDS)
    if refused:
        raise Forbidden(
            f"You may change your {', '.join(sorted(SELF_SERVICE_FIELDS))} yourself; "
            f"{', '.join(refused)} must be corrected by an organiser of your locality (bring "
            "your identity card or the certificate).",
            errors=[
                FieldError(field=name, message="only an organiser or an admin may change this")
                for name in refused
            ],
        )


async def update(
    session: AsyncSession,
    cipher: PersonalDataCipher,
    worker: Worker,
    data: schemas.WorkerUpdate,
    principal: Principal,
    if_match: str | None,
) -> Worker:
    """`worker`: loaded by the route (`VisibleWorker`); organisers in scope change it, and the
    worker themselves only the fields of `_check_self_service`."""
    worker = await load_worker(session, worker.id, for_update=True)
    changes = data.model_dump(exclude_unset=True)
    if principal.role is Role.worker and principal.worker_id == worker.id:
        _check_self_service(changes)
    else:
        ensure_can_manage(principal, worker)
    check_if_match(if_match, worker.version)
    before = _audit_view(worker)
    if changes.get("name"):
        worker.name = changes["name"].strip()
    if changes.get("occupation"):
        worker.occupation = changes["occupation"].strip()
    if "phone" in changes:
        phone = changes["phone"]
        worker.phone_enc = cipher.encrypt(phone) if phone else None
        worker.phone_masked = mask_phone(phone) if phone else None
    worker.version += 1
    await session.flush()
    await session.refresh(worker)
    audit.record(
        session,
        service="registry",
        principal=principal,
        action="worker.update",
        entity_type="worker",
        entity_id=worker.id,
        before=before,
        after=_audit_view(worker),
    )
    return worker


async def _apply_grade(
    session: AsyncSession,
    worker: Worker,
    *,
    to_grade: SkillGrade,
    effective_date: date,
    source: GradeSource,
    principal: Principal,
    certificate_no: str | None = None,
    issuing_body: str | None = None,
    source_ref: str | None = None,
    reason: str | None = None,
    competition_id: uuid.UUID | None = None,
) -> GradeChange:
    change = GradeChange(
        worker_id=worker.id,
        from_grade=worker.grade,
        to_grade=to_grade,
        effective_date=effective_date,
        certificate_no=certificate_no,
        issuing_body=issuing_body,
        source=source,
        source_ref=source_ref,
        reason=reason,
        recorded_by=principal.sub,
    )
    session.add(change)
    before = _audit_view(worker)
    old = worker.grade
    worker.grade = to_grade
    worker.file_type = FileType.for_grade(to_grade)
    worker.version += 1
    await session.flush()
    await session.refresh(change)
    verb = "晋升为" if to_grade.rank > old.rank else "等级更正为"
    timeline.record_change(
        session,
        principal,
        notes=[
            timeline.Note(
                worker_id=worker.id,
                kind=TimelineKind.grade_changed,
                summary=f"{verb}{GRADE_NAMES[to_grade]}",
                data={
                    "from_grade": old.value,
                    "to_grade": to_grade.value,
                    "source": source.value,
                    "certificate_no": certificate_no,
                    "issuing_body": issuing_body,
                    "source_ref": source_ref,
                },
                source_type="grade_change",
                source_id=change.id,
            )
        ],
        action="worker.grade_change",
        entity_type="worker",
        entity_id=worker.id,
        before=before,
        after=_audit_view(worker),
        event="worker.grade_changed",
        event_data={
            "worker_id": str(worker.id),
            "from_grade": old.value,
            "to_grade": to_grade.value,
            "source": source.value,
            "effective_date": effective_date.isoformat(),
            "grade_change_id": str(change.id),
            "enterprise_id": str(worker.enterprise_id) if worker.enterprise_id else None,
            "locality_code": worker.locality_code,
            # A promotion for a competition result reaches that competition's subscribers.
            **({"competition_id": str(competition_id)} if competition_id else {}),
        },
    )
    return change


async def change_grade(
    session: AsyncSession,
    worker: Worker,
    data: schemas.GradeChangeCreate,
    principal: Principal,
) -> GradeChange:
    """`worker`: locked and checked by the route (`ManagedWorker`)."""
    _not_in_future(data.effective_date, "effective_date", "A grade change")
    if data.to_grade == worker.grade:
        raise Conflict(f"The worker already holds grade {worker.grade.value}.")
    if data.source is GradeSource.certification:
        missing = [f for f in ("certificate_no", "issuing_body") if not getattr(data, f)]
        if missing:
            raise InvalidInput(
                "A certification needs the certificate number and the issuing body.",
                errors=[
                    FieldError(field=f, message="required for a certification") for f in missing
                ],
            )
        step = data.to_grade.rank - worker.grade.rank
        if step < 0:
            raise RuleViolation(
                f"A certification cannot lower a grade ({worker.grade.value} to "
                f"{data.to_grade.value}); an admin correction can.",
                errors=[FieldError(field="to_grade", message="lower than the current grade")],
            )
        if step > 1:
            expected = list(SkillGrade)[worker.grade.rank + 1]
            raise RuleViolation(
                f"Grades are certified one level at a time: from {worker.grade.value} the next "
                f"is {expected.value}, not {data.to_grade.value}.",
                errors=[
                    FieldError(field="to_grade", message=f"skips levels; next is {expected.value}")
                ],
                allowed=[expected.value],
            )
    elif data.source is GradeSource.correction:
        if principal.role is not Role.admin:
            raise Forbidden("Only an admin may correct a grade.")
        if not data.reason:
            raise InvalidInput(
                "A correction needs a reason.",
                errors=[FieldError(field="reason", message="required for a correction")],
            )
    else:
        raise InvalidInput(
            f"Source {data.source.value} cannot be used here; competition promotions come "
            "through the internal endpoint.",
            errors=[FieldError(field="source", message="use certification or correction")],
        )
    return await _apply_grade(
        session,
        worker,
        to_grade=data.to_grade,
        effective_date=data.effective_date,
        source=data.source,
        principal=principal,
        certificate_no=data.certificate_no,
        issuing_body=data.issuing_body,
        reason=data.reason,
    )


def _not_in_future(day: date, field: str, what: str) -> None:
    """The talent file records what has happened: a change dated after today (Asia/Shanghai)
    would show now (the worker's grade or employer) what is not yet true."""
    if day > clock.today():
        raise InvalidInput(
            f"{what} cannot take effect in the future; record it on or after {day}.",
            errors=[FieldError(field=field, message="in the future")],
        )


async def promote_for_competition(
    session: AsyncSession, source_ref: str, data: schemas.CompetitionPromotion, principal: Principal
) -> tuple[GradeChange, bool]:
    """Idempotent: the same `source_ref` returns the promotion already made (created False)."""
    _not_in_future(data.effective_date, "effective_date", "A promotion")
    existing = await session.scalar(
        select(GradeChange).where(
            GradeChange.source == GradeSource.competition, GradeChange.source_ref == source_ref
        )
    )
    if existing is not None:
        if existing.worker_id != data.worker_id or existing.to_grade != data.to_grade:
            raise Conflict(
                f"Promotion {source_ref} was already recorded for another worker or grade "
                f"(grade change {existing.id})."
            )
        return existing, False
    worker = await load_worker(session, data.worker_id, for_update=True)
    if data.to_grade.rank <= worker.grade.rank:
        raise Conflict(
            f"The worker already holds {worker.grade.value}, at or above {data.to_grade.value}.",
            current_grade=worker.grade.value,
        )
    if data.to_grade.rank - worker.grade.rank > 1:
        expected = list(SkillGrade)[worker.grade.rank + 1]
        raise RuleViolation(
            f"A competition result promotes one level: from {worker.grade.value} to "
            f"{expected.value}, not {data.to_grade.value}.",
            errors=[
                FieldError(field="to_grade", message=f"skips levels; next is {expected.value}")
            ],
        )
    change = await _apply_grade(
        session,
        worker,
        to_grade=data.to_grade,
        effective_date=data.effective_date,
        source=GradeSource.competition,
        principal=principal,
        source_ref=source_ref,
        reason=data.reason,
        issuing_body="竞赛主办单位",
        competition_id=data.competition_id,
    )
    return change, True


async def grade_history(session: AsyncSession, worker: Worker) -> list[GradeChange]:
    """`worker`: checked by the route (`VisibleWorker`)."""
    rows = await session.scalars(
        select(GradeChange)
        .where(GradeChange.worker_id == worker.id)
        .order_by(GradeChange.created_at, GradeChange.id)
    )
    return list(rows)


async def transfer(
    session: AsyncSession, worker: Worker, data: schemas.Transfer, principal: Principal
) -> Worker:
    """`worker`: locked and checked by the route (`ManagedWorker`)."""
    _not_in_future(data.date, "date", "A move")
    target = await _enterprise(session, data.to_enterprise_id, "to_enterprise_id")
    if worker.enterprise_id == target.id:
        raise Conflict("The worker already works for this enterprise.")
    if worker.file_status is not FileStatus.active:
        raise RuleViolation(f"The file is {worker.file_status.value}; only active files move.")
    current = await session.scalar(
        select(Employment).where(Employment.worker_id == worker.id, Employment.ended_on.is_(None))
    )
    if current is not None:
        if data.date < current.started_on:
            raise InvalidInput(
                f"The move cannot be before the current employment began ({current.started_on}).",
                errors=[FieldError(field="date", message="before the current employment")],
            )
        current.ended_on = data.date
    before = _audit_view(worker)
    old_enterprise = worker.enterprise_id
    old_locality = worker.locality_code
    session.add(Employment(worker_id=worker.id, enterprise_id=target.id, started_on=data.date))
    worker.enterprise_id = target.id
    worker.locality_code = target.locality_code
    worker.version += 1
    await session.flush()
    await session.refresh(worker)
    timeline.record_change(
        session,
        principal,
        notes=[
            timeline.Note(
                worker_id=worker.id,
                kind=TimelineKind.transferred,
                summary=f"调入 {target.name}",
                data={
                    "from_enterprise_id": str(old_enterprise) if old_enterprise else None,
                    "to_enterprise_id": str(target.id),
                    "date": data.date.isoformat(),
                    "reason": data.reason,
                },
                source_type="enterprise",
                source_id=target.id,
            )
        ],
        action="worker.transfer",
        entity_type="worker",
        entity_id=worker.id,
        before=before,
        after=_audit_view(worker),
        event="worker.transferred",
        event_data={
            "worker_id": str(worker.id),
            "from_enterprise_id": str(old_enterprise) if old_enterprise else None,
            "to_enterprise_id": str(target.id),
            "date": data.date.isoformat(),
            "locality_code": worker.locality_code,
            # The city the worker left hears of it too (locality filters match any
            # `*locality_code`).
            "from_locality_code": old_locality,
        },
    )
    return worker


async def set_file_status(
    session: AsyncSession,
    worker: Worker,
    data: schemas.FileStatusChange,
    principal: Principal,
) -> Worker:
    """`worker`: locked and checked by the route (`ManagedWorker`)."""
    if worker.file_status == data.status:
        raise Conflict(f"The file is already {data.status.value}.")
    before = _audit_view(worker)
    old = worker.file_status
    worker.file_status = data.status
    worker.version += 1
    await session.flush()
    await session.refresh(worker)
    timeline.record_change(
        session,
        principal,
        notes=[
            timeline.Note(
                worker_id=worker.id,
                kind=TimelineKind.status_changed,
                summary=f"档案状态：{old.value} → {data.status.value}（{data.reason}）",
                data={"from": old.value, "to": data.status.value, "reason": data.reason},
            )
        ],
        action="worker.file_status",
        entity_type="worker",
        entity_id=worker.id,
        before=before,
        after=_audit_view(worker),
    )
    return worker


async def list_timeline(
    session: AsyncSession,
    worker: Worker,
    *,
    kind: str | None,
    limit: int,
    cursor: str | None,
) -> Page[talent_schemas.TimelineEntry]:
    """`worker`: checked by the route (`VisibleWorker`)."""
    stmt = select(TimelineEntry).where(TimelineEntry.worker_id == worker.id)
    if kind:
        stmt = stmt.where(TimelineEntry.kind == kind)
    return await paginate(
        session,
        stmt,
        order_by=[TimelineEntry.occurred_at, TimelineEntry.id],
        limit=limit,
        cursor=cursor,
        transform=talent_schemas.TimelineEntry.model_validate,
    )


async def record_competition_result(
    session: AsyncSession, source_ref: str, data: schemas.CompetitionResult, principal: Principal
) -> tuple[TimelineEntry, bool]:
    """Idempotent: a result already in the file (same `source_ref`) is returned, not repeated."""
    worker = await load_worker(session, data.worker_id, for_update=True)  # serialises reports
    existing = await session.scalar(
        select(TimelineEntry).where(
            TimelineEntry.worker_id == worker.id,
            TimelineEntry.source_type == "competition_result",
            TimelineEntry.source_id == source_ref,
        )
    )
    if existing is not None:
        return existing, False
    prize = schemas.PRIZE_NAMES.get(data.prize, "") if data.prize else ""
    level = f"{LEVEL_NAMES[data.level]}：" if data.level else ""
    entry = timeline.record(
        session,
        worker_id=worker.id,
        kind=TimelineKind.competition_result,
        summary=f"{level}{data.competition_name}（{data.stage_name}）第 {data.rank} 名"
        + (f"，{prize}" if prize else ""),
        data=data.model_dump(mode="json", exclude={"worker_id"}),
        occurred_at=data.published_at,
        source_type="competition_result",
        source_id=source_ref,
        principal=principal,
    )
    await session.flush()
    await session.refresh(entry)
    return entry, True


async def batch_get(
    session: AsyncSession, ids: list[uuid.UUID], scope: WorkerScope
) -> schemas.BatchGetResult:
    """One query: the eligibility columns, each worker's current honours and, from the
    `worker_eligibility` read model, whether they are a national winner. Workers the caller
    may not read are `missing`, exactly like ids that do not exist."""
    unique = list(dict.fromkeys(ids))
    live = and_(HonourGrant.worker_id == Worker.id, HonourGrant.revoked_at.is_(None))
    honours = select(func.array_agg(HonourGrant.honour_code)).where(live).scalar_subquery()
    rows: list[Any] = list(
        await session.execute(
            select(
                *ELIGIBILITY_COLUMNS,
                honours.label("honours"),
                worker_eligibility.c.national_winner,
                worker_eligibility.c.national_wins,
            )
            .join(worker_eligibility, worker_eligibility.c.worker_id == Worker.id)
            .where(Worker.id.in_(unique), scope.clause())
        )
    )
    by_id = {w.id: w for w in rows}
    items = [
        schemas.WorkerEligibility.model_construct(
            **{c.key: getattr(by_id[i], c.key) for c in ELIGIBILITY_COLUMNS},
            honours=sorted(by_id[i].honours or []),
            national_winner=by_id[i].national_winner,
            national_wins=list(by_id[i].national_wins or []),
        )
        for i in unique
        if i in by_id
    ]
    return schemas.BatchGetResult.model_construct(
        items=items, missing=[i for i in unique if i not in by_id]
    )


ELIGIBILITY_COLUMNS = (
    Worker.id,
    Worker.name,
    Worker.sex,
    Worker.birth_date,
    Worker.occupation,
    Worker.enterprise_id,
    Worker.locality_code,
    Worker.grade,
    Worker.file_status,
)


async def lookup_by_id_numbers(
    session: AsyncSession, cipher: PersonalDataCipher, numbers: list[str], scope: WorkerScope
) -> list[schemas.IdNumberMatch]:
    """Worker ids for identity numbers (bulk registration by enterprises), by keyed hash; null
    for a worker the caller may not read, exactly as for a number nobody has."""
    hashes = {}
    for number in numbers:
        cleaned = number.strip().upper()
        hashes[number] = cipher.lookup_hash(cleaned)
    rows = (
        await session.scalars(
            select(Worker).where(Worker.id_number_hash.in_(list(hashes.values())), scope.clause())
        )
    ).all()
    by_hash = {w.id_number_hash: w for w in rows}
    return [
        schemas.IdNumberMatch(
            id_number=mask_id_number(n.strip().upper()) if len(n.strip()) == 18 else "*",
            worker_id=by_hash[h].id if h in by_hash else None,
        )
        for n, h in hashes.items()
    ]


async def roster(
    session: AsyncSession,
    cipher: PersonalDataCipher,
    principal: Principal,
    ids: list[uuid.UUID],
    scope: WorkerScope,
) -> schemas.RosterResult:
    """Workers as lists handed on show them, in the order asked, in one query: enterprise
    name and city joined; identity numbers masked unless the caller may see them. Workers the
    caller may not read are `missing`, like ids that do not exist."""
    unique = list(dict.fromkeys(ids))
    home = Locality.__table__.alias("home")
    city = Locality.__table__.alias("city")
    rows = await session.execute(
        select(
            Worker,
            Enterprise.name.label("enterprise_name"),
            city.c.code.label("city_code"),
            city.c.name.label("city_name"),
        )
        .outerjoin(Enterprise, Enterprise.id == Worker.enterprise_id)
        .join(home, home.c.code == Worker.locality_code)
        # A county's city is its parent; a city is its own; the province has none.
        .outerjoin(
            city,
            city.c.code
            == func.coalesce(
                func.nullif(home.c.parent_code, literal(PROVINCE_CODE)),
                func.nullif(home.c.code, literal(PROVINCE_CODE)),
            ),
        )
        .where(Worker.id.in_(unique), scope.clause())
    )
    by_id = {row.Worker.id: row for row in rows}
    items = []
    for worker_id in unique:
        row = by_id.get(worker_id)
        if row is None:
            continue
        worker = row.Worker
        clear = may_see_personal_data(principal, worker)
        items.append(
            schemas.RosterLine(
                id=worker.id,
                name=worker.name,
                sex=worker.sex,
                id_number=cipher.decrypt(worker.id_number_enc)
                if clear
                else worker.id_number_masked,
                occupation=worker.occupation,
                grade=worker.grade,
                enterprise_id=worker.enterprise_id,
                enterprise_name=row.enterprise_name,
                locality_code=worker.locality_code,
                city_code=row.city_code,
                city_name=row.city_name,
            )
        )
    return schemas.RosterResult(items=items, missing=[i for i in unique if i not in by_id])
