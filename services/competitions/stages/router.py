"""Stage endpoints: stages of an event, their entries, blind codes and advancement."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.competitions.stages import schemas, service
from shared.auth.deps import AdminOrOrganiser, CompetitionsReader, require
from shared.auth.principal import Principal, Role
from shared.concurrency import IfMatchHeader, etag
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.competitions import StageEntryStatus
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(tags=["stages"])

#: Judging applies advancement and locks stages with a machine token scoped `internal`.
Advancer = Annotated[Principal, Depends(require(Role.admin, Role.organiser, scopes=("internal",)))]
Locker = Annotated[Principal, Depends(require(Role.admin, scopes=("internal",)))]
StageReader = Annotated[
    Principal,
    Depends(
        require(Role.admin, Role.organiser, Role.judge, scopes=("internal", "competitions:read"))
    ),
]


@router.post(
    "/v1/events/{event_id}/stages",
    response_model=schemas.Stage,
    status_code=201,
    summary="Create a stage of an event",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_stage(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    event_id: uuid.UUID,
    data: schemas.StageCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Add a stage (round) to an event, e.g. 市级初赛 (seq 1) then 省级决赛 (seq 2). Components
    (theory, practical, defence) carry weights summing to 100. Every stage but the last needs an
    advancement rule: `top_n`, `top_n_per_locality` (a regional quota of N per locality),
    `top_percent` or `min_score`. Seq is unique per event (409 on a clash)."""

    async def create() -> schemas.Stage:
        stage = await service.create_stage(session, event_id, data, principal)
        return schemas.Stage.model_validate(stage)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda s: f"/v1/stages/{s.id}",
    )


@router.get(
    "/v1/events/{event_id}/stages",
    response_model=Page[schemas.Stage],
    summary="List the stages of an event",
    responses=error_responses(401, 404, 422),
)
async def list_stages(
    session: SessionDep,
    _: CompetitionsReader,
    event_id: uuid.UUID,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Stage]:
    """The stages of an event in `seq` order."""
    return await service.list_stages(session, event_id, limit=limit, cursor=cursor)


@router.get(
    "/v1/stages/{stage_id}",
    response_model=schemas.Stage,
    summary="Get a stage",
    responses=error_responses(401, 404, 422),
)
async def get_stage(
    session: SessionDep, _: CompetitionsReader, stage_id: uuid.UUID, response: Response
) -> schemas.Stage:
    """One stage, with its `ETag` for a later `PATCH`."""
    stage = await service.get_stage(session, stage_id)
    response.headers["ETag"] = etag(stage.version)
    return schemas.Stage.model_validate(stage)


@router.patch(
    "/v1/stages/{stage_id}",
    response_model=schemas.Stage,
    summary="Update a stage",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def update_stage(
    session: SessionDep,
    principal: AdminOrOrganiser,
    stage_id: uuid.UUID,
    data: schemas.StageUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> schemas.Stage:
    """Change a stage's name, dates, seq, components or advancement rule. Send the `ETag` you
    read as `If-Match` (412 when stale). Once the stage has been advanced its rule, value, seq
    and components are fixed (409)."""
    stage = await service.update_stage(session, stage_id, data, if_match, principal)
    response.headers["ETag"] = etag(stage.version)
    return schemas.Stage.model_validate(stage)


@router.post(
    "/v1/stages/{stage_id}/entries:seed",
    response_model=schemas.SeedResult,
    summary="Seed the first stage with the event's entries",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def seed_entries(
    session: SessionDep, principal: AdminOrOrganiser, stage_id: uuid.UUID
) -> schemas.SeedResult:
    """Put every `approved` or `checked_in` entry of the event into its first stage. Running it
    again adds only the entries not yet in the stage (late approvals). Later stages are filled
    by advancement (409 here)."""
    return await service.seed_entries(session, stage_id, principal)


@router.post(
    "/v1/stages/{stage_id}/advancement-overrides",
    operation_id="createAdvancementOverride",
    response_model=schemas.Override,
    status_code=201,
    summary="Record an organiser's advancement override",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def create_override(
    session: SessionDep,
    principal: AdminOrOrganiser,
    stage_id: uuid.UUID,
    data: schemas.OverrideCreate,
) -> schemas.Override:
    """Decide, with a reason, that an entry of the stage qualifies (`include: true`) or does not
    (`include: false`) whatever the rule says. Applied with the rule when the stage is advanced;
    a later decision about the same entry replaces the earlier one (audited). Refused (409)
    once the stage has been advanced."""
    override = await service.create_override(session, stage_id, data, principal)
    return schemas.Override.model_validate(override)


@router.get(
    "/v1/stages/{stage_id}/advancement-overrides",
    operation_id="listAdvancementOverrides",
    response_model=list[schemas.Override],
    summary="List the advancement overrides of a stage",
    responses=error_responses(401, 403, 404, 422),
)
async def list_overrides(
    session: SessionDep, principal: AdminOrOrganiser, stage_id: uuid.UUID
) -> list[schemas.Override]:
    """The overrides recorded for the stage, oldest first."""
    stage = await service.get_stage(session, stage_id)
    await service.check_manager(session, principal, stage.competition_id)
    return [
        schemas.Override.model_validate(o) for o in await service.list_overrides(session, stage_id)
    ]


@router.put(
    "/v1/stages/{stage_id}/advancement",
    response_model=schemas.Advancement,
    summary="Apply the advancement rule to a ranking",
    responses={
        201: {"description": "Applied: the next stage's entries were created."},
        **error_responses(401, 403, 404, 409, 422),
    },
)
async def apply_advancement(
    session: SessionDep,
    principal: Advancer,
    stage_id: uuid.UUID,
    data: schemas.AdvancementApply,
    response: Response,
) -> schemas.Advancement:
    """Judging sends the ranked results of the stage. The stage's rule picks the qualifiers
    (ties at a boundary rank all qualify), then the recorded overrides add or remove entries.
    The qualifiers become active entries of `next_stage_id` (a later stage of the same event),
    this stage's entries become `advanced` or `eliminated` with their rank and score, and
    `stage.advanced` is emitted. Answered 201 when applied; the same request again answers 200
    with the same record and changes nothing; a different ranking afterwards is a 409. Every
    ranked entry must be an active entry of the stage (422 lists the unknown ones)."""
    view, created = await service.apply_advancement(session, stage_id, data, principal)
    response.status_code = 201 if created else 200
    return view


@router.get(
    "/v1/stages/{stage_id}/advancement",
    response_model=schemas.Advancement,
    summary="Get the advancement record of a stage",
    responses=error_responses(401, 403, 404, 422),
)
async def get_advancement(
    session: SessionDep, principal: StageReader, stage_id: uuid.UUID
) -> schemas.Advancement:
    """The ranking received, who qualified and the overrides applied (404 before advancement).
    Read by those who read the stage's entries: admins, organisers in scope, judges and
    machine clients."""
    stage = await service.get_stage(session, stage_id)
    await service.check_reader(session, principal, stage)
    return await service.get_advancement(session, stage_id)


@router.post(
    "/v1/stages/{stage_id}/lock",
    response_model=schemas.Stage,
    summary="Mark a stage judged (scores locked)",
    responses=error_responses(401, 403, 404, 422),
)
async def lock_stage(
    session: SessionDep, principal: Locker, stage_id: uuid.UUID, response: Response
) -> schemas.Stage:
    """Judging calls this when the stage's scores are locked: the stage becomes `judged` and the
    blind-code mapping is revealed. Idempotent."""
    stage = await service.lock_stage(session, stage_id, principal)
    response.headers["ETag"] = etag(stage.version)
    return schemas.Stage.model_validate(stage)


@router.post(
    "/v1/stages/{stage_id}/blind-codes",
    response_model=schemas.BlindCodeResult,
    summary="Assign blind codes (and workstations)",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def assign_blind_codes(
    session: SessionDep, principal: AdminOrOrganiser, stage_id: uuid.UUID
) -> schemas.BlindCodeResult:
    """Give every stage entry without one a cryptographically random 6-character code, unique in
    the stage, from an alphabet without look-alike characters; when the stage has a practical
    component, also a random workstation number (a permutation of 1..n). Idempotent: existing
    codes and numbers are kept. Refused (409) once the stage is judged."""
    return await service.assign_blind_codes(session, stage_id, principal)


@router.get(
    "/v1/stages/{stage_id}/stage-entries",
    response_model=Page[schemas.StageEntry],
    summary="List the entries of a stage",
    responses=error_responses(401, 403, 404, 422),
)
async def list_stage_entries(
    session: SessionDep,
    principal: StageReader,
    stage_id: uuid.UUID,
    status: Annotated[StageEntryStatus | None, Query()] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.StageEntry]:
    """Blind codes, workstations, status, rank and score. `entry_id` and `worker_id` are shown to
    admins and our own services (scope `internal`, e.g. judging checking conflicts of interest),
    and to everyone else only once the stage is `judged` or `advanced`: until then
    judges and organisers see codes only."""
    stage = await service.get_stage(session, stage_id)
    return await service.list_stage_entries(
        session, stage, principal, status=status, limit=limit, cursor=cursor
    )


@router.get(
    "/v1/stages/{stage_id}/blind-codes:mapping",
    operation_id="getBlindCodeMapping",
    response_model=list[schemas.BlindCodeMapping],
    summary="Get the blind-code mapping",
    responses=error_responses(401, 403, 404, 422),
)
async def blind_code_mapping(
    session: SessionDep, principal: AdminOrOrganiser, stage_id: uuid.UUID
) -> list[schemas.BlindCodeMapping]:
    """Code → entry for the whole stage. Admins only until judging locks the stage; then also
    organisers whose scope covers the competition. Everyone else: 403."""
    return await service.blind_code_mapping(session, stage_id, principal)


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["stages"])


@webhooks.post("stage.advanced", summary="A stage was advanced")
async def stage_advanced(event: schemas.StageAdvancedEvent) -> None:
    """Sent once when a stage's advancement is applied: the qualifiers are now entries of the
    next stage. Signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
    `webhook-signature`)."""
