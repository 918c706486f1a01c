"""Score entry: judges' marks per entry and aspect, submission, flags, sign-offs and locks.

`unlock_scores` is the only way a locked score becomes editable again; the appeals flow calls it
for the scores an upheld appeal names.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import FieldError, RuleViolation
from shared.middleware import current_request_id
from shared.models.judging import Score, ScoreHistory

SERVICE = "judging"


async def unlock_scores(
    session: AsyncSession,
    stage_id: uuid.UUID,
    score_ids: Sequence[uuid.UUID],
    actor: str,
    reason: str,
) -> list[Score]:
    """Make the named locked scores of the stage editable again (an upheld appeal), recording
    one history row each. Scores already editable are returned unchanged; an id that is not a
    score of the stage is refused (422 naming it) and nothing changes."""
    wanted = list(dict.fromkeys(score_ids))
    rows = list(
        await session.scalars(
            select(Score)
            .where(Score.stage_id == stage_id, Score.id.in_(wanted))
            .order_by(Score.id)
            .with_for_update()
        )
    )
    missing = set(wanted) - {r.id for r in rows}
    if missing:
        raise RuleViolation(
            f"Not scores of stage {stage_id}: {', '.join(sorted(map(str, missing)))}.",
            errors=[FieldError(field="score_ids", message="not scores of the stage")],
        )
    for row in rows:
        if row.locked_at is None:
            continue
        row.locked_at = None
        session.add(
            ScoreHistory(
                score_id=row.id,
                stage_id=stage_id,
                action="unlocked",
                old_value=row.value,
                new_value=row.value,
                version=row.version,
                actor=actor,
                reason=reason,
                request_id=current_request_id(),
            )
        )
    await session.flush()
    return rows
