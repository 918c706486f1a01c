"""Innovation achievement endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from services.registry.achievements import schemas, service
from shared.auth.deps import AdminOrOrganiser, FileReader
from shared.concurrency import IfMatchHeader
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.registry import AchievementStage, TechnologyArea
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/achievements", tags=["achievements"])


@router.post(
    "",
    response_model=schemas.Achievement,
    status_code=201,
    summary="Record an innovation achievement",
    responses=error_responses(401, 403, 409, 422),
)
async def create_achievement(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    data: schemas.AchievementCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Record an achievement with its team (1-15 distinct workers in order, exactly one
    `lead`), its enterprise and technology area. Every team member's talent-file timeline gets
    an `achievement_recorded` entry. Unknown workers are all listed in the 422 (`errors` and
    `unknown_worker_ids`).

    Admins record any; organisers those of enterprises in their locality or of their own
    enterprise."""

    async def create() -> schemas.Achievement:
        achievement = await service.create_achievement(session, data, principal)
        return await service.to_schema(session, achievement)

    response = await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda a: f"/v1/achievements/{a.id}",
    )
    return response


@router.get(
    "",
    response_model=Page[schemas.Achievement],
    summary="List innovation achievements",
    responses=error_responses(401, 403, 422),
)
async def list_achievements(
    session: SessionDep,
    principal: FileReader,
    technology_area: Annotated[TechnologyArea | None, Query(description="Only this area.")] = None,
    stage: Annotated[AchievementStage | None, Query(description="Only this stage.")] = None,
    enterprise_id: Annotated[uuid.UUID | None, Query(description="Only this enterprise's.")] = None,
    worker_id: Annotated[
        uuid.UUID | None, Query(description="Only those with this worker in the team.")
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Achievement]:
    """Achievements in the order they were recorded, with teams and entry links. Admins and
    machine clients with `registry:read` see all; organisers those of enterprises in their
    scope; a worker those of their own teams."""
    return await service.list_achievements(
        session,
        principal,
        technology_area=technology_area,
        stage=stage,
        enterprise_id=enterprise_id,
        worker_id=worker_id,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/{achievement_id}",
    response_model=schemas.Achievement,
    summary="Get an innovation achievement",
    responses=error_responses(401, 403, 404, 422),
)
async def get_achievement(
    session: SessionDep, principal: FileReader, achievement_id: uuid.UUID
) -> Response:
    """One achievement with its team and entry links. The `ETag` header carries its version
    for `If-Match` on updates."""
    achievement = await service.get_achievement(session, achievement_id, principal)
    out = await service.to_schema(session, achievement)
    return JSONResponse(
        out.model_dump(mode="json"), headers={"ETag": service.etag(achievement.version)}
    )


@router.patch(
    "/{achievement_id}",
    response_model=schemas.Achievement,
    summary="Update an innovation achievement",
    responses=error_responses(401, 403, 404, 409, 412, 422),
)
async def update_achievement(
    session: SessionDep,
    principal: AdminOrOrganiser,
    achievement_id: uuid.UUID,
    data: schemas.AchievementUpdate,
    if_match: IfMatchHeader = None,
) -> Response:
    """Change the title, summary or stage. The stage only moves forward (idea -> prototype ->
    applied -> incubated; skipping is allowed, going back is a 409)."""
    achievement = await service.update_achievement(
        session, achievement_id, data, principal, if_match=if_match
    )
    out = await service.to_schema(session, achievement)
    return JSONResponse(
        out.model_dump(mode="json"), headers={"ETag": service.etag(achievement.version)}
    )


@router.post(
    "/{achievement_id}/entry-links",
    operation_id="linkAchievementEntry",
    response_model=schemas.EntryLink,
    status_code=201,
    summary="Link a competition entry",
    responses={
        200: {
            "description": "The entry was linked before: nothing changed.",
            "model": schemas.EntryLink,
        },
        **error_responses(401, 403, 404, 422),
    },
)
async def link_entry(
    session: SessionDep,
    principal: AdminOrOrganiser,
    achievement_id: uuid.UUID,
    data: schemas.EntryLinkCreate,
) -> Response:
    """Link an entry of the competitions service (stored by id). Idempotent: linking the same
    entry again answers 200 with the existing link."""
    link, created = await service.link_entry(session, achievement_id, data.entry_id, principal)
    return JSONResponse(
        schemas.EntryLink.model_validate(link).model_dump(mode="json"),
        status_code=201 if created else 200,
    )
