"""The services' own database login: a member of `app_writer` and nothing else.

Migrations run as the schema owner (MIGRATION_DATABASE_URL); the services connect with a login
that cannot create, alter or drop anything and cannot switch to the owner, so a flaw in a service
can at worst read and write rows as `app_writer` may (never the audit log's history, never the
schema). This module creates or checks that login:

    python -m shared.dblogin      # MIGRATION_DATABASE_URL: the owner; DATABASE_URL: the login

It is what docker compose's `db-login` job runs, what `make run` does before starting the
services, and what the tests do once per run.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from shared.config import Settings, normalise_database_url

#: The role migration 0020 creates; the login is a member of it and of nothing else.
APP_ROLE = "app_writer"


class UnsafeLogin(RuntimeError):
    """The login the services would use may do more than `app_writer` may."""


def _dsn(url: str) -> str:
    return (
        make_url(normalise_database_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def with_login(url: str, username: str, password: str) -> str:
    """`url` with another user and password (same server and database)."""
    return (
        make_url(normalise_database_url(url))
        .set(username=username, password=password)
        .render_as_string(hide_password=False)
    )


def login_of(url: str) -> tuple[str, str]:
    parsed = make_url(normalise_database_url(url))
    if not parsed.username:
        raise ValueError("DATABASE_URL names no user")
    return parsed.username, parsed.password or ""


async def ensure_app_login(owner_url: str, app_url: str) -> None:
    """Create the login named in `app_url` (or reset its password to the one there), make it a
    member of `app_writer`, drop any other membership, then check it is harmless."""
    username, password = login_of(app_url)
    owner, _ = login_of(owner_url)
    if username == owner:
        raise UnsafeLogin(
            f"DATABASE_URL and MIGRATION_DATABASE_URL both use {username!r}: the services must "
            "connect with a login of their own."
        )
    conn = await asyncpg.connect(_dsn(owner_url))
    try:
        # Roles belong to the cluster: several databases (or test runs) may race to create it.
        for attempt in range(5):
            try:
                async with conn.transaction():
                    exists = await conn.fetchval(
                        "SELECT 1 FROM pg_roles WHERE rolname = $1", username
                    )
                    # Utility statements take no parameters: let the server quote them.
                    verb = "ALTER" if exists else "CREATE"
                    options = "LOGIN" if exists else "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
                    statement = f"{verb} ROLE %I {options} PASSWORD %L"
                    sql = await conn.fetchval(
                        "SELECT format($3::text, $1::text, $2::text)",
                        username,
                        password,
                        statement,
                    )
                    await conn.execute(sql)
                    others = await conn.fetch(
                        "SELECT g.rolname FROM pg_auth_members m "
                        "JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
                        "WHERE u.rolname = $1 AND g.rolname <> $2",
                        username,
                        APP_ROLE,
                    )
                    for row in others:
                        await conn.execute(
                            await conn.fetchval(
                                "SELECT format('REVOKE %I FROM %I', $1::text, $2::text)",
                                row["rolname"],
                                username,
                            )
                        )
                    member = await conn.fetchval(
                        "SELECT pg_has_role($1, $2, 'MEMBER')", username, APP_ROLE
                    )
                    if not member:
                        await conn.execute(
                            await conn.fetchval(
                                "SELECT format('GRANT %I TO %I', $1::text, $2::text)",
                                APP_ROLE,
                                username,
                            )
                        )
                break
            except (asyncpg.UniqueViolationError, asyncpg.DuplicateObjectError):
                await asyncio.sleep(0.1 * (attempt + 1))
            except asyncpg.InternalServerError as exc:  # "tuple concurrently updated"
                if "concurrently" not in str(exc) or attempt == 4:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
        await _check(conn, username)
    finally:
        await conn.close()


async def check_app_login(owner_url: str, app_url: str) -> None:
    """Refuse a login that could do more than `app_writer` (for operator-supplied logins)."""
    username, _ = login_of(app_url)
    if username == login_of(owner_url)[0]:
        raise UnsafeLogin(f"the services would connect as the schema owner {username!r}")
    conn = await asyncpg.connect(_dsn(owner_url))
    try:
        await _check(conn, username)
    finally:
        await conn.close()


async def _check(conn: asyncpg.Connection, username: str) -> None:
    role = await conn.fetchrow(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
        "FROM pg_roles WHERE rolname = $1",
        username,
    )
    if role is None:
        raise UnsafeLogin(f"the database has no login {username!r}")
    powers = [name for name, value in role.items() if value]
    if powers:
        raise UnsafeLogin(f"the services' login {username!r} has {', '.join(powers)}")
    memberships = await conn.fetch(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1",
        username,
    )
    if {r["rolname"] for r in memberships} != {APP_ROLE}:
        raise UnsafeLogin(
            f"the services' login {username!r} must be a member of {APP_ROLE} only, not of "
            f"{sorted(r['rolname'] for r in memberships)}"
        )
    owns = await conn.fetchval(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = $1",
        username,
    )
    if owns:
        raise UnsafeLogin(f"the services' login {username!r} owns {owns} table(s) or indexes")


def stored_password(key_dir: Path) -> str:
    """The password of the login `make run` creates, kept beside the signing key so restarts
    (and other processes of the same installation) keep using it."""
    path = key_dir / "db-app-password"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    key_dir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(password + "\n", encoding="utf-8")
    return password


async def app_url_for(settings: Settings, owner_url: str) -> str:
    """The URL the services use: DATABASE_URL when an owner URL is set apart from it (checked),
    else a login of their own that this creates (password in KEY_DIR)."""
    if settings.migration_database_url and settings.database_url:
        await check_app_login(owner_url, settings.database_url)
        return settings.database_url
    app_url = with_login(owner_url, settings.db_app_login, stored_password(settings.key_dir))
    await ensure_app_login(owner_url, app_url)
    return app_url


def main() -> int:
    settings = Settings()
    owner_url = settings.migration_database_url
    if not (owner_url and settings.database_url):
        print(
            "Set MIGRATION_DATABASE_URL (the schema owner) and DATABASE_URL (the services' login, "
            "with its password).",
            file=sys.stderr,
        )
        return 2
    try:
        asyncio.run(ensure_app_login(owner_url, settings.database_url))
    except UnsafeLogin as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Database login {login_of(settings.database_url)[0]!r} is a member of {APP_ROLE} only.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
