"""Sending a stage's awards to the registry: each award in its own short transaction, so that
what the registry recorded is marked `sent` at once and a failure never loses that.

Exactly once: every call carries the award's deterministic `source_ref`, and the registry
records a source_ref once (a repeat answers 200 with the first record). So an award whose
`sent` mark was lost (a crash between the registry's answer and our commit) is simply sent
again and recorded once. Two senders at once skip each other's locked awards.

The registry down (503/504/502): the award is marked `failed` with the error, the remaining ones
stay `pending`, and the caller gets a 503 problem; sending again completes the job, and so does
the sweeper, which retries the stage's award job (`jobs.py`) with backoff.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.awards import jobs, schemas, service
from services.judging.awards.results import final_results
from services.judging.upstream import StageInfo, Upstream
from shared import audit, outbox
from shared.auth.principal import Principal
from shared.db import UnitOfWork, get_or_404
from shared.errors import Conflict, DomainError, DownstreamError, NotFound, PreconditionFailed
from shared.models.judging import NOT_SENDABLE, Award, DeliveryState

SERVICE = "judging"
log = logging.getLogger("judging.awards")


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0


def _event_data(award: Award, stage: StageInfo) -> dict[str, object]:
    body = award.request.get("body", {})
    return {
        "award_id": str(award.id),
        **stage.scope(),
        "entry_id": str(award.entry_id),
        "worker_id": str(award.worker_id),
        "kind": award.kind.value,
        "honour_code": award.request["path"].split("/")[3]
        if award.kind.value == "honour"
        else None,
        "to_grade": body.get("to_grade"),
        "rank": award.rank,
        "prize": award.prize,
        "source_ref": award.source_ref,
        "registry_ref": award.registry_ref,
    }


def idempotency_key(award: Award) -> str:
    """Deterministic per award: two honours of one competitor share a source_ref (the registry
    tells them apart by honour code) but not this key."""
    digest = hashlib.sha256(f"{award.request['path']}|{award.source_ref}".encode()).hexdigest()
    return f"award-{digest[:48]}"


def _detail(body: dict[str, object], status: int) -> str:
    return f"registry {status}: {body.get('detail') or body.get('title') or 'refused'}"


async def _send_one(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    award_id: uuid.UUID,
    token: str,
    principal: Principal | None,
    delivery: Delivery,
) -> DownstreamError | None:
    """Send one award inside the caller's transaction; the outage, if the registry is down."""
    award = await session.scalar(
        select(Award).where(Award.id == award_id).with_for_update(skip_locked=True)
    )
    if award is None or award.state in NOT_SENDABLE:
        # Another sender holds it, it was sent meanwhile, or it waits for (or was refused) an
        # organiser's confirmation: never sent then.
        return None
    before = {"state": award.state.value, "attempts": award.attempts}
    award.attempts += 1
    try:
        status, body = await upstream.registry.send_award(
            award.request["method"],
            award.request["path"],
            award.request["body"],
            token=token,
            idempotency_key=idempotency_key(award),
        )
    except DownstreamError as exc:
        award.state = DeliveryState.failed
        award.last_error = exc.detail
        delivery.failed += 1
        return exc
    if status in (200, 201):
        award.state = DeliveryState.sent
        award.last_error = None
        award.registry_ref = str(body.get("id")) if body.get("id") is not None else None
        award.sent_at = datetime.now(UTC)
        delivery.sent += 1
        outbox.emit(
            session,
            service=SERVICE,
            type="award.granted",
            subject=f"award:{award.id}",
            data=_event_data(award, stage),
        )
    else:
        # A refusal (the worker already holds the grade or honour, an unknown honour...): this
        # award cannot go through as planned; it stays visible as failed with the reason.
        award.state = DeliveryState.failed
        award.last_error = _detail(body, status)
        delivery.failed += 1
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action=f"award.{award.state.value}",
        entity_type="award",
        entity_id=award.id,
        before=before,
        after={
            "state": award.state.value,
            "attempts": award.attempts,
            "last_error": award.last_error,
            "registry_ref": award.registry_ref,
        },
    )
    return None


async def deliver(
    uow: UnitOfWork,
    upstream: Upstream,
    stage: StageInfo,
    principal: Principal | None,
    *,
    award_ids: list[uuid.UUID] | None = None,
) -> Delivery:
    """Send every unsent award of the stage (or only `award_ids`), oldest first. Raises the
    registry's outage (a 503 problem) after recording it; what was sent stays sent."""
    async with uow.autocommit() as session:
        stmt = select(Award.id).where(Award.stage_id == stage.id, Award.state.not_in(NOT_SENDABLE))
        if award_ids is not None:
            stmt = stmt.where(Award.id.in_(award_ids))
        ids = list(await session.scalars(stmt.order_by(Award.created_at, Award.id)))
    delivery = Delivery()
    if not ids:
        return delivery
    token = await upstream.token()
    for award_id in ids:
        async with uow.transaction() as session:
            outage = await _send_one(session, upstream, stage, award_id, token, principal, delivery)
        if outage is not None:
            raise DownstreamError(
                f"The registry is unavailable ({outage.detail}); {delivery.sent} award(s) were "
                "sent before it failed and are marked sent, the rest stay pending. Send again "
                "to complete: each award is recorded once.",
                status=503,
                service="registry",
                sent=delivery.sent,
            )
    return delivery


async def decide(
    uow: UnitOfWork,
    upstream: Upstream,
    stage: StageInfo,
    award_id: uuid.UUID,
    *,
    confirm: bool,
    reason: str,
    principal: Principal,
) -> None:
    """Confirm (then send) or decline an award awaiting confirmation; 409 in any other state.

    The decision commits first, with the stage's award job, so a confirmed award reaches the
    registry even if the send below fails or this process dies: the sweeper completes it."""
    async with uow.transaction() as session:
        award = await session.scalar(select(Award).where(Award.id == award_id).with_for_update())
        if award is None:
            raise NotFound(f"No award with id {award_id}.")
        if award.state is not DeliveryState.awaiting_confirmation:
            raise Conflict(
                f"Award {award.id} is {award.state.value}: only an award awaiting "
                "confirmation can be confirmed or declined.",
                state=award.state.value,
            )
        before = {"state": award.state.value}
        award.state = DeliveryState.pending if confirm else DeliveryState.declined
        award.decided_by = principal.sub
        award.decided_at = datetime.now(UTC)
        award.decision_reason = reason
        action = "award.confirmed" if confirm else "award.declined"
        audit.record(
            session,
            service=SERVICE,
            principal=principal,
            action=action,
            entity_type="award",
            entity_id=award.id,
            before=before,
            after={"state": award.state.value, "reason": reason},
        )
        outbox.emit(
            session,
            service=SERVICE,
            type=action,
            subject=f"award:{award.id}",
            data={**_event_data(award, stage), "state": award.state.value, "reason": reason},
        )
        if confirm:
            await jobs.schedule(session, stage.id)
    if confirm:
        try:
            await deliver(uow, upstream, stage, principal, award_ids=[award_id])
        except DownstreamError:
            # Confirmed and recorded as failed; the award job sends it once the registry is back.
            log.warning("confirmed award left to the sweeper", extra={"award_id": str(award_id)})


def present(award: Award) -> schemas.Award:
    return schemas.Award.model_validate(award)


async def send_stage(
    uow: UnitOfWork, upstream: Upstream, stage: StageInfo, principal: Principal
) -> schemas.SendReport:
    """Plan the stage's awards from its final results (412 before; once per rule), committed
    first, then send every unsent one (`deliver`), and report."""
    async with uow.transaction() as session:
        results = await final_results(session, stage.id)
        plan = await service.plan_awards(session, upstream, stage, results, principal)
    delivery = await deliver(uow, upstream, stage, principal)
    async with uow.autocommit() as session:
        awards = await session.scalars(
            select(Award).where(Award.stage_id == stage.id).order_by(Award.created_at, Award.id)
        )
        return schemas.SendReport(
            stage_id=stage.id,
            planned=plan.created,
            sent=delivery.sent,
            failed=delivery.failed,
            totals=await service.totals(session, stage.id),
            skipped=plan.skipped,
            awards=[present(a) for a in awards],
        )


async def load_award(uow: UnitOfWork, award_id: uuid.UUID) -> Award:
    """The award, or a 404 (read outside a transaction: no connection is held afterwards)."""
    async with uow.autocommit() as session:
        return await get_or_404(session, Award, award_id, "award")


async def current(uow: UnitOfWork, award_id: uuid.UUID) -> schemas.Award:
    """The award as it is now."""
    return present(await load_award(uow, award_id))


async def retry(
    uow: UnitOfWork, upstream: Upstream, stage: StageInfo, award: Award, principal: Principal
) -> schemas.Award:
    """Send one failed (or pending) award again; a sent one is answered as it is, one awaiting
    confirmation or declined is a 409. The award as it is afterwards."""
    if award.state in (DeliveryState.awaiting_confirmation, DeliveryState.declined):
        raise Conflict(
            f"Award {award.id} is {award.state.value}: it is sent only once an organiser "
            "confirms it (POST /v1/awards/{award_id}:confirm).",
            state=award.state.value,
        )
    if award.state is not DeliveryState.sent:
        await deliver(uow, upstream, stage, principal, award_ids=[award.id])
    return await current(uow, award.id)


async def award_final_results(
    uow: UnitOfWork,
    upstream: Upstream,
    stage: StageInfo,
    principal: Principal | None,
    *,
    retry_seconds: float,
) -> Delivery | None:
    """Run by the results finalise path once the final version (and its award job) is
    committed, as a background task after the response: take the stage's award job and run it.
    Never raises. If this process dies first, or the registry is down, the job stays and a
    sweeper (`services/judging/awards/sweeper.py`) completes it; so does
    `POST /v1/stages/{id}/awards:send`."""
    try:
        async with uow.transaction() as session:
            attempts = await jobs.claim_stage(session, stage.id)
    except Exception:
        log.exception("award job left to the sweeper", extra={"stage_id": str(stage.id)})
        return None
    if attempts is None:
        return None  # another process holds it (it will run it)
    return await run_job(uow, upstream, stage.id, attempts, principal, retry_seconds, stage=stage)


async def run_job(
    uow: UnitOfWork,
    upstream: Upstream,
    stage_id: uuid.UUID,
    attempts: int,
    principal: Principal | None,
    retry_seconds: float,
    *,
    stage: StageInfo | None = None,
) -> Delivery | None:
    """Plan the stage's awards from its final results (idempotent) and send every unsent one,
    under the job's lease. Done (all sent, or refused for good): the job is deleted. A failure
    (the registry or competitions down, anything unexpected): the job is released until
    `retry_seconds`, doubling with each failure. Never raises."""
    context = {"stage_id": str(stage_id), "attempt": attempts}
    try:
        if stage is None:
            try:
                stage = await upstream.stage(stage_id)
            except NotFound:
                log.warning("award job dropped: the stage is gone", extra=context)
                await _finish(uow, stage_id, attempts)
                return None
        try:
            async with uow.transaction() as session:
                results = await final_results(session, stage_id)
                await service.plan_awards(session, upstream, stage, results, principal)
        except PreconditionFailed:
            log.warning("award job dropped: the results are not final", extra=context)
            await _finish(uow, stage_id, attempts)
            return None
        delivery = await deliver(uow, upstream, stage, principal)
    except Exception as exc:
        error = exc.detail if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, DomainError):
            log.exception("award job failed", extra=context)
        try:
            async with uow.transaction() as session:
                delay = await jobs.retry_later(session, stage_id, attempts, error, retry_seconds)
            log.warning(
                "awards not all sent; retried later",
                extra={**context, "error": error, "retry_in_s": delay},
            )
        except Exception:  # the lease runs out and the job comes back anyway
            log.exception("could not reschedule the award job", extra=context)
        return None
    await _finish(uow, stage_id, attempts)
    return delivery


async def _finish(uow: UnitOfWork, stage_id: uuid.UUID, attempts: int) -> None:
    async with uow.transaction() as session:
        await jobs.finish(session, stage_id, attempts)
