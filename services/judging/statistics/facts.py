"""What judging records for its statistics besides its own results: the competition facts of a
stage (level, kind, year, organiser), read from competitions with the stage, kept in
`stats_judging_stages` when the stage's results are finalised (the summaries group finalists
and winners by them)."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.upstream import StageInfo
from shared.models.statistics import JudgingStageFacts


async def record_stage(session: AsyncSession, stage: StageInfo) -> None:
    values = {
        "stage_id": stage.id,
        "competition_id": stage.competition_id,
        "competition_year": stage.year or 0,
        "level": stage.level.value,
        "kind": stage.competition_kind,
        "organiser_locality_code": stage.organiser_locality_code,
        "organiser_enterprise_id": stage.organiser_enterprise_id,
    }
    statement = insert(JudgingStageFacts).values(values)
    fields = {k: statement.excluded[k] for k in values if k != "stage_id"}
    await session.execute(statement.on_conflict_do_update(index_elements=["stage_id"], set_=fields))
