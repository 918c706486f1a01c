"""The scale curve: how import, name search and the filtered list grow with the workers table.

`python -m bench --size 10m` (or `make bench SIZE=10m`) runs the benchmarks at one size:
50k (the same as `--quick`), 1m (the default) or 10m. `python -m bench --only scale` (or
`--sizes 50k,1m,10m --only import,search,list`) runs import, name search and filtered list once
per size, each in a fresh database, prints each run's table and then one table of the curve:

    size | import rows/s (ours, COPY, ratio) | search req/s, p50, p99 (ours, bare) | list (same)

and saves it with the runs in `bench/results/<UTC timestamp>-scale.json`. An indexed read that
stays flat as the table grows is the point; the 10m point takes 15-30 minutes on a 2-core
machine (the CSV, two imports of 10,000,000 rows, VACUUM ANALYZE, then the load runs).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

SIZES = {"50k": 50_000, "1m": 1_000_000, "10m": 10_000_000}
#: The benchmarks of the curve (the workers table's: they share one import).
PARTS = ("import", "search", "list")


def parse_size(value: str) -> int:
    """`50k`, `1m`, `10m` (or a plain number of workers)."""
    text = value.strip().lower()
    if text in SIZES:
        return SIZES[text]
    try:
        rows = int(text.replace("_", "").replace(",", ""))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"unknown size {value!r}; choose from {', '.join(SIZES)} or a number of workers"
        ) from exc
    if rows < 1_000:
        raise argparse.ArgumentTypeError("at least 1,000 workers")
    return rows


def parse_sizes(value: str) -> list[int]:
    return [parse_size(v) for v in value.split(",") if v.strip()]


def expand_only(names: set[str]) -> set[str]:
    """`scale` in `--only` means the curve's benchmarks."""
    return (names - {"scale"}) | set(PARTS) if "scale" in names else names


def label(rows: int) -> str:
    for name, n in SIZES.items():
        if n == rows:
            return name
    return f"{rows:,}"


def point(rows: int, benchmarks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One size's figures, from a run's benchmark rows."""
    out: dict[str, Any] = {"rows": rows}
    imported = benchmarks.get("bulk import")
    if imported:
        out["import"] = {
            "ours_rows_per_s": imported["ours"]["rows_per_s"],
            "copy_rows_per_s": imported["baseline"]["rows_per_s"],
            "ratio_seconds": imported["ratio"],
        }
    for key, name in (("search", "name search"), ("list", "filtered list")):
        bench = benchmarks.get(name)
        if bench:
            out[key] = {
                side: {
                    k: bench[side].get(k)
                    for k in ("rps", "p50_ms", "p99_ms", "server_cpu_ms_per_request")
                }
                for side in ("ours", "baseline")
            } | {"ratio_rps": bench["ratio"]}
    return out


def render(points: list[dict[str, Any]], server: str) -> Table:
    table = Table(title=f"Scale curve ({server}): ours / bare baseline, one run per size")
    for column in ("workers", "import rows/s", "name search", "filtered list"):
        table.add_column(column, justify="right")

    def http(side: dict[str, Any]) -> str:
        cpu = side.get("server_cpu_ms_per_request")
        return (
            f"{side['rps']:,.0f} req/s, p50 {side['p50_ms']:.0f} / p99 {side['p99_ms']:.0f} ms"
            + (f", {cpu:.1f} ms CPU/req" if cpu is not None else "")
        )

    for p in points:
        cells = [f"{p['rows']:,}"]
        imp = p.get("import")
        cells.append(
            f"{imp['ours_rows_per_s']:,.0f} / COPY {imp['copy_rows_per_s']:,.0f}\n"
            f"time ratio {imp['ratio_seconds']:.2f}"
            if imp
            else "-"
        )
        for key in ("search", "list"):
            b = p.get(key)
            cells.append(
                f"{http(b['ours'])}\nbare {http(b['baseline'])}\nratio {b['ratio_rps']:.2f}"
                if b
                else "-"
            )
        table.add_row(*cells)
    table.caption = (
        "search: the SEARCH_TERMS mix (bench/data.py), first pages; list: locality 370100 + "
        "grade senior. 64 connections, 2 uvicorn workers each side."
    )
    return table


def main(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace], Coroutine[Any, Any, Any]],
    console: Console,
) -> int:
    """Run `run` (bench.main's one-size run) once per size in `args.sizes`, then the curve."""
    from bench.main import RESULTS_DIR, save
    from bench.main import render as render_run

    only = (set(args.only) & set(PARTS)) or set(PARTS)
    points: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    server = ""
    for rows in args.sizes:
        one = copy.copy(args)
        one.rows, one.size, one.only = rows, rows, only
        console.print(f"[bold]Scale point: {rows:,} workers ({', '.join(sorted(only))})[/]")
        results = asyncio.run(run(one))
        console.print(render_run(results))
        save(results)
        server = results.server
        points.append(point(rows, results.benchmarks))
        runs.append(vars(results))
        # Print the curve so far: the 10m point is long, the smaller ones are worth keeping.
        console.print(render(points, server))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-scale.json"
    path.write_text(
        json.dumps({"points": points, "runs": runs}, indent=2, ensure_ascii=False, default=str)
        + "\n"
    )
    console.print(f"Scale curve saved to {path}")
    return 0


# -- generated workers (read-side points) --------------------------------------------------------
#
# Importing 10,000,000 workers twice (ours and COPY) is the long part of the 10m point: at 1m on
# this shared 2-core machine each side took about 8 minutes. `--generate` fills the table in SQL
# instead (INSERT ... SELECT generate_series with the secondary indexes dropped and rebuilt by
# sorting), with the distributions of bench/data.py (same surnames and given names, 1 or 2 given
# characters, 16 cities, 6 grades, 8 occupations): the search and list figures need the rows,
# not the import. Every row shares one encrypted identity number (the admin's list decrypts
# them), the keyed hashes are distinct. No import figures for such a point.


def _sql_text(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


async def generate_workers(database_url: str, rows: int, key_dir: Any) -> dict[str, Any]:
    import time

    import asyncpg

    from bench.accounts import ensure_admin
    from bench.data import CITY_CODES, GRADES, OCCUPATIONS
    from shared.config import Settings
    from shared.crypto import load_cipher
    from shared.db import make_engine, make_sessionmaker
    from shared.dbserver import asyncpg_dsn
    from tests.factories import GIVEN, SURNAMES

    cipher = load_cipher(Settings().data_key, key_dir)
    blob = cipher.encrypt("370102198506151234")
    start = time.perf_counter()
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("SET session_replication_role = replica")  # no statistics triggers
        await conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'workers' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'workers'::regclass)"
        )
        for index in indexes:
            await conn.execute(f'DROP INDEX "{index["indexname"]}"')

        def pick(values: list[str]) -> str:
            return f"({_sql_text(values)})[1 + floor(random() * {len(values)})::int]"

        given = pick(list(GIVEN))
        statement = f"""
        INSERT INTO workers (id, name, id_number_hash, id_number_enc, id_number_masked, sex,
            birth_date, occupation, locality_code, grade, file_type, created_at, updated_at)
        SELECT gen_random_uuid(),
            {pick(list(SURNAMES))} || {given} || CASE WHEN random() < 0.5 THEN {given} ELSE '' END,
            sha256(int8send(i)), $1, '3701**********123X',
            CASE WHEN random() < 0.5 THEN 'male' ELSE 'female' END,
            date '1970-01-01' + floor(random() * 12775)::int,
            {pick(OCCUPATIONS)}, {pick(CITY_CODES)},
            grade, CASE WHEN grade = 'apprentice' THEN 'apprentice' ELSE 'technician' END,
            timestamptz '2026-01-01' + i * interval '1 millisecond', now()
        FROM (SELECT i, {pick(GRADES)} AS grade
              FROM generate_series($2::bigint, $3::bigint) AS i) AS g
        """  # noqa: S608 - constant vocabularies of bench/data.py
        step = 1_000_000
        for first in range(1, rows + 1, step):
            await conn.execute(statement, blob, first, min(first + step - 1, rows))
        for index in indexes:
            await conn.execute(index["indexdef"])
    finally:
        await conn.close()
    engine = make_engine(Settings(database_url=database_url), pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await ensure_admin(session)  # the account the HTTP benchmarks sign in with
    finally:
        await engine.dispose()
    return {"rows": rows, "seconds": time.perf_counter() - start}


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a server process and its children (uvicorn's workers)."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in (root, *root.children(recursive=True)):
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total
