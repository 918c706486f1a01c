"""The SQL the registry's `GET /v1/workers` really sends, captured from its service code.

`services.registry.workers.service.list_workers` is called with a stand-in session that keeps
the statement instead of running it; the statement is compiled for asyncpg, giving the text
and the bind values in order. Used to EXPLAIN our query next to the baseline's.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

from services.registry.workers import service
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.models.registry import SkillGrade


class _Capture:
    statement: Any = None
    params: dict[str, Any] | None = None

    async def connection(self) -> _Capture:
        return self

    async def execute(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        self.statement, self.params = statement, params

        class _Empty:
            def all(self) -> list[Any]:
                return []

        return _Empty()


async def list_workers_sql(
    q: str | None = None, locality_code: str | None = None, grade: str | None = None
) -> tuple[str, list[Any]]:
    admin = Principal(sub=str(uuid.uuid4()), kind=PrincipalKind.account, role=Role.admin, name="")
    capture = _Capture()
    await service.list_workers(
        capture,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        admin,
        q=q,
        enterprise_id=None,
        locality_code=locality_code,
        grade=SkillGrade(grade) if grade else None,
        min_grade=None,
        occupation=None,
        file_status=None,
        honour=None,
        limit=50,
        cursor=None,
    )
    compiled = capture.statement.compile(dialect=pg_asyncpg.dialect())
    params = compiled.construct_params(capture.params)
    processors = compiled._bind_processors
    assert compiled.positiontup is not None
    values = [
        processors[k](params[k]) if k in processors else params[k] for k in compiled.positiontup
    ]
    return compiled.string, values
