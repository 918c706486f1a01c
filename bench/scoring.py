"""The score submission burst: J judges marking at once, over HTTP, against the real services;
then SQL checks that no update was lost.

- Set-up (untimed): directly in the database `entries` approved entries (competitors from the 16
  cities) of a provincial competition's event and J expert judges (from the 16 cities in turn,
  so each is conflicted with its own city's competitors); through the APIs as an admin, with
  registry, competitions and judging as uvicorn processes (2 workers each, production settings,
  judging with the machine client), the stage, its seeding and blind codes, the example marking
  scheme (3 aspects: A1.1 measurement 0..30, B1.1 measurement 0 or 60, B2.1 judgement 0..3) and
  the assignment (`POST .../assignments:solve`, k = 3: its HTTP time is reported). Each judge
  gets an access token signed with the registry's key, as the registry would issue it.
- Ours: every judge on their own keep-alive connection, all at once. For each assigned entry:
  `PUT /v1/stages/{id}/scores/{code}` (3 marks, no If-Match, answered ETag "1"); then a
  deliberate race, two PUTs with `If-Match: "1"` and different marks sent at the same time on
  two connections (exactly one must win, the other must get 412); then `POST ...:submit` with
  `If-Match: "2"`. A 503 (busy: no database connection came free within the pool timeout,
  nothing done, `Retry-After: 1`) is retried after a second, as a client should; the retries are
  counted and their wait is part of the request's latency. Each request: JWT check, the judge,
  the assignment row locked, conflicts re-checked (declared conflicts, the entry's facts kept
  with the assignment), the scheme (the first marks freeze it), validation, the upsert, one
  history row per changed mark, an audit row.
- Baseline: `bench/baseline_app.py`'s `PUT /scores/{stage}/{code}` (one INSERT ... ON CONFLICT
  DO UPDATE of the marks into `bench_scores`) and `POST .../{code}:submit` (one UPDATE), driven
  the same way with the same requests; it has no versions, so both racing PUTs succeed and the
  later silently overwrites the earlier (the lost update our If-Match prevents).
- Checks (SQL, after the run): every request answered as expected (200, and in each race one
  200 and one 412); every sheet holds exactly the winning PUT's marks, is submitted and at
  version 3; 3 marks per sheet; history rows: 3 created, 2 changed, 3 submitted per sheet; the
  scheme frozen once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from bench import baseline_app
from bench.accounts import ensure_admin, get_token
from bench.load import Connection, percentile
from bench.servers import WORKERS, RssSampler, start_baseline, stop
from services.judging.marking.schemas import SCHEME_EXAMPLE
from services.registry.accounts.service import ensure_service_client
from shared.auth.keys import load_or_create_keys
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.auth.tokens import issue_access_token
from shared.config import PROJECT_ROOT, Settings
from shared.db import make_engine, make_sessionmaker
from shared.dbserver import asyncpg_dsn
from shared.models.judging import Judge, JudgeKind, QualificationLevel
from shared.processes import start_services, stop_services, wait_ready
from tests.factories import make_competition, make_entry, make_event

K = 3
#: ours / baseline req/s (issue 17).
TARGET = 0.6
CITIES = [f"37{c:02d}00" for c in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17)]
COMPONENTS = [{"component": "theory", "weight": 30}, {"component": "practical", "weight": 70}]
UVICORN_OPTIONS = ["--loop", "uvloop", "--http", "httptools"]


@dataclass
class Setup:
    event_id: uuid.UUID
    judge_subs: list[str]
    service_client: tuple[str, str]
    entries: int


async def prepare(database_url: str, n_judges: int, n_entries: int) -> Setup:
    engine = make_engine(Settings(database_url=database_url), pool_size=1, max_overflow=0)
    rng = random.Random(n_entries)  # noqa: S311 - reproducible test data, not secrets
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await ensure_admin(session)
            client = await ensure_service_client(session)
            competition = await make_competition(session, name="score burst")
            event = await make_event(session, competition, name="score burst")
            for _ in range(n_entries):
                await make_entry(session, event, locality_code=rng.choice(CITIES))
            subs = [f"bench-judge-{uuid.uuid4().hex[:12]}" for _ in range(n_judges)]
            session.add_all(
                Judge(
                    kind=JudgeKind.expert,
                    name=f"评委{i}",
                    employer_name="山东大学",
                    locality_code=CITIES[i % len(CITIES)],
                    occupations=[event.occupation],
                    qualification=QualificationLevel.provincial_judge,
                    account_sub=sub,
                    created_by="bench",
                )
                for i, sub in enumerate(subs)
            )
    finally:
        await engine.dispose()
    return Setup(event.id, subs, client, n_entries)


def start_all(
    env: dict[str, str], log_dir: Path, service_client: tuple[str, str], workers: int
) -> tuple[dict[str, str], dict[str, Any]]:
    from bench.servers import free_port

    ports = {name: free_port() for name in ("registry", "competitions", "judging")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = env | {
        "REGISTRY_URL": urls["registry"],
        "COMPETITIONS_URL": urls["competitions"],
        "JUDGING_URL": urls["judging"],
        "SERVICE_CLIENT_ID": service_client[0],
        "SERVICE_CLIENT_SECRET": service_client[1],
    }
    procs = start_services(env, "127.0.0.1", ports, workers, log_dir=log_dir, extra=UVICORN_OPTIONS)
    try:
        wait_ready(urls, procs, timeout=90)
    except RuntimeError as exc:
        stop_services(procs)
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in log_dir.glob("*.log"))
        raise RuntimeError(f"{exc}\n{logs}") from None
    return urls, procs


def stage_through_the_apis(urls: dict[str, str], setup: Setup) -> tuple[str, float, dict[str, Any]]:
    """Stage, seeding, blind codes, scheme, assignment (timed): the stage id, the solve's
    seconds over HTTP and its outcome."""
    headers = {"authorization": f"Bearer {get_token(urls['registry'])}"}
    with httpx.Client(timeout=600, headers=headers) as http:
        created = http.post(
            f"{urls['competitions']}/v1/events/{setup.event_id}/stages",
            json={"name": "决赛", "seq": 1, "components": COMPONENTS},
        )
        created.raise_for_status()
        stage_id = created.json()["id"]
        for step in ("entries:seed", "blind-codes"):
            http.post(f"{urls['competitions']}/v1/stages/{stage_id}/{step}").raise_for_status()
        http.post(
            f"{urls['judging']}/v1/stages/{stage_id}/marking-schemes", json=SCHEME_EXAMPLE
        ).raise_for_status()
        start = time.perf_counter()
        solved = http.post(
            f"{urls['judging']}/v1/stages/{stage_id}/assignments:solve", json={"k": K}
        )
        seconds = time.perf_counter() - start
        if solved.status_code != 200:
            raise RuntimeError(f"assignment failed: {solved.status_code} {solved.text[:2000]}")
    return stage_id, seconds, solved.json()


async def plan(database_url: str, stage_id: str, key_dir: Path) -> list[dict[str, Any]]:
    """Per judge: a token and the blind codes assigned (read from the stored assignment)."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch(
            """SELECT j.account_sub, j.id, a.blind_code FROM judge_assignments a
               JOIN judges j ON j.id = a.judge_id WHERE a.stage_id = $1
               ORDER BY j.account_sub, a.blind_code""",
            uuid.UUID(stage_id),
        )
    finally:
        await conn.close()
    settings = Settings()
    key, _ = load_or_create_keys(key_dir)
    judges: dict[str, dict[str, Any]] = {}
    for sub, judge_id, code in rows:
        if sub not in judges:
            principal = Principal(sub=sub, kind=PrincipalKind.account, role=Role.judge, name=sub)
            token, _ = issue_access_token(settings, key, principal, ttl=3600)
            judges[sub] = {"token": token, "judge_id": str(judge_id), "codes": []}
        judges[sub]["codes"].append(code)
    return list(judges.values())


def marks(judge: int, code: str, round_: str) -> list[dict[str, Any]]:
    """The marks a judge sends: `first`, then the racing `a` and `b`."""
    seed = sum(map(ord, code)) + judge
    a11 = {"first": seed % 10, "a": 10 + seed % 10, "b": 20 + seed % 10}[round_]
    b21 = {"first": 1, "a": 2, "b": 3}[round_]
    return [
        {"aspect_code": "A1.1", "value": a11},
        {"aspect_code": "B1.1", "value": 60},
        {"aspect_code": "B2.1", "value": b21},
    ]


class SheetConnection(Connection):
    """A keep-alive connection with the judge's headers, plus If-Match per request."""

    #: Reconnect after this long idle: the server closes keep-alive connections after 5 s.
    IDLE = 3.0
    #: A 503 (busy) is retried after its Retry-After, up to this many tries in all.
    TRIES = 10

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        super().__init__(host, port, headers)
        self.base = self.extra
        self.last = time.perf_counter()
        self.busy = 0

    async def call(
        self, method: str, target: str, body: bytes, if_match: str | None = None
    ) -> tuple[int, float]:
        self.extra = self.base + (f"if-match: {if_match}\r\n" if if_match else "")
        start = time.perf_counter()
        for _ in range(self.TRIES):
            if time.perf_counter() - self.last > self.IDLE:
                await self.close()
            try:
                status, _ = await self.request(method, target, body)
            except (OSError, asyncio.IncompleteReadError, ValueError, KeyError):
                await self.close()
                status = 0
            self.last = time.perf_counter()
            if status != 503:
                break
            # Busy (no database connection came free): nothing was done; retry as told.
            self.busy += 1
            await asyncio.sleep(1.0)
        return status, time.perf_counter() - start


async def drive(
    base: str, prefix: str, judges: list[dict[str, Any]], baseline: bool
) -> dict[str, Any]:
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    latencies: list[float] = []
    statuses: dict[str, Counter[str]] = {"put": Counter(), "race": Counter(), "submit": Counter()}
    winners: dict[str, str] = {}
    start_gate = asyncio.Event()
    busy = [0]  # 503 answers retried

    async def judge_run(index: int, judge: dict[str, Any]) -> None:
        headers = (
            {"x-judge": judge["judge_id"]}
            if baseline
            else {"authorization": f"Bearer {judge['token']}"}
        )
        a = SheetConnection(host, port, headers)
        # The racing connection is opened per race: idle between races it would outlive the
        # server's keep-alive timeout.
        b = SheetConnection(host, port, headers)
        await start_gate.wait()
        try:
            for code in judge["codes"]:
                target = f"{prefix}/{code}"

                def body(round_: str, code: str = code) -> bytes:
                    return json.dumps({"marks": marks(index, code, round_)}).encode()

                status, seconds = await a.call("PUT", target, body("first"))
                statuses["put"][str(status)] += 1
                latencies.append(seconds)
                (sa, ta), (sb, tb) = await asyncio.gather(
                    a.call("PUT", target, body("a"), '"1"'),
                    b.call("PUT", target, body("b"), '"1"'),
                )
                await b.close()
                statuses["race"][f"{sa}/{sb}"] += 1
                latencies.extend((ta, tb))
                winners[f"{judge['judge_id']}/{code}"] = (
                    "a" if sa == 200 and sb != 200 else "b" if sb == 200 and sa != 200 else "?"
                )
                status, seconds = await a.call("POST", f"{target}:submit", b"", '"2"')
                statuses["submit"][str(status)] += 1
                latencies.append(seconds)
        finally:
            busy[0] += a.busy + b.busy
            await a.close()
            await b.close()

    tasks = [asyncio.create_task(judge_run(i, j)) for i, j in enumerate(judges)]
    await asyncio.sleep(0)
    began = time.perf_counter()
    start_gate.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "judges": len(judges),
        "sheets": sum(len(j["codes"]) for j in judges),
        "statuses": {k: dict(v) for k, v in statuses.items()},
        "seconds": elapsed,
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p90_ms": percentile(latencies, 90) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else 0.0,
        "concurrency": len(judges),
        "busy_retries": busy[0],
        "winners": winners,
    }


def drive_process(
    base: str, prefix: str, judges: list[dict[str, Any]], baseline: bool, work: Path
) -> dict[str, Any]:
    """Run `drive` in its own process (never sharing a CPU with what it measures)."""
    plan_path = work / ("plan-baseline.json" if baseline else "plan-ours.json")
    plan_path.write_text(json.dumps({"base": base, "prefix": prefix, "judges": judges}))
    cmd = [sys.executable, "-m", "bench.scoring", str(plan_path)]
    if baseline:
        cmd.append("--baseline")
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=3600, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench.scoring failed:\n{result.stderr[-4000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


async def verify(
    database_url: str, stage_id: str, judges: list[dict[str, Any]], ours: dict[str, Any]
) -> dict[str, Any]:
    sheets = sum(len(j["codes"]) for j in judges)
    stage = uuid.UUID(stage_id)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        stored = await conn.fetch(
            """SELECT s.judge_id, s.blind_code, a.code, s.value FROM scores s
               JOIN marking_aspects a ON a.id = s.aspect_id WHERE s.stage_id = $1""",
            stage,
        )
        sheet_rows = await conn.fetch(
            """SELECT judge_id, blind_code, sheet_version, submitted_at IS NOT NULL AS submitted
               FROM judge_assignments WHERE stage_id = $1""",
            stage,
        )
        history = dict(
            await conn.fetch(
                "SELECT action, count(*) FROM score_history WHERE stage_id = $1 GROUP BY 1", stage
            )
        )
        frozen = await conn.fetchval(
            "SELECT count(*) FROM marking_schemes WHERE stage_id = $1 AND frozen_at IS NOT NULL",
            stage,
        )
    finally:
        await conn.close()
    values = {(str(j), c, a): v for j, c, a, v in stored}
    wrong = 0
    for index, judge in enumerate(judges):
        for code in judge["codes"]:
            winner = ours["winners"].get(f"{judge['judge_id']}/{code}")
            if winner not in ("a", "b"):
                wrong += 1
                continue
            for mark in marks(index, code, winner):
                if values.get((judge["judge_id"], code, mark["aspect_code"])) != _dec(
                    mark["value"]
                ):
                    wrong += 1
                    break
    statuses = ours["statuses"]
    races_ok = sum(n for k, n in statuses["race"].items() if k in ("200/412", "412/200"))
    checks = {
        f"every first PUT answered 200 ({sheets})": statuses["put"] == {"200": sheets},
        f"every race: one 200 and one 412 ({sheets})": races_ok == sheets,
        f"every submit answered 200 ({sheets})": statuses["submit"] == {"200": sheets},
        "every sheet holds exactly the winning PUT's marks (no lost update)": wrong == 0,
        f"marks stored = 3 x sheets ({3 * sheets})": len(stored) == 3 * sheets,
        "every sheet submitted, at version 3": len(sheet_rows) == sheets
        and all(r["submitted"] and r["sheet_version"] == 3 for r in sheet_rows),
        "history: 3 created, 2 changed, 3 submitted per sheet": history
        == {"created": 3 * sheets, "changed": 2 * sheets, "submitted": 3 * sheets},
        "scheme frozen once": frozen == 1,
    }
    return {
        "checks": checks,
        "ok": all(checks.values()),
        "detail": {"sheets_with_wrong_marks": wrong, "history": history},
    }


async def create_baseline_table(database_url: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(baseline_app.SCORES_SETUP)
    finally:
        await conn.close()


def _per_request(rss: RssSampler, side: dict[str, Any]) -> dict[str, float]:
    """CPU milliseconds per request: the HTTP processes, and the Postgres backends."""
    n = side["requests"] or 1
    return {"services": 1000 * rss.cpu_seconds / n, "postgres": 1000 * rss.pg_cpu_seconds / n}


def run(
    database_url: str,
    env: dict[str, str],
    work: Path,
    n_judges: int,
    n_entries: int,
    key_dir: Path,
    workers: int = WORKERS,
) -> dict[str, Any]:
    setup = asyncio.run(prepare(database_url, n_judges, n_entries))
    database = urlsplit(database_url).path.lstrip("/")
    urls, procs = start_all(env, work, setup.service_client, workers)
    try:
        stage_id, solve_seconds, solved = stage_through_the_apis(urls, setup)
        judges = asyncio.run(plan(database_url, stage_id, key_dir))
        pids = [p.pid for p in procs.values()]
        judging = RssSampler(procs["judging"].pid)  # its CPU alone, from the same samples
        with RssSampler(*pids, database=database) as rss, judging:
            ours = drive_process(
                urls["judging"], f"/v1/stages/{stage_id}/scores", judges, False, work
            )
        ours["peak_rss_kib"] = rss.peak // 1024
        ours["memory"] = rss.summary()
        ours["cpu_ms_per_request"] = _per_request(rss, ours) | {
            "judging": 1000 * judging.cpu_seconds / ours["requests"]
        }
    finally:
        stop_services(procs)
    verdict = asyncio.run(verify(database_url, stage_id, judges, ours))
    asyncio.run(create_baseline_table(database_url))
    url, base_procs = start_baseline(env, work, workers)
    try:
        with RssSampler(*[p.pid for p in base_procs.values()], database=database) as rss:
            base = drive_process(url, f"/scores/{stage_id}", judges, True, work)
        base["peak_rss_kib"] = rss.peak // 1024
        base["memory"] = rss.summary()
        base["cpu_ms_per_request"] = _per_request(rss, base)
    finally:
        stop(base_procs)
    for side in (ours, base):
        side.pop("winners", None)
    ratio = ours["rps"] / base["rps"] if base["rps"] else 0.0
    return {
        "kind": "http",
        "ours": ours,
        "baseline": base,
        "ratio": ratio,
        # Issue 17: score submission at least 0.6x the bare upsert, and no lost update.
        "target": "ours/baseline req/s >= 0.6 and no lost update (SQL checks)",
        "target_ratio": TARGET,
        "target_label": f"≥ {TARGET} (req/s)\nno lost update",
        "meets_target": verdict["ok"] and ratio >= TARGET,
        "verification": verdict,
        "assignment_http": {
            "seconds": solve_seconds,
            "entries": n_entries,
            "judges": n_judges,
            "k": K,
            "load_min": solved["run"]["load_min"],
            "load_max": solved["run"]["load_max"],
            "solver_status": solved["run"]["solver_status"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scoring")
    parser.add_argument("plan", type=Path)
    parser.add_argument("--baseline", action="store_true")
    args = parser.parse_args(argv)
    data = json.loads(args.plan.read_text())
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    result = runner(drive(data["base"], data["prefix"], data["judges"], args.baseline))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
