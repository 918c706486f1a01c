"""Picking a Postgres server to create throw-away databases on (the tests and `make bench`).

Server choice (DESIGN.md section 7): the first URL set among the given environment variables
(TEST_DATABASE_URL for the tests; BENCH_DATABASE_URL then TEST_DATABASE_URL for the benchmark),
else the local Postgres on 127.0.0.1:5432 when it answers, else an embedded pgserver in a
temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from shared.config import normalise_database_url

LOCAL_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


async def _can_connect(url: str) -> bool:
    try:
        conn = await asyncpg.connect(asyncpg_dsn(url), timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class PgServer:
    """A Postgres server we may create and drop databases on."""

    admin_url: str  # asyncpg SQLAlchemy URL of a maintenance database
    kind: str
    handle: Any = None

    def url_for(self, database: str) -> str:
        return make_url(self.admin_url).set(database=database).render_as_string(hide_password=False)

    async def execute(self, sql: str) -> None:
        conn = await asyncpg.connect(asyncpg_dsn(self.admin_url))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create_database(self, template: str | None = None, prefix: str = "t") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        suffix = f' TEMPLATE "{template}"' if template else ""
        await self.execute(f'CREATE DATABASE "{name}"{suffix}')
        return name

    async def drop_database(self, name: str) -> None:
        await self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self.handle is not None:
            self.handle.cleanup()


def choose_server(env_vars: tuple[str, ...] = ("TEST_DATABASE_URL",)) -> PgServer:
    for var in env_vars:
        explicit = os.environ.get(var)
        if explicit:
            return PgServer(normalise_database_url(explicit), var)
    if _port_open("127.0.0.1", 5432) and asyncio.run(_can_connect(LOCAL_URL)):
        return PgServer(LOCAL_URL, "local")
    from shared.embedded_pg import start

    data_dir = tempfile.mkdtemp(prefix="skills-pg-")
    url, handle = start(Path(data_dir), database="postgres")
    return PgServer(url, "pgserver", handle)
