"""Judge assignment of a stage: pick the pool, compute every conflict in bulk, solve the min-cost
flow (`solver`), explain infeasibility, store the assignment with its run.

A stored assignment may be replaced only while the stage has no score; solves of one stage are
serialised by an advisory lock.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import date
from typing import Any

import numpy as np
from sqlalchemy import delete, exists, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.assignment import schemas, solver
from services.judging.conflicts.service import conflicts_of_judges
from services.judging.judges.service import judge_of
from services.judging.upstream import EntryFacts, StageInfo, Upstream
from shared import audit, outbox
from shared.auth.principal import Principal
from shared.concurrency import etag
from shared.errors import Conflict, FieldError, RuleViolation
from shared.models.competitions import StageStatus
from shared.models.judging import Judge, JudgeAssignment, JudgeAssignmentRun, Score
from shared.pagination import Page, paginate

SERVICE = "judging"
CLOSED = (StageStatus.judged, StageStatus.advanced)
INSERT_BATCH = 5000


def available_on(judge: Judge, day: date) -> bool:
    return any(
        date.fromisoformat(r["start"]) <= day <= date.fromisoformat(r["end"])
        for r in judge.availability
    )


async def _pool(
    session: AsyncSession, stage: StageInfo, data: schemas.AssignmentSolve
) -> list[Judge]:
    if data.judge_ids is not None:
        wanted = list(dict.fromkeys(data.judge_ids))
        judges = list(
            await session.scalars(
                select(Judge).where(Judge.id.in_(wanted)).order_by(Judge.created_at, Judge.id)
            )
        )
        missing = set(wanted) - {j.id for j in judges}
        if missing:
            raise RuleViolation(
                f"No judges with ids {', '.join(sorted(map(str, missing)))}.",
                errors=[FieldError(field="judge_ids", message="unknown judges")],
            )
        wrong = [j for j in judges if stage.occupation not in j.occupations]
        if wrong:
            raise RuleViolation(
                f"Judges not qualified for {stage.occupation}: "
                f"{', '.join(str(j.id) for j in wrong)}.",
                errors=[
                    FieldError(
                        field="judge_ids",
                        message=f"judges whose occupations lack {stage.occupation}",
                    )
                ],
            )
    else:
        judges = list(
            await session.scalars(
                select(Judge)
                .where(Judge.occupations.contains([stage.occupation]))
                .order_by(Judge.created_at, Judge.id)
            )
        )
    if data.on_date is not None:
        day = data.on_date
        judges = [j for j in judges if available_on(j, day)]
    return judges


def _explain(
    short: np.ndarray[Any, Any],
    entries: list[EntryFacts],
    judges: list[Judge],
    kinds: dict[tuple[int, int], set[str]],
    k: int,
) -> list[schemas.ShortEntry]:
    out = []
    for e in short.tolist():
        removed: Counter[str] = Counter()
        eligible = 0
        for j in range(len(judges)):
            found = kinds.get((e, j))
            if found:
                removed.update(found)
            else:
                eligible += 1
        out.append(
            schemas.ShortEntry(
                stage_entry_id=entries[e].stage_entry_id,
                blind_code=entries[e].blind_code,
                eligible_judges=eligible,
                needed=k,
                removed_by=dict(sorted(removed.items())),
            )
        )
    return out


async def _has_scores(session: AsyncSession, stage_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(exists().where(Score.stage_id == stage_id))))


async def solve(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    data: schemas.AssignmentSolve,
    principal: Principal,
) -> schemas.AssignmentOutcome:
    if stage.status in CLOSED:
        raise Conflict(f"Stage {stage.id} is {stage.status.value}: its judging is over.")
    if not data.dry_run:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"judge-assignment:{stage.id}"},
        )
        if await _has_scores(session, stage.id):
            raise Conflict(
                f"Stage {stage.id} already has scores: its assignment can no longer be replaced."
            )
    judges = await _pool(session, stage, data)
    entries = await upstream.stage_entries(stage.id)
    uncoded = [e for e in entries if not e.blind_code]
    if uncoded:
        raise Conflict(
            f"{len(uncoded)} entries of stage {stage.id} have no blind code yet: assign blind "
            "codes first (POST /v1/stages/{id}/blind-codes on the competitions service)."
        )
    started = time.perf_counter()
    conflicts = await conflicts_of_judges(session, upstream, stage, judges, entries)
    position = {e.entry_id: i for i, e in enumerate(entries)}
    matrix = np.zeros((len(entries), len(judges)), dtype=np.bool_)
    kinds: dict[tuple[int, int], set[str]] = {}
    for j, judge in enumerate(judges):
        for entry_id, reasons in conflicts[judge.id].items():
            e = position[entry_id]
            matrix[e, j] = True
            kinds[(e, j)] = {r.kind.value for r in reasons}
    short = solver.short_entries(matrix, data.k)
    if len(short):
        explained = _explain(short, entries, judges, kinds, data.k)
        raise RuleViolation(
            f"{len(short)} of {len(entries)} entries cannot get {data.k} judges from a pool of "
            f"{len(judges)} without a conflict of interest: add judges or lower k.",
            errors=[
                FieldError(
                    field="k",
                    message=f"entry {s.blind_code} has {s.eligible_judges} eligible judges",
                )
                for s in explained[:50]
            ],
            entries=[s.model_dump(mode="json") for s in explained],
        )
    solution = solver.solve(matrix, data.k, seed=stage.id.int % (2**32))
    solve_ms = round((time.perf_counter() - started) * 1000)
    if solution.status != "OPTIMAL":  # not expected once no entry is short
        raise RuleViolation(
            f"The min-cost flow solver answered {solution.status}.",
            errors=[FieldError(field="k", message="no assignment found")],
        )
    run = JudgeAssignmentRun(
        id=uuid.uuid4(),
        stage_id=stage.id,
        k=data.k,
        entries=len(entries),
        judges=len(judges),
        load_min=solution.load_min if judges else None,
        load_max=solution.load_max if judges else None,
        solver_status=solution.status,
        cost=solution.cost,
        solve_ms=solve_ms,
        dry_run=data.dry_run,
        parameters=data.model_dump(mode="json"),
        created_by=principal.sub,
    )
    session.add(run)
    await session.flush()
    await session.refresh(run)
    if not data.dry_run:
        await _store(session, stage, entries, judges, solution, run)
        summary = {
            "run_id": str(run.id),
            "k": data.k,
            "entries": len(entries),
            "judges": len(judges),
            "load_min": run.load_min,
            "load_max": run.load_max,
        }
        audit.record(
            session,
            service=SERVICE,
            principal=principal,
            action="assignment.solve",
            entity_type="stage",
            entity_id=stage.id,
            after=summary,
        )
        outbox.emit(
            session,
            service=SERVICE,
            type="assignments.created",
            subject=f"stage:{stage.id}",
            data=stage.scope() | summary,
        )
    loads = [
        schemas.JudgeLoad(judge_id=j.id, name=j.name, load=int(solution.loads[i]))
        for i, j in enumerate(judges)
    ]
    return schemas.AssignmentOutcome(
        run=schemas.AssignmentRun.model_validate(run),
        balanced=solution.load_max - solution.load_min <= 1,
        loads=loads,
    )


async def _store(
    session: AsyncSession,
    stage: StageInfo,
    entries: list[EntryFacts],
    judges: list[Judge],
    solution: solver.Solution,
    run: JudgeAssignmentRun,
) -> None:
    await session.execute(delete(JudgeAssignment).where(JudgeAssignment.stage_id == stage.id))
    rows = []
    for e, j in solution.pairs.tolist():
        entry = entries[e]
        rows.append(
            {
                "id": uuid.uuid4(),
                "stage_id": stage.id,
                "stage_entry_id": entry.stage_entry_id,
                "entry_id": entry.entry_id,
                "blind_code": entry.blind_code,
                "judge_id": judges[j].id,
                "locality_code": entry.locality_code,
                "worker_ids": sorted(entry.worker_ids),
                "enterprise_ids": sorted(entry.enterprise_ids),
                "run_id": run.id,
            }
        )
    for start in range(0, len(rows), INSERT_BATCH):
        await session.execute(insert(JudgeAssignment), rows[start : start + INSERT_BATCH])


async def list_assignments(
    session: AsyncSession,
    stage_id: uuid.UUID,
    *,
    judge_id: uuid.UUID | None,
    blind_code: str | None,
    reveal: bool,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Assignment]:
    stmt = select(JudgeAssignment).where(JudgeAssignment.stage_id == stage_id)
    if judge_id is not None:
        stmt = stmt.where(JudgeAssignment.judge_id == judge_id)
    if blind_code is not None:
        stmt = stmt.where(JudgeAssignment.blind_code == blind_code)
    return await paginate(
        session,
        stmt,
        order_by=[JudgeAssignment.blind_code, JudgeAssignment.judge_id],
        limit=limit,
        cursor=cursor,
        transform=lambda a: schemas.Assignment.model_validate(a).model_copy(
            update={} if reveal else {"entry_id": None}
        ),
    )


async def my_assignments(
    session: AsyncSession,
    principal: Principal,
    *,
    stage_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.MyAssignment]:
    judge = await judge_of(session, principal)
    stmt = select(JudgeAssignment).where(JudgeAssignment.judge_id == judge.id)
    if stage_id is not None:
        stmt = stmt.where(JudgeAssignment.stage_id == stage_id)
    return await paginate(
        session,
        stmt,
        order_by=[JudgeAssignment.stage_id, JudgeAssignment.blind_code, JudgeAssignment.id],
        limit=limit,
        cursor=cursor,
        transform=lambda a: schemas.MyAssignment(
            stage_id=a.stage_id,
            blind_code=a.blind_code,
            submitted_at=a.submitted_at,
            etag=etag(a.sheet_version),
        ),
    )
