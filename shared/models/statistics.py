"""Summary tables of programme statistics (migration 0054; `shared/stats` reads them).

Each is written only by its owning service: its triggers append deltas to `<table>_pending` in
the transactions that change the data it sums, its folder moves them into the table, and it is
rebuilt from scratch by `stats_rebuild_<service>()`. Rows hold one cell of one
grain: the columns outside the grain are NULL (and NULLs are not distinct in the unique index,
so that `ON CONFLICT` finds the cell).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeEngine

from shared.models.base import Base


def _columns(
    cols: list[tuple[str, TypeEngine[Any]]], values: list[tuple[str, TypeEngine[Any]]]
) -> list[Column[Any]]:
    return [
        Column("grain", SmallInteger, nullable=False),
        *(Column(c, t, nullable=c not in ("month", "measure")) for c, t in cols),
        *(Column(v, t, server_default=text("0"), nullable=False) for v, t in values),
        Column("updated_at", DateTime(timezone=True), server_default=text("now()"), nullable=False),
    ]


def _fact_table(
    name: str,
    cols: list[tuple[str, TypeEngine[Any]]],
    values: list[tuple[str, TypeEngine[Any]]],
) -> Table:
    """The summary table, and `<name>_pending`: the deltas the triggers append (same columns,
    no index: only appended to, and emptied by `stats_fold_<service>()`)."""
    table = Table(name, Base.metadata, *_columns(cols, values))
    Table(f"{name}_pending", Base.metadata, *_columns(cols, values))
    Index(
        f"uq_{name}_cell",
        table.c.grain,
        *(table.c[c] for c, _ in cols),
        unique=True,
        postgresql_nulls_not_distinct=True,
    )
    return table


_VALUES: list[tuple[str, TypeEngine[Any]]] = [
    ("value", Numeric(16, 2)),
    ("people", BigInteger()),
]

registry_people = _fact_table(
    "stats_registry_people",
    [
        ("month", Date()),
        ("locality_code", String(6)),
        ("grade", Text()),
        ("file_status", Text()),
        ("industry", Text()),
        ("sex", Text()),
        ("birth_year", SmallInteger()),
        ("source", Text()),
        ("enterprise_id", Uuid()),
        ("occupation", Text()),
    ],
    [("delta", BigInteger()), ("registered", BigInteger()), ("changes", BigInteger())],
)
registry_activity = _fact_table(
    "stats_registry_activity",
    [
        ("measure", Text()),
        ("month", Date()),
        ("locality_code", String(6)),
        ("category", Text()),
        ("detail", Text()),
        ("industry", Text()),
        ("enterprise_id", Uuid()),
        ("sex", Text()),
        ("birth_year", SmallInteger()),
        ("occupation", Text()),
    ],
    _VALUES,
)
competitions_facts = _fact_table(
    "stats_competitions_facts",
    [
        ("measure", Text()),
        ("month", Date()),
        ("competition_year", SmallInteger()),
        ("organiser_locality_code", String(6)),
        ("level", Text()),
        ("kind", Text()),
        ("detail", Text()),
        ("organiser_enterprise_id", Uuid()),
        ("industry", Text()),
        ("locality_code", String(6)),
        ("enterprise_id", Uuid()),
    ],
    _VALUES,
)
judging_facts = _fact_table(
    "stats_judging_facts",
    [
        ("measure", Text()),
        ("month", Date()),
        ("competition_year", SmallInteger()),
        ("organiser_locality_code", String(6)),
        ("organiser_enterprise_id", Uuid()),
        ("level", Text()),
        ("kind", Text()),
        ("locality_code", String(6)),
        ("detail", Text()),
    ],
    _VALUES,
)


class JudgingStageFacts(Base):
    """The competition facts of a stage judging has finalised (from competitions, over HTTP),
    which its figures group by: written by judging when it finalises a stage's results."""

    __tablename__ = "stats_judging_stages"

    stage_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    competition_id: Mapped[uuid.UUID] = mapped_column()
    competition_year: Mapped[int] = mapped_column(SmallInteger)
    level: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    organiser_locality_code: Mapped[str] = mapped_column(String(6))
    organiser_enterprise_id: Mapped[uuid.UUID | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
