"""From a figure request to its suppressed table: one GROUP BY over a summary table's grain.

1. `plan`: the smallest grain of the measure's table holding every column the figure groups,
   filters or is scoped by.
2. `read`: one `SELECT ... GROUP BY` over that grain (the summary and its pending deltas),
   within the caller's scope and the filters on open-set dimensions (enterprise, occupation,
   honour, locality subtrees), bucketed by month (a stock's months before the first period
   are summed into one opening bucket; a one-period figure reads one bucket).
3. `assemble`: periods from months (flows sum the months of a period, stocks the months up to
   its end), derived dimensions (city, file type, age band), every margin.
4. `shared.stats.suppression.suppress` over the whole table, then the slice the caller asked
   for.
"""

from __future__ import annotations

import itertools
import uuid
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import FieldError, InvalidInput
from shared.stats import periods as P
from shared.stats.suppression import Line, suppress
from shared.stats.vocabulary import (
    DIMENSIONS,
    Derive,
    Kind,
    Measure,
    age_band,
    city_of,
)

#: Filters on these restrict the rows read instead of becoming a dimension of the table: they
#: have thousands of values, and what a filter on them leaves out is the rest of the scope.
PUSHDOWN = frozenset({"enterprise", "occupation", "honour", "city", "county", "organiser_city"})
MAX_BY = 3
MAX_CELLS = 200_000
TOTAL = None


@dataclass(frozen=True)
class Scope:
    """What the caller may see: everything, a locality subtree or one enterprise."""

    label: str
    locality_code: str | None = None
    enterprise_id: uuid.UUID | None = None


@dataclass
class Request:
    measure: Measure
    by: list[str]
    filters: dict[str, str]
    periods: list[P.Period]
    scope: Scope
    threshold: int


@dataclass
class Result:
    """The suppressed table: cells keyed by (period key, {dim: value or None})."""

    request: Request
    dims: list[str]
    values: dict[tuple[Any, ...], Decimal]
    hidden: set[Hashable]
    members: dict[str, list[str]]
    freshness: datetime | None
    periods: list[P.Period] = field(default_factory=list)

    def cell(self, period: P.Period, dims: dict[str, str | None]) -> tuple[Decimal | None, bool]:
        """The published value of a cell (None and True when suppressed)."""
        key = self.key(period, dims)
        if key in self.hidden:
            return None, True
        return self.values.get(key, Decimal(0)), False

    def key(self, period: P.Period, dims: dict[str, str | None]) -> tuple[Any, ...]:
        values = {**self.request.filters, **dims}
        return (period.key, *(values.get(d) for d in self.dims))

    def combinations(self) -> list[dict[str, str | None]]:
        """Every combination of the grouped dimensions' members and totals, totals last."""
        axes = [[*self.members[d], TOTAL] for d in self.request.by]
        return [
            dict(zip(self.request.by, combo, strict=True)) for combo in itertools.product(*axes)
        ]


def validate(measure: Measure, by: Sequence[str], filters: dict[str, str]) -> None:
    errors = []
    for name in by:
        if name not in measure.dims:
            errors.append(FieldError(field="by", message=f"{measure.name} has no dimension {name}"))
    if len(set(by)) != len(by):
        errors.append(FieldError(field="by", message="a dimension is named twice"))
    if len(by) > MAX_BY:
        errors.append(FieldError(field="by", message=f"at most {MAX_BY} dimensions"))
    for name, value in filters.items():
        if name not in measure.dims:
            errors.append(FieldError(field=name, message=f"{measure.name} has no dimension {name}"))
            continue
        dimension = DIMENSIONS[name]
        if dimension.locality and not (len(value) == 6 and value.isdigit()):
            errors.append(FieldError(field=name, message="a six-digit locality code"))
        elif name == "enterprise":
            try:
                uuid.UUID(value)
            except ValueError:
                errors.append(FieldError(field=name, message="an enterprise id (UUID)"))
        elif dimension.labels and not dimension.locality and value not in dimension.labels:
            errors.append(FieldError(field=name, message=f"one of {', '.join(dimension.labels)}"))
    if errors:
        raise InvalidInput("The figure cannot be answered as asked.", errors=errors)


def plan(measure: Measure, columns: set[str]) -> int:
    """The smallest grain with every column needed."""
    for grain in sorted(measure.table.grains):
        if columns <= measure.table.grains[grain]:
            return grain
    raise InvalidInput(
        "No summary holds these dimensions together.",
        errors=[FieldError(field="by", message="combine fewer dimensions")],
    )


def _group_expr(dimension: str, column: str) -> str:
    if DIMENSIONS[dimension].derive is Derive.city:
        return f"substr({column}, 1, 4) || '00'"
    return column


async def compute(session: AsyncSession, req: Request) -> Result:
    measure = req.measure
    validate(measure, req.by, req.filters)
    table_dims = list(req.by) + [d for d in req.filters if d not in PUSHDOWN and d not in req.by]
    # Columns to group by, once each (grade serves grade and file_type; birth year age band).
    group: dict[str, str] = {}
    for d in table_dims:
        column = measure.dims[d]
        expr = _group_expr(d, column)
        group.setdefault(f"{d}:{expr}" if DIMENSIONS[d].derive is Derive.city else column, expr)
    where = ["grain = :grain"]
    params: dict[str, Any] = {}
    if measure.table.shared:
        where.append("measure = :measure")
        params["measure"] = measure.name
    needed = {"month"} | {measure.dims[d] for d in table_dims}
    for i, (d, value) in enumerate(sorted(req.filters.items())):
        if d not in PUSHDOWN:
            continue
        column = measure.dims[d]
        needed.add(column)
        if DIMENSIONS[d].locality:
            where.append(_subtree(column, f"f{i}"))
        elif d == "enterprise":
            where.append(f"{column} = CAST(:f{i} AS uuid)")
        else:
            where.append(f"{column} = :f{i}")
        params[f"f{i}"] = value
    if req.scope.enterprise_id is not None:
        where.append(f"{measure.scope_enterprise} = :scope_enterprise")
        params["scope_enterprise"] = req.scope.enterprise_id
        needed.add(measure.scope_enterprise)
    elif req.scope.locality_code is not None and req.scope.locality_code != "370000":
        where.append(_subtree(measure.scope_locality, "scope_locality"))
        params["scope_locality"] = req.scope.locality_code
        needed.add(measure.scope_locality)
    params["grain"] = plan(measure, needed)
    first = req.periods[0].start
    last = P.month_start(req.periods[-1].last)
    params["last"] = last
    if measure.kind is Kind.stock:
        # Months before the first period only matter as the opening balance.
        opening = P.month_start(req.periods[0].first - 1)
        month = "greatest(month, CAST(:opening AS date))"
        params["opening"] = opening
        where.append("month <= :last")
    else:
        month = "month"
        params["first"] = first
        where.append("month BETWEEN :first AND :last")
    if len(req.periods) == 1:
        # One period: every month read sums into it (rows per cell, not per cell and month).
        month = "CAST(:first AS date)"
        params["first"] = first
    people = measure.people_column or measure.value_column
    selects = [f"{expr} AS g{i}" for i, expr in enumerate(group.values())]
    # Names from the vocabulary only reach the text; every value is a bound parameter.
    sql = (
        f"SELECT {', '.join([*selects, f'{month} AS m'])}, "  # noqa: S608
        f"sum({measure.value_column}) AS v, sum({people}) AS p, max(updated_at) AS fresh "
        f"FROM {source(measure.table.name)} WHERE {' AND '.join(where)} "
        f"GROUP BY {', '.join([*(f'g{i}' for i in range(len(group))), 'm'])}"
    )
    rows = (await session.execute(text(sql), params)).all()
    return assemble(req, table_dims, list(group), rows)


def source(table: str) -> str:
    """A summary and its pending deltas (not yet folded in): together, exact at once."""
    return f"(SELECT * FROM {table} UNION ALL SELECT * FROM {table}_pending) AS f"  # noqa: S608


def _subtree(column: str, param: str) -> str:
    """A locality code and what it contains (a city its counties, the province everything)."""
    return (
        f"(CAST(:{param} AS text) = '370000' OR {column} = :{param} OR "
        f"(right(:{param}, 2) = '00' AND substr({column}, 1, 4) = substr(:{param}, 1, 4)))"
    )


def assemble(
    req: Request, table_dims: list[str], group_keys: list[str], rows: Sequence[Any]
) -> Result:
    measure = req.measure
    periods = req.periods
    lasts = [p.last for p in periods]
    stock = measure.kind is Kind.stock
    # (raw group values) -> per-period increments of (value, people)
    increments: dict[tuple[Any, ...], list[list[Decimal]]] = {}
    freshness: datetime | None = None
    for row in rows:
        m = row._mapping
        month = P.month_index(m["m"])
        index = bisect_left(lasts, month)
        if index >= len(periods):
            continue
        raw = tuple(m[f"g{i}"] for i in range(len(group_keys)))
        slot = increments.setdefault(raw, [[Decimal(0), Decimal(0)] for _ in periods])
        slot[index][0] += Decimal(m["v"] or 0)
        slot[index][1] += Decimal(m["p"] or 0)
        if m["fresh"] is not None and (freshness is None or m["fresh"] > freshness):
            freshness = m["fresh"]
    column_of = {}
    for d in table_dims:
        column = measure.dims[d]
        expr = _group_expr(d, column)
        name = f"{d}:{expr}" if DIMENSIONS[d].derive is Derive.city else column
        column_of[d] = group_keys.index(name)
    leaves: dict[tuple[Any, ...], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for raw, slots in increments.items():
        running = [Decimal(0), Decimal(0)]
        for i, period in enumerate(periods):
            if stock:
                running[0] += slots[i][0]
                running[1] += slots[i][1]
                value, count = running
            else:
                value, count = slots[i]
            if not stock and value == 0 and count == 0:
                continue
            dims = tuple(_derive(d, raw[column_of[d]], period) for d in table_dims)
            cell = leaves[(period.key, *dims)]
            cell[0] += value
            cell[1] += count
    members: dict[str, list[str]] = {d: [] for d in table_dims}
    for leaf in leaves:
        for d, v in zip(table_dims, leaf[1:], strict=True):
            if v not in members[d]:
                members[d].append(v)
    for d, v in req.filters.items():
        if d in members and v not in members[d]:
            members[d].append(v)
    for d in members:
        members[d].sort(key=_order(d))
    groups = {d: _groups(d, members[d]) for d in table_dims}
    size = len(periods)
    for d in table_dims:
        size *= len(members[d]) + 1 + len(groups[d])
    if size > MAX_CELLS:
        raise InvalidInput(
            "The figure has too many cells.",
            errors=[FieldError(field="by", message="group by fewer or coarser dimensions")],
        )
    values: dict[tuple[Any, ...], Decimal] = defaultdict(Decimal)
    people: dict[Hashable, int] = defaultdict(int)
    for leaf, (value, n) in leaves.items():
        options: list[list[str | None]] = [[leaf[0]]]
        for i, d in enumerate(table_dims):
            v = leaf[1 + i]
            up: list[str | None] = [v, TOTAL]
            if groups[d]:
                up.append(_group_of(d, v))
            options.append(up)
        for combo in itertools.product(*options):
            values[combo] += value
            people[combo] += int(n)
    hidden: set[Hashable] = set()
    if measure.people_column is not None:
        lines = _lines(periods, table_dims, members, groups)
        hidden = suppress(people, lines, req.threshold)
    return Result(req, table_dims, dict(values), hidden, members, freshness, periods)


def _derive(dimension: str, raw: Any, period: P.Period) -> str:
    if raw is None:
        return "unknown"
    derive = DIMENSIONS[dimension].derive
    if derive is Derive.age_band:
        return age_band(int(raw), P.month_start(period.last).year)
    if derive is Derive.file_type:
        return "apprentice" if raw == "apprentice" else "technician"
    return str(raw)


def _order(dimension: str) -> Any:
    labels = list(DIMENSIONS[dimension].labels)
    if labels and dimension not in ("city", "county", "organiser_city"):
        return lambda v: (labels.index(v) if v in labels else len(labels), v)
    return lambda v: (0, v)


def _groups(dimension: str, members: list[str]) -> list[str]:
    """Counties are also summed by city: the city subtotals are margins too."""
    if dimension != "county":
        return []
    return sorted({_group_of(dimension, m) for m in members})


def _group_of(dimension: str, member: str) -> str:
    return f"group:{city_of(member)}" if member != "unknown" else "group:unknown"


def _lines(
    periods: list[P.Period],
    dims: list[str],
    members: dict[str, list[str]],
    groups: dict[str, list[str]],
) -> list[Line]:
    lines = []
    axes = [[*members[d], TOTAL, *groups[d]] for d in dims]
    for period in periods:
        for i, d in enumerate(dims):
            others = [axes[j] for j in range(len(dims)) if j != i]
            for rest in itertools.product(*others):

                def key(
                    v: Any, rest: tuple[Any, ...] = rest, i: int = i, p: str = period.key
                ) -> tuple[Any, ...]:
                    return (p, *rest[:i], v, *rest[i:])

                lines.append(Line(key(TOTAL), tuple(key(m) for m in members[d])))
                for g in groups[d]:
                    inside = [m for m in members[d] if _group_of(d, m) == g]
                    lines.append(Line(key(g), tuple(key(m) for m in inside)))
                if groups[d]:
                    lines.append(Line(key(TOTAL), tuple(key(g) for g in groups[d])))
    return lines
