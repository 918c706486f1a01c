"""Routers hold no transaction logic: no `router.py` under services/ opens sessions,
transactions or connections itself. An endpoint takes `SessionDep` (one transaction per
request), `AutocommitSessionDep` (reads) or `UnitOfWorkDep` and calls a service function,
which chooses the mode (shared/db.py's docstring says which is for what).

An AST walk over every router refuses:
- a name or attribute with `sessionmaker` in it (`request.app.state.sessionmaker`,
  `async_sessionmaker`, `make_sessionmaker`...);
- a name or attribute with `engine` in it (`app.state.autocommit_engine`, `app.state.engine`,
  `AsyncEngine`, `create_async_engine`...);
- a call of `.begin()`, `.begin_nested()`, `.commit()`, `.rollback()` or `.connect()`, and
  building an `AsyncSession(...)`.
The checker is itself tested on small sources, each breaking one rule."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Attribute calls that start, end or bypass a transaction.
CALLS = {
    "begin": "starts a transaction",
    "begin_nested": "starts a transaction",
    "commit": "commits",
    "rollback": "rolls back",
    "connect": "opens a connection",
}
#: Parts of a name that mean holding the database directly.
NAMES = {"sessionmaker": "opens sessions itself", "engine": "uses an engine directly"}
HOW = (
    "routers are HTTP only: take SessionDep, AutocommitSessionDep or UnitOfWorkDep and let a "
    "service function choose the transaction mode (see shared/db.py)"
)


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    what: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: `{self.what}` {self.why}; {HOW}"


def findings(source: str, where: str) -> list[Finding]:
    """What in this router's source holds the database directly."""
    found: set[Finding] = set()
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        name = None
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.alias):
            name = node.asname or node.name.rsplit(".", 1)[-1]
        elif isinstance(node, ast.arg):
            name = node.arg
        if name is not None:
            for part, why in NAMES.items():
                if part in name.lower():
                    found.add(Finding(where, line, name, why))
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in CALLS:
                found.add(Finding(where, line, f".{func.attr}()", CALLS[func.attr]))
            if isinstance(func, ast.Name) and func.id == "AsyncSession":
                found.add(Finding(where, line, "AsyncSession()", "opens a session itself"))
    return sorted(found)


def routers() -> list[Path]:
    return sorted((ROOT / "services").rglob("router.py"))


def test_there_are_routers_to_check() -> None:
    assert len(routers()) > 20


def test_no_router_holds_the_database_directly() -> None:
    found = [
        finding
        for path in routers()
        for finding in findings(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not found, "\n".join(map(str, found))


# --- the checker on small sources ------------------------------------------------------------

CLEAN = """
from shared.db import SessionDep, UnitOfWorkDep
from sqlalchemy.ext.asyncio import AsyncSession

async def endpoint(session: SessionDep, uow: UnitOfWorkDep) -> None:
    other: AsyncSession | None = None
    await service.do(session)
    await service.write(uow, fast_path=request.app.state.settings.score_fast_path)
"""


def test_a_clean_router_passes() -> None:
    assert findings(CLEAN, "r.py") == []


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("async with request.app.state.sessionmaker() as s:\n    pass\n", "sessionmaker"),
        (
            "from sqlalchemy.ext.asyncio import async_sessionmaker\n"
            "def f(m: async_sessionmaker) -> None: ...\n",
            "async_sessionmaker",
        ),
        ("x = request.app.state.autocommit_sessionmaker\n", "autocommit_sessionmaker"),
        ("await service.put(request.app.state.autocommit_engine)\n", "autocommit_engine"),
        ("engine = request.app.state.engine\n", "engine"),
        ("async def f(s):\n    async with s.begin():\n        pass\n", ".begin()"),
        ("async def f(s):\n    await s.commit()\n", ".commit()"),
        ("async def f(e):\n    async with e.connect() as c:\n        pass\n", ".connect()"),
        ("async def f(b):\n    async with AsyncSession(b) as s:\n        pass\n", "AsyncSession()"),
    ],
)
def test_each_direct_use_is_refused(source: str, what: str) -> None:
    found = findings(source, "r.py")
    assert what in {f.what for f in found}, found
    assert all(HOW in str(f) for f in found)
