"""Appeals against a provisional result: reading them, and who arbitrates (the flows that file
and decide them are in flows.py).

Who arbitrates: there is no separate arbiter role in the registry (adding one would touch every
service's role checks and the accounts table); admins (the province's arbitration committee)
always may, and organisers covering the stage may when the stage's result rules name their
account in `arbiters` (an explicit, per-stage arbitration flag, audited with the rules).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.access import check_stage_manager, covers
from services.judging.appeals import schemas
from services.judging.upstream import StageInfo
from shared.auth.principal import Principal, Role
from shared.db import get_or_404
from shared.errors import NotFound
from shared.models.judging import Appeal, AppealStatus, ResultRules
from shared.pagination import Page, paginate


def view(appeal: Appeal) -> schemas.Appeal:
    return schemas.Appeal.model_validate(appeal)


def snapshot(appeal: Appeal) -> dict[str, object]:
    return view(appeal).model_dump(mode="json")


async def list_appeals(
    session: AsyncSession,
    stage: StageInfo,
    principal: Principal,
    *,
    status: AppealStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Appeal]:
    """Stage managers (and arbiters) see every appeal; a competitor their own."""
    stmt = select(Appeal).where(Appeal.stage_id == stage.id)
    if principal.role is Role.worker:
        stmt = stmt.where(Appeal.filed_by == principal.sub)
    else:
        await check_arbiter_or_manager(session, stage, principal)
    if status is not None:
        stmt = stmt.where(Appeal.status == status)
    return await paginate(
        session,
        stmt,
        order_by=[Appeal.created_at, Appeal.id],
        limit=limit,
        cursor=cursor,
        transform=view,
    )


async def read(
    session: AsyncSession, appeal_id: uuid.UUID, stage: StageInfo, principal: Principal
) -> Appeal:
    """One appeal: for the competitor who filed it (404 for any other worker, so an appeal's
    existence is not revealed), the stage's managers and its arbiters."""
    appeal = await get_or_404(session, Appeal, appeal_id, "appeal")
    if principal.role is Role.worker:
        if appeal.filed_by != principal.sub:
            raise NotFound(f"No appeal with id {appeal_id}.")
    else:
        await check_arbiter_or_manager(session, stage, principal)
    return appeal


async def is_arbiter(session: AsyncSession, stage: StageInfo, principal: Principal) -> bool:
    if principal.role is Role.admin:
        return True
    if principal.role is not Role.organiser:
        return False
    rules = await session.get(ResultRules, stage.id)
    return (
        rules is not None
        and principal.sub in rules.arbiters
        and covers(principal, stage.organiser_locality_code, stage.organiser_enterprise_id)
    )


async def check_arbiter_or_manager(
    session: AsyncSession, stage: StageInfo, principal: Principal
) -> None:
    if await is_arbiter(session, stage, principal):
        return
    check_stage_manager(principal, stage)
