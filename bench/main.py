"""`python -m bench [--quick]`: our figures and bare baselines, measured in the same run.

1. A fresh database on the server the tests would use (BENCH_DATABASE_URL, TEST_DATABASE_URL,
   local 127.0.0.1:5432, else an embedded pgserver), migrated with Alembic; dropped at the end.
2. Bulk import of N workers from a CSV (1,000,000; 50,000 with --quick): the registry's import
   engine against a bare `COPY` of the same file (see bench/imports.py).
3. Name search and a filtered list over those workers: the registry (2 uvicorn workers,
   uvloop, httptools, production settings, an admin token) against a bare FastAPI + asyncpg
   app running the same SQL (bench/baseline_app.py), driven by bench/load.py in its own process.
4. Registration burst (1,000 requests with --quick, 20,000 without): registry and competitions
   as uvicorn processes, one admin registration per request into an event of capacity N/2,
   against a bare FastAPI + asyncpg INSERT, then SQL checks (bench/registration.py).
5. Scheduler, in process: `solver.place` on 20,000 entries in 40 events (2,000 in 8), then the
   independent `solver.check`; reference: a trivial unconstrained assignment (bench/scheduler.py).
6. Judge assignment, in process: the judging service's bulk conflicts and min-cost flow on
   20,000 entries x 600 judges, k = 3 (2,000 x 60 with --quick), checked pair by pair;
   reference: a round-robin that ignores conflicts (bench/assignment.py).
7. Score burst: 500 judges (50 with --quick) marking at once against registry, competitions
   and judging as uvicorn processes, with a deliberate If-Match race per sheet, against a bare
   FastAPI + asyncpg upsert, then SQL checks that no update was lost (bench/scoring.py).
8. Judging results (bench/results.py): computing a stage of 100,000 entries x 5 judges x 10
   aspects (10,000 with --quick) with the service's `compute_results` against a hand-written
   single SQL aggregation of the same data (scores checked equal); then the cached public
   leaderboard (judging, 2 uvicorn workers; a final of 30 entries and a page of 100) against
   the bare app answering the same bytes from memory (and its one-row read alongside), and the
   time until a new version published elsewhere is served.
9. Webhook fan-out (2,000 events quick, 10,000 full, to 3 subscribers): the dispatcher process
   against bare httpx POSTs to the same httptools receivers, every delivery checked
   (bench/webhooks.py).
10. Programme statistics over the imported workers (bench/statistics.py): a figure by city x
   grade and a 36-month trend from the registry's summaries against the same figures as bare
   GROUP BYs over the base tables (target: >= 10x the req/s), both checked equal; and how long
   a newly registered worker takes to appear in the figures.
11. Replicas behind HAProxy (bench/replicas.py): the registration burst through a real load
   balancer with one, then two replicas of each service (CPU per request summed over every
   replica, HAProxy's apart), both checked with SQL.
12. One table on the terminal and `bench/results/<UTC timestamp>.json`.

`--size 50k|1m|10m` sets the number of workers (50k = the --quick sizes); `--only scale` or
`--sizes 50k,1m,10m` runs import, search and list once per size and prints the scale curve
(bench/scale.py).

`--only NAME[,NAME]` runs some of them: import, search, list, registration, scheduler,
assignment, scoring, results, leaderboard, webhooks, statistics, replicas (search, list and
statistics need the imported workers, so they import them too; the leaderboard needs the
computed stage, so it computes it too).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
from rich.console import Console
from rich.table import Table

from bench import (
    assignment,
    baseline_app,
    registration,
    scale,
    scheduler,
    scoring,
    webhooks,
)
from bench import memory as bench_memory
from bench import replicas as replica_bench
from bench import results as judging_results
from bench import statistics as programme_statistics
from bench.accounts import create_admin_and_job, get_token
from bench.data import SEARCH_TERMS, split_csv, write_workers_csv
from bench.ours_sql import list_workers_sql
from bench.registration import CONCURRENCY
from bench.servers import RssSampler, server_env, start_baseline, start_registry, stop
from shared.config import PROJECT_ROOT, Settings
from shared.dbserver import asyncpg_dsn, choose_server
from shared.migrate import upgrade_head

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
LIST_FILTER = {"locality_code": "370100", "grade": "senior"}
#: --only name -> the name in the table (search and list come from http_urls)
HTTP_NAMES = {"search": "name search", "list": "filtered list"}
console = Console(width=150)


@dataclass
class Sizes:
    rows: int
    duration: float
    warmup: float
    concurrency: int
    registrations: int
    schedule_entries: int
    schedule_events: int
    schedule_double_workers: int
    assignment_entries: int = 20_000
    assignment_judges: int = 600
    score_judges: int = 500
    score_entries: int = 500
    result_entries: int = 100_000
    max_requests: int = 500_000
    webhook_events: int = 10_000
    #: fill the workers table in SQL instead of importing it (bench/scale.py, --generate)
    generate: bool = False
    #: rows per uploaded file: one upload holds at most TABLE_MAX_ROWS (1,048,576) rows and
    #: IMPORT_MAX_BYTES (100 MB, about 1.8 million of these rows)
    import_part_rows: int = 1_000_000

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        if quick:
            return cls(
                rows=50_000,
                duration=3.0,
                warmup=1.0,
                concurrency=64,
                registrations=1_000,
                schedule_entries=2_000,
                schedule_events=8,
                schedule_double_workers=300,
                assignment_entries=2_000,
                assignment_judges=60,
                score_judges=50,
                score_entries=50,
                result_entries=10_000,
                webhook_events=2_000,
            )
        return cls(
            rows=1_000_000,
            duration=10.0,
            warmup=2.0,
            concurrency=64,
            registrations=20_000,
            schedule_entries=20_000,
            schedule_events=40,
            schedule_double_workers=3_000,
        )


@dataclass
class Results:
    sizes: dict[str, Any]
    server: str
    started_at: str
    benchmarks: dict[str, dict[str, Any]] = field(default_factory=dict)
    explain: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    #: The server's settings that bound bulk writes, as the run found them (`SERVER_SETTINGS`).
    settings: dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    """What a benchmark gets: the sizes, this run's migrated database (shared by all the
    benchmarks, dropped at the end), a scratch directory, the `--only` names and the results
    to add its rows to (`record`)."""

    sizes: Sizes
    database_url: str
    work: Path
    only: set[str]
    results: Results

    def record(
        self,
        name: str,
        ours: dict[str, Any],
        baseline: dict[str, Any],
        *,
        ratio: float,
        met: bool,
        target: str,
        kind: str = "http",
        **extra: Any,
    ) -> None:
        """One row of the table. `kind` "http" shows req/s and latency (sides as returned by
        `bench.load`, plus `peak_rss_kib`); any other kind shows `cells` (two strings: ours,
        baseline) and `target_text`. Both sides may carry `peak_rss_kib`."""
        self.results.benchmarks[name] = {
            "kind": kind,
            "ours": ours,
            "baseline": baseline,
            "ratio": ratio,
            "target": target,
            "meets_target": met,
            **extra,
        }


BenchFn = Callable[[Run], Awaitable[None]]
#: --only name -> the benchmark that runs it, in the order they run.
REGISTERED: dict[str, BenchFn] = {}


def benchmark(*names: str) -> Callable[[BenchFn], BenchFn]:
    """Add a benchmark to `make bench`: `@benchmark("scores") async def f(run: Run) -> None`
    (import the module from bench/main.py). Several names may share one function (it runs
    once, and reads `run.only` to see which of its parts were asked for)."""

    def add(fn: BenchFn) -> BenchFn:
        for name in names:
            REGISTERED[name] = fn
        return fn

    return add


def log(message: str) -> None:
    console.print(f"[dim]{datetime.now(UTC):%H:%M:%S}[/dim] {message}")


# -- set-up -----------------------------------------------------------------------------------


def run_json(cmd: list[str], timeout: float) -> dict[str, Any]:
    result = subprocess.run(  # noqa: S603 - our own interpreter and modules
        cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed:\n{result.stderr[-4000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


async def sql(database_url: str, statement: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


#: Settings that decide how fast a bulk load is on a given server; saved with each run.
SERVER_SETTINGS = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "maintenance_work_mem")
WAL_SIZE = re.compile(r"^[1-9][0-9]*(MB|GB)$")


async def server_settings(database_url: str) -> dict[str, str]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1::text[])",
            list(SERVER_SETTINGS),
        )
    finally:
        await conn.close()
    return {r["name"]: f"{r['setting']}{' ' + r['unit'] if r['unit'] else ''}" for r in rows}


@contextlib.asynccontextmanager
async def wal_size(database_url: str, size: str | None) -> AsyncIterator[None]:
    """`--max-wal-size`: the server's `max_wal_size` raised for the run and put back after
    (ALTER SYSTEM and a reload: superuser). At 10,000,000 workers a server left at 1 GB
    checkpoints every few seconds of the import, each checkpoint making the next change to
    every index page write a whole-page image, and the run is the disk's, not the import's."""
    if size is None:
        yield
        return
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        row = await conn.fetchrow(
            "SELECT setting, unit, sourcefile FROM pg_settings WHERE name = 'max_wal_size'"
        )
        assert row is not None
        before = f"{row['setting']}{row['unit'] or ''}"
        restore = (
            f"ALTER SYSTEM SET max_wal_size = '{before}'"
            if (row["sourcefile"] or "").endswith("postgresql.auto.conf")
            else "ALTER SYSTEM RESET max_wal_size"
        )
        await conn.execute(f"ALTER SYSTEM SET max_wal_size = '{size}'")  # checked: WAL_SIZE
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()
    log(f"max_wal_size {before} -> {size} for this run")
    try:
        yield
    finally:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await conn.execute(restore)
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()
        log(f"max_wal_size back to {before}")


async def checkpoint(database_url: str) -> None:
    """Start each timed load with clean buffers (needs superuser; skipped otherwise)."""
    with contextlib.suppress(asyncpg.PostgresError):
        await sql(database_url, "CHECKPOINT")


# -- benchmark 1 ------------------------------------------------------------------------------


def import_ours(database_url: str, key_dir: Path, job_ids: list[uuid.UUID]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.imports", "ours", "--database-url", database_url]
    cmd += ["--key-dir", str(key_dir), "--job-id", *map(str, job_ids)]
    return run_json(cmd, timeout=3600 * max(1, len(job_ids) // 2))


def import_baseline(database_url: str, csv_path: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.imports", "baseline", "--database-url", database_url]
    return run_json([*cmd, "--csv", str(csv_path)], timeout=3600)


# -- benchmark 2 ------------------------------------------------------------------------------


async def explain(database_url: str, term: str) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the search and list queries, ours (as the service builds
    it) and the baseline's, each with the plan Postgres picks for these values (`custom`) and
    the one a prepared statement may switch to after five runs (`generic`)."""
    queries = {
        "search": {
            "ours": await list_workers_sql(q=term),
            "baseline": (baseline_app.SEARCH_SQL, list(baseline_app.search_args(term))),
        },
        "list": {
            "ours": await list_workers_sql(**LIST_FILTER),
            "baseline": (baseline_app.LIST_SQL, list(baseline_app.list_args(**LIST_FILTER))),
        },
    }
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    out: dict[str, Any] = {}
    try:
        for name, sides in queries.items():
            out[name] = {"values": term if name == "search" else LIST_FILTER}
            for side, (query, args) in sides.items():
                for mode in ("custom", "generic"):
                    cache_mode = "force_generic_plan" if mode == "generic" else "auto"
                    await conn.execute(f"SET plan_cache_mode = {cache_mode}")
                    rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *args)
                    plan = "\n".join(r[0] for r in rows)
                    out[name][f"{side}_{mode}"] = {
                        "sql": query,
                        "plan": plan,
                        "execution_ms": _execution_ms(plan),
                        "gin_index_used": "ix_workers_name_tokens" in plan,
                    }
        out["search"]["gin_index_used"] = out["search"]["ours_custom"]["gin_index_used"]
        out["search"]["plan"] = out["search"]["ours_custom"]["plan"]
        out["search"]["term"] = term
        return out
    finally:
        await conn.close()


def _execution_ms(plan: str) -> float | None:
    for line in plan.splitlines():
        if line.startswith("Execution Time:"):
            return float(line.split(":")[1].split()[0])
    return None


def load(urls: list[str], sizes: Sizes, duration: float, headers: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.load", *urls]
    cmd += ["--concurrency", str(sizes.concurrency), "--duration", str(duration)]
    cmd += ["--max-requests", str(sizes.max_requests)]
    for name, value in headers.items():
        cmd += ["--header", f"{name}: {value}"]
    return run_json(cmd, timeout=duration + 120)


def http_urls(base: str, path: str) -> dict[str, list[str]]:
    filters = "&".join(f"{k}={v}" for k, v in LIST_FILTER.items())
    return {
        "name search": [f"{base}{path}?q={quote(term)}" for term in SEARCH_TERMS],
        "filtered list": [f"{base}{path}?{filters}"],
    }


def drive(
    base: str,
    path: str,
    pid: int,
    sizes: Sizes,
    headers: dict[str, str],
    names: set[str],
) -> dict[str, dict[str, Any]]:
    out = {}
    for name, urls in http_urls(base, path).items():
        if name not in names:
            continue
        check = httpx.get(urls[0], headers=headers, timeout=30)
        check.raise_for_status()
        load(urls, sizes, sizes.warmup, headers)  # warm caches and connection pools
        cpu = scale.tree_cpu_seconds(pid)
        with RssSampler(pid) as rss:
            result = load(urls, sizes, sizes.duration, headers)
        result["peak_rss_kib"] = rss.peak // 1024
        # The robust figure on a shared machine: the server's CPU per request (Postgres apart).
        cpu = scale.tree_cpu_seconds(pid) - cpu
        result["server_cpu_ms_per_request"] = cpu * 1000 / max(result["requests"], 1)
        result["first_page_items"] = len(check.json()["items"])
        out[name] = result
    return out


def http_side(
    side: str, env: dict[str, str], log_dir: Path, sizes: Sizes, names: set[str]
) -> dict[str, dict[str, Any]]:
    if side == "ours":
        url, procs = start_registry(env, log_dir)
    else:
        url, procs = start_baseline(env, log_dir)
    try:
        if side == "ours":
            headers = {"authorization": f"Bearer {get_token(url)}"}
            path = "/v1/workers"
        else:
            headers, path = {}, "/workers"
        pid = next(iter(procs.values())).pid
        return drive(url, path, pid, sizes, headers, names)
    finally:
        stop(procs)


# -- the report -------------------------------------------------------------------------------


def _mib(kib: int | None) -> str:
    return f"{kib / 1024:.0f} MiB" if kib else "-"


def render(results: Results) -> Table:
    workers = any(b["kind"] == "import" for b in results.benchmarks.values())
    size = f"{results.sizes['rows']:,} workers, " if workers else ""
    table = Table(title=f"make bench ({size}{results.server})")
    for column in ("benchmark", "ours", "baseline", "ratio", "target", "met?", "peak memory"):
        table.add_column(column, justify="left" if column == "benchmark" else "right")
    for name, bench in results.benchmarks.items():
        ours, base = bench["ours"], bench["baseline"]
        ok = bench["meets_target"]
        ratio = f"[{'green' if ok else 'red'}]{bench['ratio']:.2f}[/]"
        if bench["kind"] == "import":
            cells = [
                f"{ours['seconds']:.1f} s\n{ours['rows_per_s']:,.0f} rows/s",
                f"{base['seconds']:.1f} s\n{base['rows_per_s']:,.0f} rows/s",
            ]
            target = "≤ 1.5 (time)"
        elif bench["kind"] == "assignment":
            cells = [
                f"{ours['seconds']:.1f} s ({ours['entries']:,} x {ours['judges']:,}, k "
                f"{ours['k']})\nloads {ours['load_min']}-{ours['load_max']}, cost "
                f"{ours['cost']} = bound {ours['lower_bound']}\n"
                f"conflicted pairs: {ours['conflicted_pairs']}",
                f"round-robin: {base['seconds']:.3f} s\nloads {base['load_min']}-"
                f"{base['load_max']}\nconflicted pairs: {base['conflicted_pairs']:,}",
            ]
            target = "optimal, balanced,\nconflict-free"
        elif bench["kind"] == "compute":
            cells = [
                f"{ours['seconds']:.2f} s ({ours['entries']:,} entries,\n"
                f"{ours['scores']:,} scores; load {ours['load_seconds']:.2f} s,\n"
                f"NumPy {ours['numpy_seconds']:.2f} s)",
                f"{base['seconds']:.2f} s (one SQL\naggregation + rank)",
            ]
            target = "≤ 1.3 (time)"
        elif bench["kind"] == "webhooks":
            cells = [
                f"{ours['deliveries_per_s']:,.0f} deliveries/s\n{ours['deliveries']:,} in "
                f"{ours['seconds']:.1f} s, lost {ours['lost']}, twice {ours['duplicates']}, "
                f"bad signatures {ours['rejected']}",
                f"{base['deliveries_per_s']:,.0f} POST/s\nbare httpx",
            ]
            target = "≥ 1,000/s,\nnone lost"
        elif bench["kind"] not in ("http", "scheduler"):
            cells = list(bench["cells"])
            target = bench.get("target_text", bench["target"])
        elif bench["kind"] == "scheduler":
            cells = [
                f"{ours['seconds']:.1f} s, {ours['placed']:,}/{ours['entries']:,} placed\n"
                f"sessions {ours['sessions_used']:,} (bound {ours['sessions_lower_bound']:,})\n"
                "checker: " + ("no clash" if ours["no_clash"] else f"{ours['problems']:,} clashes"),
                f"trivial: {base['seconds']:.2f} s\nsessions {base['sessions_used']:,}\n"
                f"checker: {base['problems']:,} clashes",
            ]
            target = "all placed,\nno clash"
        else:
            cells = [
                f"{s['rps']:,.0f} req/s\np50 {s['p50_ms']:.1f} / p99 {s['p99_ms']:.1f} ms"
                for s in (ours, base)
            ]
            target = bench.get("target_label") or f"≥ {bench.get('target_ratio', 0.8)} (req/s)"
        memory = f"{_mib(ours.get('peak_rss_kib'))}\n{_mib(base.get('peak_rss_kib'))}"
        met = "[green]yes[/]" if ok else "[bold red]NO[/]"
        table.add_row(name, *cells, ratio, target, met, memory)
    table.caption = (
        "peak memory: ours / baseline. Import: ru_maxrss of the importing process. "
        "HTTP: summed RSS of the uvicorn processes (psutil, sampled every 100 ms; registration: "
        "registry + competitions). Scheduler ratio: ours / trivial seconds (no time target)."
    )
    return table


async def _run(args: argparse.Namespace) -> Results:
    sizes = Sizes.of(args.quick or args.size == scale.SIZES["50k"])
    if args.size:
        sizes.rows = args.size
    if args.rows:
        sizes.rows = args.rows
    sizes.generate = args.generate
    if args.import_part_rows:
        sizes.import_part_rows = args.import_part_rows
    if args.duration:
        sizes.duration = args.duration
    if args.registrations:
        sizes.registrations = args.registrations
    server = await asyncio.to_thread(choose_server, ("BENCH_DATABASE_URL", "TEST_DATABASE_URL"))
    results = Results(
        sizes=vars(sizes) | {"quick": args.quick},
        server=server.kind,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    database = await server.create_database(prefix="bench")
    database_url = server.url_for(database)
    log(f"Database {database} on {server.kind}; migrating...")
    try:
        async with wal_size(database_url, args.max_wal_size):
            results.settings = await server_settings(database_url)
            with tempfile.TemporaryDirectory(prefix="skills-bench-") as tmp:
                work = Path(tmp)
                await asyncio.to_thread(upgrade_head, database_url)
                await bench_all(results, sizes, database_url, work, args.only)
    finally:
        await server.drop_database(database)
        server.close()
    return results


async def bench_all(
    results: Results, sizes: Sizes, database_url: str, work: Path, only: set[str]
) -> None:
    run = Run(sizes, database_url, work, only, results)
    done: list[BenchFn] = []
    for name, fn in REGISTERED.items():
        if name in only and fn not in done:
            done.append(fn)
            await fn(run)


@benchmark("assignment")
async def _assignment(run: Run) -> None:
    bench_assignment(run.results, run.sizes)


@benchmark("scoring")
async def _scoring(run: Run) -> None:
    await bench_scoring(run.results, run.sizes, run.database_url, run.work)


@benchmark("results", "leaderboard")
async def _results(run: Run) -> None:
    await bench_results(run.results, run.sizes, run.database_url, run.work, run.only)


@benchmark("webhooks")
async def _webhooks(run: Run) -> None:
    n = run.sizes.webhook_events
    log(f"Webhook fan-out: {n:,} events x 3 subscribers, dispatcher vs bare httpx...")
    out = await webhooks.run(run.database_url, run.work, n)
    log(f"  {out['ours']['deliveries_per_s']:,.0f} deliveries/s, lost {out['ours']['lost']}")
    run.results.benchmarks["webhook fan-out"] = out


@benchmark("import", "search", "list")
async def bench_workers(run: Run) -> None:
    results, sizes, database_url, work = run.results, run.sizes, run.database_url, run.work
    key_dir = work / "keys"
    if sizes.generate:
        log(f"Generating {sizes.rows:,} workers in SQL (no import figures, bench/scale.py)...")
        made = await scale.generate_workers(database_url, sizes.rows, key_dir)
        results.notes["generated"] = f"{made['rows']:,} workers in {made['seconds']:.0f} s"
        log(f"  {results.notes['generated']}")
        await bench_worker_reads(run)
        return
    csv_path = work / "workers.csv"
    log(f"Writing {sizes.rows:,} workers to a CSV...")
    start = time.perf_counter()
    await asyncio.to_thread(write_workers_csv, csv_path, sizes.rows)
    results.notes["csv"] = (
        f"{csv_path.stat().st_size / 2**20:.1f} MiB written in {time.perf_counter() - start:.1f} s"
    )
    # One upload holds at most TABLE_MAX_ROWS rows and IMPORT_MAX_BYTES bytes: a larger
    # register goes in as several files, as an organiser would send it.
    job_ids = []
    settings = Settings()
    limit = settings.import_max_bytes
    if sizes.import_part_rows > settings.table_max_rows:
        raise RuntimeError(f"--import-part-rows is over TABLE_MAX_ROWS ({settings.table_max_rows})")
    for part in await asyncio.to_thread(split_csv, csv_path, sizes.import_part_rows):
        content = await asyncio.to_thread(part.read_bytes)
        if len(content) > limit:
            raise RuntimeError(f"{part.name}: {len(content):,} bytes is over IMPORT_MAX_BYTES")
        job_ids.append((await create_admin_and_job(database_url, content, key_dir))[1])
        del content
        if part != csv_path:
            part.unlink()
    if len(job_ids) > 1:
        results.notes["import files"] = (
            f"{len(job_ids)} files of at most {sizes.import_part_rows:,} rows, one job each"
        )

    log("Bulk import, baseline: COPY of the CSV into bench_copy...")
    await checkpoint(database_url)
    base = await asyncio.to_thread(import_baseline, database_url, csv_path)
    await sql(database_url, "DROP TABLE bench_copy")
    log(f"  {base['rows']:,} rows in {base['seconds']:.1f} s")
    log("Bulk import, ours: ImportRunner.run...")
    await checkpoint(database_url)
    ours = await asyncio.to_thread(import_ours, database_url, key_dir, job_ids)
    log(f"  {ours['rows']:,} rows in {ours['seconds']:.1f} s ({ours['status']})")
    if ours["rows"] != sizes.rows or base["rows"] != sizes.rows:
        raise RuntimeError(f"expected {sizes.rows} rows: ours {ours}, baseline {base}")
    for side in (ours, base):
        side["rows_per_s"] = side["rows"] / side["seconds"]
    ratio = ours["seconds"] / base["seconds"]
    run.record(
        "bulk import",
        ours,
        base,
        ratio=ratio,
        met=ratio <= 1.5,
        target="ours/baseline seconds <= 1.5",
        kind="import",
    )

    await bench_worker_reads(run)


async def bench_worker_reads(run: Run) -> None:
    """Name search and the filtered list over the workers table, ours and the baseline."""
    results, sizes, database_url, work, only = (
        run.results,
        run.sizes,
        run.database_url,
        run.work,
        run.only,
    )
    key_dir = work / "keys"
    # The import ran in a process of its own, without the registry's statistics folder: fold
    # what it left now (untimed), or the registry under load folds a million rows' deltas in
    # the background and the requests are charged for it.
    log("Folding the import's statistics deltas, then VACUUM ANALYZE (untimed)...")
    await sql(database_url, "SELECT stats_fold_registry()")
    await sql(database_url, "VACUUM ANALYZE")
    results.explain = await explain(database_url, "建国")
    log(f"Search plan uses the GIN index: {results.explain['search']['gin_index_used']}")

    names = {HTTP_NAMES[n] for n in only if n in HTTP_NAMES}
    if not names:
        return
    env = server_env(database_url, key_dir)
    http: dict[str, dict[str, dict[str, Any]]] = {}
    for who in ("ours", "baseline"):
        log(f"HTTP, {who}: 2 uvicorn workers, {sizes.concurrency} connections...")
        http[who] = await asyncio.to_thread(http_side, who, env, work, sizes, names)
    for name in http["ours"]:
        o, b = http["ours"][name], http["baseline"][name]
        ratio = o["rps"] / b["rps"] if b["rps"] else 0.0
        run.record(name, o, b, ratio=ratio, met=ratio >= 0.8, target="ours/baseline req/s >= 0.8")


@benchmark("statistics")
async def bench_statistics(run: Run) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(run.database_url))
    try:
        imported = await conn.fetchval("SELECT count(*) FROM workers")
    finally:
        await conn.close()
    if imported < run.sizes.rows:
        await bench_workers(run)
    log("Statistics: spreading registrations over four years (untimed), then figures...")
    out = await programme_statistics.run(
        run.database_url, run.work / "keys", run.work, run.sizes.duration, run.sizes.warmup
    )
    fresh = out["freshness"]
    log(
        f"  registrations spread in {out['spread_seconds']:.1f} s; a new worker is counted "
        f"after {fresh['median_ms']:.0f} ms (max {fresh['max_ms']:.0f} ms)"
    )
    for name, key in (
        ("statistics: city x grade", "figure"),
        ("statistics: 36-month trend", "trend"),
    ):
        o, b = out[key]["ours"], out[key]["baseline"]
        ratio = o["rps"] / b["rps"] if b["rps"] else 0.0
        agree = out[key]["agreement"]
        log(
            f"  {name}: ours {o['rps']:,.0f} req/s, bare GROUP BY {b['rps']:,.1f} req/s; "
            f"figures agree: {agree['ok']}"
        )
        run.record(
            name,
            o,
            b,
            ratio=ratio,
            met=ratio >= 10 and agree["ok"],
            target="ours/baseline req/s >= 10, same figures",
            target_label="≥ 10 (req/s)",
            agreement=agree,
            new_worker_visible_ms=fresh,
        )
    run.results.notes["statistics freshness"] = (
        f"a worker registered through POST /v1/workers is in the figures after "
        f"{fresh['median_ms']:.0f} ms median, {fresh['max_ms']:.0f} ms max "
        f"({fresh['samples']} samples, POST included)"
    )


@benchmark("registration")
async def bench_registration(run: Run) -> None:
    sizes, database_url, work = run.sizes, run.database_url, run.work
    n = sizes.registrations
    key_dir = work / "keys"
    log(f"Registration burst: {n:,} workers, an event of capacity {n // 2:,}...")
    setup = await registration.prepare(database_url, key_dir, work, n)
    env = server_env(database_url, key_dir)
    log(f"  ours: registry + competitions (2 uvicorn workers each), {CONCURRENCY} connections...")
    await checkpoint(database_url)
    ours = await asyncio.to_thread(registration.run_ours, env, work, setup)
    log(f"  {ours['rps']:,.1f} req/s, statuses {ours['statuses']}")
    log(f"  CPU ms per request: {ours['cpu_ms_per_request']}")
    for service, errors in ours["server_errors"].items():
        if errors["count"]:
            last = errors["last"][-1]
            log(f"  [red]{service} logged {errors['count']} errors[/], the last: {last}")
    log("  baseline: one INSERT per request into bench_entries...")
    await checkpoint(database_url)
    base = await registration.run_baseline(database_url, env, work, setup)
    log(f"  {base['rps']:,.1f} req/s, statuses {base['statuses']}")
    log(f"  CPU ms per request: {base['cpu_ms_per_request']}")
    verdict = await registration.verify(database_url, setup, ours, base)
    ratio = ours["rps"] / base["rps"] if base["rps"] else 0.0
    run.record(
        "registration burst",
        ours,
        base,
        ratio=ratio,
        met=ratio >= 0.5,
        target="ours/baseline req/s >= 0.5",
        target_ratio=0.5,
        requests=n,
        capacity=setup.capacity,
        verification=verdict,
    )


@benchmark("replicas")
async def bench_replicas(run: Run) -> None:
    n = run.sizes.registrations
    log(f"Replicas behind HAProxy: the registration burst ({n:,}), 1 then 2 replicas each...")
    await checkpoint(run.database_url)
    out = await replica_bench.run(run.database_url, run.work, n)
    if out is None:
        log(
            "  [yellow]skipped: HAProxy is missing and could not be installed "
            "(scripts/install_haproxy.sh needs apt-get and root)[/]"
        )
        return
    for label in ("one", "two"):
        side = out[label]
        log(
            f"  {label}: {side['rps']:,.1f} req/s, services "
            f"{side['service_cpu_ms_per_request']:.2f} ms CPU/request, HAProxy "
            f"{side['haproxy_cpu_ms_per_request']:.2f} ms, statuses {side['statuses']}"
        )
    ratio = out["two"]["rps"] / out["one"]["rps"] if out["one"]["rps"] else 0.0
    run.record(
        "replicas 2 vs 1 (HAProxy)",
        out["two"],
        out["one"],
        ratio=ratio,
        met=out["ok"],
        target="correct with 2 replicas (2 cores: no speed-up expected)",
        target_label="2 replicas / 1,\nSQL checks pass",
        verification={
            "ok": out["ok"],
            "checks": {
                f"{label} replica(s): {check}": ok
                for label in ("one", "two")
                for check, ok in out[label]["verification"]["checks"].items()
            },
        },
    )


@benchmark("scheduler")
async def bench_scheduler(run: Run) -> None:
    results, sizes = run.results, run.sizes
    log(
        f"Scheduler: {sizes.schedule_entries:,} entries in {sizes.schedule_events} events, "
        f"{sizes.schedule_double_workers:,} workers in two events..."
    )
    out = scheduler.run(
        sizes.schedule_entries, sizes.schedule_events, sizes.schedule_double_workers
    )
    log(f"  {out['ours']['seconds']:.1f} s, {out['ours']['placed']:,} placed")
    results.benchmarks["scheduler"] = out


def bench_assignment(results: Results, sizes: Sizes) -> None:
    n, j = sizes.assignment_entries, sizes.assignment_judges
    log(f"Judge assignment: {n:,} entries, {j:,} judges, k = 3, generated conflicts...")
    out = assignment.run(n, j, 3)
    ours = out["ours"]
    log(
        f"  {ours['seconds']:.1f} s (conflicts {ours['conflicts_seconds']:.1f} s), "
        f"{ours['status']}, loads {ours['load_min']}-{ours['load_max']}, "
        f"{ours['conflicted_pairs']} conflicted pairs"
    )
    results.benchmarks["judge assignment"] = out


async def bench_scoring(results: Results, sizes: Sizes, database_url: str, work: Path) -> None:
    n = sizes.score_judges
    log(f"Score burst: {n:,} judges, {sizes.score_entries:,} entries, k = {scoring.K}...")
    key_dir = work / "keys"
    env = server_env(database_url, key_dir)
    await checkpoint(database_url)
    out = await asyncio.to_thread(
        scoring.run, database_url, env, work, n, sizes.score_entries, key_dir
    )
    log(
        f"  ours {out['ours']['rps']:,.1f} req/s, baseline {out['baseline']['rps']:,.1f} req/s; "
        f"assignment over HTTP {out['assignment_http']['seconds']:.1f} s"
    )
    results.benchmarks["score burst"] = out


async def bench_results(
    results: Results, sizes: Sizes, database_url: str, work: Path, only: set[str]
) -> None:
    n = sizes.result_entries
    log(f"Results: generating a stage of {n:,} entries x 5 judges x 10 aspects (untimed)...")
    stage_id = await judging_results.prepare(database_url, n)
    await sql(database_url, "VACUUM ANALYZE scores")
    log("  baseline: one SQL aggregation (mean, marks, components, weights, rank)...")
    await checkpoint(database_url)
    await judging_results.compute_baseline(database_url, stage_id)  # warm the buffers
    base = await judging_results.compute_baseline(database_url, stage_id)
    log(f"  {base['seconds']:.2f} s, {base['entries']:,} entries")
    log("  ours: compute_results (scores out, NumPy, COPY in, commit), mean...")
    ours = await judging_results.compute_ours(database_url, stage_id)
    log(f"  {ours['seconds']:.2f} s (load {ours['load_seconds']:.2f} s)")
    agreement = await judging_results.agree(database_url, ours["result_id"], base.pop("scores"))
    log(f"  scores agree with the SQL aggregation: {agreement}")
    others = {}
    for aggregation, standardisation in (("trimmed_mean", "none"), ("mean", "zscore")):
        other = await judging_results.compute_ours(
            database_url, stage_id, aggregation, standardisation
        )
        log(f"  ours, {aggregation} + {standardisation}: {other['seconds']:.2f} s")
        others[f"{aggregation}+{standardisation}"] = other["seconds"]
    ratio = ours["seconds"] / base["seconds"]
    ours["peak_rss_kib"] = base["peak_rss_kib"] = None
    results.benchmarks["result computation"] = {
        "kind": "compute",
        "ours": ours,
        "baseline": base,
        "ratio": ratio,
        "target": "ours/baseline seconds <= 1.3",
        "meets_target": ratio <= 1.3 and agreement["ok"],
        "agreement": agreement,
        "other_rules_seconds": others,
    }
    if "leaderboard" not in only:
        return
    await judging_results.publish(database_url, ours["result_id"])
    env = server_env(database_url, work / "keys")
    results.benchmarks.update(
        await judging_results.bench_leaderboard(database_url, work, env, sizes, stage_id, log)
    )


def save(results: Results, directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(vars(results), indent=2, ensure_ascii=False, default=str) + "\n")
    return path


def _wal_size(text: str) -> str:
    if not WAL_SIZE.match(text):
        raise argparse.ArgumentTypeError(f"{text!r}: a size in MB or GB, such as 16GB")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes: 50,000 workers, 3 s load runs, 1,000 registrations, 2,000 entries",
    )
    parser.add_argument(
        "--size",
        type=scale.parse_size,
        help="workers: 50k (the --quick sizes), 1m (default) or 10m (bench/scale.py)",
    )
    parser.add_argument(
        "--sizes",
        type=scale.parse_sizes,
        metavar="SIZE[,SIZE]",
        help="the scale curve: import, search and list once per size, one table "
        "(--only scale: 50k,1m,10m)",
    )
    parser.add_argument(
        "--generate",
        action="store_true",
        help="fill the workers table in SQL instead of importing it: search and list figures "
        "only (bench/scale.py)",
    )
    parser.add_argument(
        "--max-wal-size",
        type=_wal_size,
        metavar="SIZE",
        help="raise the server's max_wal_size for the run, e.g. 16GB (ALTER SYSTEM, put back "
        "after; superuser): the 10m import on a server left at 1 GB is bound by checkpoints",
    )
    parser.add_argument("--rows", type=int, help="override the number of workers")
    parser.add_argument(
        "--import-part-rows",
        type=int,
        metavar="N",
        help="rows per uploaded file in the import (default 1,000,000: a larger register is "
        "sent as several files, within TABLE_MAX_ROWS and IMPORT_MAX_BYTES)",
    )
    parser.add_argument("--duration", type=float, help="override the load duration, seconds")
    parser.add_argument("--registrations", type=int, help="override the registration burst's N")
    parser.add_argument(
        "--only",
        type=_only,
        default=set(REGISTERED),
        metavar="NAME[,NAME]",
        help=f"run only these benchmarks: {', '.join(REGISTERED)}",
    )
    args = parser.parse_args(argv)
    if "scale" in args.only or args.sizes:
        args.sizes = args.sizes or list(scale.SIZES.values())
        args.only = scale.expand_only(args.only)
        return scale.main(args, _run, console)
    results = asyncio.run(_run(args))
    console.print(render(results))
    console.print("Server: " + ", ".join(f"{k} {v}" for k, v in results.settings.items()))
    if (memory := bench_memory.table(results.benchmarks)) is not None:
        console.print(memory)
    for name in ("search", "list") if results.explain else ():
        plans = results.explain[name]
        times = ", ".join(
            f"{key.replace('_', ' ')} {plans[key]['execution_ms']} ms"
            for key in ("ours_custom", "ours_generic", "baseline_custom", "baseline_generic")
        )
        console.print(f"EXPLAIN {name} {plans['values']}: {times}")
        if name == "search":
            console.print(
                f"EXPLAIN search {plans['term']!r}: GIN index ix_workers_name_tokens "
                f"{'used' if plans['gin_index_used'] else 'NOT used'}."
            )
    code = 0
    burst = results.benchmarks.get("registration burst")
    if burst:
        console.print("Registration burst, checked with SQL after the run:")
        for check, ok in burst["verification"]["checks"].items():
            console.print(
                f"  [{'green' if ok else 'bold red'}]{'ok  ' if ok else 'FAIL'}[/] {check}"
            )
        if not burst["verification"]["ok"]:
            console.print(
                "[bold red]REGISTRATION BURST VERIFICATION FAILED: "
                f"{burst['verification']['detail']}[/]"
            )
            code = 1
    behind = results.benchmarks.get("replicas 2 vs 1 (HAProxy)")
    if behind:
        console.print("Replicas behind HAProxy, checked with SQL after each burst:")
        for check, ok in behind["verification"]["checks"].items():
            console.print(
                f"  [{'green' if ok else 'bold red'}]{'ok  ' if ok else 'FAIL'}[/] {check}"
            )
        if not behind["verification"]["ok"]:
            code = 1
    scores = results.benchmarks.get("score burst")
    if scores:
        console.print("Score burst, checked with SQL after the run:")
        for check, ok in scores["verification"]["checks"].items():
            console.print(
                f"  [{'green' if ok else 'bold red'}]{'ok  ' if ok else 'FAIL'}[/] {check}"
            )
        console.print(f"Assignment over HTTP (set-up of the burst): {scores['assignment_http']}")
        if not scores["verification"]["ok"]:
            console.print(
                f"[bold red]SCORE BURST VERIFICATION FAILED: {scores['verification']['detail']}[/]"
            )
            code = 1
    placed = results.benchmarks.get("judge assignment")
    if placed and not placed["meets_target"]:
        console.print(f"[bold red]ASSIGNMENT CHECK FAILED: {placed['ours']}[/]")
        code = 1
    fan_out = results.benchmarks.get("webhook fan-out")
    if fan_out and not (
        fan_out["ours"]["deliveries"] == fan_out["events"] * 3
        and not any(fan_out["ours"][k] for k in ("lost", "duplicates", "rejected"))
    ):
        console.print(f"[bold red]WEBHOOK FAN-OUT CHECK FAILED: {fan_out['ours']}[/]")
        code = 1
    sched = results.benchmarks.get("scheduler")
    if sched and not sched["meets_target"]:
        console.print(f"[bold red]SCHEDULER CHECK FAILED: {sched['ours']['first_problems']}[/]")
        code = 1
    console.print(f"Results saved to {save(results).relative_to(PROJECT_ROOT)}")
    return code


def _only(value: str) -> set[str]:
    names = {n.strip() for n in value.split(",") if n.strip()}
    unknown = names - set(REGISTERED) - {"scale"}
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark(s) {', '.join(sorted(unknown)) or '(none)'}; "
            f"choose from {', '.join(REGISTERED)}"
        )
    return names
