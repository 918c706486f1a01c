"""Honours: the catalogue, granting to workers (idempotent reports), revocation, reading grants.

Granting locks the worker row, so two reports of the same result, or two grants of the same
honour, are decided one after the other (the partial unique index is the backstop).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.honours import schemas
from services.registry.honours.access import ensure_reader, reads_everything
from services.registry.talent import timeline
from services.registry.talent.access import WorkerScope, ensure_can_manage, ensure_can_view
from shared import audit, clock
from shared.auth.principal import Principal, Role
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound, RuleViolation
from shared.models.registry import (
    Honour,
    HonourGrant,
    HonourLevel,
    HonourSource,
    TimelineKind,
    Worker,
)
from shared.pagination import Page, paginate

SERVICE = "registry"
#: Organisers grant local honours only; provincial and national ones are the province's.
ORGANISER_LEVELS = frozenset({HonourLevel.city, HonourLevel.enterprise})


def _grant_snapshot(grant: HonourGrant) -> dict[str, object]:
    return schemas.HonourGrant.model_validate(grant).model_dump(mode="json")


def _event_data(grant: HonourGrant) -> dict[str, object]:
    return {
        "grant_id": str(grant.id),
        "worker_id": str(grant.worker_id),
        "honour_code": grant.honour_code,
        "source": grant.source.value,
        "source_ref": grant.source_ref,
        **({"competition_id": str(grant.competition_id)} if grant.competition_id else {}),
    }


# --- catalogue ---------------------------------------------------------------------------------


async def get_honour(session: AsyncSession, code: str) -> Honour:
    honour = await session.get(Honour, code)
    if honour is None:
        raise NotFound(f"No honour with code {code!r}; see GET /v1/honours for the catalogue.")
    return honour


async def list_honours(
    session: AsyncSession, *, level: HonourLevel | None, limit: int, cursor: str | None
) -> Page[schemas.Honour]:
    stmt = select(Honour)
    if level:
        stmt = stmt.where(Honour.level == level)
    return await paginate(
        session,
        stmt,
        order_by=[Honour.code],
        limit=limit,
        cursor=cursor,
        transform=schemas.Honour.model_validate,
    )


async def create_honour(
    session: AsyncSession, data: schemas.HonourCreate, principal: Principal
) -> Honour:
    if await session.get(Honour, data.code) is not None:
        raise Conflict(f"An honour with code {data.code!r} already exists; codes are unique.")
    honour = Honour(**data.model_dump(), is_system=False, created_by=principal.sub)
    session.add(honour)
    await session.flush()
    await session.refresh(honour)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="honour.create",
        entity_type="honour",
        entity_id=honour.code,
        after=schemas.Honour.model_validate(honour).model_dump(mode="json"),
    )
    return honour


# --- grants ------------------------------------------------------------------------------------


def ensure_can_award(principal: Principal, honour: Honour, worker: Worker) -> None:
    """Admins and `registry:write` clients award any honour; organisers local ones in scope."""
    if principal.role is Role.admin:
        return
    if principal.role is Role.integration:
        if principal.has_scope("registry:write") or principal.has_scope("internal"):
            return
        raise Forbidden("This machine client needs the scope registry:write to grant honours.")
    if principal.role is Role.organiser:
        if honour.level not in ORGANISER_LEVELS:
            raise Forbidden(
                f"{honour.name} ({honour.code}) is a {honour.level.value} honour: only admins "
                "grant or revoke provincial and national honours; organisers grant city and "
                "enterprise ones."
            )
        ensure_can_manage(principal, worker)
        return
    raise Forbidden(f"Role {principal.role.value} may not grant or revoke honours.")


async def _lock_worker(session: AsyncSession, worker_id: uuid.UUID) -> Worker:
    worker = await session.scalar(select(Worker).where(Worker.id == worker_id).with_for_update())
    if worker is None:
        raise RuleViolation(
            f"No worker with id {worker_id}.",
            errors=[FieldError(field="worker_id", message="unknown worker")],
        )
    return worker


async def grant_honour(
    session: AsyncSession, code: str, data: schemas.HonourGrantCreate, principal: Principal
) -> tuple[HonourGrant, bool]:
    """Grant `code` to a worker; returns the grant and whether it was created now (False: the
    same report was made before, and its grant is returned unchanged)."""
    honour = await get_honour(session, code)
    if data.source is HonourSource.competition_result and not data.source_ref:
        raise InvalidInput(
            "A grant for a competition result needs source_ref: the result's id.",
            errors=[FieldError(field="source_ref", message="required for competition_result")],
        )
    if data.granted_on > clock.today():
        raise InvalidInput(
            "granted_on is in the future; record a grant once it is awarded.",
            errors=[FieldError(field="granted_on", message="must not be in the future")],
        )
    worker = await _lock_worker(session, data.worker_id)
    ensure_can_award(principal, honour, worker)

    if data.source_ref:
        reported = await session.scalar(
            select(HonourGrant).where(
                HonourGrant.honour_code == honour.code,
                HonourGrant.worker_id == worker.id,
                HonourGrant.source == data.source,
                HonourGrant.source_ref == data.source_ref,
            )
        )
        if reported is not None:
            return reported, False

    held = await session.scalar(
        select(HonourGrant).where(
            HonourGrant.honour_code == honour.code,
            HonourGrant.worker_id == worker.id,
            HonourGrant.revoked_at.is_(None),
        )
    )
    if held is not None:
        raise Conflict(
            f"This worker already holds {honour.name} ({honour.code}) through grant {held.id}, "
            f"granted on {held.granted_on.isoformat()}: a worker holds an honour once while a "
            "grant is unrevoked. Revoke that grant first to grant it again.",
            existing_grant_id=str(held.id),
        )

    grant = HonourGrant(
        id=uuid.uuid4(),
        honour_code=honour.code,
        worker_id=worker.id,
        granted_on=data.granted_on,
        source=data.source,
        source_ref=data.source_ref,
        citation=data.citation,
        competition_id=data.competition_id,
        granted_by=principal.sub,
    )
    session.add(grant)
    await session.flush()
    await session.refresh(grant)
    timeline.record_change(
        session,
        principal,
        notes=[
            timeline.Note(
                worker_id=worker.id,
                kind=TimelineKind.honour_granted,
                summary=f"获得荣誉：{honour.name}（{honour.awarding_body}）",
                data={
                    **_event_data(grant),
                    "honour_name": honour.name,
                    "level": honour.level.value,
                },
                occurred_at=clock.start_of(data.granted_on),
                source_type="honour_grant",
                source_id=grant.id,
            )
        ],
        action="honour_grant.create",
        entity_type="honour_grant",
        entity_id=grant.id,
        after=_grant_snapshot(grant),
        event="honour.granted",
        event_data={
            **_event_data(grant),
            "locality_code": worker.locality_code,
            "granted_on": grant.granted_on.isoformat(),
        },
    )
    return grant, True


async def _get_grant(
    session: AsyncSession, grant_id: uuid.UUID, *, for_update: bool = False
) -> HonourGrant:
    stmt = select(HonourGrant).where(HonourGrant.id == grant_id)
    if for_update:
        stmt = stmt.with_for_update()
    grant = await session.scalar(stmt)
    if grant is None:
        raise NotFound(f"No honour grant with id {grant_id}.")
    return grant


async def revoke_grant(
    session: AsyncSession, grant_id: uuid.UUID, reason: str, principal: Principal
) -> HonourGrant:
    grant = await _get_grant(session, grant_id, for_update=True)
    honour = await get_honour(session, grant.honour_code)
    worker = await session.get(Worker, grant.worker_id)
    assert worker is not None  # a foreign key
    ensure_can_award(principal, honour, worker)
    if grant.revoked_at is not None:
        raise Conflict(
            f"Grant {grant.id} was already revoked at {grant.revoked_at.isoformat()}: a grant is "
            "revoked once, and its revocation is kept as history.",
        )
    before = _grant_snapshot(grant)
    grant.revoked_at = datetime.now(UTC)
    grant.revoked_by = principal.sub
    grant.revoke_reason = reason
    await session.flush()
    await session.refresh(grant)
    timeline.record_change(
        session,
        principal,
        notes=[
            timeline.Note(
                worker_id=grant.worker_id,
                kind=TimelineKind.honour_revoked,
                summary=f"荣誉撤销：{honour.name}（{reason}）",
                data={**_event_data(grant), "honour_name": honour.name, "reason": reason},
                source_type="honour_grant",
                source_id=grant.id,
            )
        ],
        action="honour_grant.revoke",
        entity_type="honour_grant",
        entity_id=grant.id,
        before=before,
        after=_grant_snapshot(grant),
        event="honour.revoked",
        event_data={
            **_event_data(grant),
            "locality_code": worker.locality_code,
            "revoked_at": grant.revoked_at.isoformat(),
        },
    )
    return grant


async def get_grant(
    session: AsyncSession, grant_id: uuid.UUID, principal: Principal
) -> HonourGrant:
    ensure_reader(principal)
    grant = await _get_grant(session, grant_id)
    worker = await session.get(Worker, grant.worker_id)
    assert worker is not None  # a foreign key
    ensure_can_view(principal, worker)
    return grant


async def list_grants(
    session: AsyncSession,
    principal: Principal,
    *,
    worker_id: uuid.UUID | None,
    honour_code: str | None,
    active: bool | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.HonourGrant]:
    ensure_reader(principal)
    stmt = select(HonourGrant)
    if principal.role is Role.worker:
        if principal.worker_id is None or (worker_id and worker_id != principal.worker_id):
            raise Forbidden("Workers see their own honours only.")
        worker_id = principal.worker_id
    elif principal.role is Role.organiser:
        # Only grants of workers in the organiser's scope.
        stmt = stmt.join(Worker, Worker.id == HonourGrant.worker_id)
        stmt = stmt.where(WorkerScope(principal).clause())
    else:
        reads_everything(principal)
    if worker_id:
        stmt = stmt.where(HonourGrant.worker_id == worker_id)
    if honour_code:
        stmt = stmt.where(HonourGrant.honour_code == honour_code)
    if active is True:
        stmt = stmt.where(HonourGrant.revoked_at.is_(None))
    elif active is False:
        stmt = stmt.where(HonourGrant.revoked_at.is_not(None))
    return await paginate(
        session,
        stmt,
        order_by=[HonourGrant.created_at, HonourGrant.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.HonourGrant.model_validate,
    )
