"""The services connect with a login of their own, a member of `app_writer` only: it can do the
writes the services need and nothing to the schema, and it cannot become the owner."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.dblogin import UnsafeLogin, check_app_login, ensure_app_login, with_login
from tests.conftest import APP_LOGIN, Services
from tests.dbutil import PgServer
from tests.factories import identity_number
from tests.security.test_audit import create_worker

SERVICES = ("registry", "competitions", "judging")
REFUSED = r"permission denied|must be owner|must be member|must be superuser"

#: Schema changes and privilege escalations the services' login must be refused.
FORBIDDEN = [
    "CREATE TABLE sneaky (id int)",
    "ALTER TABLE workers ADD COLUMN sneaky int",
    "DROP TABLE audit_log",
    "CREATE INDEX sneaky ON workers (name)",
    "CREATE FUNCTION sneaky() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE SCHEMA sneaky",
    "ALTER TABLE workers OWNER TO CURRENT_USER",
    "TRUNCATE workers",
    "ALTER ROLE app_writer SUPERUSER",
    "SET ROLE postgres",
    "UPDATE alembic_version SET version_num = 'x'",
]


@pytest.mark.parametrize("statement", FORBIDDEN)
async def test_the_services_login_cannot_change_the_schema(
    services: Services, statement: str
) -> None:
    for name in SERVICES:
        async with services.apps[name].state.engine.connect() as conn:
            assert await conn.scalar(text("SELECT session_user")) == APP_LOGIN
            # Dropping app_writer goes back to the login, no further.
            await conn.execute(text("SET ROLE NONE"))
            assert await conn.scalar(text("SELECT current_user")) == APP_LOGIN
            with pytest.raises(DBAPIError, match=REFUSED):
                await conn.execute(text(statement))
            await conn.rollback()


async def test_the_services_login_does_the_writes_the_services_need(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # Through HTTP: a registration writes the worker, its audit row and its outbox event.
    worker = await create_worker(services, admin_headers, identity_number())
    async with services.apps["registry"].state.engine.connect() as conn:
        assert await conn.scalar(text("SELECT session_user")) == APP_LOGIN
        assert await conn.scalar(
            text("SELECT count(*) FROM workers WHERE id = :id"), {"id": worker}
        )
        # The login's attributes: nothing beyond logging in.
        role = (
            await conn.execute(
                text(
                    "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls "
                    "FROM pg_roles WHERE rolname = session_user"
                )
            )
        ).one()
        assert not any(role)
        member_of = set(
            await conn.scalars(
                text(
                    "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                    "WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = session_user)"
                )
            )
        )
        assert member_of == {"app_writer"}
        # A temporary table (the import engine stages rows in one) is still allowed.
        await conn.execute(text("CREATE TEMP TABLE scratch (id int)"))


async def test_a_privileged_or_owner_login_is_refused(
    pg_server: PgServer, database_url: str
) -> None:
    owner = database_url
    with pytest.raises(UnsafeLogin, match="own"):
        await ensure_app_login(owner, owner)
    with pytest.raises(UnsafeLogin, match="schema owner"):
        await check_app_login(owner, owner)
    # A login that was given more than app_writer is cut back to app_writer only.
    name = "skills_app_widened"
    url = with_login(owner, name, "widened-password")
    await ensure_app_login(owner, url)
    await pg_server.execute(f"GRANT pg_read_all_data TO {name}")
    with pytest.raises(UnsafeLogin, match="member of app_writer only"):
        await check_app_login(owner, url)
    await ensure_app_login(owner, url)
    await check_app_login(owner, url)
    await pg_server.execute(f"ALTER ROLE {name} CREATEDB")
    with pytest.raises(UnsafeLogin, match="rolcreatedb"):
        await ensure_app_login(owner, url)
    await pg_server.execute(f"ALTER ROLE {name} NOCREATEDB")
