"""Rebuilding a service's summaries from its base tables, folding, and comparing them.

    python -m services.registry.statistics rebuild      # or competitions, judging
    python -m services.registry.statistics check        # exit 1 if they differ from a rebuild

`rebuild` runs `stats_rebuild_<service>()` (migration 0054): in one repeatable-read transaction
it deletes the service's summary rows and pending deltas and inserts the summaries again from
the base tables with the same contribution queries the triggers use. Readers see the old
figures until it commits; a change committed meanwhile keeps its pending delta (it is not in
the rebuild's snapshot). Use it after restoring part of the data, or to prove the summaries
(`check`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

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


async def fold(session: AsyncSession, service: str) -> bool:
    """Move the pending deltas into the summaries; False when another folder holds them."""
    return bool(await session.scalar(text(f"SELECT stats_fold_{service}()")))


async def snapshot(session: AsyncSession, service: str) -> dict[str, set[tuple[object, ...]]]:
    """The non-zero cells of the service's summaries with their pending deltas added (rows
    that net to zero are left behind by changes that moved a contribution away; a rebuild
    does not make them)."""
    out = {}
    for table in TABLES[service]:
        values = VALUES.get(table, ("value", "people"))
        names = (await session.execute(text(f"SELECT * FROM {table} LIMIT 0"))).keys()  # noqa: S608
        keys = ", ".join(c for c in names if c not in values and c != "updated_at")
        sums = ", ".join(f"sum({v})" for v in values)
        nonzero = " OR ".join(f"sum({v}) <> 0" for v in values)
        rows = await session.execute(
            text(
                f"SELECT {keys}, {sums} FROM (SELECT * FROM {table} UNION ALL "  # noqa: S608
                f"SELECT * FROM {table}_pending) AS f GROUP BY {keys} HAVING {nonzero}"
            )
        )
        out[table] = {tuple(r) for r in rows}
    return out


async def differences(session: AsyncSession, service: str) -> dict[str, int]:
    """Rebuild inside a savepoint and count the cells that differ (then roll the rebuild back)."""
    before = await snapshot(session, service)
    async with session.begin_nested() as nested:
        await rebuild(session, service)
        after = await snapshot(session, service)
        await nested.rollback()
    return {t: len(before[t] ^ after[t]) for t in before}


async def _rebuild(engine: AsyncEngine, service: str) -> None:
    sessionmaker = make_sessionmaker(engine)
    for attempt in range(1, 6):
        try:
            async with sessionmaker() as session, session.begin():
                # One snapshot for the whole rebuild (see the module docstring).
                await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
                await rebuild(session, service)
            return
        except DBAPIError as exc:  # a folder committed under our snapshot: again
            if getattr(exc.orig, "sqlstate", None) != "40001" or attempt == 5:
                raise


async def _main(service: str, command: str) -> int:
    # A rebuild reads every base row: no statement timeout.
    engine = make_engine(get_settings().model_copy(update={"db_statement_timeout_ms": 0}))
    try:
        if command == "rebuild":
            await _rebuild(engine, service)
            print(f"{service}: summaries rebuilt")
            return 0
        async with make_sessionmaker(engine)() as session, session.begin():
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
