"""Localities: the seeded province, cities and counties (GB/T 2260), and areas added by admins."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.localities import schemas
from shared import audit
from shared.auth.principal import Principal
from shared.errors import Conflict, FieldError, NotFound, RuleViolation
from shared.models.registry import Locality, LocalityLevel
from shared.pagination import Page, paginate


async def get(session: AsyncSession, code: str) -> Locality:
    locality = await session.get(Locality, code)
    if locality is None:
        raise NotFound(f"No locality with code {code}.")
    return locality


async def list_localities(
    session: AsyncSession,
    *,
    level: LocalityLevel | None,
    parent_code: str | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Locality]:
    stmt = select(Locality)
    if level:
        stmt = stmt.where(Locality.level == level)
    if parent_code:
        stmt = stmt.where(Locality.parent_code == parent_code)
    return await paginate(
        session,
        stmt,
        order_by=[Locality.code],
        limit=limit,
        cursor=cursor,
        transform=schemas.Locality.model_validate,
    )


async def add_county(
    session: AsyncSession, data: schemas.CountyCreate, principal: Principal
) -> Locality:
    parent = await session.get(Locality, data.parent_code)
    if parent is None or parent.level is not LocalityLevel.city:
        raise RuleViolation(
            "A county belongs to one of the seeded cities.",
            errors=[FieldError(field="parent_code", message="not a known city code")],
        )
    if data.code[:4] != parent.code[:4] or data.code == parent.code:
        raise RuleViolation(
            f"County codes of {parent.name} start with {parent.code[:4]} (GB/T 2260).",
            errors=[FieldError(field="code", message=f"must start with {parent.code[:4]}")],
        )
    if await session.get(Locality, data.code) is not None:
        raise Conflict(f"Locality {data.code} already exists.")
    county = Locality(
        code=data.code,
        name=data.name,
        name_en=data.name_en,
        level=LocalityLevel.county,
        parent_code=parent.code,
    )
    session.add(county)
    await session.flush()
    audit.record(
        session,
        service="registry",
        principal=principal,
        action="locality.create",
        entity_type="locality",
        entity_id=county.code,
        after=data.model_dump(),
    )
    return county
