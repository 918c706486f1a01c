"""Account and machine-client endpoints (admins)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from services.registry.accounts import schemas, service
from shared.auth.deps import Admin
from shared.auth.principal import Role
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.post(
    "/accounts",
    response_model=schemas.Account,
    status_code=201,
    summary="Create an account",
    responses=error_responses(401, 403, 409, 422),
)
async def create_account(
    request: Request,
    session: SessionDep,
    principal: Admin,
    data: schemas.AccountCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Create a person's account. Organisers need a scope (`locality_code` or `enterprise_id`);
    workers are linked to their worker record. Machine clients are created at
    `/v1/machine-clients`."""

    async def create() -> schemas.Account:
        return schemas.Account.model_validate(
            await service.create_account(session, data, principal)
        )

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda a: f"/v1/accounts/{a.id}",
    )


@router.get(
    "/accounts",
    response_model=Page[schemas.Account],
    summary="List accounts",
    responses=error_responses(401, 403, 422),
)
async def list_accounts(
    session: SessionDep,
    _: Admin,
    role: Annotated[Role | None, Query(description="Only this role.")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Account]:
    """Accounts in creation order."""
    return await service.list_accounts(session, role=role, limit=limit, cursor=cursor)


@router.get(
    "/accounts/{account_id}",
    response_model=schemas.Account,
    summary="Get an account",
    responses=error_responses(401, 403, 404, 422),
)
async def get_account(session: SessionDep, _: Admin, account_id: uuid.UUID) -> schemas.Account:
    """One account by id."""
    return schemas.Account.model_validate(await service.get_account(session, account_id))


@router.patch(
    "/accounts/{account_id}",
    response_model=schemas.Account,
    summary="Update an account",
    responses=error_responses(401, 403, 404, 422),
)
async def update_account(
    session: SessionDep, principal: Admin, account_id: uuid.UUID, data: schemas.AccountUpdate
) -> schemas.Account:
    """Rename, disable (`is_active: false`) or reset the password of an account. A password
    reset also lifts a lockout."""
    return schemas.Account.model_validate(
        await service.update_account(session, account_id, data, principal)
    )


@router.post(
    "/machine-clients",
    operation_id="createMachineClient",
    response_model=schemas.MachineClientWithSecret,
    status_code=201,
    summary="Register a machine client",
    responses=error_responses(401, 403, 422),
)
async def create_client(
    session: SessionDep, principal: Admin, data: schemas.MachineClientCreate
) -> schemas.MachineClientWithSecret:
    """Register another government system. The answer holds `client_secret` **once**; the system
    then gets tokens with `grant_type=client_credentials`."""
    return await service.create_client(session, data, principal)


@router.get(
    "/machine-clients",
    operation_id="listMachineClients",
    response_model=Page[schemas.MachineClient],
    summary="List machine clients",
    responses=error_responses(401, 403, 422),
)
async def list_clients(
    session: SessionDep, _: Admin, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[schemas.MachineClient]:
    """Machine clients in creation order, revoked ones included."""
    return await service.list_clients(session, limit=limit, cursor=cursor)


@router.delete(
    "/machine-clients/{client_pk}",
    operation_id="revokeMachineClient",
    response_model=schemas.MachineClient,
    summary="Revoke a machine client",
    responses=error_responses(401, 403, 404, 422),
)
async def revoke_client(
    session: SessionDep, principal: Admin, client_pk: uuid.UUID
) -> schemas.MachineClient:
    """Revoke a client: it gets no new tokens. Tokens already issued expire within
    ACCESS_TOKEN_TTL_SECONDS."""
    return schemas.MachineClient.model_validate(
        await service.revoke_client(session, client_pk, principal)
    )
