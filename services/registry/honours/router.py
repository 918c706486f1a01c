"""Honour endpoints: the catalogue, grants and revocations."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from services.registry.honours import schemas, service
from shared.auth.deps import Admin, AdminOrOrganiser, FileReader, RegistryReader, require
from shared.auth.principal import Principal, Role
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.registry import HonourLevel
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1", tags=["honours"])

#: Admins, organisers (local honours, workers in scope) and machine clients with registry:write
#: (HR systems) or our own services' `internal` scope (judging reports awards this way).
Granter = Annotated[
    Principal,
    Depends(require(Role.admin, Role.organiser, scopes=("registry:write", "internal"))),
]
HonourCode = Annotated[
    str, Path(max_length=64, description="Honour code.", examples=["qilu_craftsman"])
]


@router.get(
    "/honours",
    response_model=Page[schemas.Honour],
    summary="List the honours catalogue",
    responses=error_responses(401, 422),
)
async def list_honours(
    session: SessionDep,
    _: RegistryReader,
    level: Annotated[HonourLevel | None, Query(description="Only this level.")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Honour]:
    """The honours that may be granted, ordered by code: Shandong's skill-leader honours (齐鲁工匠,
    齐鲁大工匠, 齐鲁首席技师, 技术技能大师, 山东省技术能手), 全国技术能手, and the honours admins
    added. Filter with `level=provincial`."""
    return await service.list_honours(session, level=level, limit=limit, cursor=cursor)


@router.get(
    "/honours/{code}",
    response_model=schemas.Honour,
    summary="Get an honour",
    responses=error_responses(401, 404, 422),
)
async def get_honour(session: SessionDep, _: RegistryReader, code: HonourCode) -> schemas.Honour:
    """One honour of the catalogue by its code."""
    return schemas.Honour.model_validate(await service.get_honour(session, code))


@router.post(
    "/honours",
    response_model=schemas.Honour,
    status_code=201,
    summary="Add an honour to the catalogue",
    responses=error_responses(401, 403, 409, 422),
)
async def create_honour(
    request: Request,
    session: SessionDep,
    principal: Admin,
    data: schemas.HonourCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Admins add honours that organisers define (a city's or an enterprise's own honours, for
    example 泉城金牌工匠). Codes are unique and permanent."""

    async def create() -> schemas.Honour:
        return schemas.Honour.model_validate(await service.create_honour(session, data, principal))

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda h: f"/v1/honours/{h.code}",
    )


@router.post(
    "/honours/{code}/grants",
    response_model=schemas.HonourGrant,
    status_code=201,
    summary="Grant an honour to a worker",
    responses={
        200: {
            "description": "The same report (honour, worker, source, source_ref) was made "
            "before: the existing grant, unchanged.",
            "model": schemas.HonourGrant,
        },
        **error_responses(401, 403, 404, 409, 422),
    },
)
async def grant_honour(
    request: Request,
    session: SessionDep,
    principal: Granter,
    code: HonourCode,
    data: schemas.HonourGrantCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Grant an honour, recorded on the worker's talent-file timeline (`honour_granted`) and
    announced as the `honour.granted` event.

    - **Who**: admins any honour; organisers city and enterprise honours to workers in their
      scope; machine clients with `registry:write` (judging, HR systems).
    - **Idempotent reports**: with a `source_ref`, reporting the same honour, worker, source and
      source_ref again answers **200** with the existing grant and changes nothing, so a
      caller may retry safely. `source_ref` is required for `competition_result`.
    - **One at a time**: a worker cannot hold an honour twice while an earlier grant is
      unrevoked (409 naming it in `existing_grant_id`).
    """
    outcome = {"created": True}

    async def create() -> schemas.HonourGrant:
        grant, outcome["created"] = await service.grant_honour(session, code, data, principal)
        return schemas.HonourGrant.model_validate(grant)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        status_code=lambda: 201 if outcome["created"] else 200,
        location=lambda g: f"/v1/honour-grants/{g.id}",
    )


@router.get(
    "/honour-grants",
    operation_id="listHonourGrants",
    response_model=Page[schemas.HonourGrant],
    summary="List honour grants",
    responses=error_responses(401, 403, 422),
)
async def list_grants(
    session: SessionDep,
    principal: FileReader,
    worker_id: Annotated[uuid.UUID | None, Query(description="Only this worker's.")] = None,
    honour_code: Annotated[
        str | None, Query(max_length=64, description="Only this honour.")
    ] = None,
    active: Annotated[
        bool | None,
        Query(description="`true`: unrevoked grants only; `false`: revoked ones only."),
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.HonourGrant]:
    """Grants in the order they were recorded, revoked ones included unless `active=true`.
    Admins and machine clients with `registry:read` see all; organisers the grants of workers
    in their scope; a worker their own."""
    return await service.list_grants(
        session,
        principal,
        worker_id=worker_id,
        honour_code=honour_code,
        active=active,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/honour-grants/{grant_id}",
    operation_id="getHonourGrant",
    response_model=schemas.HonourGrant,
    summary="Get an honour grant",
    responses=error_responses(401, 403, 404, 422),
)
async def get_grant(
    session: SessionDep, principal: FileReader, grant_id: uuid.UUID
) -> schemas.HonourGrant:
    """One grant, with its revocation if it was revoked."""
    return schemas.HonourGrant.model_validate(await service.get_grant(session, grant_id, principal))


@router.post(
    "/honour-grants/{grant_id}/revoke",
    operation_id="revokeHonourGrant",
    response_model=schemas.HonourGrant,
    summary="Revoke an honour grant",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def revoke_grant(
    session: SessionDep,
    principal: AdminOrOrganiser,
    grant_id: uuid.UUID,
    data: schemas.HonourGrantRevoke,
) -> schemas.HonourGrant:
    """Revoke a grant (a reason is required). The grant stays, with `revoked_at`, `revoked_by`
    and the reason; the worker's timeline gets `honour_revoked` and the `honour.revoked` event
    is sent. A grant is revoked once (409 the second time); the honour may then be granted
    again. Organisers revoke only city and enterprise honours of workers in their scope."""
    return schemas.HonourGrant.model_validate(
        await service.revoke_grant(session, grant_id, data.reason, principal)
    )


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["honours"])


@webhooks.post("honour.granted", summary="An honour was granted")
async def honour_granted(event: schemas.HonourEvent) -> None:
    """Sent when a worker is granted an honour (not again for a repeated report). Signed per
    Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""


@webhooks.post("honour.revoked", summary="An honour grant was revoked")
async def honour_revoked(event: schemas.HonourEvent) -> None:
    """Sent when a grant is revoked; the grant stays readable with its revocation."""
