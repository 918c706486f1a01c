"""Small-cell suppression of a statistical table: primary, then complementary.

The method (README "Programme statistics", Privacy):

1. A figure is never answered from a cross-tab of its own: the engine first builds the *whole
   table* it is a slice of, over every dimension that is grouped **or filtered** (a filter is a
   slice of the table grouped by that dimension, so "all" minus "sex=male" is a suppressed line
   of one table, not a difference of two answers), with every margin (the total along each
   dimension, and the city subtotals when counties are listed). Counts are additive, so every
   margin is the sum of its line.
2. **Primary**: a cell counting at least one and fewer than `threshold` people is suppressed.
   Zero is published (it describes nobody).
3. **Complementary**: a *line* is a margin cell with the cells it sums. While some line has
   exactly one suppressed cell (which its other cells would reveal by subtraction), suppress
   the smallest non-zero published cell among its members (its total when no member is left);
   repeat until no line has exactly one. Margins are suppressed only as a last resort, so the
   totals other tables publish stay published wherever possible.

The answer is the slice of the suppressed table: the same cell gets the same decision whatever
filter reached it, because the table is the same. What it does not defend (documented): sums
across several tables with different groupings, for which a full audit (linear programming) is
needed, and differences between consecutive months of a stock figure (a net change is shown,
not a person's record).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """A margin cell and the cells it sums."""

    total: Hashable
    members: tuple[Hashable, ...]


def suppress(
    people: Mapping[Hashable, int], lines: Iterable[Line], threshold: int
) -> set[Hashable]:
    """The cells to suppress: those counting 1..threshold-1 people, and their complements.

    `people` gives each cell's count of people (cells absent count zero)."""
    lines = list(lines)
    hidden = {key for key, n in people.items() if 0 < n < threshold}
    if not hidden:
        return hidden
    by_cell: dict[Hashable, list[int]] = {}
    for i, line in enumerate(lines):
        for key in (line.total, *line.members):
            by_cell.setdefault(key, []).append(i)
    todo = set(range(len(lines)))
    while todo:
        i = todo.pop()
        line = lines[i]
        cells: Sequence[Hashable] = (line.total, *line.members)
        if sum(1 for key in cells if key in hidden) != 1:
            continue
        pick = _smallest(line.members, people, hidden)
        if pick is None and line.total not in hidden and people.get(line.total, 0) > 0:
            pick = line.total
        if pick is None:
            continue
        hidden.add(pick)
        todo.update(by_cell.get(pick, ()))
    return hidden


def _smallest(
    keys: Iterable[Hashable], people: Mapping[Hashable, int], hidden: set[Hashable]
) -> Hashable | None:
    candidates = [(people.get(k, 0), repr(k), k) for k in keys if k not in hidden]
    candidates = [c for c in candidates if c[0] > 0]
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c[0], c[1]))[2]
