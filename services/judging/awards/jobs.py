"""Award jobs: the durable note that a finalised stage's awards still have to be planned and
sent to the registry.

Finalising writes the job in its own transaction, so the note survives the process dying right
after the commit (before, or while, the awards are sent). Whoever works on a job first takes a
lease on it (`due_at` moved past the work's expected end, `FOR UPDATE SKIP LOCKED`), so the
finalising request and the sweepers of several replicas never run one job at once, and a lease
of a process that died runs out and the job comes back. A job is deleted once its awards are
settled: all sent, or refused by the registry for a reason that a retry would not change.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models.judging import AwardJob

#: How long a claim lasts: far more than sending a large stage's awards takes.
LEASE = timedelta(minutes=10)
#: Retries wait `base * 2**(failures - 1)`, at most this long.
MAX_BACKOFF_SECONDS = 3600.0


async def schedule(session: AsyncSession, stage_id: uuid.UUID) -> None:
    """Note (in the caller's transaction) that the stage's awards are due now."""
    await session.execute(
        insert(AwardJob)
        .values(stage_id=stage_id)
        .on_conflict_do_nothing(index_elements=[AwardJob.stage_id])
    )


def _lease() -> ColumnElement[datetime]:
    return func.now() + LEASE


async def claim_due(session: AsyncSession, limit: int) -> list[tuple[uuid.UUID, int]]:
    """Lease up to `limit` due jobs, skipping those another process holds: (stage, attempts)."""
    due = (
        select(AwardJob.stage_id)
        .where(AwardJob.due_at <= func.now())
        .order_by(AwardJob.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = await session.execute(
        update(AwardJob)
        .where(AwardJob.stage_id.in_(due))
        .values(due_at=_lease(), attempts=AwardJob.attempts + 1)
        .returning(AwardJob.stage_id, AwardJob.attempts)
    )
    return [(row.stage_id, row.attempts) for row in rows]


async def claim_stage(session: AsyncSession, stage_id: uuid.UUID) -> int | None:
    """Lease the stage's job if it is due and free; its attempt number, or None."""
    free = (
        select(AwardJob.stage_id)
        .where(AwardJob.stage_id == stage_id, AwardJob.due_at <= func.now())
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    attempts: int | None = await session.scalar(
        update(AwardJob)
        .where(AwardJob.stage_id == free)
        .values(due_at=_lease(), attempts=AwardJob.attempts + 1)
        .returning(AwardJob.attempts)
    )
    return attempts


def _ours(stage_id: uuid.UUID, attempts: int) -> ColumnElement[bool]:
    # A lease that ran out may have been taken again (attempts moved on): leave that one be.
    return and_(AwardJob.stage_id == stage_id, AwardJob.attempts == attempts)


async def finish(session: AsyncSession, stage_id: uuid.UUID, attempts: int) -> None:
    await session.execute(delete(AwardJob).where(_ours(stage_id, attempts)))


async def retry_later(
    session: AsyncSession, stage_id: uuid.UUID, attempts: int, error: str, base_seconds: float
) -> float:
    """Release the lease until the next try; the delay in seconds."""
    delay = min(base_seconds * 2 ** max(0, attempts - 1), MAX_BACKOFF_SECONDS)
    await session.execute(
        update(AwardJob)
        .where(_ours(stage_id, attempts))
        .values(due_at=func.now() + timedelta(seconds=delay), last_error=error[:2000])
    )
    return delay
