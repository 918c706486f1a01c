"""The benchmark's admin account, import jobs and sign-in (shared by the benchmarks)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.accounts import schemas as account_schemas
from services.registry.accounts import service as account_service
from services.registry.imports.service import create_job
from shared.auth import passwords
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.config import Settings
from shared.crypto import load_cipher
from shared.db import make_engine, make_sessionmaker
from shared.models.registry import Account, ImportKind

ADMIN = "bench.admin"
ADMIN_PASSWORD = "Bench-Admin-Passw0rd!"  # noqa: S105 - a throw-away database's account


async def ensure_admin(session: AsyncSession) -> Account:
    """The admin account, as `services.registry.cli create-admin` makes it (kept if it exists)."""
    settings = Settings()
    passwords.configure(settings.argon2_time_cost, settings.argon2_memory_kib)
    account = await session.scalar(select(Account).where(Account.username == ADMIN))
    if account is None:
        account = await account_service.create_account(
            session,
            account_schemas.AccountCreate(
                username=ADMIN, display_name=ADMIN, password=ADMIN_PASSWORD, role="admin"
            ),
            None,
        )
    return account


async def create_admin_and_job(
    database_url: str, content: bytes, key_dir: Path
) -> tuple[str, uuid.UUID]:
    """The admin account and an import job row holding the file, encrypted with the data key
    in `key_dir` (as `POST /v1/imports/workers` does through `create_job`)."""
    cipher = load_cipher(Settings().data_key, key_dir)
    # No statement timeout: at 10,000,000 workers the file is a 550 MB row.
    settings = Settings(database_url=database_url, db_statement_timeout_ms=0)
    engine = make_engine(settings, pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            account = await ensure_admin(session)
            principal = Principal(
                sub=str(account.id), kind=PrincipalKind.account, role=Role.admin, name=ADMIN
            )
            job = await create_job(
                session, ImportKind.workers, "workers.csv", content, principal, cipher
            )
            return str(account.id), job.id
    finally:
        await engine.dispose()


def get_token(url: str) -> str:
    # A few tries: on a machine loaded by other work, the first sign-in of a fresh server (its
    # pool opening, argon2) has been answered 503.
    for attempt in range(5):
        response = httpx.post(
            url + "/v1/auth/token",
            data={"grant_type": "password", "username": ADMIN, "password": ADMIN_PASSWORD},
            timeout=30,
        )
        if response.status_code != 503:
            break
        time.sleep(1 + attempt)
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token
