"""The statistics triggers read what a statement changed, not the tables it joins (0063).

A trigger whose plan was cached on a connection while the tables were empty kept joining its
transition table to the whole of each table it reads: every import batch (and, on an empty
database, every single write) read every worker, where nothing re-analyses the tables
(autovacuum off, as on the bench's server, or between its runs). The tests warm each trigger
on an empty database, grow the tables on another connection, and count in
`pg_stat_xact_user_tables` the rows the next small statement on the warmed connection reads
from the grown table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.dbserver import asyncpg_dsn

GROWN = 20_000
#: the first import batch: a statement as large as the tables it joins
FIRST = 1_000

WORKERS = """
INSERT INTO workers (id, name, id_number_hash, id_number_enc, id_number_masked, sex, birth_date,
                     occupation, locality_code, grade, file_type, created_at, updated_at)
SELECT gen_random_uuid(), '王建国', sha256(int8send(i)), '\\x00', '3701**********123X', 'male',
       date '1980-01-01', '焊工', '370100', 'senior', 'technician', now(), now()
FROM generate_series($1::bigint, $2::bigint) AS i
RETURNING id
"""
GRADE_CHANGES = """
INSERT INTO grade_changes (id, worker_id, to_grade, effective_date, source)
SELECT gen_random_uuid(), w, 'senior', date '2026-01-05', 'initial' FROM unnest($1::uuid[]) AS w
"""


async def rows_read(conn: asyncpg.Connection, table: str) -> int:
    """Rows of `table` the current transaction read so far (scans and index fetches)."""
    counted = await conn.fetchrow(
        "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n "
        "FROM pg_stat_xact_user_tables WHERE relname = $1",
        table,
    )
    assert counted is not None
    return int(counted["n"])


@pytest.fixture
async def warmed(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection whose statistics triggers first ran as an import's first batch does, on
    an empty database, then 20,000 more workers and their grade changes written by another
    connection."""
    dsn = asyncpg_dsn(database_url)
    conn = await asyncpg.connect(dsn)
    try:
        first = [r["id"] for r in await conn.fetch(WORKERS, 1, FIRST)]
        await conn.execute(GRADE_CHANGES, first)  # the grade-change INSERT trigger, planned now
        await conn.execute("UPDATE workers SET locality_code = '370200'")  # the UPDATE trigger
        other = await asyncpg.connect(dsn)
        try:
            grown = [r["id"] for r in await other.fetch(WORKERS, FIRST + 1, FIRST + GROWN)]
            await other.execute(GRADE_CHANGES, grown)
        finally:
            await other.close()
        yield conn
    finally:
        await conn.close()


async def test_a_new_grade_change_reads_its_worker_not_every_worker(
    warmed: asyncpg.Connection,
) -> None:
    """The import's case: the grade-change trigger of a batch looks its workers up."""
    conn = warmed
    batch = [r["id"] for r in await conn.fetch(WORKERS, FIRST + GROWN + 1, FIRST + GROWN + 50)]
    async with conn.transaction():
        before = await rows_read(conn, "workers")
        await conn.execute(GRADE_CHANGES, batch)
        read = await rows_read(conn, "workers") - before
    assert read <= 2 * len(batch), f"the trigger read {read} workers for {len(batch)} changes"
    people = await conn.fetchval(
        "SELECT sum(delta) FROM stats_registry_people_pending WHERE grain = 1"
    )
    assert people == FIRST + GROWN + len(batch)  # every grade change counted once


async def test_moving_a_worker_reads_their_grade_changes_not_every_one(
    warmed: asyncpg.Connection,
) -> None:
    """A worker's update moves their contribution: the trigger reads their grade changes."""
    conn = warmed
    worker = await conn.fetchval("SELECT id FROM workers ORDER BY created_at DESC LIMIT 1")
    async with conn.transaction():
        before = await rows_read(conn, "grade_changes")
        await conn.execute("UPDATE workers SET locality_code = '370300' WHERE id = $1", worker)
        read = await rows_read(conn, "grade_changes") - before
    assert read <= 4, f"the trigger read {read} grade changes for one worker's move"
    moved = await conn.fetchval(
        "SELECT sum(delta) FROM stats_registry_people_pending "
        "WHERE grain = 1 AND locality_code = '370300'"
    )
    assert moved == 1
