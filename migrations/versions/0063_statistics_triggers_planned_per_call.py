"""Statistics triggers planned at each call for the tables as they are (issue 17).

The statistics triggers of 0054 run static statements, so PL/pgSQL caches each one's plan per
connection at its first call and keeps it until something invalidates it (an ANALYZE of a table
it reads, DDL). A plan made while the tables were empty or small joins the transition table to
the whole table it reads: planned with a few hundred workers, the grade-change trigger built a
hash of every worker (a full index scan, seq scans being off for these functions) at each
import batch. Where nothing re-analyses the tables (autovacuum off, or between its runs during
a bulk load) the cost of each statement grows with the table: the 10,000,000-worker import took
90 s for its first million rows and 272 s for its fourth, 84 % of Postgres's time in this
trigger's hash build (`perf`). A bulk update planned the same way read every grade change for
each worker it moved (`tests/statistics/test_trigger_plans.py`).

Each trigger statement now runs as dynamic SQL (`EXECUTE`), planned at each call with the
transition table's real row count and the tables' real sizes: index lookups for a batch or a
row, a hash join for a statement that changes a large share of a table. Planning costs about
0.2-0.35 ms per statement (measured with `EXPLAIN (SUMMARY)` on these statements); the
statements themselves (0054's templates) are unchanged. Migration 0061 did the same for
registration's clash check.

Revision ID: 0063
Revises: 0062
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic import op

revision: str = "0063"
down_revision: str | None = "0062"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUOTE = "$statement$"


def _migration_0054() -> Any:
    """The statistics migration, whose `triggers()` writes each trigger's statements."""
    path = Path(__file__).with_name("0054_programme_statistics.py")
    spec = importlib.util.spec_from_file_location("migration_0054", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _planned_per_call(statement: str) -> str:
    body = statement.strip().removesuffix(";")
    assert QUOTE not in body
    return f"EXECUTE {QUOTE}{body}{QUOTE};"


def _replace(per_call: bool) -> None:
    statistics = _migration_0054()
    for (table, event), statements in statistics.triggers().items():
        if per_call:
            statements = [_planned_per_call(s) for s in statements]
        op.execute(statistics.trigger_function(statistics.trigger_name(table, event), statements))


def upgrade() -> None:
    _replace(per_call=True)


def downgrade() -> None:
    _replace(per_call=True)
