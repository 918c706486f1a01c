"""The judge assignment benchmark, in process (no HTTP, no database): the judging service's own
conflict computation (`EntryIndex` + `reasons_for`, as `POST .../assignments:solve` runs it) and
min-cost flow (`assignment.solver.solve`) on a generated provincial stage, then an independent
check of the result.

The data (seeded, so a size always gives the same problem):

- `entries` individual entries, each one competitor from one of the 16 cities and one of
  `entries / 10` enterprises;
- `judges` judges, two thirds registered workers (with an enterprise among the competitors'
  enterprises, and some mentoring relations with competitors), one third outside experts;
  every judge from one of the 16 cities, which at a provincial stage conflicts with that
  city's competitors (about 1/16 of the entries per judge), plus a few declared conflicts.

Checks (pair by pair, independent of the solver's own bookkeeping): every entry has k distinct
judges, no assigned pair is conflicted (competitor, enterprise, city, mentorship, declared),
loads differ by at most 1, and the flow's cost equals the lower bound of a perfectly balanced
assignment (so it is optimal).

Reference ("baseline"): a trivial round-robin of the same size that ignores conflicts (entry i
to judges i*k .. i*k+k-1 modulo J), timed the same way and run through the same checker, which
shows how many conflicted pairs the solver avoids.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import numpy as np

from services.judging.assignment import solver
from services.judging.conflicts.service import EntryIndex, reasons_for
from services.judging.upstream import EntryFacts, StageInfo
from shared.models.competitions import CompetitionLevel, StageStatus
from shared.models.judging import DeclaredConflict, Judge, JudgeKind, QualificationLevel

CITIES = [f"37{c:02d}00" for c in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17)]
LEVELS = frozenset({CompetitionLevel.provincial})


def generate(
    n_entries: int, n_judges: int, seed: int = 5
) -> tuple[
    StageInfo,
    list[EntryFacts],
    list[Judge],
    dict[uuid.UUID, dict[uuid.UUID, tuple[str, str]]],
    dict[uuid.UUID, list[DeclaredConflict]],
]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    stage = StageInfo(
        id=uuid.UUID(int=rng.getrandbits(128)),
        name="决赛",
        status=StageStatus.in_progress,
        components=[{"component": "practical", "weight": 100}],
        event_id=uuid.uuid4(),
        occupation="数控车工",
        competition_id=uuid.uuid4(),
        level=CompetitionLevel.provincial,
        organiser_locality_code="370000",
        organiser_enterprise_id=None,
    )
    enterprises = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(max(1, n_entries // 10))]
    entries = []
    for _ in range(n_entries):
        worker = uuid.UUID(int=rng.getrandbits(128))
        entries.append(
            EntryFacts(
                stage_entry_id=uuid.UUID(int=rng.getrandbits(128)),
                entry_id=uuid.UUID(int=rng.getrandbits(128)),
                blind_code=None,
                locality_code=rng.choice(CITIES),
                worker_ids=frozenset({worker}),
                enterprise_ids=frozenset({rng.choice(enterprises)}),
            )
        )
    judges, relations, declared = [], {}, {}
    for i in range(n_judges):
        is_worker = i % 3 != 2
        judge = Judge(
            id=uuid.UUID(int=rng.getrandbits(128)),
            kind=JudgeKind.worker if is_worker else JudgeKind.expert,
            worker_id=uuid.UUID(int=rng.getrandbits(128)) if is_worker else None,
            name=f"评委{i}",
            employer_name=None if is_worker else "山东大学",
            enterprise_id=rng.choice(enterprises) if is_worker else None,
            locality_code=rng.choice(CITIES),
            occupations=["数控车工"],
            qualification=QualificationLevel.provincial_judge,
            availability=[],
        )
        judges.append(judge)
        rel: dict[uuid.UUID, tuple[str, str]] = {}
        if is_worker:
            for entry in rng.sample(entries, min(3, len(entries))):
                (competitor,) = entry.worker_ids
                rel[competitor] = (rng.choice(["mentor", "apprentice"]), "completed")
        relations[judge.id] = rel
        declared[judge.id] = [
            DeclaredConflict(
                id=uuid.uuid4(),
                judge_id=judge.id,
                worker_id=None,
                entry_id=entry.entry_id,
                reason="亲属",
                declared_by="bench",
                declared_by_role="judge",
            )
            for entry in rng.sample(entries, min(2, len(entries)))
        ]
    return stage, entries, judges, relations, declared


def conflicted(
    judge: Judge,
    entry: EntryFacts,
    relations: dict[uuid.UUID, tuple[str, str]],
    declared: list[DeclaredConflict],
) -> bool:
    """The rules restated pair by pair (the checker must not share the indexed code)."""
    if judge.worker_id is not None and judge.worker_id in entry.worker_ids:
        return True
    if judge.enterprise_id is not None and judge.enterprise_id in entry.enterprise_ids:
        return True
    if judge.locality_code[:4] == entry.locality_code[:4]:
        return True
    if entry.worker_ids & relations.keys():
        return True
    return any(d.entry_id == entry.entry_id for d in declared)


def check(
    pairs: np.ndarray[Any, Any],
    k: int,
    entries: list[EntryFacts],
    judges: list[Judge],
    relations: dict[uuid.UUID, dict[uuid.UUID, tuple[str, str]]],
    declared: dict[uuid.UUID, list[DeclaredConflict]],
) -> dict[str, Any]:
    per_entry: list[set[int]] = [set() for _ in entries]
    conflicts = 0
    for e, j in pairs.tolist():
        per_entry[e].add(j)
        judge = judges[j]
        if conflicted(judge, entries[e], relations[judge.id], declared[judge.id]):
            conflicts += 1
    loads = np.bincount(pairs[:, 1], minlength=len(judges)) if len(pairs) else np.zeros(1)
    return {
        "entries_with_k_distinct_judges": sum(1 for s in per_entry if len(s) == k),
        "conflicted_pairs": conflicts,
        "load_min": int(loads.min()),
        "load_max": int(loads.max()),
    }


def run(n_entries: int, n_judges: int, k: int = 3) -> dict[str, Any]:
    stage, entries, judges, relations, declared = generate(n_entries, n_judges)

    start = time.perf_counter()
    index = EntryIndex.build(entries)
    position = {e.entry_id: i for i, e in enumerate(entries)}
    matrix = np.zeros((len(entries), len(judges)), dtype=np.bool_)
    for j, judge in enumerate(judges):
        found = reasons_for(judge, index, stage, relations[judge.id], declared[judge.id], LEVELS)
        for entry_id in found:
            matrix[position[entry_id], j] = True
    conflicts_s = time.perf_counter() - start
    short = len(solver.short_entries(matrix, k))
    solution = solver.solve(matrix, k, seed=1)
    seconds = time.perf_counter() - start
    ours = check(solution.pairs, k, entries, judges, relations, declared)
    ours |= {
        "seconds": seconds,
        "conflicts_seconds": conflicts_s,
        "solve_seconds": seconds - conflicts_s,
        "status": solution.status,
        "cost": solution.cost,
        "lower_bound": solution.lower_bound,
        "sampled_candidates_per_entry": solution.sample,
        "conflicted_pairs_in_input": int(matrix.sum()),
        "short_entries": short,
        "entries": n_entries,
        "judges": n_judges,
        "k": k,
    }
    ours["ok"] = (
        solution.status == "OPTIMAL"
        and ours["entries_with_k_distinct_judges"] == n_entries
        and ours["conflicted_pairs"] == 0
        and ours["load_max"] - ours["load_min"] <= 1
        and solution.cost == solution.lower_bound
    )

    start = time.perf_counter()
    e_idx = np.repeat(np.arange(n_entries, dtype=np.int64), k)
    j_idx = (np.arange(n_entries * k, dtype=np.int64)) % n_judges
    trivial = np.stack([e_idx, j_idx], axis=1)
    base_seconds = time.perf_counter() - start
    base = check(trivial, k, entries, judges, relations, declared) | {"seconds": base_seconds}
    return {
        "kind": "assignment",
        "ours": ours | {"peak_rss_kib": None},
        "baseline": base | {"peak_rss_kib": None},
        "ratio": seconds / base_seconds if base_seconds else 0.0,
        "target": "optimal, balanced (max - min <= 1), conflict-free, k distinct judges each",
        "meets_target": ours["ok"],
    }
