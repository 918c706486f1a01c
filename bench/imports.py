"""Benchmark 1, bulk import. Each side runs in a fresh process (`python -m bench.imports`) so its
peak RSS (`resource.getrusage(RUSAGE_SELF).ru_maxrss`) is its own; it prints one JSON line.

- ours: the registry's real import engine, `ImportRunner(sessionmaker, cipher).run(job_id)`, on
  `ImportJob`s the orchestrator created as the upload endpoint does (file in the row, admin
  principal). Each job is claimed with `claim_next` before its clock starts. A register larger
  than one upload allows (10,000,000 workers: `TABLE_MAX_ROWS`, `IMPORT_MAX_BYTES`) is sent as
  files of 1,000,000 rows, one job each, run one after another; the seconds are their sum.
  Timed: reading the file from the job row, parsing, validating every identity number, keyed
  hash and encryption of personal numbers, duplicate checks, and the COPYs into workers,
  grade_changes, talent_file_events and outbox_events, in transactions of 5,000 rows.
- baseline: one asyncpg `copy_to_table` of the same CSV file, as is, into `bench_copy`, created
  `LIKE workers INCLUDING ALL` (same columns, defaults, checks, the generated `name_tokens`
  column and all indexes including the GIN one; foreign keys are not copied by LIKE), plus an
  `id_number text` column with a unique index standing in for the unique keyed hash. Columns
  the CSV lacks (hash, encrypted and masked numbers, sex, birth date, file type) are made
  nullable and left NULL; `id` defaults to `gen_random_uuid()`. Nothing is computed in Python.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from shared.dbserver import asyncpg_dsn

BASELINE_TABLE = "bench_copy"
BASELINE_SETUP = f"""
DROP TABLE IF EXISTS {BASELINE_TABLE};
CREATE TABLE {BASELINE_TABLE} (LIKE workers INCLUDING ALL);
ALTER TABLE {BASELINE_TABLE} ADD COLUMN id_number text;
CREATE UNIQUE INDEX {BASELINE_TABLE}_id_number ON {BASELINE_TABLE} (id_number);
ALTER TABLE {BASELINE_TABLE}
    ALTER COLUMN id SET DEFAULT gen_random_uuid(),
    ALTER COLUMN id_number_hash DROP NOT NULL,
    ALTER COLUMN id_number_enc DROP NOT NULL,
    ALTER COLUMN id_number_masked DROP NOT NULL,
    ALTER COLUMN sex DROP NOT NULL,
    ALTER COLUMN birth_date DROP NOT NULL,
    ALTER COLUMN file_type DROP NOT NULL;
"""


def cpu_seconds() -> float:
    """User plus system CPU time of this process so far (the client side; Postgres not included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_kib() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def run_ours(database_url: str, key_dir: Path, job_ids: list[uuid.UUID]) -> dict[str, Any]:
    """The jobs run one after another, as the registry's runner takes them (oldest first); the
    clock runs only inside `ImportRunner.run`, claiming each job is not timed."""
    # Imported here so that the baseline's process does not load (and count) the services.
    from services.registry.imports.engine import ImportRunner, claim_next
    from shared.config import Settings
    from shared.crypto import load_cipher
    from shared.db import make_engine, make_sessionmaker

    settings = Settings(database_url=database_url, key_dir=key_dir, db_statement_timeout_ms=0)
    engine = make_engine(settings, pool_size=2, max_overflow=0)
    jobs, per_file, cpu = [], [], 0.0
    try:
        sessionmaker = make_sessionmaker(engine)
        cipher = load_cipher(settings.data_key, key_dir)
        for job_id in job_ids:
            claimed = await claim_next(sessionmaker)
            if claimed != job_id:
                raise RuntimeError(f"expected to claim job {job_id}, got {claimed}")
            start, before = time.perf_counter(), cpu_seconds()
            jobs.append(await ImportRunner(sessionmaker, cipher).run(job_id))
            per_file.append(time.perf_counter() - start)
            cpu += cpu_seconds() - before
    finally:
        await engine.dispose()
    statuses = {job.status.value for job in jobs}
    return {
        "seconds": sum(per_file),
        "rows": sum(job.inserted_rows for job in jobs),
        "status": statuses.pop() if len(statuses) == 1 else ",".join(sorted(statuses)),
        "errors": sum(job.error_rows for job in jobs),
        "duplicates": sum(job.duplicate_rows for job in jobs),
        "files": len(jobs),
        "seconds_per_file": [round(s, 2) for s in per_file],
        "client_cpu_seconds": cpu,
        "peak_rss_kib": peak_rss_kib(),
    }


async def prepare_baseline(database_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(BASELINE_SETUP)
    finally:
        await conn.close()


async def run_baseline(database_url: str, csv_path: Path) -> dict[str, Any]:
    await prepare_baseline(database_url)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        start, cpu = time.perf_counter(), cpu_seconds()
        await conn.copy_to_table(
            BASELINE_TABLE,
            source=csv_path,
            columns=["name", "id_number", "occupation", "locality_code", "grade"],
            format="csv",
            header=True,
        )
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
        rows = await conn.fetchval(f"SELECT count(*) FROM {BASELINE_TABLE}")  # noqa: S608
    finally:
        await conn.close()
    return {
        "seconds": seconds,
        "rows": rows,
        "client_cpu_seconds": cpu,
        "peak_rss_kib": peak_rss_kib(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.imports")
    sub = parser.add_subparsers(dest="side", required=True)
    ours = sub.add_parser("ours")
    ours.add_argument("--database-url", required=True)
    ours.add_argument("--key-dir", type=Path, required=True)
    ours.add_argument("--job-id", type=uuid.UUID, required=True, nargs="+", dest="job_ids")
    base = sub.add_parser("baseline")
    base.add_argument("--database-url", required=True)
    base.add_argument("--csv", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.side == "ours":
        result = asyncio.run(run_ours(args.database_url, args.key_dir, args.job_ids))
    else:
        result = asyncio.run(run_baseline(args.database_url, args.csv))
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
