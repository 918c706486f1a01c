"""Test database plumbing: the server choice lives in `shared.dbserver` (the benchmark uses it
too); tests migrate a template once per run and clone it per test (see conftest.py)."""

from shared.dbserver import LOCAL_URL, PgServer, asyncpg_dsn, choose_server

__all__ = ["LOCAL_URL", "PgServer", "asyncpg_dsn", "choose_server"]
