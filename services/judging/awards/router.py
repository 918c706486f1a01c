"""Award endpoints: rules per stage, sending the stage's awards to the registry, their delivery
state, and retrying one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from services.judging.access import ManagedStage, check_stage_manager
from services.judging.awards import flows, schemas, service
from services.judging.upstream import StageInfo, UpstreamDep
from shared.auth.deps import Admin, AdminOrOrganiser
from shared.db import SessionDep, UnitOfWorkDep
from shared.errors import Forbidden, error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.competitions import CompetitionLevel
from shared.models.judging import Award, DeliveryState
from shared.pagination import CursorQuery, LimitQuery, Page, paginate
from shared.scope import scope_loader

router = APIRouter(prefix="/v1", tags=["awards"])


@router.post(
    "/stages/{stage_id}/award-rules",
    operation_id="createAwardRule",
    response_model=schemas.AwardRule,
    status_code=201,
    summary="Add an award rule to a stage",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def create_rule(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    stage: ManagedStage,
    data: schemas.AwardRuleCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """What the stage's final results earn in the registry:

    - `honour`: grant `honour_code` (e.g. 山东省技术能手) to the top `top_n` or the `prizes`;
    - `grade_promotion`: promote one level (or to `to_grade`) the top `top_n` or the `prizes`;
    - `competition_result`: write the result to each competitor's talent file (everyone
      ranked, unless narrowed by `top_n` or `prizes`).

    A team entry's award goes to each member. One rule per kind per stage (per honour code for
    honours): 409 for a second. Organisers of the stage's competition only."""

    async def create() -> schemas.AwardRule:
        rule = await service.create_rule(session, stage, data, principal)
        return schemas.AwardRule.model_validate(rule)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda _: f"/v1/stages/{stage.id}/award-rules",
    )


@router.get(
    "/stages/{stage_id}/award-rules",
    operation_id="listAwardRules",
    response_model=list[schemas.AwardRule],
    summary="List a stage's award rules",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def list_rules(
    session: SessionDep, _: AdminOrOrganiser, stage: ManagedStage
) -> list[schemas.AwardRule]:
    """The stage's rules in creation order (a handful per stage, so not paginated)."""
    return [
        schemas.AwardRule.model_validate(r) for r in await service.list_rules(session, stage.id)
    ]


@router.delete(
    "/award-rules/{rule_id}",
    operation_id="deleteAwardRule",
    status_code=204,
    summary="Delete an award rule",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def delete_rule(
    session: SessionDep, upstream: UpstreamDep, principal: AdminOrOrganiser, rule_id: uuid.UUID
) -> Response:
    """Delete a rule that has no awards yet; once its awards are planned it is part of the
    record (409). A standing rule of a level: admins only."""
    rule = await service.get_rule(session, rule_id, for_update=True)
    if rule.stage_id is None:
        if not principal.is_admin:
            raise Forbidden("Standing rules of a level are the province's: admins only.")
    else:
        check_stage_manager(principal, await upstream.stage(rule.stage_id))
    await service.delete_rule(session, rule, principal)
    return Response(status_code=204)


@router.post(
    "/stages/{stage_id}/awards:send",
    response_model=schemas.SendReport,
    summary="Send the stage's awards to the registry (safe to retry)",
    responses=error_responses(401, 403, 404, 412, 422, 502, 503, 504),
)
async def send_awards(
    uow: UnitOfWorkDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    stage: ManagedStage,
) -> schemas.SendReport:
    """Once the stage's results are final (412 before): plan the awards the rules give (once;
    a rule added later adds its awards on the next call), issue the certificates, and send
    every award not yet sent: honour grants, grade promotions and talent-file entries, each with
    its deterministic `source_ref` so the registry records it exactly once however often this is
    called. An award the registry refuses (the worker already holds that grade...) is marked
    `failed` with the reason. Registry down: 503 problem; what was sent before stays `sent`,
    the failing award is `failed`, the rest `pending`; call again to complete. Each award sent
    emits `award.granted`."""
    return await flows.send_stage(uow, upstream, stage, principal)


@router.get(
    "/stages/{stage_id}/awards",
    response_model=Page[schemas.Award],
    summary="List a stage's awards and their delivery state",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def list_awards(
    session: SessionDep,
    _: AdminOrOrganiser,
    stage: ManagedStage,
    state: Annotated[DeliveryState | None, Query(description="Only awards in this state.")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Award]:
    """Every planned award with its state (`pending`, `sent`, `failed` with `last_error`), the
    number of attempts and the registry's record id, in planning order."""
    stmt = select(Award).where(Award.stage_id == stage.id)
    if state is not None:
        stmt = stmt.where(Award.state == state)
    return await paginate(
        session,
        stmt,
        order_by=[Award.created_at, Award.id],
        limit=limit,
        cursor=cursor,
        transform=flows.present,
    )


@dataclass(frozen=True)
class AwardContext:
    award: Award
    stage: StageInfo


@scope_loader("award")
async def _managed_award(
    uow: UnitOfWorkDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    award_id: uuid.UUID,
) -> AwardContext:
    """The route's award and its stage, for admins and organisers of the stage's competition
    (404 unknown, 403 otherwise)."""
    award = await flows.load_award(uow, award_id)
    stage = await upstream.stage(award.stage_id)
    check_stage_manager(principal, stage)
    return AwardContext(award, stage)


ManagedAward = Annotated[AwardContext, Depends(_managed_award)]


@router.post(
    "/awards/{award_id}:retry",
    response_model=schemas.Award,
    summary="Retry sending one award",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def retry_award(
    uow: UnitOfWorkDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    managed: ManagedAward,
) -> schemas.Award:
    """Send one `failed` (or `pending`) award again, with the same `source_ref` (so it is
    recorded once). A `sent` award is answered as it is. An award awaiting confirmation, or
    declined, is never sent: 409 (confirm it first). Registry down: 503 problem, the award
    stays `failed`."""
    return await flows.retry(uow, upstream, managed.stage, managed.award, principal)


@router.post(
    "/awards/{award_id}:confirm",
    operation_id="confirmAward",
    response_model=schemas.Award,
    summary="Confirm an award a rule recommended",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def confirm_award(
    uow: UnitOfWorkDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    managed: ManagedAward,
    data: schemas.AwardDecision,
) -> schemas.Award:
    """An award of a rule that `requires_confirmation` (e.g. provincial first prizes
    recommended for 山东省技术能手) waits in `awaiting_confirmation`; an organiser of the stage's
    competition (or an admin) confirms it here, with a reason. It is then sent to the registry
    at once (state `sent`, `award.granted`); if the registry is down it stays `failed` and the
    awards sweeper sends it later. Sends `award.confirmed`. 409 unless awaiting confirmation."""
    await flows.decide(
        uow,
        upstream,
        managed.stage,
        managed.award.id,
        confirm=True,
        reason=data.reason,
        principal=principal,
    )
    return await flows.current(uow, managed.award.id)


@router.post(
    "/awards/{award_id}:decline",
    operation_id="declineAward",
    response_model=schemas.Award,
    summary="Decline an award a rule recommended",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def decline_award(
    uow: UnitOfWorkDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    managed: ManagedAward,
    data: schemas.AwardDecision,
) -> schemas.Award:
    """Refuse an award awaiting confirmation, with the reason: it becomes `declined` and is
    never sent to the registry. Sends `award.declined`. 409 unless awaiting confirmation."""
    await flows.decide(
        uow,
        upstream,
        managed.stage,
        managed.award.id,
        confirm=False,
        reason=data.reason,
        principal=principal,
    )
    return await flows.current(uow, managed.award.id)


# -- standing rules of a level ---------------------------------------------------------------


@router.post(
    "/award-rules",
    operation_id="createStandingAwardRule",
    response_model=schemas.AwardRule,
    status_code=201,
    summary="Add a standing award rule for a level",
    responses=error_responses(401, 403, 409, 422),
)
async def create_standing_rule(
    request: Request,
    session: SessionDep,
    principal: Admin,
    data: schemas.StandingAwardRuleCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """The province's policy for every competition of a level (admins): what the final stage
    (the last stage of each event) earns, besides the stage's own rules. For example, at the
    `provincial` level, first prizes recommended for 山东省技术能手 (`honour`,
    `provincial_technical_expert`) and promoted to technician (`grade_promotion`,
    `to_grade: technician`), each with `requires_confirmation` so that an organiser confirms
    every award before it reaches the registry. One rule per kind per level (per honour code
    for honours): 409 for a second."""

    async def create() -> schemas.AwardRule:
        rule = await service.create_standing_rule(session, data, principal)
        return schemas.AwardRule.model_validate(rule)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda _: "/v1/award-rules",
    )


@router.get(
    "/award-rules",
    operation_id="listStandingAwardRules",
    response_model=list[schemas.AwardRule],
    summary="List the standing award rules of the levels",
    responses=error_responses(401, 403, 422),
)
async def list_standing_rules(
    session: SessionDep,
    _: AdminOrOrganiser,
    level: Annotated[CompetitionLevel | None, Query(description="Only this level.")] = None,
) -> list[schemas.AwardRule]:
    """The standing rules (a handful per level, so not paginated), in creation order: what
    organisers' final stages will earn besides their own rules."""
    return [
        schemas.AwardRule.model_validate(r)
        for r in await service.list_standing_rules(session, level)
    ]


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["awards"])


@webhooks.post(
    "award.awaiting_confirmation", summary="An award waits for an organiser's confirmation"
)
async def award_awaiting_confirmation(event: schemas.AwardEvent) -> None:
    """Sent when final results give an award under a rule that `requires_confirmation` (e.g. a
    provincial first prize recommended for 山东省技术能手): nothing reaches the registry until
    an organiser confirms it (`POST /v1/awards/{id}:confirm`) or declines it."""


@webhooks.post("award.confirmed", summary="An organiser confirmed a recommended award")
async def award_confirmed(event: schemas.AwardEvent) -> None:
    """Sent when an award awaiting confirmation is confirmed (`data.reason`); `award.granted`
    follows once the registry has recorded it."""


@webhooks.post("award.declined", summary="An organiser declined a recommended award")
async def award_declined(event: schemas.AwardEvent) -> None:
    """Sent when an award awaiting confirmation is declined (`data.reason`); it is never sent
    to the registry."""


@webhooks.post("award.granted", summary="An award reached the registry")
async def award_granted(event: schemas.AwardEvent) -> None:
    """Sent once per award when the registry has recorded it: an honour grant, a grade
    promotion or a talent-file competition result (`data.kind`), with the competitor, rank,
    prize and the registry's record (`data.registry_ref`). Signed per Standard Webhooks."""
