"""Competitions: creation (checked against the registry) and listing."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.competitions.competitions import schemas
from shared import audit
from shared.auth.principal import Principal, Role
from shared.clients import RegistryClient
from shared.errors import FieldError, Forbidden, NotFound, RuleViolation
from shared.models.competitions import Competition, CompetitionStatus
from shared.pagination import Page, paginate


def _check_organiser_scope(principal: Principal, locality_code: str) -> None:
    """An organiser manages competitions of their own locality only (or of its counties)."""
    if principal.role is Role.admin:
        return
    scope = principal.locality_code
    if scope is None or not (
        locality_code == scope or (scope.endswith("00") and locality_code[:4] == scope[:4])
    ):
        raise Forbidden(
            f"Your organiser scope ({scope or 'an enterprise'}) does not cover locality "
            f"{locality_code}."
        )


async def create_competition(
    session: AsyncSession,
    registry: RegistryClient,
    data: schemas.CompetitionCreate,
    principal: Principal,
) -> Competition:
    _check_organiser_scope(principal, data.organiser_locality_code)
    # Read-only call first; our own transaction commits last, so a registry failure leaves
    # nothing behind.
    locality = await registry.get_locality(data.organiser_locality_code, token=principal.token)
    if locality is None:
        raise RuleViolation(
            f"The registry knows no locality {data.organiser_locality_code}.",
            errors=[FieldError(field="organiser_locality_code", message="unknown locality")],
        )
    competition = Competition(**data.model_dump(), created_by=principal.sub)
    session.add(competition)
    await session.flush()
    await session.refresh(competition)
    audit.record(
        session,
        service="competitions",
        principal=principal,
        action="competition.create",
        entity_type="competition",
        entity_id=competition.id,
        after=schemas.Competition.model_validate(competition).model_dump(mode="json"),
    )
    return competition


async def get_competition(session: AsyncSession, competition_id: uuid.UUID) -> Competition:
    competition = await session.get(Competition, competition_id)
    if competition is None:
        raise NotFound(f"No competition with id {competition_id}.")
    return competition


async def list_competitions(
    session: AsyncSession,
    *,
    year: int | None,
    status: CompetitionStatus | None,
    locality_code: str | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Competition]:
    stmt = select(Competition)
    if year is not None:
        stmt = stmt.where(Competition.year == year)
    if status is not None:
        stmt = stmt.where(Competition.status == status)
    if locality_code is not None:
        stmt = stmt.where(Competition.organiser_locality_code == locality_code)
    return await paginate(
        session,
        stmt,
        order_by=[Competition.created_at, Competition.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Competition.model_validate,
    )
