"""Who may see and change reserve memberships: the worker's scope, and the province's decisions.

A membership is seen by whoever may read its worker's file (`talent.access.can_view`) and
changed by whoever manages that worker (`can_manage`). A membership the caller may not read
answers exactly as an unknown id (404): the reserve never tells anyone that a worker outside
their scope was nominated. Confirming or declining a nomination is the province's: admins and
organisers scoped to the province (370000) itself.

Routes take a membership through the loader dependencies `VisibleMember` / `ManagedMember`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from services.registry.talent.access import can_manage, can_view
from shared.auth.deps import CurrentPrincipal
from shared.auth.principal import Principal, Role
from shared.db import SessionDep
from shared.errors import Forbidden, NotFound
from shared.models.registry import ReserveMember
from shared.scope import PROVINCE, scope_loader


def not_found(member_id: uuid.UUID) -> NotFound:
    """The one answer for an unknown membership and for one the caller may not read."""
    return NotFound(f"No reserve membership with id {member_id}.")


async def load_member(
    session: AsyncSession, member_id: uuid.UUID, *, for_update: bool = False
) -> ReserveMember | None:
    """The membership with its worker (locked `FOR UPDATE` with `for_update`), or None."""
    stmt = (
        select(ReserveMember)
        .where(ReserveMember.id == member_id)
        # Inner join: Postgres refuses FOR UPDATE on the nullable side of an outer join.
        .options(joinedload(ReserveMember.worker, innerjoin=True))
        .execution_options(populate_existing=True)
    )
    if for_update:
        stmt = stmt.with_for_update(of=ReserveMember)
    member: ReserveMember | None = await session.scalar(stmt)
    return member


def is_province(principal: Principal) -> bool:
    """Admins, and organisers scoped to the province itself, speak for the province."""
    if principal.role is Role.admin:
        return True
    return (
        principal.role is Role.organiser
        and principal.enterprise_id is None
        and principal.locality_code == PROVINCE
    )


def ensure_province(principal: Principal) -> None:
    if not is_province(principal):
        raise Forbidden(
            "Only the province (an admin, or an organiser of Shandong province 370000) confirms "
            "or declines nominations to the reserve."
        )


@scope_loader("reserve_member")
async def visible_member(
    session: SessionDep, principal: CurrentPrincipal, member_id: uuid.UUID
) -> ReserveMember:
    """The route's membership, for those who may read its worker's file (404 otherwise)."""
    member = await load_member(session, member_id)
    if member is None or not can_view(principal, member.worker):
        raise not_found(member_id)
    return member


@scope_loader("reserve_member")
async def managed_member(
    session: SessionDep, principal: CurrentPrincipal, member_id: uuid.UUID
) -> ReserveMember:
    """The route's membership, locked until the request commits, for admins and organisers
    covering its worker (404 for anyone else, as for an unknown id)."""
    member = await load_member(session, member_id, for_update=True)
    if member is None or not can_manage(principal, member.worker):
        raise not_found(member_id)
    return member


VisibleMember = Annotated[ReserveMember, Depends(visible_member)]
ManagedMember = Annotated[ReserveMember, Depends(managed_member)]
