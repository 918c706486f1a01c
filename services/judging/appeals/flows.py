"""The appeal flows: a competitor files an appeal against a provisional result within the appeal
window; the arbitration panel decides it; an upheld appeal reopens the named scores for
re-scoring (`scoring.service.unlock_scores`), after which the panel locks them again
(`relock`) and the organisers recompute and publish a new provisional version.

Each step takes the stage's results lock first (`results.service.lock_stage_results`), so an
appeal and a publication or finalisation of the same stage never interleave. Finalising checks
that no appeal is pending (results/service.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.appeals import schemas, service
from services.judging.results.service import SERVICE, latest_result, lock_stage_results
from services.judging.scoring.service import lock_marks, unlock_scores
from services.judging.upstream import StageInfo
from shared import audit, outbox
from shared.auth.principal import Principal, Role
from shared.concurrency import check_transition_if_match
from shared.db import get_or_404
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    RuleViolation,
)
from shared.models.judging import (
    Appeal,
    AppealStatus,
    MarkingAspect,
    ResultEntry,
    ResultStatus,
    Score,
)


async def file(
    session: AsyncSession,
    stage: StageInfo,
    data: schemas.AppealCreate,
    principal: Principal,
    *,
    now: datetime | None = None,
) -> Appeal:
    """File an appeal against the current provisional version of the stage."""
    now = now or datetime.now(UTC)
    if principal.role is not Role.worker or principal.worker_id is None:
        raise Forbidden("Appeals are filed by the competitor (a team's leader) with their account.")
    await lock_stage_results(session, stage.id)
    latest = await latest_result(session, stage.id, (ResultStatus.provisional, ResultStatus.final))
    if latest is None:
        raise Conflict(f"Stage {stage.id} has no published results to appeal against.")
    if latest.status is ResultStatus.final:
        raise Conflict(
            f"The results of stage {stage.id} are final: the appeal window closed at "
            f"{latest.appeal_deadline.isoformat() if latest.appeal_deadline else 'publication'}.",
            rule="appeal_window_closed",
        )
    assert latest.appeal_deadline is not None
    if now >= latest.appeal_deadline:
        raise Conflict(
            f"The appeal window of stage {stage.id} closed at "
            f"{latest.appeal_deadline.isoformat()}.",
            rule="appeal_window_closed",
            appeal_deadline=latest.appeal_deadline.isoformat(),
        )
    stmt = select(ResultEntry).where(
        ResultEntry.result_id == latest.id, ResultEntry.worker_id == principal.worker_id
    )
    if data.entry_id is not None:
        stmt = stmt.where(ResultEntry.entry_id == data.entry_id)
    mine = list(await session.scalars(stmt))
    if not mine:
        raise Forbidden(
            "Only the competitor of an entry (for a team, its leader) may appeal its result"
            + (f"; entry {data.entry_id} is not yours." if data.entry_id else ".")
        )
    if len(mine) > 1:
        raise RuleViolation(
            "You have several entries in this stage: name one as entry_id.",
            errors=[FieldError(field="entry_id", message="required: you have several entries")],
        )
    entry = mine[0]
    scheme_id = uuid.UUID(latest.inputs["scheme_id"])
    aspects = await _named_aspects(session, scheme_id, data)
    assert entry.entry_id is not None
    appeal = Appeal(
        stage_id=stage.id,
        result_id=latest.id,
        stage_entry_id=entry.stage_entry_id,
        entry_id=entry.entry_id,
        aspect_ids=[str(a.id) for a in aspects],
        aspect_codes=[a.code for a in aspects],
        reason=data.reason,
        status=AppealStatus.pending,
        filed_by=principal.sub,
    )
    await audit.add_created(
        session,
        appeal,
        service=SERVICE,
        principal=principal,
        action="appeal.file",
        entity_type="appeal",
        after=lambda: service.snapshot(appeal),
    )
    outbox.emit(
        session,
        service=SERVICE,
        type="appeal.filed",
        subject=str(appeal.id),
        data={
            "appeal_id": str(appeal.id),
            **stage.scope(),
            "entry_id": str(appeal.entry_id),
            "result_version": latest.version,
            "aspect_codes": appeal.aspect_codes,
            "aspect_ids": appeal.aspect_ids,
        },
    )
    return appeal


async def _named_aspects(
    session: AsyncSession, scheme_id: uuid.UUID, data: schemas.AppealCreate
) -> list[MarkingAspect]:
    """The aspects an appeal names, by code (or, for older clients, by id), in the order given
    and each once; every one not of the scheme the results were computed with is refused,
    naming its place in the list."""
    if (data.aspect_codes is None) == (data.aspect_ids is None):
        fields = ["aspect_codes", "aspect_ids"] if data.aspect_codes else ["aspect_codes"]
        raise InvalidInput(
            "Name the disputed aspects by code in aspect_codes (aspect_ids is the older way; "
            "give one of them).",
            errors=[FieldError(field=f, message="give aspect_codes or aspect_ids") for f in fields],
        )
    field = "aspect_codes" if data.aspect_codes is not None else "aspect_ids"
    column = MarkingAspect.code if data.aspect_codes is not None else MarkingAspect.id
    named: list[Any] = list(data.aspect_codes or data.aspect_ids or [])
    found = {
        getattr(a, column.key): a
        for a in await session.scalars(
            select(MarkingAspect).where(MarkingAspect.scheme_id == scheme_id, column.in_(named))
        )
    }
    errors = [
        FieldError(field=f"{field}[{i}]", message=f"{n} is not an aspect of the stage's scheme")
        for i, n in enumerate(named)
        if n not in found
    ]
    if errors:
        raise RuleViolation(
            f"{len(errors)} aspect(s) are not of this stage's marking scheme; its codes are "
            "listed at GET /v1/stages/{stage_id}/marking-schemes/outline.",
            errors=errors,
        )
    return [found[n] for n in dict.fromkeys(named)]


async def decide(
    session: AsyncSession,
    appeal_id: uuid.UUID,
    stage: StageInfo,
    data: schemas.AppealDecision,
    if_match: str | None,
    principal: Principal,
) -> Appeal:
    if not await service.is_arbiter(session, stage, principal):
        raise Forbidden(
            "Appeals are decided by admins and by organisers on the stage's arbitration panel "
            "(result rules `arbiters`)."
        )
    await lock_stage_results(session, stage.id)
    appeal = await get_or_404(session, Appeal, appeal_id, "appeal", for_update=True)
    check_transition_if_match(if_match, appeal.version)
    if appeal.status is not AppealStatus.pending:
        raise Conflict(f"Appeal {appeal.id} was already decided ({appeal.status.value}).")
    before = service.snapshot(appeal)
    appeal.status = AppealStatus(data.outcome)
    appeal.decision_reason = data.reason
    appeal.decided_by = principal.sub
    appeal.decided_at = datetime.now(UTC)
    appeal.version += 1
    if appeal.status is AppealStatus.upheld:
        score_ids = list(
            await session.scalars(
                select(Score.id).where(
                    Score.stage_id == appeal.stage_id,
                    Score.stage_entry_id == appeal.stage_entry_id,
                    Score.aspect_id.in_([uuid.UUID(a) for a in appeal.aspect_ids]),
                )
            )
        )
        await unlock_scores(
            session,
            appeal.stage_id,
            score_ids,
            principal.sub,
            f"appeal {appeal.id} upheld: {data.reason}",
        )
        appeal.unlocked_score_ids = [str(s) for s in score_ids]
    await session.flush()
    await session.refresh(appeal)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="appeal.decide",
        entity_type="appeal",
        entity_id=appeal.id,
        before=before,
        after=service.snapshot(appeal),
    )
    outbox.emit(
        session,
        service=SERVICE,
        type="appeal.decided",
        subject=str(appeal.id),
        data={
            "appeal_id": str(appeal.id),
            **stage.scope(),
            "entry_id": str(appeal.entry_id),
            "outcome": appeal.status.value,
            "unlocked_scores": len(appeal.unlocked_score_ids or []),
        },
    )
    return appeal


async def relock(
    session: AsyncSession, appeal_id: uuid.UUID, stage: StageInfo, principal: Principal
) -> int:
    """Lock again the marks an upheld appeal reopened, once the judges have re-scored them
    (the stage's panel lock stays in place throughout; only these marks were open)."""
    await service.check_arbiter_or_manager(session, stage, principal)
    await lock_stage_results(session, stage.id)
    appeal = await get_or_404(session, Appeal, appeal_id, "appeal", for_update=True)
    if appeal.status is not AppealStatus.upheld:
        raise Conflict(
            f"Appeal {appeal.id} is {appeal.status.value}: only an upheld appeal reopens marks."
        )
    count = await lock_marks(session, stage.id, principal.sub, judge_id=None)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="appeal.relock_scores",
        entity_type="appeal",
        entity_id=appeal.id,
        after={"stage_id": str(stage.id), "scores_locked": count},
    )
    return count
