"""Authentication: passwords (people) and client credentials (machine clients)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.passwords import verify_password
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.errors import DomainError
from shared.models.registry import Account, MachineClient

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class InvalidGrant(DomainError):
    status, slug, title = 400, "invalid-grant", "Invalid credentials"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error="invalid_grant")


class InvalidClient(DomainError):
    status, slug, title = 401, "invalid-client", "Invalid client"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error="invalid_client", headers={"WWW-Authenticate": "Basic"})


def account_principal(account: Account) -> Principal:
    return Principal(
        sub=str(account.id),
        kind=PrincipalKind.account,
        role=account.role,
        name=account.display_name,
        locality_code=account.locality_code,
        enterprise_id=account.enterprise_id,
        worker_id=account.worker_id,
    )


async def authenticate_password(session: AsyncSession, username: str, password: str) -> Principal:
    account = await session.scalar(
        select(Account).where(Account.username == username.strip().lower())
    )
    now = datetime.now(UTC)
    if account is not None and account.locked_until and account.locked_until > now:
        raise InvalidGrant(
            "Too many failed sign-ins: this account is locked until "
            f"{account.locked_until.isoformat(timespec='seconds')}."
        )
    ok = await verify_password(password, account.password_hash if account else None)
    if account is None or not ok:
        if account is not None:
            await _record_failure(session, account)
        raise InvalidGrant("Wrong username or password.")
    if not account.is_active:
        raise InvalidGrant("This account is disabled.")
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    return account_principal(account)


async def _record_failure(session: AsyncSession, account: Account) -> None:
    # Written in a transaction of its own: the request's transaction is rolled back by the
    # error that follows, and the count must survive it.
    async with AsyncSession(bind=session.bind) as own, own.begin():
        failed = await own.scalar(
            update(Account)
            .where(Account.id == account.id)
            .values(failed_logins=Account.failed_logins + 1)
            .returning(Account.failed_logins)
        )
        if failed is not None and failed >= MAX_FAILED_LOGINS:
            await own.execute(
                update(Account)
                .where(Account.id == account.id)
                .values(locked_until=datetime.now(UTC) + LOCKOUT, failed_logins=0)
            )


async def authenticate_client(
    session: AsyncSession, client_id: str, client_secret: str, requested: set[str]
) -> Principal:
    client = await session.scalar(select(MachineClient).where(MachineClient.client_id == client_id))
    ok = await verify_password(client_secret, client.secret_hash if client else None)
    if client is None or not ok:
        raise InvalidClient("Unknown client or wrong secret.")
    if not client.is_active or client.revoked_at is not None:
        raise InvalidClient("This client has been revoked.")
    granted = set(client.scopes)
    if requested - granted:
        raise DomainError(
            f"Scopes not granted to this client: {', '.join(sorted(requested - granted))}.",
            error="invalid_scope",
        )
    return Principal(
        sub=str(client.id),
        kind=PrincipalKind.client,
        role=Role.integration,
        name=client.name,
        scopes=frozenset(requested or granted),
    )
