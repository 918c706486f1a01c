"""Authentication: passwords (people) and client credentials (machine clients)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.passwords import verify_password
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.config import Settings
from shared.errors import DomainError
from shared.models.registry import Account, LoginAttempt, MachineClient, RefreshToken

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)


class InvalidGrant(DomainError):
    status, slug, title = 400, "invalid-grant", "Invalid credentials"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, error="invalid_grant")


class TooManyAttempts(DomainError):
    status, slug, title = 429, "too-many-sign-in-attempts", "Too many sign-in attempts"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(
            detail,
            error="slow_down",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )


async def reserve_attempt(
    session: AsyncSession, settings: Settings, username: str, client_ip: str
) -> int:
    """Count this sign-in as a failure *before* any password is checked, then refuse it (429)
    if that puts the username or the client address over its limit within the window; the
    attempt's id, for `forgive_attempt` once the password proves right.

    Counting first is what makes the limits hold under concurrency, across replicas too: the
    attempt is committed before the count is read, so of any number of simultaneous attempts
    the one committed k-th sees at least k, and at most the limit get a password checked.
    (Checking first and recording after the password check let every attempt that arrived
    together through: 30 guesses at once on two replicas, 30 passwords checked.)"""
    window = settings.login_window_seconds
    username, client_ip = username[:128], client_ip[:64]
    async with AsyncSession(bind=session.bind) as own, own.begin():
        attempt_id = await own.scalar(
            insert(LoginAttempt)
            .values(username=username, client_ip=client_ip)
            .returning(LoginAttempt.id)
        )
        cutoff = datetime.now(UTC) - timedelta(seconds=window * 2)
        await own.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff))
    assert attempt_id is not None
    since = datetime.now(UTC) - timedelta(seconds=window)
    async with AsyncSession(bind=session.bind) as own:
        row = (
            await own.execute(
                select(
                    func.count().filter(LoginAttempt.username == username),
                    func.count().filter(LoginAttempt.client_ip == client_ip),
                ).where(
                    LoginAttempt.at >= since,
                    or_(LoginAttempt.username == username, LoginAttempt.client_ip == client_ip),
                )
            )
        ).one()
    by_user, by_ip = int(row[0]), int(row[1])  # this attempt included
    refusal = None
    if by_user > settings.login_max_failures_per_username:
        refusal = f"Too many failed sign-ins for this username in the last {window} s; try later."
    elif by_ip > settings.login_max_failures_per_ip:
        refusal = f"Too many failed sign-ins from your address in the last {window} s; try later."
    if refusal is not None:
        await _forget(session, attempt_id)  # refused unread: no password was checked
        raise TooManyAttempts(refusal, window)
    return attempt_id


async def forgive_attempt(session: AsyncSession, attempt_id: int) -> None:
    """The attempt reserved by `reserve_attempt` was no failure (the password was right): gone
    when the request's transaction commits."""
    await session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt_id))


async def _forget(session: AsyncSession, attempt_id: int) -> None:
    async with AsyncSession(bind=session.bind) as own, own.begin():
        await own.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt_id))


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
    """The account's principal if the password is right (its failure count reset in the
    caller's transaction), else `InvalidGrant` with the failure counted for the lockout.

    The account is read on a short connection of its own and the password checked holding
    none: the request's connection is taken only on success. (Holding it through the Argon2
    check and then taking a second one to record the failure deadlocked the pool: ten
    concurrent wrong passwords on one process held all ten connections, each waiting for an
    eleventh, until the pool timeout answered everyone 503.)"""
    async with AsyncSession(bind=session.bind) as own:
        account = await own.scalar(
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
    await session.execute(
        update(Account)
        .where(Account.id == account.id)
        .values(failed_logins=0, locked_until=None, last_login_at=now)
    )
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


def _hash_refresh(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_refresh_token(
    session: AsyncSession,
    settings: Settings,
    account_id: uuid.UUID,
    family_id: uuid.UUID | None = None,
) -> tuple[str, int]:
    """A new opaque refresh token (only its hash is stored) and its lifetime in seconds."""
    token = "rt_" + secrets.token_urlsafe(32)
    ttl = settings.refresh_token_ttl_seconds
    session.add(
        RefreshToken(
            family_id=family_id or uuid.uuid4(),
            account_id=account_id,
            token_hash=_hash_refresh(token),
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
        )
    )
    await session.flush()
    return token, ttl


async def use_refresh_token(
    session: AsyncSession, settings: Settings, token: str
) -> tuple[Principal, str, int]:
    """Rotate: the presented token is spent and a new one of its family returned, with the
    account's principal. A token presented twice revokes its family: whoever holds any of its
    tokens (the thief or the user) must sign in again."""
    # Spending (or revoking) is committed in a transaction of its own, under a lock on the
    # token, so it stands even though the refusal that may follow rolls the request back, and
    # two concurrent uses of one token cannot both succeed.
    refusal: str | None = None
    async with AsyncSession(bind=session.bind) as own, own.begin():
        row = await own.scalar(
            select(RefreshToken)
            .where(RefreshToken.token_hash == _hash_refresh(token))
            .with_for_update()
        )
        now = datetime.now(UTC)
        if row is None:
            refusal = "Unknown refresh token."
        elif row.revoked_at is not None:
            refusal = "This refresh token has been revoked; sign in again."
        elif row.used_at is not None:
            await own.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == row.family_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            refusal = (
                "This refresh token was already used: every token of this sign-in is now "
                "revoked; sign in again."
            )
        elif row.expires_at <= now:
            refusal = "This refresh token has expired; sign in again."
        else:
            row.used_at = now
            family_id, account_id = row.family_id, row.account_id
    if refusal is not None:
        raise InvalidGrant(refusal)
    account = await session.get(Account, account_id)
    if account is None or not account.is_active:
        raise InvalidGrant("This account is disabled.")
    new_token, ttl = await issue_refresh_token(session, settings, account.id, family_id)
    return account_principal(account), new_token, ttl
