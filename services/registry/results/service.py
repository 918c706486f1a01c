"""A worker's competition path in the talent file, and national results recorded in it.

Results reach the file two ways: judging reports each final result of a competition run here
(`PUT /v1/internal/competition-results/{ref}`, carrying the competition's level and year), and
an organiser records a national contest's result when it comes back (national contests are run
outside this system). Both are timeline entries; `results_by_level` reads them back as the
worker's path (enterprise 1st → city 2nd → provincial 5th → national).

A **national winner** is a worker with a recorded national result that won a first, second or
third prize (or, without a prize, ranked 1 to 3), or who holds a national-level honour: the
workers the events' "national winners excluded" rule refuses. The rule is written once, in SQL, in
the registry's `worker_eligibility` read model (migration 0056, `shared/models/registry/
eligibility.py`), which `workers:batch-get` and the competitions' registration read;
`WINNING_PRIZES` and `WINNING_RANK` say the same for the outbox event of one result (a test
checks that both agree).
"""

from __future__ import annotations

import uuid
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.honours import schemas as honour_schemas
from services.registry.honours import service as honours
from services.registry.results import schemas
from services.registry.talent import timeline
from shared import clock
from shared.auth.principal import Principal
from shared.errors import FieldError, InvalidInput, NotFound
from shared.models.competitions import CompetitionLevel
from shared.models.registry import (
    HonourLevel,
    HonourSource,
    TimelineEntry,
    TimelineKind,
    Worker,
)

SERVICE = "registry"
PRIZE_NAMES = {"first": "一等奖", "second": "二等奖", "third": "三等奖", "merit": "优秀奖"}
#: Prizes that make a national result a win (gold, silver, bronze).
WINNING_PRIZES = ("first", "second", "third")
WINNING_RANK = 3
RESULT_KINDS = (TimelineKind.competition_result.value, TimelineKind.national_result.value)


def _title(rank: int | None, prize: str | None) -> str:
    if prize:
        return PRIZE_NAMES[prize]
    return f"第{rank}名" if rank is not None else "参赛"


async def record_national_result(
    session: AsyncSession,
    worker: Worker,
    data: schemas.NationalResultCreate,
    principal: Principal,
) -> TimelineEntry:
    """`worker`: loaded and locked by the route for a manager of the file (`ManagedWorker`).
    With `honour_code`, the honour is granted in the same transaction, by the honours rules
    (only admins grant national honours): a refusal writes nothing."""
    today = clock.today()
    awarded_on = data.awarded_on or today
    errors: list[FieldError] = []
    if awarded_on > today:
        errors.append(FieldError(field="awarded_on", message="must not be in the future"))
    if awarded_on.year < data.year:
        errors.append(FieldError(field="awarded_on", message="before the contest's year"))
    honour = None
    if data.honour_code:
        try:
            honour = await honours.get_honour(session, data.honour_code)
        except NotFound:
            errors.append(FieldError(field="honour_code", message="not in the honours catalogue"))
        else:
            if honour.level is not HonourLevel.national:
                errors.append(
                    FieldError(
                        field="honour_code",
                        message=f"{honour.code} is a {honour.level.value} honour, not national",
                    )
                )
    if errors:
        raise InvalidInput("The national result cannot be recorded as given.", errors=errors)
    ref = uuid.uuid4()
    summary = f"全国：{data.contest_name}（{data.year}）{_title(data.rank, data.prize)}"
    grant_id = None
    if honour is not None:
        grant, _ = await honours.grant_honour(
            session,
            honour.code,
            honour_schemas.HonourGrantCreate(
                worker_id=worker.id,
                granted_on=awarded_on,
                source=HonourSource.competition_result,
                source_ref=f"national:{ref}",
                citation=summary,
            ),
            principal,
        )
        grant_id = str(grant.id)
    body = {
        "level": CompetitionLevel.national.value,
        "contest_name": data.contest_name,
        "year": data.year,
        "occupation": data.occupation,
        "rank": data.rank,
        "prize": data.prize,
        "honour_code": data.honour_code,
        "honour_grant_id": grant_id,
    }
    entry = timeline.record(
        session,
        worker_id=worker.id,
        kind=TimelineKind.national_result,
        summary=summary,
        data=body,
        occurred_at=datetime.combine(awarded_on, time(12), tzinfo=clock.TIMEZONE),
        source_type="national_result",
        source_id=ref,
        principal=principal,
    )
    await session.flush()
    await session.refresh(entry)
    winner = data.prize in WINNING_PRIZES or (
        data.prize is None and data.rank is not None and data.rank <= WINNING_RANK
    )
    # The entry is written (and flushed) first: the audit row and the event name its id.
    timeline.record_change(
        session,
        principal,
        action="worker.national_result",
        entity_type="worker",
        entity_id=worker.id,
        after={**body, "timeline_entry_id": entry.id},
        event="worker.national_result_recorded",
        subject=f"worker:{worker.id}",
        event_data={
            "worker_id": str(worker.id),
            "locality_code": worker.locality_code,
            "timeline_entry_id": entry.id,
            "contest_name": data.contest_name,
            "year": data.year,
            "rank": data.rank,
            "prize": data.prize,
            "honour_code": data.honour_code,
            "national_winner": winner,
        },
    )
    return entry


def _level_result(entry: TimelineEntry) -> schemas.LevelResult:
    data = entry.data
    national = entry.kind == TimelineKind.national_result.value
    level = data.get("level")
    year = data.get("year") or clock.local(entry.occurred_at).year
    return schemas.LevelResult(
        level=CompetitionLevel(level) if level else None,
        year=int(year),
        competition_name=data.get("contest_name" if national else "competition_name") or "-",
        stage_name=None if national else data.get("stage_name"),
        event_name=data.get("event_name") or data.get("occupation"),
        competition_id=None if national else data.get("competition_id"),
        rank=data.get("rank"),
        prize=data.get("prize"),
        source="national_result" if national else "competition_result",
        occurred_at=entry.occurred_at,
        timeline_entry_id=entry.id,
    )


async def results_by_level(
    session: AsyncSession, worker_id: uuid.UUID
) -> list[schemas.LevelResult]:
    """The worker's results in path order: by year, then level (enterprise first), then
    date. A worker has a few dozen results in a career: read whole, on the file's index."""
    rows = await session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.worker_id == worker_id, TimelineEntry.kind.in_(RESULT_KINDS))
        .order_by(TimelineEntry.occurred_at, TimelineEntry.id)
    )
    results = [_level_result(e) for e in rows]
    return sorted(results, key=lambda r: (r.year, r.level.rank if r.level else -1, r.occurred_at))
