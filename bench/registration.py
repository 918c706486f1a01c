"""The registration burst: N admin registrations, one worker per request, into one individual
event of capacity N/2, at 64 concurrent connections, against the real services; then SQL checks.

- Set-up (untimed): N valid workers in the registry (the registry's import engine on a seeded
  CSV when the database holds fewer), the machine client competitions signs in with
  (`ensure_service_client`, as `make run` provisions it), and directly in the database a
  competition in `registration_open` with two individual events: the burst event (capacity
  N/2) and a warm-up event (room for everyone).
- Ours: registry and competitions as uvicorn processes (2 workers each, production settings,
  competitions with REGISTRY_URL and SERVICE_CLIENT_ID/SECRET). `bench/load.py` POSTs
  `{"worker_id": ...}` to `/v1/events/{id}/entries` with an admin's bearer token, each worker
  once. Each request: JWT check, the registry's `POST /v1/workers:batch-get` (with the machine
  token), the eligibility rules, then under a lock on the event row the place count, the
  one-entry-per-worker check, the entry, its member row, an audit row and (approved) an outbox
  event. The first N/2 are approved, the rest waitlisted.
- Baseline: `bench/baseline_app.py`'s `POST /events/{id}/entries`, one INSERT into
  `bench_entries` (unique `(event_id, worker_id)`), driven the same way with the same bodies.
- Both sides first register 200 workers into the warm-up event (untimed).
- Checks (SQL, after the run): every request answered 201; no worker has two live entries in
  the event; exactly `capacity` entries hold a place (pending/approved/checked_in); the other
  N - capacity are waitlisted. Any failure fails the run (`python -m bench` exits 1).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from sqlalchemy import select

from bench import baseline_app, imports
from bench.accounts import create_admin_and_job, ensure_admin, get_token
from bench.data import write_workers_csv
from bench.servers import (
    WORKERS,
    RssSampler,
    start_baseline,
    start_registry_and_competitions,
    stop,
)
from services.registry.accounts.service import ensure_service_client
from shared.config import PROJECT_ROOT, Settings
from shared.db import make_engine, make_sessionmaker
from shared.dbserver import asyncpg_dsn
from shared.models.competitions import HOLDING_PLACE, EntryStatus
from shared.models.registry import FileStatus, Worker
from tests.factories import make_competition, make_event

CONCURRENCY = 64
WARMUP = 200
LIVE = [s.value for s in (*HOLDING_PLACE, EntryStatus.waitlisted)]


@dataclass
class Setup:
    worker_ids: list[uuid.UUID]
    event_id: uuid.UUID
    warmup_event_id: uuid.UUID
    capacity: int
    service_client: tuple[str, str]
    warmup: int = WARMUP


async def prepare(
    database_url: str, key_dir: Path, work: Path, n: int, warmup: int = WARMUP
) -> Setup:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        have = await conn.fetchval("SELECT count(*) FROM workers WHERE file_status = 'active'")
    finally:
        await conn.close()
    if have < n:
        csv_path = write_workers_csv(work / "registration-workers.csv", n, seed=n)
        _, job_id = await create_admin_and_job(database_url, csv_path.read_bytes(), key_dir)
        done = await imports.run_ours(database_url, key_dir, [job_id])
        if done["status"] != "completed":
            raise RuntimeError(f"importing the workers failed: {done}")
        # The import ran without the registry's statistics folder: fold its deltas now
        # (untimed), not in the background of the burst.
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            await conn.execute("SELECT stats_fold_registry()")
        finally:
            await conn.close()
    engine = make_engine(Settings(database_url=database_url), pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await ensure_admin(session)
            client = await ensure_service_client(session)
            competition = await make_competition(session, name="registration burst")
            event = await make_event(session, competition, name="burst", capacity=n // 2)
            warmup_event = await make_event(
                session, competition, name="warm-up", capacity=n + warmup
            )
            ids = await session.scalars(
                select(Worker.id)
                .where(Worker.file_status == FileStatus.active)
                .order_by(Worker.id)
                .limit(n)
            )
            worker_ids = list(ids)
    finally:
        await engine.dispose()
    if len(worker_ids) != n:
        raise RuntimeError(f"expected {n} workers, found {len(worker_ids)}")
    return Setup(worker_ids, event.id, warmup_event.id, n // 2, client, warmup)


def write_bodies(path: Path, worker_ids: list[uuid.UUID]) -> Path:
    path.write_text("".join(json.dumps({"worker_id": str(w)}) + "\n" for w in worker_ids))
    return path


def post_load(
    url: str, bodies: Path, headers: dict[str, str], concurrency: int = CONCURRENCY
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.load", url, "--bodies", str(bodies), "--expect", "201"]
    cmd += ["--concurrency", str(concurrency), "--duration", "3600"]
    for name, value in headers.items():
        cmd += ["--header", f"{name}: {value}"]
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=3700, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench.load failed:\n{result.stderr[-4000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its children (uvicorn's workers)."""
    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _database_backends(database_url: str) -> list[int]:
    """The Postgres backends connected to the benchmark's database (the services' pools, open
    after the warm-up): their CPU is the database's share of a registration."""

    async def fetch() -> list[int]:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()
        return [r["pid"] for r in rows]

    return asyncio.run(fetch())


class CpuMeter:
    """CPU milliseconds per request, per process group, over a timed burst (psutil): the
    robust figure on a shared machine, where req/s moves with the neighbours' load. `net`
    subtracts what the processes burn idle (background loops: statistics folding, purges),
    measured for `idle_seconds` before the burst: at a few dozen requests a second on a busy
    machine that share would otherwise be charged to the requests."""

    def __init__(
        self, services: dict[str, int], database_url: str | None, idle_seconds: float = 3.0
    ) -> None:
        self.services = services
        self.database_url = database_url
        self.idle_seconds = idle_seconds
        self.start: dict[str, float] = {}
        self.idle_rate: dict[str, float] = {}
        self.started_at = 0.0
        self.backends: list[int] = []

    def _now(self) -> dict[str, float]:
        out = {name: _cpu_seconds(pid) for name, pid in self.services.items()}
        if self.backends:
            out["postgres"] = sum(_cpu_seconds(pid) for pid in self.backends)
        return out

    def __enter__(self) -> CpuMeter:
        if self.database_url:
            self.backends = _database_backends(self.database_url)
        if self.idle_seconds:
            before = self._now()
            time.sleep(self.idle_seconds)
            after = self._now()
            self.idle_rate = {k: (after[k] - before[k]) / self.idle_seconds for k in after}
        self.start = self._now()
        self.started_at = time.monotonic()
        return self

    def per_request_ms(self, requests: int) -> dict[str, Any]:
        end, elapsed = self._now(), time.monotonic() - self.started_at
        raw = {k: (end[k] - self.start.get(k, 0.0)) * 1000 / requests for k in end}
        net = {
            k: max(0.0, v - self.idle_rate.get(k, 0.0) * elapsed * 1000 / requests)
            for k, v in raw.items()
        }
        out: dict[str, Any] = {k: round(v, 3) for k, v in raw.items()}
        out["total"] = round(sum(raw.values()), 3)
        out["net"] = {k: round(v, 3) for k, v in net.items()} | {
            "total": round(sum(net.values()), 3)
        }
        return out

    def __exit__(self, *exc: object) -> None:
        return None


def burst(
    base: str,
    path: str,
    setup: Setup,
    work: Path,
    headers: dict[str, str],
    pids: list[int],
    concurrency: int = CONCURRENCY,
    services: dict[str, int] | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    if setup.warmup:  # untimed: connection pools, the JWKS and token caches, plans
        warm = write_bodies(work / "warmup.jsonl", setup.worker_ids[: setup.warmup])
        warmup_url = f"{base}{path.format(event_id=setup.warmup_event_id)}"
        post_load(warmup_url, warm, headers, concurrency)
    bodies = write_bodies(work / "bodies.jsonl", setup.worker_ids)
    with RssSampler(*pids) as rss, CpuMeter(services or {}, database_url) as cpu:
        result = post_load(
            f"{base}{path.format(event_id=setup.event_id)}", bodies, headers, concurrency
        )
        result["cpu_ms_per_request"] = cpu.per_request_ms(len(setup.worker_ids))
    result["peak_rss_kib"] = rss.peak // 1024
    return result


def run_ours(
    env: dict[str, str],
    work: Path,
    setup: Setup,
    concurrency: int = CONCURRENCY,
    workers: int = WORKERS,
) -> dict[str, Any]:
    registry, competitions, procs = start_registry_and_competitions(
        env, work, setup.service_client, workers
    )
    try:
        headers = {"authorization": f"Bearer {get_token(registry)}"}
        pids = [p.pid for p in procs.values()]
        result = burst(
            competitions,
            "/v1/events/{event_id}/entries",
            setup,
            work,
            headers,
            pids,
            concurrency,
            services={name: p.pid for name, p in procs.items()},
            database_url=env.get("DATABASE_URL"),
        )
    finally:
        stop(procs)
    result["server_errors"] = server_errors(work, ("registry", "competitions"))
    return result


def server_errors(log_dir: Path, services: tuple[str, ...], keep: int = 5) -> dict[str, Any]:
    """How many error lines each service logged, and the last few (a 5xx in the burst is
    explained here rather than lost with the run's temporary directory)."""
    out: dict[str, Any] = {}
    for service in services:
        path = log_dir / f"{service}.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        errors = [line for line in lines if '"level": "error"' in line]
        out[service] = {"count": len(errors), "last": [e[-3000:] for e in errors[-keep:]]}
    return out


async def create_baseline_table(database_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(baseline_app.ENTRIES_SETUP)
    finally:
        await conn.close()


async def run_baseline(
    database_url: str,
    env: dict[str, str],
    work: Path,
    setup: Setup,
    concurrency: int = CONCURRENCY,
    workers: int = WORKERS,
) -> dict[str, Any]:
    await create_baseline_table(database_url)
    url, procs = await asyncio.to_thread(start_baseline, env, work, workers)
    try:
        pids = [p.pid for p in procs.values()]
        return await asyncio.to_thread(
            burst,
            url,
            "/events/{event_id}/entries",
            setup,
            work,
            {},
            pids,
            concurrency,
            {name: p.pid for name, p in procs.items()},
            database_url,
        )
    finally:
        await asyncio.to_thread(stop, procs)


async def verify(
    database_url: str, setup: Setup, ours: dict[str, Any], baseline: dict[str, Any] | None
) -> dict[str, Any]:
    """The SQL checks, each True or False, and `ok` when all hold (without `baseline`, only
    ours is checked)."""
    n = len(setup.worker_ids)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        double = await conn.fetchval(
            """SELECT count(*) FROM (
                   SELECT worker_id FROM entries
                   WHERE event_id = $1 AND status = ANY($2::text[])
                   GROUP BY worker_id HAVING count(*) > 1) d""",
            setup.event_id,
            LIVE,
        )
        double_members = await conn.fetchval(
            """SELECT count(*) FROM (
                   SELECT worker_id FROM entry_members WHERE event_id = $1 AND active
                   GROUP BY worker_id HAVING count(*) > 1) d""",
            setup.event_id,
        )
        counts = dict(
            await conn.fetch(
                "SELECT status::text, count(*) FROM entries WHERE event_id = $1 GROUP BY 1",
                setup.event_id,
            )
        )
        baseline_rows = None
        if baseline is not None:
            baseline_rows = await conn.fetchval(
                f"SELECT count(*) FROM {baseline_app.ENTRIES_TABLE} WHERE event_id = $1",  # noqa: S608
                setup.event_id,
            )
    finally:
        await conn.close()
    holding = sum(counts.get(s.value, 0) for s in HOLDING_PLACE)
    waitlisted = counts.get(EntryStatus.waitlisted.value, 0)
    checks = {
        "every request answered 201 (ours)": ours["statuses"] == {"201": n},
        "no worker has two live entries": double == 0 and double_members == 0,
        f"entries holding a place = capacity ({setup.capacity})": holding == setup.capacity,
        f"the rest waitlisted ({n - setup.capacity})": waitlisted == n - setup.capacity,
        f"entries in the event = requests ({n})": sum(counts.values()) == n,
    }
    if baseline is not None:
        checks["every request answered 201 (baseline)"] = baseline["statuses"] == {"201": n}
        checks[f"baseline rows = requests ({n})"] = baseline_rows == n
    detail = {
        "statuses_ours": ours["statuses"],
        "statuses_baseline": baseline["statuses"] if baseline else None,
        "entries_by_status": counts,
        "workers_with_two_live_entries": double,
        "workers_with_two_active_member_rows": double_members,
        "baseline_rows": baseline_rows,
    }
    out = {"checks": checks, "detail": detail, "ok": all(checks.values())}
    return out
