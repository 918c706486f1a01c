"""Competitions: creation (checked against the registry), details, lifecycle."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.competitions.access import check_organiser_scope
from services.competitions.competitions import schemas
from services.competitions.competitions.lifecycle import TRANSITIONS
from shared import audit, outbox
from shared.auth.principal import Principal, Role
from shared.clients import RegistryClient
from shared.concurrency import check_if_match
from shared.db import get_or_404
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    RuleViolation,
)
from shared.models.competitions import Competition, CompetitionStatus
from shared.pagination import Page, paginate

SERVICE = "competitions"
#: While registration is open or earlier, details may change; afterwards they are fixed.
EDITABLE = (
    CompetitionStatus.draft,
    CompetitionStatus.registration_open,
    CompetitionStatus.registration_closed,
)


def _snapshot(competition: Competition) -> dict[str, Any]:
    return schemas.Competition.model_validate(competition).model_dump(mode="json")


async def create_competition(
    session: AsyncSession,
    registry: RegistryClient,
    data: schemas.CompetitionCreate,
    principal: Principal,
) -> Competition:
    if data.organiser_enterprise_id and principal.role is Role.organiser:
        if principal.enterprise_id != data.organiser_enterprise_id:
            raise Forbidden("You may only organise competitions of your own enterprise.")
    elif principal.role is not Role.admin and principal.enterprise_id is not None:
        raise Forbidden(
            "An enterprise organiser creates competitions of their enterprise: set "
            "organiser_enterprise_id."
        )
    if principal.enterprise_id is None or principal.role is Role.admin:
        check_organiser_scope(principal, data.organiser_locality_code)
    # Read-only call first; our own transaction commits last, so a registry failure leaves
    # nothing behind.
    locality = await registry.get_locality(data.organiser_locality_code, token=principal.token)
    if locality is None:
        raise RuleViolation(
            f"The registry knows no locality {data.organiser_locality_code}.",
            errors=[FieldError(field="organiser_locality_code", message="unknown locality")],
        )
    values = data.model_dump()
    values["documents"] = [d.model_dump(mode="json") for d in data.documents]
    competition = Competition(**values, created_by=principal.sub)
    await audit.add_created(
        session,
        competition,
        service=SERVICE,
        principal=principal,
        action="competition.create",
        entity_type="competition",
        after=lambda: _snapshot(competition),
    )
    return competition


async def get_competition(
    session: AsyncSession, competition_id: uuid.UUID, *, for_update: bool = False
) -> Competition:
    return await get_or_404(
        session, Competition, competition_id, "competition", for_update=for_update
    )


async def update_competition(
    session: AsyncSession,
    competition: Competition,
    data: schemas.CompetitionUpdate,
    principal: Principal,
    if_match: str | None,
) -> Competition:
    """`competition`: locked and checked by the route (`scope.ManagedCompetition`)."""
    check_if_match(if_match, competition.version)
    if competition.status not in EDITABLE:
        raise Conflict(f"A competition that is {competition.status.value} can no longer be edited.")
    changes = data.model_dump(exclude_unset=True)
    current = {name: getattr(competition, name) for name in schemas.CompetitionFields.model_fields}
    try:  # the dates and tracks must still agree once the change is applied
        merged = schemas.CompetitionFields.model_validate({**current, **changes})
    except ValidationError as exc:
        raise InvalidInput(
            "The change leaves the competition inconsistent.",
            errors=[
                FieldError(field=".".join(map(str, e["loc"])) or "body", message=e["msg"])
                for e in exc.errors()
            ],
        ) from exc
    before = _snapshot(competition)
    for name in changes:
        value = getattr(merged, name) if name in current else changes[name]
        if name == "documents":
            value = [d.model_dump(mode="json") for d in merged.documents]
        setattr(competition, name, value)
    competition.version += 1
    await session.flush()
    await session.refresh(competition)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="competition.update",
        entity_type="competition",
        entity_id=competition.id,
        before=before,
        after=_snapshot(competition),
    )
    return competition


async def change_status(
    session: AsyncSession,
    competition: Competition,
    to: CompetitionStatus,
    principal: Principal,
    if_match: str | None,
) -> Competition:
    """`competition`: locked and checked by the route (`scope.ManagedCompetition`)."""
    check_if_match(if_match, competition.version)
    allowed = TRANSITIONS[competition.status]
    if to not in allowed:
        names = ", ".join(s.value for s in allowed) or "none (archived)"
        raise Conflict(
            f"A competition cannot go from {competition.status.value} to {to.value}; allowed "
            f"next: {names}.",
            current_status=competition.status.value,
            allowed=[s.value for s in allowed],
        )
    before = competition.status
    competition.status = to
    competition.version += 1
    await session.flush()
    await session.refresh(competition)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="competition.status",
        entity_type="competition",
        entity_id=competition.id,
        before={"status": before.value},
        after={"status": to.value},
    )
    data = {
        "competition_id": str(competition.id),
        "name": competition.name,
        "level": competition.level.value,
        "kind": competition.kind.value,
        "organiser_locality_code": competition.organiser_locality_code,
        "status": to.value,
    }
    subject = f"competition:{competition.id}"
    if before is CompetitionStatus.draft:
        outbox.emit(
            session, service=SERVICE, type="competition.published", subject=subject, data=data
        )
    if to is CompetitionStatus.registration_open:
        outbox.emit(
            session, service=SERVICE, type="registration.opened", subject=subject, data=data
        )
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
