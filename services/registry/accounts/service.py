"""Accounts (people) and machine clients (other systems)."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.accounts import schemas
from shared import audit
from shared.auth.passwords import hash_password, validate_password_policy
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.auth.revocations import record_access
from shared.db import get_or_404
from shared.errors import Conflict, FieldError, InvalidInput, RuleViolation
from shared.models.registry import Account, Locality, MachineClient
from shared.pagination import Page, paginate


def _check_password(password: str, username: str | None) -> None:
    reason = validate_password_policy(password, username)
    if reason:
        raise InvalidInput(
            f"The password {reason}.", errors=[FieldError(field="password", message=reason)]
        )


def _snapshot(account: Account) -> dict[str, object]:
    return schemas.Account.model_validate(account).model_dump(mode="json")


async def create_account(
    session: AsyncSession, data: schemas.AccountCreate, principal: Principal | None
) -> Account:
    _check_password(data.password, data.username)
    username = data.username.lower()
    if await session.scalar(select(Account.id).where(Account.username == username)):
        raise Conflict(f"The username {username!r} is taken.")
    if data.locality_code and await session.get(Locality, data.locality_code) is None:
        raise RuleViolation(
            f"No locality with code {data.locality_code}.",
            errors=[FieldError(field="locality_code", message="unknown locality")],
        )
    account = Account(
        username=username,
        display_name=data.display_name,
        password_hash=await hash_password(data.password),
        role=data.role,
        locality_code=data.locality_code,
        enterprise_id=data.enterprise_id,
        worker_id=data.worker_id,
    )
    await audit.add_created(
        session,
        account,
        service="registry",
        principal=principal,
        action="account.create",
        entity_type="account",
        after=lambda: _snapshot(account),
    )
    return account


async def get_account(session: AsyncSession, account_id: uuid.UUID) -> Account:
    return await get_or_404(session, Account, account_id, "account")


async def list_accounts(
    session: AsyncSession, *, role: Role | None, limit: int, cursor: str | None
) -> Page[schemas.Account]:
    stmt = select(Account)
    if role:
        stmt = stmt.where(Account.role == role)
    return await paginate(
        session,
        stmt,
        order_by=[Account.created_at, Account.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Account.model_validate,
    )


async def update_account(
    session: AsyncSession, account_id: uuid.UUID, data: schemas.AccountUpdate, principal: Principal
) -> Account:
    account = await get_account(session, account_id)
    before = _snapshot(account)
    if data.password is not None:
        _check_password(data.password, account.username)
        account.password_hash = await hash_password(data.password)
        account.failed_logins = 0
        account.locked_until = None
    if data.display_name is not None:
        account.display_name = data.display_name
    if data.is_active is not None:
        if not data.is_active and str(account.id) == principal.sub:
            raise RuleViolation("You cannot disable your own account.")
        if data.is_active != account.is_active:
            # Every service refuses the account's tokens from now on (within seconds), not
            # only the token endpoint: the read model, in this same transaction.
            await record_access(
                session,
                sub=str(account.id),
                kind=PrincipalKind.account,
                active=data.is_active,
                withdrawn_at=None if data.is_active else datetime.now(UTC),
            )
        account.is_active = data.is_active
    await session.flush()
    await session.refresh(account)
    audit.record(
        session,
        service="registry",
        principal=principal,
        action="account.update",
        entity_type="account",
        entity_id=account.id,
        before=before,
        after={**_snapshot(account), **({"password": "changed"} if data.password else {})},
    )
    return account


def _client_id(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "client"
    return f"{slug}-{secrets.token_hex(4)}"


async def create_client(
    session: AsyncSession, data: schemas.MachineClientCreate, principal: Principal | None
) -> schemas.MachineClientWithSecret:
    secret = "cs_" + secrets.token_urlsafe(32)
    client = MachineClient(
        client_id=_client_id(data.name),
        name=data.name,
        secret_hash=await hash_password(secret),
        scopes=sorted(set(data.scopes)),
        created_by=principal.sub if principal else None,
    )
    session.add(client)
    await session.flush()
    await session.refresh(client)
    out = schemas.MachineClientWithSecret.model_validate(
        {**schemas.MachineClient.model_validate(client).model_dump(), "client_secret": secret}
    )
    audit.record(
        session,
        service="registry",
        principal=principal,
        action="machine_client.create",
        entity_type="machine_client",
        entity_id=client.id,
        after=schemas.MachineClient.model_validate(client).model_dump(mode="json"),
    )
    return out


async def list_clients(
    session: AsyncSession, *, limit: int, cursor: str | None
) -> Page[schemas.MachineClient]:
    return await paginate(
        session,
        select(MachineClient),
        order_by=[MachineClient.created_at, MachineClient.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.MachineClient.model_validate,
    )


async def revoke_client(
    session: AsyncSession, client_pk: uuid.UUID, principal: Principal
) -> MachineClient:
    client = await get_or_404(session, MachineClient, client_pk, "machine client")
    if client.revoked_at is None:
        client.revoked_at = datetime.now(UTC)
        client.is_active = False
        # Its tokens already issued are refused by every service within seconds.
        await record_access(
            session,
            sub=str(client.id),
            kind=PrincipalKind.client,
            active=False,
            withdrawn_at=client.revoked_at,
        )
        await session.flush()
        audit.record(
            session,
            service="registry",
            principal=principal,
            action="machine_client.revoke",
            entity_type="machine_client",
            entity_id=client.id,
            after={"revoked_at": client.revoked_at.isoformat()},
        )
    return client


SERVICE_CLIENT_ID = "internal-services"


async def ensure_service_client(
    session: AsyncSession, secret: str | None = None
) -> tuple[str, str]:
    """Create, or give a new secret to, the machine client our own services share (scope
    `internal`); returns its id and the secret, which exists nowhere else."""
    secret = secret or "cs_" + secrets.token_urlsafe(32)
    client = await session.scalar(
        select(MachineClient).where(MachineClient.client_id == SERVICE_CLIENT_ID)
    )
    if client is None:
        client = MachineClient(
            client_id=SERVICE_CLIENT_ID,
            name="Our own services (competitions, judging)",
            secret_hash="",
            scopes=["internal"],
        )
        session.add(client)
        await session.flush()
    elif not client.is_active or client.revoked_at is not None:
        # Given back: new tokens work; those from before the revocation stay refused.
        await record_access(
            session, sub=str(client.id), kind=PrincipalKind.client, active=True, withdrawn_at=None
        )
    client.secret_hash = await hash_password(secret)
    client.is_active = True
    client.revoked_at = None
    await session.flush()
    audit.record(
        session,
        service="registry",
        principal=None,
        action="machine_client.service_secret",
        entity_type="machine_client",
        entity_id=client.id,
        after={"client_id": SERVICE_CLIENT_ID},
    )
    return SERVICE_CLIENT_ID, secret
