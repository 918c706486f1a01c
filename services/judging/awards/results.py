"""The final results awards are made from: the seam between results (ranks, prize bands, the
final state) and awards.

`final_results` reads the stage's computed results once they are final; the finalise path of
results may instead hand its ranked list straight to `flows.plan_awards`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import PreconditionFailed


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
    """The stage's final results in rank order; 412 while they are not final."""
    raise PreconditionFailed(
        f"The results of stage {stage_id} are not final: awards are made from final results."
    )
