"""Pure: assign k judges to every entry as a min-cost flow (OR-Tools), conflict-free and with
balanced loads.

The network: source -> entry (capacity k) -> judge (capacity 1 per non-conflicted pair) ->
sink. Each judge's arcs to the sink are priced convexly: the first q = floor(N*k/J) units
free, the next one at cost 1, every further one dearer (2, 3, ... 16, then 1,000). The total
flow is fixed (N*k), so the cheapest flow is the most balanced one: with loads in {q, q+1} it
costs exactly r = N*k - J*q, which no assignment can beat, and when conflicts make that
impossible the loads still spread as evenly as they can. Judges are never hard-capped, so the
flow exists exactly when every entry has at least k eligible judges; `explain` names the
entries that do not.

Scale: 20,000 entries x 600 judges is 12 million candidate pairs. The solver first offers each
entry a random sample of `4k` eligible judges (seeded, so a run is reproducible); if the
optimum of that smaller network reaches the lower bound r it is optimal for the full network
too, otherwise the sample doubles, up to the full network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

#: Prices of the units a judge takes beyond q + 1 (then OVERFLOW_COST each).
EXTRA_COSTS = list(range(2, 17))
OVERFLOW_COST = 1000


@dataclass(frozen=True)
class Solution:
    status: str  # OPTIMAL, or the OR-Tools status name
    #: (entry index, judge index) pairs, sorted.
    pairs: npt.NDArray[np.int64]
    loads: npt.NDArray[np.int64]
    cost: int
    #: The cost of a perfectly balanced assignment; cost == lower_bound proves optimality.
    lower_bound: int
    #: Candidate judges offered per entry in the network that was solved (J: all).
    sample: int

    @property
    def load_min(self) -> int:
        return int(self.loads.min()) if len(self.loads) else 0

    @property
    def load_max(self) -> int:
        return int(self.loads.max()) if len(self.loads) else 0


def short_entries(conflict: npt.NDArray[np.bool_], k: int) -> npt.NDArray[np.int64]:
    """Indices of the entries with fewer than k eligible judges."""
    eligible = conflict.shape[1] - conflict.sum(axis=1)
    return np.flatnonzero(eligible < k)


def _candidates(
    conflict: npt.NDArray[np.bool_], sample: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(entry, judge) arrays: up to `sample` random eligible judges per entry (all if fewer)."""
    n, j = conflict.shape
    if sample >= j:
        entries, judges = np.nonzero(~conflict)
        return entries.astype(np.int64), judges.astype(np.int64)
    priority = rng.random((n, j), dtype=np.float32)
    priority[conflict] = np.inf
    chosen = np.argpartition(priority, sample - 1, axis=1)[:, :sample]
    keep = np.isfinite(np.take_along_axis(priority, chosen, axis=1))
    entries = np.repeat(np.arange(n, dtype=np.int64), sample).reshape(n, sample)[keep]
    return entries, chosen[keep].astype(np.int64)


def _solve_network(
    n: int,
    j: int,
    k: int,
    cand_entries: npt.NDArray[np.int64],
    cand_judges: npt.NDArray[np.int64],
) -> tuple[str, npt.NDArray[np.int64], int]:
    source, sink = 0, n + j + 1
    entry_node = 1 + np.arange(n, dtype=np.int64)
    judge_node = 1 + n + np.arange(j, dtype=np.int64)
    total = n * k
    q = total // j
    smcf = min_cost_flow.SimpleMinCostFlow()
    # source -> entries
    smcf.add_arcs_with_capacity_and_unit_cost(
        np.full(n, source, dtype=np.int64),
        entry_node,
        np.full(n, k, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
    )
    # entries -> judges (the only arcs whose flow we read back)
    first_pair_arc = n
    smcf.add_arcs_with_capacity_and_unit_cost(
        entry_node[cand_entries],
        judge_node[cand_judges],
        np.ones(len(cand_entries), dtype=np.int64),
        np.zeros(len(cand_entries), dtype=np.int64),
    )
    # judges -> sink, convex: q free, then 1, 2, ..., 16, then OVERFLOW_COST for the rest
    degree = np.bincount(cand_judges, minlength=j).astype(np.int64)
    tails, caps, costs = [], [], []
    tiers = [(q, 0), (1, 1)] + [(1, c) for c in EXTRA_COSTS]
    used = np.zeros(j, dtype=np.int64)
    for cap, cost in tiers:
        c = np.minimum(cap, np.maximum(degree - used, 0))
        tails.append(judge_node)
        caps.append(c)
        costs.append(np.full(j, cost, dtype=np.int64))
        used += c
    tails.append(judge_node)
    caps.append(np.maximum(degree - used, 0))
    costs.append(np.full(j, OVERFLOW_COST, dtype=np.int64))
    all_tails = np.concatenate(tails)
    all_caps = np.concatenate(caps)
    nonzero = all_caps > 0
    smcf.add_arcs_with_capacity_and_unit_cost(
        all_tails[nonzero],
        np.full(int(nonzero.sum()), sink, dtype=np.int64),
        all_caps[nonzero],
        np.concatenate(costs)[nonzero],
    )
    supplies = np.zeros(n + j + 2, dtype=np.int64)
    supplies[source] = total
    supplies[sink] = -total
    smcf.set_nodes_supplies(np.arange(n + j + 2, dtype=np.int64), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        return status.name, np.empty((0, 2), dtype=np.int64), 0
    pair_arcs = first_pair_arc + np.arange(len(cand_entries), dtype=np.int64)
    flows = smcf.flows(pair_arcs)
    used_pairs = flows > 0
    pairs = np.stack([cand_entries[used_pairs], cand_judges[used_pairs]], axis=1)
    return "OPTIMAL", pairs, int(smcf.optimal_cost())


def solve(conflict: npt.NDArray[np.bool_], k: int, *, seed: int = 0) -> Solution:
    """Assign k judges to each entry. `conflict[e, j]` is True when judge j may not mark entry e.

    Call `short_entries` first: with an entry short of eligible judges there is no solution
    (status INFEASIBLE, no pairs)."""
    n, j = conflict.shape
    if n == 0:
        empty = np.empty((0, 2), dtype=np.int64)
        return Solution("OPTIMAL", empty, np.zeros(j, dtype=np.int64), 0, 0, 0)
    if j == 0 or len(short_entries(conflict, k)):
        return Solution(
            "INFEASIBLE", np.empty((0, 2), dtype=np.int64), np.zeros(j, dtype=np.int64), 0, 0, 0
        )
    total = n * k
    lower_bound = total - j * (total // j)
    rng = np.random.default_rng(seed)
    sample = 4 * k
    while True:
        sample = min(sample, j)
        cand_entries, cand_judges = _candidates(conflict, sample, rng)
        status, pairs, cost = _solve_network(n, j, k, cand_entries, cand_judges)
        # A network where no entry lost a candidate to sampling is the full network.
        if status != "OPTIMAL" or cost == lower_bound or sample >= j:
            break
        sample *= 2
    if status == "OPTIMAL":
        order = np.lexsort((pairs[:, 1], pairs[:, 0]))
        pairs = pairs[order]
        loads = np.bincount(pairs[:, 1], minlength=j).astype(np.int64)
    else:
        loads = np.zeros(j, dtype=np.int64)
    return Solution(status, pairs, loads, cost, lower_bound, sample)
