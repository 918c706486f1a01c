"""The migration path is the schema: upgrade from empty, models agree, downgrade works, seeds."""

from __future__ import annotations

import asyncpg
from alembic import command

from shared.migrate import alembic_config, upgrade_head
from tests.dbutil import PgServer, asyncpg_dsn


async def test_models_and_migrations_agree(pg_server: PgServer, template_db: str) -> None:
    # `alembic check` raises if autogenerate would produce any operation.
    command.check(alembic_config(pg_server.url_for(template_db)))


async def test_upgrade_downgrade_upgrade_from_empty(pg_server: PgServer) -> None:
    name = await pg_server.create_database()
    url = pg_server.url_for(name)
    try:
        upgrade_head(url)
        command.downgrade(alembic_config(url), "base")
        upgrade_head(url)
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            rows = await conn.fetch(
                "SELECT code, name, level, parent_code FROM localities ORDER BY code"
            )
        finally:
            await conn.close()
    finally:
        await pg_server.drop_database(name)
    codes = {r["code"]: r for r in rows}
    assert codes["370000"]["name"] == "山东省"
    cities = [r for r in rows if r["level"] == "city"]
    assert len(cities) == 16
    assert all(r["parent_code"] == "370000" for r in cities)
    assert codes["371300"]["name"] == "临沂市"
    assert "371200" not in codes  # Laiwu was merged into Jinan in 2019
    counties = [r for r in rows if r["level"] == "county"]
    assert len(counties) == 136  # GB/T 2260: Shandong's districts, county-level cities, counties
    assert all(r["parent_code"] in {c["code"] for c in cities} for r in counties)
    assert codes["370116"]["name"] == "莱芜区"
    assert codes["370116"]["parent_code"] == "370100"
    assert codes["370614"]["name"] == "蓬莱区"
