"""The bare baselines for the HTTP benchmarks: FastAPI + an asyncpg pool, no auth, no ORM.

`GET /workers?q=...` and `GET /workers?locality_code=370100&grade=senior` run the same SQL as
the registry's `GET /v1/workers` (see `services.registry.workers.service.list_workers` and
`services.registry.search`): the same columns; for a name, exact matches, then prefixes (both
read in the order of the `lower(name) COLLATE "C", id` btree), then `name_tokens @> ... AND
lower(name) LIKE ...`, one limited UNION ALL branch each; the same city prefix and grade filter
ordered by `created_at, id`; LIMIT 51 (a page of 50 plus one to know there is a next page).
Rows go out as JSON with `json.dumps`, binary columns left out.

`GET /stage-results/{stage_id}` (the leaderboard benchmark's reference) reads one row: the
stage's latest provisional or final result (bench/results.py ONE_ROW_SQL), as JSON.

`GET /memory/{name}` (the leaderboard benchmark's no-database reference) answers bytes held in
memory: at start the app reads every `<name>.json` in the directory named by
BASELINE_MEMORY_DIR (the bench writes there the exact bodies our leaderboard serves) and answers
each as `application/json`, no database, no headers of its own.

`POST /events/{event_id}/entries` with `{"worker_id": ...}` (the registration burst) runs one
INSERT of an entry row into `bench_entries` (created by ENTRIES_SETUP: `LIKE entries`, same
columns and checks, plus a unique `(event_id, worker_id)` constraint standing in for "one entry
per worker per event"), the competition id taken from the event row in the same statement, and
answers 201 with the row; a duplicate answers 409. No eligibility, capacity or waitlist.

`PUT /scores/{stage_id}/{blind_code}` with `{"marks": [{"aspect_code", "value"}]}` and the
judge in an `x-judge` header (the score burst) upserts the marks in one INSERT ... ON CONFLICT
DO UPDATE into `bench_scores` (SCORES_SETUP); `POST .../{blind_code}:submit` is one UPDATE. No
auth, no validation, no versions, no history.

Run: `DATABASE_URL=... uvicorn --factory bench.baseline_app:create_app --workers 2`.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response

from services.registry.search import normalise, prefix_upper_bound, query_tokens
from shared.config import Settings
from shared.dbserver import asyncpg_dsn

COLUMNS = (
    "id, name, name_tokens, id_number_hash, id_number_enc, id_number_masked, sex, birth_date, "
    "phone_enc, phone_masked, occupation, enterprise_id, locality_code, grade, file_type, "
    "file_status, version, created_at, updated_at"
)
#: One branch per match class (exact, prefix, suffix, elsewhere), each in the order of an index and
#: limited, under one LIMIT: the registry's query shape (services/registry/search.py).
_KEY = 'lower(name) COLLATE "C"'
_RKEY = 'reverse(lower(name)) COLLATE "C"'
SEARCH_SQL = f"""
SELECT * FROM (
    (SELECT {COLUMNS}, 0 AS rank, {_KEY} AS name_key FROM workers
     WHERE {_KEY} = $1 ORDER BY {_KEY}, id LIMIT 51)
    UNION ALL
    (SELECT {COLUMNS}, 1 AS rank, {_KEY} AS name_key FROM workers
     WHERE {_KEY} > $1 AND {_KEY} < $2 ORDER BY {_KEY}, id LIMIT 51)
    UNION ALL
    (SELECT {COLUMNS}, 2 AS rank, {_RKEY} AS name_key FROM workers
     WHERE {_RKEY} > $5 AND {_RKEY} < $6 AND ({_KEY} < $1 OR {_KEY} >= $2)
     ORDER BY {_RKEY}, id LIMIT 51)
    UNION ALL
    (SELECT {COLUMNS}, 3 AS rank, {_KEY} AS name_key FROM workers
     WHERE name_tokens @> $3::text[] AND lower(name) LIKE $4 ESCAPE '\\'
       AND ({_KEY} < $1 OR {_KEY} >= $2) AND ({_RKEY} < $5 OR {_RKEY} >= $6)
     ORDER BY {_KEY}, id LIMIT 51)
) AS matches
LIMIT 51
"""  # noqa: S608 - constant column list
LIST_SQL = f"""
SELECT {COLUMNS}, 0 AS rank
FROM workers
WHERE locality_code LIKE $1 AND grade = $2
ORDER BY created_at, id
LIMIT 51
"""  # noqa: S608 - constant column list
ENTRIES_TABLE = "bench_entries"
ENTRIES_SETUP = f"""
DROP TABLE IF EXISTS {ENTRIES_TABLE};
CREATE TABLE {ENTRIES_TABLE} (LIKE entries INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE {ENTRIES_TABLE}
    ADD PRIMARY KEY (id),
    ADD CONSTRAINT {ENTRIES_TABLE}_one_per_worker UNIQUE (event_id, worker_id);
"""
REGISTER_SQL = f"""
INSERT INTO {ENTRIES_TABLE} (id, competition_id, event_id, worker_id, locality_code, status,
                             registered_by, version, created_at, updated_at)
SELECT gen_random_uuid(), e.competition_id, e.id, $2, '370000', 'approved', 'baseline', 1,
       now(), now()
FROM competition_events e WHERE e.id = $1
RETURNING id, competition_id, event_id, worker_id, locality_code, status, registered_by,
          version, created_at, updated_at
"""  # noqa: S608 - constant table name
#: The latest public result of a stage (the same query as bench/results.py's).
ONE_ROW_SQL = (
    "SELECT id, stage_id, version, status, entry_count, published_at FROM stage_results "
    "WHERE stage_id = $1 AND status IN ('provisional', 'final') "
    "ORDER BY version DESC LIMIT 1"
)
#: The statistics benchmark's references: the same figures as bare GROUP BYs over the base
#: tables (bench/statistics.py): workers by city and grade now, and the 36-month trend of
#: workers on file (registrations summed month by month).
STATS_CITY_GRADE_SQL = """
SELECT substr(locality_code, 1, 4) || '00' AS city, grade, count(*) AS n
FROM workers GROUP BY 1, 2
"""
STATS_TREND_SQL = """
SELECT m, CAST(sum(n) OVER (ORDER BY m) AS bigint) AS n FROM (
    SELECT date_trunc('month', effective_date) AS m, count(*) AS n
    FROM grade_changes WHERE source = 'initial' GROUP BY 1
) AS s ORDER BY m
"""
SCORES_TABLE = "bench_scores"
SCORES_SETUP = f"""
DROP TABLE IF EXISTS {SCORES_TABLE};
CREATE TABLE {SCORES_TABLE} (
    judge_id uuid NOT NULL,
    stage_id uuid NOT NULL,
    blind_code text NOT NULL,
    aspect_code text NOT NULL,
    value numeric(7, 2) NOT NULL,
    version integer NOT NULL DEFAULT 1,
    submitted_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (judge_id, stage_id, blind_code, aspect_code)
);
"""
UPSERT_SCORES_SQL = f"""
INSERT INTO {SCORES_TABLE} (judge_id, stage_id, blind_code, aspect_code, value)
SELECT $1, $2, $3, m.code, m.value FROM unnest($4::text[], $5::numeric[]) AS m(code, value)
ON CONFLICT (judge_id, stage_id, blind_code, aspect_code) DO UPDATE
SET value = EXCLUDED.value, version = {SCORES_TABLE}.version + 1, updated_at = now()
RETURNING aspect_code, value, version
"""  # noqa: S608 - constant table name
SUBMIT_SCORES_SQL = f"""
UPDATE {SCORES_TABLE} SET submitted_at = now()
WHERE judge_id = $1 AND stage_id = $2 AND blind_code = $3
"""  # noqa: S608 - constant table name
SKIPPED = {"name_tokens", "id_number_hash", "id_number_enc", "phone_enc"}


def _escape_like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_args(q: str) -> tuple[str, str, list[str], str, str, str]:
    """Bind values of SEARCH_SQL for a search term, as the registry computes them."""
    q = normalise(q)
    r = q[::-1]
    return (
        q,
        prefix_upper_bound(q),
        query_tokens(q),
        f"%{_escape_like(q)}%",
        r,
        prefix_upper_bound(r),
    )


def list_args(locality_code: str, grade: str) -> tuple[str, str]:
    return locality_code[:4] + "%", grade


def _json(rows: list[asyncpg.Record]) -> bytes:
    items = [{k: v for k, v in row.items() if k not in SKIPPED} for row in rows[:50]]
    body = {"items": items, "next_cursor": "more" if len(rows) > 50 else None}
    return json.dumps(body, default=str, ensure_ascii=False).encode()


def create_app() -> FastAPI:
    dsn = asyncpg_dsn(os.environ["DATABASE_URL"])
    # The same connection budget as the services (DB_POOL_SIZE + DB_MAX_OVERFLOW, as Settings
    # reads them, defaults included).
    settings = Settings()
    pool_size = settings.db_pool_size + settings.db_max_overflow

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=2, max_size=pool_size)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    memory_dir = os.environ.get("BASELINE_MEMORY_DIR")
    memory = {p.stem: p.read_bytes() for p in Path(memory_dir).glob("*.json")} if memory_dir else {}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/workers")
    async def workers(
        request: Request,
        q: str | None = None,
        locality_code: str = "370100",
        grade: str = "senior",
    ) -> Response:
        pool: Any = request.app.state.pool
        if q:
            rows = await pool.fetch(SEARCH_SQL, *search_args(q))
        else:
            rows = await pool.fetch(LIST_SQL, *list_args(locality_code, grade))
        return Response(_json(rows), media_type="application/json")

    @app.get("/stats/city-grade")
    async def stats_city_grade(request: Request) -> Response:
        pool: Any = request.app.state.pool
        rows = await pool.fetch(STATS_CITY_GRADE_SQL)
        return Response(json.dumps([dict(r) for r in rows]), media_type="application/json")

    @app.get("/stats/trend")
    async def stats_trend(request: Request) -> Response:
        pool: Any = request.app.state.pool
        rows = await pool.fetch(STATS_TREND_SQL)
        # The last 36 months, as the registry's trend answers them.
        body = [{"month": r["m"].date().isoformat(), "n": r["n"]} for r in rows][-36:]
        return Response(json.dumps(body, default=str), media_type="application/json")

    @app.get("/stage-results/{stage_id}")
    async def stage_result(request: Request, stage_id: uuid.UUID) -> Response:
        pool: Any = request.app.state.pool
        row = await pool.fetchrow(ONE_ROW_SQL, stage_id)
        if row is None:
            return Response(b'{"detail":"no results"}', 404, media_type="application/json")
        return Response(json.dumps(dict(row), default=str).encode(), media_type="application/json")

    @app.get("/memory/{name}")
    async def from_memory(name: str) -> Response:
        body = memory.get(name)
        if body is None:
            return Response(b'{"detail":"no such body"}', 404, media_type="application/json")
        return Response(body, media_type="application/json")

    @app.post("/events/{event_id}/entries", status_code=201)
    async def register(request: Request, event_id: uuid.UUID) -> Response:
        body = json.loads(await request.body())
        pool: Any = request.app.state.pool
        try:
            row = await pool.fetchrow(REGISTER_SQL, event_id, uuid.UUID(body["worker_id"]))
        except asyncpg.UniqueViolationError:
            return Response(b'{"detail":"already entered"}', 409, media_type="application/json")
        if row is None:
            return Response(b'{"detail":"no such event"}', 404, media_type="application/json")
        content = json.dumps(dict(row), default=str).encode()
        return Response(content, 201, media_type="application/json")

    @app.put("/scores/{stage_id}/{blind_code}")
    async def put_scores(request: Request, stage_id: uuid.UUID, blind_code: str) -> Response:
        body = json.loads(await request.body())
        judge = uuid.UUID(request.headers["x-judge"])
        codes = [m["aspect_code"] for m in body["marks"]]
        values = [m["value"] for m in body["marks"]]
        pool: Any = request.app.state.pool
        rows = await pool.fetch(UPSERT_SCORES_SQL, judge, stage_id, blind_code, codes, values)
        content = json.dumps([dict(r) for r in rows], default=str).encode()
        return Response(content, 200, media_type="application/json")

    @app.post("/scores/{stage_id}/{blind_code}:submit")
    async def submit_scores(request: Request, stage_id: uuid.UUID, blind_code: str) -> Response:
        judge = uuid.UUID(request.headers["x-judge"])
        pool: Any = request.app.state.pool
        await pool.execute(SUBMIT_SCORES_SQL, judge, stage_id, blind_code)
        return Response(b'{"submitted":true}', 200, media_type="application/json")

    return app
