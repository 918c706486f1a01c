"""Rebuilding a service's summaries from its base tables, and comparing them.

    python -m services.registry.statistics rebuild      # or competitions, judging
    python -m services.registry.statistics check        # exit 1 if they differ from a rebuild

`rebuild` runs `stats_rebuild_<service>()` (migration 0054): in one transaction it deletes the
service's summary rows and inserts them again from the base tables with the same contribution
queries the triggers use. Readers see the old figures until it commits. Use it after restoring
a backup of part of the data, or to prove the summaries (`check`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.config import get_settings
from shared.db import make_engine, make_sessionmaker

TABLES = {
    "registry": ("stats_registry_people", "stats_registry_activity"),
    "competitions": ("stats_competitions_facts",),
    "judging": ("stats_judging_facts",),
}
VALUES = {
    "stats_registry_people": ("delta", "registered", "changes"),
}


async def rebuild(session: AsyncSession, service: str) -> None:
    await session.execute(text(f"SELECT stats_rebuild_{service}()"))


async def snapshot(session: AsyncSession, service: str) -> dict[str, set[tuple[object, ...]]]:
    """The non-zero cells of the service's summaries (rows whose values net to zero are left
    behind by changes that moved a contribution away; a rebuild does not make them)."""
    out = {}
    for table in TABLES[service]:
        values = VALUES.get(table, ("value", "people"))
        nonzero = " OR ".join(f"{v} <> 0" for v in values)
        rows = await session.execute(
            text(f"SELECT * FROM {table} WHERE {nonzero}")  # noqa: S608 - fixed names
        )
        out[table] = {tuple(v for k, v in r._mapping.items() if k != "updated_at") for r in rows}
    return out


async def differences(session: AsyncSession, service: str) -> dict[str, int]:
    """Rebuild inside a savepoint and count the cells that differ (then roll the rebuild back)."""
    before = await snapshot(session, service)
    async with session.begin_nested() as nested:
        await rebuild(session, service)
        after = await snapshot(session, service)
        await nested.rollback()
    return {t: len(before[t] ^ after[t]) for t in before}


async def _main(service: str, command: str) -> int:
    # A rebuild reads every base row: no statement timeout.
    engine = make_engine(get_settings().model_copy(update={"db_statement_timeout_ms": 0}))
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            if command == "rebuild":
                await rebuild(session, service)
                print(f"{service}: summaries rebuilt")
                return 0
            diff = await differences(session, service)
            for table, n in diff.items():
                print(f"{table}: {n} cells differ from a rebuild")
            return 1 if any(diff.values()) else 0
    finally:
        await engine.dispose()


def main(service: str) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m services.{service}.statistics")
    parser.add_argument("command", choices=["rebuild", "check"])
    args = parser.parse_args()
    sys.exit(asyncio.run(_main(service, args.command)))
