"""An embedded Postgres (pgserver) for `make run` and the tests when no server is configured.

pgserver ships Postgres binaries in its wheel, so a fresh machine needs nothing but pip. Its
server listens on a unix socket in the data folder; SQLAlchemy's asyncpg dialect takes that as
`postgresql+asyncpg://postgres:@/db?host=/path`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


def start(data_dir: Path, database: str = "shandong_skills") -> tuple[str, Any]:
    """Start (or attach to) the embedded server; return an asyncpg URL of `database` and the
    server handle (keep it referenced: the server stops when the last handle goes)."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(data_dir), cleanup_mode="stop")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
        raise ValueError(f"unsafe database name {database!r}")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    socket_dir = str(data_dir)
    uri: str = server.get_uri()
    if "host=" in uri:
        socket_dir = uri.split("host=", 1)[1].split("&", 1)[0]
    return f"postgresql+asyncpg://postgres:@/{database}?host={socket_dir}", server
