"""Judging results benchmarks.

(a) Result computation for one stage of N entries x 5 judges x 10 aspects (100,000 entries:
    5,000,000 scores): ours is the service's own `compute_results` (the scores read with one
    SQL aggregation into NumPy arrays, the vectorised computation, the ranked entries written
    back with one COPY, committed) against a hand-written single SQL aggregation of the same
    data (mean per entry and aspect, marks, component scores, weighted stage score, `rank()`
    window), its rows fetched by the client. Both use the `mean` rule, so their scores must
    agree: the run checks every entry. Ours is also timed with `trimmed_mean` and with `zscore`.

(b) Leaderboard reads: the judging service (2 uvicorn workers, production settings) serving
    `GET /v1/stages/{id}/leaderboard?limit=10` (a top-ten screen) from its cache, against the
    bare FastAPI + asyncpg app reading one row (`GET /stage-results/{id}`: the stage's latest
    public result, by the same index). Then invalidation: a new version is published by SQL (as
    another replica would) and the time until both workers serve it is measured.

Data are generated in Postgres with `generate_series` (seeded), straight into the judging
tables: a marking scheme of 10 aspects (6 judgement, 4 measurement; theory 30 / practical 70),
500 judges, each entry marked by 5 distinct judges on every aspect, the panel locked.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text

from bench import baseline_app
from bench.servers import UVICORN_OPTIONS, free_port
from services.judging.results import service as results_service
from services.judging.upstream import StageInfo
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.config import Settings
from shared.db import make_engine, make_sessionmaker
from shared.dbserver import asyncpg_dsn
from shared.models.competitions import CompetitionLevel, StageStatus
from shared.run import start_services, stop_services, wait_ready

JUDGES_PER_ENTRY = 5
JUDGE_POOL = 500
#: (component, type, max mark): theory 30 (3 aspects), practical 70 (7 aspects).
ASPECTS = [
    ("theory", "measurement", 10),
    ("theory", "measurement", 10),
    ("theory", "judgement", 10),
    ("practical", "judgement", 10),
    ("practical", "judgement", 10),
    ("practical", "judgement", 10),
    ("practical", "judgement", 10),
    ("practical", "judgement", 10),
    ("practical", "measurement", 10),
    ("practical", "measurement", 10),
]
COMPONENTS = [{"component": "theory", "weight": 30}, {"component": "practical", "weight": 70}]

#: The hand-written single SQL aggregation (mean rule, no standardisation).
BASELINE_SQL = """
WITH per_aspect AS (
    SELECT s.stage_entry_id, s.aspect_id, avg(s.value) AS v
    FROM scores s
    WHERE s.stage_id = $1
    GROUP BY s.stage_entry_id, s.aspect_id
), per_component AS (
    SELECT p.stage_entry_id, a.component,
           sum(CASE WHEN a.type = 'judgement' THEN p.v / 3 * a.max_mark ELSE p.v END)
             / sum(a.max_mark) * 100 AS score
    FROM per_aspect p JOIN marking_aspects a ON a.id = p.aspect_id
    GROUP BY p.stage_entry_id, a.component
), per_entry AS (
    SELECT c.stage_entry_id, round(sum(c.score * w.weight / 100), 3) AS score
    FROM per_component c
    JOIN (VALUES ('theory', 30), ('practical', 70)) AS w(component, weight)
      ON w.component = c.component
    GROUP BY c.stage_entry_id
)
SELECT stage_entry_id, score, rank() OVER (ORDER BY score DESC) AS rank
FROM per_entry
"""

ONE_ROW_SQL = baseline_app.ONE_ROW_SQL


async def prepare(database_url: str, entries: int) -> uuid.UUID:
    """A locked stage of `entries` entries with 5 scores per entry and aspect; its id."""
    stage_id = uuid.uuid4()
    scheme_id = uuid.uuid4()
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("SELECT setseed(0.42)")
        await conn.execute(
            "INSERT INTO marking_schemes (id, stage_id, version, title, components, criteria, "
            "total, created_by, frozen_at) VALUES ($1, $2, 1, 'bench', $3::jsonb, '[]'::jsonb, "
            "100, 'bench', now())",
            scheme_id,
            stage_id,
            '[{"component": "theory", "weight": 30}, {"component": "practical", "weight": 70}]',
        )
        for i, (component, kind, max_mark) in enumerate(ASPECTS):
            await conn.execute(
                "INSERT INTO marking_aspects (id, scheme_id, code, component, type, description, "
                "max_mark, descriptors) VALUES (gen_random_uuid(), $1, $2, $3, $4, 'bench', $5, "
                "$6::jsonb)",
                scheme_id,
                f"A{i // 5 + 1}.{i % 5 + 1:02d}",
                component,
                kind,
                max_mark,
                '["0", "1", "2", "3"]' if kind == "judgement" else None,
            )
        await conn.execute(
            "CREATE TEMP TABLE b_judges AS SELECT g - 1 AS idx, gen_random_uuid() AS id "
            "FROM generate_series(1, $1) g",
            JUDGE_POOL,
        )
        await conn.execute(
            "INSERT INTO judges (id, kind, name, employer_name, locality_code, occupations, "
            "qualification, created_by) SELECT id, 'expert', 'bench judge ' || idx, 'bench', "
            "'370100', ARRAY['数控车工'], 'provincial_judge', 'bench' FROM b_judges"
        )
        await conn.execute(
            "CREATE TEMP TABLE b_entries AS SELECT g - 1 AS idx, gen_random_uuid() AS id, "
            "gen_random_uuid() AS entry_id, 'B' || lpad(g::text, 7, '0') AS code "
            "FROM generate_series(1, $1) g",
            entries,
        )
        await conn.execute(
            "CREATE TEMP TABLE b_aspects AS SELECT id, type, max_mark FROM marking_aspects "
            "WHERE scheme_id = $1",
            scheme_id,
        )
        # Judge k of entry e: (e * 5 + k) mod 500, five distinct judges per entry. Marks:
        # judgement levels 0-3, measurement marks 0.00-10.00, with an entry "ability".
        await conn.execute(
            """
            INSERT INTO scores (id, stage_id, stage_entry_id, entry_id, blind_code, judge_id,
                                aspect_id, scheme_id, value, version, submitted_at, locked_at)
            SELECT gen_random_uuid(), $1, e.id, e.entry_id, e.code, j.id, a.id, $2,
                   CASE WHEN a.type = 'judgement'
                        THEN least(3, greatest(0, round(1.5 + e.ability * 1.5
                                                        + (random() - 0.5) * 2)))
                        ELSE least(a.max_mark, greatest(0, round(((0.5 + e.ability * 0.4
                                                        + (random() - 0.5) * 0.3)
                                                        * a.max_mark)::numeric, 2)))
                   END,
                   1, now(), now()
            FROM (SELECT *, random() - 0.5 AS ability FROM b_entries) e
            CROSS JOIN generate_series(0, $3 - 1) k
            JOIN b_judges j ON j.idx = (e.idx * $3 + k) % $4
            CROSS JOIN b_aspects a
            """,
            stage_id,
            scheme_id,
            JUDGES_PER_ENTRY,
            JUDGE_POOL,
        )
        await conn.execute(
            "INSERT INTO stage_score_locks (stage_id, locked_by, reason) "
            "VALUES ($1, 'bench', 'organiser')",
            stage_id,
        )
        await conn.execute("ANALYZE scores")
    finally:
        await conn.close()
    return stage_id


def _stage(stage_id: uuid.UUID) -> StageInfo:
    return StageInfo(
        id=stage_id,
        name="bench",
        status=StageStatus.judged,
        components=COMPONENTS,
        event_id=uuid.uuid4(),
        occupation="数控车工",
        competition_id=uuid.uuid4(),
        level=CompetitionLevel.provincial,
        organiser_locality_code="370000",
        organiser_enterprise_id=None,
    )


BENCH_PRINCIPAL = Principal(sub="bench", kind=PrincipalKind.account, role=Role.admin, name="bench")


async def compute_ours(
    database_url: str, stage_id: uuid.UUID, aggregation: str = "mean", standardisation: str = "none"
) -> dict[str, Any]:
    """`compute_results` as the endpoint runs it (minus HTTP), committed; seconds and phases."""
    engine = make_engine(Settings(database_url=database_url), pool_size=1, max_overflow=0)
    factory = make_sessionmaker(engine)
    try:
        async with factory() as session, session.begin():
            await session.execute(
                text(
                    "INSERT INTO result_rules (stage_id, aggregation, standardisation, "
                    "tie_breaks, appeal_window_minutes, arbiters, version, updated_by) "
                    "VALUES (:s, :a, :z, '[]', 120, '[]', 1, 'bench') ON CONFLICT (stage_id) "
                    "DO UPDATE SET aggregation = :a, standardisation = :z"
                ),
                {"s": stage_id, "a": aggregation, "z": standardisation},
            )
        start = time.perf_counter()
        async with factory() as session, session.begin():
            result = await results_service.compute_results(
                session, _stage(stage_id), BENCH_PRINCIPAL
            )
        seconds = time.perf_counter() - start
        # The phases, measured apart (untimed above): load, compute.
        async with factory() as session, session.begin():
            t0 = time.perf_counter()
            loaded = await results_service.load(
                session, stage_id, COMPONENTS, with_judges=standardisation != "none"
            )
            t1 = time.perf_counter()
            results_service.run(loaded, result.inputs)
            t2 = time.perf_counter()
        return {
            "seconds": seconds,
            "version": result.version,
            "entries": result.entry_count,
            "scores": result.score_count,
            "load_seconds": t1 - t0,
            "numpy_seconds": t2 - t1,
            "aggregation": aggregation,
            "standardisation": standardisation,
            "result_id": str(result.id),
        }
    finally:
        await engine.dispose()


async def compute_baseline(database_url: str, stage_id: uuid.UUID) -> dict[str, Any]:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        start = time.perf_counter()
        rows = await conn.fetch(BASELINE_SQL, stage_id)
        seconds = time.perf_counter() - start
    finally:
        await conn.close()
    return {"seconds": seconds, "entries": len(rows), "scores": {r[0]: float(r[1]) for r in rows}}


async def agree(database_url: str, result_id: str, baseline: dict[str, float]) -> dict[str, Any]:
    """Ours (mean rule) against the SQL aggregation, entry by entry."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch(
            "SELECT stage_entry_id, score FROM result_entries WHERE result_id = $1",
            uuid.UUID(result_id),
        )
    finally:
        await conn.close()
    ours = {r[0]: r[1] for r in rows}
    worst = max((abs(ours[k] - v) for k, v in baseline.items() if k in ours), default=0.0)
    return {
        "entries_compared": len(baseline),
        "same_entries": set(ours) == set(baseline),
        "max_abs_difference": worst,
        "ok": set(ours) == set(baseline) and worst <= 0.0011,
    }


async def publish(database_url: str, result_id: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(
            "UPDATE stage_results SET status = 'provisional', published_at = now(), "
            "appeal_deadline = now() + interval '2 hours' WHERE id = $1",
            uuid.UUID(result_id),
        )
    finally:
        await conn.close()


async def new_version(database_url: str, stage_id: uuid.UUID) -> int:
    """Another replica publishes version n+1 (a copy of the current one with entry 1 moved)."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            current = await conn.fetchrow(ONE_ROW_SQL, stage_id)
            new_id = uuid.uuid4()
            version: int = 1 + await conn.fetchval(
                "SELECT max(version) FROM stage_results WHERE stage_id = $1", stage_id
            )
            await conn.execute(
                "UPDATE stage_results SET status = 'superseded' WHERE id = $1", current["id"]
            )
            await conn.execute(
                "INSERT INTO stage_results (id, stage_id, version, status, digest, inputs, "
                "entry_count, score_count, computed_by, published_at, appeal_deadline) "
                "SELECT $1, stage_id, $2, 'provisional', digest, inputs, entry_count, "
                "score_count, 'bench', now(), now() + interval '2 hours' FROM stage_results "
                "WHERE id = $3",
                new_id,
                version,
                current["id"],
            )
            await conn.execute(
                "INSERT INTO result_entries (result_id, stage_entry_id, rank, score, "
                "component_scores, prize, medal) SELECT $1, stage_entry_id, rank, score, "
                "component_scores, prize, medal FROM result_entries WHERE result_id = $2",
                new_id,
                current["id"],
            )
        return version
    finally:
        await conn.close()


def start_judging(env: dict[str, str], log_dir: Path, workers: int = 2) -> tuple[str, Any]:
    port = free_port()
    procs = start_services(
        env, "127.0.0.1", {"judging": port}, workers, log_dir=log_dir, extra=UVICORN_OPTIONS
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready({"judging": url}, procs, timeout=60)
    except RuntimeError:
        stop_services(procs)
        raise
    return url, procs


async def invalidation(
    database_url: str, url: str, stage_id: uuid.UUID, *, probes: int = 40
) -> dict[str, Any]:
    """Publish a new version by SQL; poll the board (new connections, so both workers answer)
    until every probe in a row of `probes` shows it."""
    version = await new_version(database_url, stage_id)
    start = time.perf_counter()
    seen_all = None
    streak = 0
    async with httpx.AsyncClient(timeout=5) as client:
        while time.perf_counter() - start < 10:
            response = await client.get(
                f"{url}/v1/stages/{stage_id}/leaderboard?limit=10",
                headers={"connection": "close"},
            )
            if response.json()["version"] == version:
                streak += 1
                if streak >= probes:
                    seen_all = time.perf_counter() - start
                    break
            else:
                streak = 0
            await asyncio.sleep(0.01)
    return {"new_version": version, "all_workers_serve_it_after_s": seen_all}
