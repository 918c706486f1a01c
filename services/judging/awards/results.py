"""The final results awards are made from: the seam between results (ranks, prize bands, the
final state) and awards.

`final_results` reads the stage's final result version (decoded entries in rank order); the
results finalise path may instead hand its ranked list to `flows.award_final_results`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import PreconditionFailed
from shared.models.judging import ResultEntry, ResultStatus, StageResult


@dataclass(frozen=True)
class FinalResult:
    """One entry's final place in a stage."""

    entry_id: uuid.UUID
    rank: int
    #: first, second, third, merit, or None.
    prize: str | None
    score: Decimal | None
    published_at: datetime


async def final_results(session: AsyncSession, stage_id: uuid.UUID) -> list[FinalResult]:
    """The stage's final results in rank order; 412 while no version is final."""
    result = await session.scalar(
        select(StageResult)
        .where(StageResult.stage_id == stage_id, StageResult.status == ResultStatus.final)
        .order_by(StageResult.version.desc())
        .limit(1)
    )
    if result is None:
        raise PreconditionFailed(
            f"The results of stage {stage_id} are not final: awards are made from final "
            "results (after the appeal window)."
        )
    published = result.finalised_at or result.published_at or result.computed_at
    rows = await session.scalars(
        select(ResultEntry)
        .where(ResultEntry.result_id == result.id, ResultEntry.entry_id.is_not(None))
        .order_by(ResultEntry.rank, ResultEntry.stage_entry_id)
    )
    return [
        FinalResult(
            entry_id=row.entry_id,
            rank=row.rank,
            prize=row.prize,
            score=Decimal(str(round(row.score, 3))),
            published_at=published,
        )
        for row in rows
        if row.entry_id is not None
    ]
