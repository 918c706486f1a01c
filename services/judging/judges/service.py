"""Judges: registered workers (checked with the registry) or outside experts."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.access import check_judge_manager, check_judge_reader, covers
from services.judging.judges import schemas
from services.judging.upstream import Upstream
from shared import audit
from shared.auth.principal import Principal, Role
from shared.concurrency import check_if_match
from shared.db import get_or_404
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound, RuleViolation
from shared.models.judging import DeclaredConflict, Judge, JudgeKind, QualificationLevel
from shared.pagination import Page, paginate
from shared.scope import locality_clause, scope_clause

SERVICE = "judging"


def snapshot(judge: Judge) -> dict[str, Any]:
    return schemas.Judge.model_validate(judge).model_dump(
        mode="json", exclude={"created_at", "updated_at"}
    )


def _refuse(field: str, message: str, *, rule: bool = False) -> InvalidInput | RuleViolation:
    cls = RuleViolation if rule else InvalidInput
    return cls(f"{field}: {message}", errors=[FieldError(field=field, message=message)])


async def _check_locality(upstream: Upstream, code: str) -> None:
    if not await upstream.locality_exists(code):
        raise _refuse("locality_code", f"the registry knows no locality {code}", rule=True)


async def _flush_unique(
    session: AsyncSession, judge: Judge, changes: dict[str, Any] | None = None
) -> None:
    """Apply `changes` (or add the new judge) and flush in a savepoint, so that a duplicate
    worker or account is a 409 with the transaction still usable, not a 500."""
    worker_id = (changes or {}).get("worker_id", judge.worker_id)
    account_sub = (changes or {}).get("account_sub", judge.account_sub)
    try:
        async with session.begin_nested():
            if changes is None:
                session.add(judge)
            else:
                for key, value in changes.items():
                    setattr(judge, key, value)
                judge.version += 1
            await session.flush()
    except IntegrityError as exc:
        text = str(exc.orig)
        if "uq_judges_worker_id" in text:
            raise Conflict(f"Worker {worker_id} is already a judge.", field="worker_id") from exc
        if "uq_judges_account_sub" in text:
            raise Conflict(
                f"Account {account_sub} is already linked to another judge.",
                field="account_sub",
            ) from exc
        raise


async def create_judge(
    session: AsyncSession, upstream: Upstream, data: schemas.JudgeCreate, principal: Principal
) -> Judge:
    name, employer, enterprise_id, locality = (
        data.name,
        data.employer_name,
        data.enterprise_id,
        data.locality_code,
    )
    if data.kind is JudgeKind.worker:
        if data.worker_id is None:
            raise _refuse("worker_id", "required for a judge of kind worker")
        worker = (await upstream.workers([data.worker_id])).get(data.worker_id)
        # A worker outside the caller's scope is answered as an unknown one: the registry's
        # name, employer and locality of someone the caller may not read never reach them.
        if worker is None or not covers(
            principal, worker.get("locality_code"), worker.get("enterprise_id")
        ):
            raise _refuse("worker_id", f"the registry has no worker {data.worker_id}", rule=True)
        # The registry's file is the source of truth for who the worker is and where they work.
        name = name or worker["name"]
        if enterprise_id is None and worker.get("enterprise_id"):
            enterprise_id = uuid.UUID(worker["enterprise_id"])
        locality = locality or worker["locality_code"]
    else:
        missing = [
            f
            for f, v in (
                ("name", name),
                ("employer_name", employer),
                ("locality_code", locality),
            )
            if not v
        ]
        if data.worker_id is not None:
            raise _refuse("worker_id", "an expert is not a registered worker: use kind worker")
        if missing:
            raise InvalidInput(
                f"An expert judge needs {', '.join(missing)}.",
                errors=[FieldError(field=f, message="required for an expert") for f in missing],
            )
    assert name is not None
    assert locality is not None
    if not covers(principal, locality, enterprise_id):
        raise Forbidden(
            f"Your scope does not cover judges of locality {locality}: ask the province."
        )
    await _check_locality(upstream, locality)
    judge = Judge(
        id=uuid.uuid4(),
        kind=data.kind,
        worker_id=data.worker_id,
        name=name,
        employer_name=employer,
        enterprise_id=enterprise_id,
        locality_code=locality,
        occupations=data.occupations,
        qualification=data.qualification,
        availability=[r.model_dump(mode="json") for r in data.availability],
        account_sub=data.account_sub,
        created_by=principal.sub,
        version=1,
    )
    await _flush_unique(session, judge)
    await session.refresh(judge)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="judge.create",
        entity_type="judge",
        entity_id=judge.id,
        after=snapshot(judge),
    )
    return judge


async def get_judge(session: AsyncSession, judge_id: uuid.UUID, principal: Principal) -> Judge:
    judge = await get_or_404(session, Judge, judge_id, "judge")
    check_judge_reader(principal, judge)
    return judge


async def judge_of(session: AsyncSession, principal: Principal) -> Judge:
    """The judge a `judge` token acts as (linked by the account's sub)."""
    if principal.role is not Role.judge:
        raise Forbidden("Only a judge's own token has a judge record.")
    judge = await session.scalar(select(Judge).where(Judge.account_sub == principal.sub))
    if judge is None:
        raise NotFound(
            f"No judge is linked to account {principal.sub}: ask an organiser to set the "
            "judge's account_sub."
        )
    return judge


async def update_judge(
    session: AsyncSession,
    upstream: Upstream,
    judge_id: uuid.UUID,
    data: schemas.JudgeUpdate,
    if_match: str | None,
    principal: Principal,
) -> Judge:
    judge = await get_or_404(session, Judge, judge_id, "judge", for_update=True)
    check_judge_manager(principal, judge)
    check_if_match(if_match, judge.version)
    before = snapshot(judge)
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "locality_code", "occupations", "qualification"):
        if required in changes and changes[required] is None:
            raise _refuse(required, "may be changed but not cleared")
    if judge.kind is JudgeKind.expert and "employer_name" in changes and not data.employer_name:
        raise _refuse("employer_name", "an expert judge needs an employer")
    locality = changes.get("locality_code", judge.locality_code)
    enterprise_id = changes.get("enterprise_id", judge.enterprise_id)
    if not covers(principal, locality, enterprise_id):
        raise Forbidden(f"Your scope does not cover judges of locality {locality}.")
    if "locality_code" in changes and locality != judge.locality_code:
        await _check_locality(upstream, locality)
    if "availability" in changes:
        changes["availability"] = [r.model_dump(mode="json") for r in data.availability or []]
    if "qualification" in changes:
        changes["qualification"] = QualificationLevel(changes["qualification"])
    await _flush_unique(session, judge, changes)
    await session.refresh(judge)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="judge.update",
        entity_type="judge",
        entity_id=judge.id,
        before=before,
        after=snapshot(judge),
    )
    return judge


async def delete_judge(
    session: AsyncSession, judge_id: uuid.UUID, if_match: str | None, principal: Principal
) -> None:
    """Remove a judge and their declared conflicts (audited with the record as it was)."""
    judge = await get_or_404(session, Judge, judge_id, "judge", for_update=True)
    check_judge_manager(principal, judge)
    check_if_match(if_match, judge.version)
    before = snapshot(judge)
    await session.execute(delete(DeclaredConflict).where(DeclaredConflict.judge_id == judge.id))
    await session.delete(judge)
    await session.flush()
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="judge.delete",
        entity_type="judge",
        entity_id=judge_id,
        before=before,
    )


def _scoped(stmt: Select[Any], principal: Principal) -> Select[Any]:
    if principal.role in (Role.admin, Role.organiser):
        return stmt.where(scope_clause(principal, Judge.locality_code, Judge.enterprise_id))
    if principal.role is Role.judge:
        return stmt.where(Judge.account_sub == principal.sub)
    raise Forbidden(f"Role {principal.role.value} may not list judges.")


async def list_judges(
    session: AsyncSession,
    principal: Principal,
    *,
    occupation: str | None,
    qualification: QualificationLevel | None,
    locality_code: str | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Judge]:
    stmt = _scoped(select(Judge), principal)
    if occupation:
        stmt = stmt.where(Judge.occupations.contains([occupation]))
    if qualification:
        stmt = stmt.where(Judge.qualification == qualification)
    if locality_code:
        stmt = stmt.where(locality_clause(locality_code, Judge.locality_code))
    return await paginate(
        session,
        stmt,
        order_by=[Judge.created_at, Judge.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Judge.model_validate,
    )
