"""Enterprise endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.registry.enterprises import schemas, service
from shared.auth.deps import AdminOrOrganiser, RegistryReader
from shared.concurrency import IfMatchHeader, etag
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.registry import EnterpriseSize, Industry
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/enterprises", tags=["enterprises"])


@router.post(
    "",
    response_model=schemas.Enterprise,
    status_code=201,
    summary="Register an enterprise",
    responses=error_responses(401, 403, 409, 422),
)
async def create_enterprise(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    data: schemas.EnterpriseCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Register an enterprise by its unified social credit code (GB 32100, check character
    verified). A code already registered is a 409 naming the existing enterprise. Organisers
    register enterprises of their own locality."""

    async def create() -> schemas.Enterprise:
        return schemas.Enterprise.model_validate(await service.create(session, data, principal))

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda e: f"/v1/enterprises/{e.id}",
    )


@router.get(
    "",
    response_model=Page[schemas.Enterprise],
    summary="List and search enterprises",
    responses=error_responses(401, 422),
)
async def list_enterprises(
    session: SessionDep,
    _: RegistryReader,
    q: Annotated[
        str | None, Query(min_length=1, max_length=50, description="Part of the name (中文).")
    ] = None,
    locality_code: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="A city code includes its counties.")
    ] = None,
    industry: Industry | None = None,
    size: EnterpriseSize | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Enterprise]:
    """Enterprises in registration order; with `q`, name matches first (exact, then prefix)."""
    return await service.list_enterprises(
        session,
        q=q,
        locality_code=locality_code,
        industry=industry,
        size=size,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/{enterprise_id}",
    response_model=schemas.Enterprise,
    summary="Get an enterprise",
    responses=error_responses(401, 404, 422),
)
async def get_enterprise(
    session: SessionDep, _: RegistryReader, enterprise_id: uuid.UUID, response: Response
) -> schemas.Enterprise:
    """One enterprise; the `ETag` header carries its version for `If-Match` on updates."""
    enterprise = await service.get(session, enterprise_id)
    response.headers["ETag"] = etag(enterprise.version)
    return schemas.Enterprise.model_validate(enterprise)


@router.patch(
    "/{enterprise_id}",
    response_model=schemas.Enterprise,
    summary="Update an enterprise",
    responses=error_responses(401, 403, 404, 412, 422),
)
async def update_enterprise(
    session: SessionDep,
    principal: AdminOrOrganiser,
    enterprise_id: uuid.UUID,
    data: schemas.EnterpriseUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> schemas.Enterprise:
    """Change name, locality, industry or size. Send `If-Match` with the `ETag` you read: a
    concurrent change makes this a 412 instead of silently overwriting it."""
    enterprise = await service.update(session, enterprise_id, data, principal, if_match)
    response.headers["ETag"] = etag(enterprise.version)
    return schemas.Enterprise.model_validate(enterprise)
