"""Suggested nominees from a qualifier's final ranking: pure, no I/O.

Walk the ranking best first. A worker already holding a live nomination of this qualifier keeps
their place (`nominated`); a worker who cannot be nominated (already qualified, ineligible for
the higher event, declined earlier...) is passed over with the reason (`skipped`); every other
worker is `suggested` while their quota group (the whole qualifier, their city or their
enterprise) has room, else a `reserve`, in rank order, the first to take a freed place.

Ties at the boundary: in a group whose last place went to rank r, when a reserve also has rank
r, everyone of that group at rank r is flagged `boundary_tie`: the organisers decide, the
algorithm does not pick silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Outcome = Literal["nominated", "suggested", "reserve", "skipped"]


@dataclass(frozen=True)
class Ranked:
    entry_id: uuid.UUID
    worker_id: uuid.UUID
    enterprise_id: uuid.UUID | None
    locality_code: str
    rank: int
    score: Decimal | None


@dataclass(frozen=True)
class Skip:
    rule: str
    message: str


@dataclass
class Placing:
    ranked: Ranked
    group: str
    outcome: Outcome
    skips: list[Skip] = field(default_factory=list)
    boundary_tie: bool = False


def place(
    ranking: Sequence[Ranked],
    *,
    quota: int,
    group_of: Callable[[Ranked], str],
    held: set[uuid.UUID],
    skipped: dict[uuid.UUID, list[Skip]],
) -> list[Placing]:
    """`held`: workers with a live nomination of this qualifier; `skipped`: why each of the
    others may not be nominated. Returns one placing per ranked worker, in rank order."""
    ordered = sorted(ranking, key=lambda r: (r.rank, str(r.entry_id)))
    used: dict[str, int] = {}
    for r in ordered:
        if r.worker_id in held:
            used[group_of(r)] = used.get(group_of(r), 0) + 1
    placings: list[Placing] = []
    for r in ordered:
        group = group_of(r)
        if r.worker_id in held:
            placings.append(Placing(r, group, "nominated"))
        elif r.worker_id in skipped:
            placings.append(Placing(r, group, "skipped", list(skipped[r.worker_id])))
        elif used.get(group, 0) < quota:
            used[group] = used.get(group, 0) + 1
            placings.append(Placing(r, group, "suggested"))
        else:
            placings.append(Placing(r, group, "reserve"))
    for group in {p.group for p in placings}:
        members = [p for p in placings if p.group == group]
        placed = [p.ranked.rank for p in members if p.outcome in ("nominated", "suggested")]
        if not placed:
            continue
        cutoff = max(placed)
        if any(p.outcome == "reserve" and p.ranked.rank == cutoff for p in members):
            for p in members:
                if p.ranked.rank == cutoff and p.outcome != "skipped":
                    p.boundary_tie = True
    return placings
