"""The bare baseline for the list benchmarks: FastAPI + an asyncpg pool, no auth, no ORM.

`GET /workers?q=...` and `GET /workers?locality_code=370100&grade=senior` run the same SQL as
the registry's `GET /v1/workers` (see `services.registry.workers.service.list_workers` and
`services.registry.search`): the same columns, the same `name_tokens @> ... AND lower(name)
LIKE ...` filter ranked exact/prefix/other, the same city prefix and grade filter, ordered by
`created_at, id`, LIMIT 51 (a page of 50 plus one to know there is a next page). Rows go out
as JSON with `json.dumps`, binary columns left out.

Run: `DATABASE_URL=... uvicorn --factory bench.baseline_app:create_app --workers 2`.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response

from services.registry.search import query_tokens
from shared.dbserver import asyncpg_dsn

COLUMNS = (
    "id, name, name_tokens, id_number_hash, id_number_enc, id_number_masked, sex, birth_date, "
    "phone_enc, phone_masked, occupation, enterprise_id, locality_code, grade, file_type, "
    "file_status, version, created_at, updated_at"
)
SEARCH_SQL = f"""
SELECT {COLUMNS},
       CASE WHEN lower(name) = $1 THEN 0 WHEN lower(name) LIKE $2 ESCAPE '\\' THEN 1 ELSE 2 END
       AS rank
FROM workers
WHERE name_tokens @> $3::text[] AND lower(name) LIKE $4 ESCAPE '\\'
ORDER BY rank, created_at, id
LIMIT 51
"""  # noqa: S608 - constant column list
LIST_SQL = f"""
SELECT {COLUMNS}, 0 AS rank
FROM workers
WHERE locality_code LIKE $1 AND grade = $2
ORDER BY created_at, id
LIMIT 51
"""  # noqa: S608 - constant column list
SKIPPED = {"name_tokens", "id_number_hash", "id_number_enc", "phone_enc"}


def _escape_like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_args(q: str) -> tuple[str, str, list[str], str]:
    """Bind values of SEARCH_SQL for a search term, as the registry computes them."""
    q = q.strip().lower()
    return q, _escape_like(q) + "%", query_tokens(q), f"%{_escape_like(q)}%"


def list_args(locality_code: str, grade: str) -> tuple[str, str]:
    return locality_code[:4] + "%", grade


def _json(rows: list[asyncpg.Record]) -> bytes:
    items = [{k: v for k, v in row.items() if k not in SKIPPED} for row in rows[:50]]
    body = {"items": items, "next_cursor": "more" if len(rows) > 50 else None}
    return json.dumps(body, default=str, ensure_ascii=False).encode()


def create_app() -> FastAPI:
    dsn = asyncpg_dsn(os.environ["DATABASE_URL"])
    pool_size = int(os.environ.get("DB_POOL_SIZE", "10")) + int(
        os.environ.get("DB_MAX_OVERFLOW", "10")
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=2, max_size=pool_size)
        yield
        await app.state.pool.close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

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

    return app
