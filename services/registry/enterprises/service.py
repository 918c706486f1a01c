"""Enterprises: registration by credit code, search, updates with optimistic concurrency."""

from __future__ import annotations

import uuid

from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.enterprises import schemas
from services.registry.identifiers import validate_credit_code
from services.registry.search import name_matches, name_rank
from services.registry.talent.access import locality_covers
from shared import audit
from shared.auth.principal import Principal, Role
from shared.concurrency import check_if_match
from shared.db import get_or_404
from shared.errors import Conflict, FieldError, Forbidden, RuleViolation
from shared.models.registry import Enterprise, EnterpriseSize, Industry, Locality
from shared.pagination import Page, paginate_rows
from shared.scope import locality_clause


def _snapshot(enterprise: Enterprise) -> dict[str, object]:
    return schemas.Enterprise.model_validate(enterprise).model_dump(mode="json")


def _ensure_scope(
    principal: Principal, locality_code: str, enterprise_id: uuid.UUID | None
) -> None:
    if principal.role is Role.admin:
        return
    if principal.enterprise_id is not None and principal.enterprise_id == enterprise_id:
        return
    if principal.enterprise_id is None and locality_covers(principal.locality_code, locality_code):
        return
    raise Forbidden(f"Locality {locality_code} is outside your organiser scope.")


async def _check_locality(session: AsyncSession, code: str) -> None:
    if await session.get(Locality, code) is None:
        raise RuleViolation(
            f"No locality with code {code}.",
            errors=[FieldError(field="locality_code", message="unknown locality")],
        )


async def get(session: AsyncSession, enterprise_id: uuid.UUID) -> Enterprise:
    return await get_or_404(session, Enterprise, enterprise_id, "enterprise")


async def create(
    session: AsyncSession, data: schemas.EnterpriseCreate, principal: Principal
) -> Enterprise:
    code = validate_credit_code(data.credit_code)
    _ensure_scope(principal, data.locality_code, None)
    await _check_locality(session, data.locality_code)
    existing = await session.scalar(select(Enterprise.id).where(Enterprise.credit_code == code))
    if existing:
        raise Conflict(
            f"An enterprise with this credit code is already registered (id {existing}).",
            existing_id=str(existing),
        )
    enterprise = Enterprise(**{**data.model_dump(), "credit_code": code})
    await audit.add_created(
        session,
        enterprise,
        service="registry",
        principal=principal,
        action="enterprise.create",
        entity_type="enterprise",
        after=lambda: _snapshot(enterprise),
    )
    return enterprise


async def update(
    session: AsyncSession,
    enterprise_id: uuid.UUID,
    data: schemas.EnterpriseUpdate,
    principal: Principal,
    if_match: str | None,
) -> Enterprise:
    enterprise = await get_or_404(session, Enterprise, enterprise_id, "enterprise", for_update=True)
    _ensure_scope(principal, enterprise.locality_code, enterprise.id)
    check_if_match(if_match, enterprise.version)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "locality_code" in changes:
        _ensure_scope(principal, changes["locality_code"], enterprise.id)
        await _check_locality(session, changes["locality_code"])
    before = _snapshot(enterprise)
    for field, value in changes.items():
        setattr(enterprise, field, value)
    enterprise.version += 1
    await session.flush()
    await session.refresh(enterprise)
    audit.record(
        session,
        service="registry",
        principal=principal,
        action="enterprise.update",
        entity_type="enterprise",
        entity_id=enterprise.id,
        before=before,
        after=_snapshot(enterprise),
    )
    return enterprise


async def list_enterprises(
    session: AsyncSession,
    *,
    q: str | None,
    locality_code: str | None,
    industry: Industry | None,
    size: EnterpriseSize | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Enterprise]:
    rank = name_rank(Enterprise.name, q) if q else None
    stmt = select(Enterprise, (rank if rank is not None else literal(0)).label("rank"))
    if q:
        stmt = stmt.where(name_matches(Enterprise.name, Enterprise.name_tokens, q))
    if locality_code:
        stmt = stmt.where(locality_clause(locality_code, Enterprise.locality_code))
    if industry:
        stmt = stmt.where(Enterprise.industry == industry)
    if size:
        stmt = stmt.where(Enterprise.size == size)
    order = [Enterprise.created_at, Enterprise.id]
    if rank is not None:
        return await paginate_rows(
            session,
            stmt,
            order_by=[rank, *order],
            limit=limit,
            cursor=cursor,
            key=lambda r: (r.rank, r[0].created_at, r[0].id),
            transform=lambda r: schemas.Enterprise.model_validate(r[0]),
        )
    return await paginate_rows(
        session,
        stmt,
        order_by=order,
        limit=limit,
        cursor=cursor,
        key=lambda r: (r[0].created_at, r[0].id),
        transform=lambda r: schemas.Enterprise.model_validate(r[0]),
    )
