"""The scheduler benchmark, in process (no HTTP, no database): `solver.place` on a generated
competition, then the independent `solver.check` on the finished schedule.

The data (seeded, so a size always gives the same problem):

- `events` individual events, each with one stage to schedule and `entries / events` entries;
  the events share `occupations` occupations (8 at the full size, 2 quick), so several stages
  compete for the same workstations;
- `double_workers` workers are each entered in two events (their two stages must not overlap
  for them); every other entry is a worker entered once;
- 10 venues; venue v has `stations` workstations for each occupation k with (v + k) even (so
  every occupation is taught at 5 venues), sized so the sessions offer about a third more
  places than the entries need;
- every stage has a session at each venue of its occupation in each of 32 two-hour slots
  (8 days × 4); stages of one occupation thus share workstations at the same times.

Stages are scheduled one after another, as `POST /v1/stages/{id}/schedule` does: each sees the
slots the earlier stages gave its workers (`busy`) and its workstations (`station_busy`). Then
the checker verifies every stage against the final schedule of all the others.

Reference ("baseline"): there is no bare equivalent of a constraint scheduler; the reference is
a trivial assignment of the same size that ignores the constraints (entry i of a stage to the
i-th (session, workstation) pair, in time order), timed the same way and run through the same
checker, which shows how many clashes the constraints avoid.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.data import OCCUPATIONS
from services.competitions.scheduling import solver

VENUES = 10
DAYS = 8
SLOTS_PER_DAY = [(8, 0), (10, 30), (14, 0), (16, 30)]  # two hours each, Asia/Shanghai (+08:00)
SLACK = 0.75  # entries fill about three quarters of the places


@dataclass
class Stage:
    occupation: str
    sessions: list[solver.Session]
    entries: dict[uuid.UUID, frozenset[uuid.UUID]]


@dataclass
class Problem:
    stages: list[Stage]
    stations: list[solver.Station]
    workers: int
    stations_per_venue: int
    occupations: int


def generate(entries: int, events: int, double_workers: int, seed: int = 20261125) -> Problem:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    uid = lambda: uuid.UUID(int=rng.getrandbits(128))  # noqa: E731
    per_event = entries // events
    if 2 * double_workers > per_event * events:
        raise ValueError("more double entries than entries")
    kinds = min(len(OCCUPATIONS), max(2, events // 5))
    occupations = OCCUPATIONS[:kinds]
    venues = [uid() for _ in range(VENUES)]
    hosts = {k: [v for i, v in enumerate(venues) if (i + k) % 2 == 0] for k in range(kinds)}
    slots = len(SLOTS_PER_DAY) * DAYS
    by_occupation = [
        sum(1 for e in range(events) if e % kinds == k) * per_event for k in range(kinds)
    ]
    width = max(math.ceil(n / (len(hosts[k]) * slots * SLACK)) for k, n in enumerate(by_occupation))
    stations = [
        solver.Station(uid(), venue, f"{occupations[k][:2]}-{n + 1:03d}", occupations[k])
        for k in range(kinds)
        for venue in hosts[k]
        for n in range(width)
    ]
    day0 = datetime(2026, 12, 10, tzinfo=UTC)
    times = [
        (start, start + timedelta(hours=2))
        for d in range(DAYS)
        for h, m in SLOTS_PER_DAY
        for start in [day0 + timedelta(days=d, hours=h - 8, minutes=m)]
    ]
    # Double workers: each in two distinct events that still have room.
    members: list[list[uuid.UUID]] = [[] for _ in range(events)]
    for _ in range(double_workers):
        room = [e for e in range(events) if len(members[e]) < per_event]
        a, b = rng.sample(room, 2)
        worker = uid()
        members[a].append(worker)
        members[b].append(worker)
    singles = 0
    stages = []
    for e in range(events):
        while len(members[e]) < per_event:
            members[e].append(uid())
            singles += 1
        rng.shuffle(members[e])
        k = e % kinds
        sessions = [solver.Session(uid(), v, s, t) for s, t in times for v in hosts[k]]
        stages.append(Stage(occupations[k], sessions, {uid(): frozenset([w]) for w in members[e]}))
    return Problem(stages, stations, double_workers + singles, width, kinds)


def schedule(problem: Problem) -> list[solver.Result]:
    """Every stage in turn, each seeing what the earlier ones took (as the service does)."""
    worker_busy: dict[uuid.UUID, list[solver.Interval]] = defaultdict(list)
    station_busy: dict[uuid.UUID, list[solver.Interval]] = defaultdict(list)
    results = []
    for stage in problem.stages:
        workers = {w for ws in stage.entries.values() for w in ws}
        busy = {w: list(worker_busy[w]) for w in workers if w in worker_busy}
        matching = [s.id for s in problem.stations if s.occupation == stage.occupation]
        taken = {s: list(station_busy[s]) for s in matching if s in station_busy}
        result = solver.place(
            stage.entries, stage.sessions, problem.stations, stage.occupation, busy, taken
        )
        _record(stage, result.placements, worker_busy, station_busy)
        results.append(result)
    return results


def trivial(problem: Problem) -> list[solver.Result]:
    """The reference: entry i to the i-th (session, matching workstation), no constraints."""
    results = []
    for stage in problem.stages:
        by_venue: dict[uuid.UUID, list[solver.Station]] = defaultdict(list)
        for w in problem.stations:
            if w.occupation == stage.occupation:
                by_venue[w.venue_id].append(w)
        pairs = ((s, w) for s in stage.sessions for w in by_venue[s.venue_id])
        placements = [
            solver.Placement(entry_id, s.id, w.id)
            for entry_id, (s, w) in zip(stage.entries, pairs, strict=False)
        ]
        results.append(
            solver.Result(
                placements=placements, sessions_used=len({p.session_id for p in placements})
            )
        )
    return results


def _record(
    stage: Stage,
    placements: list[solver.Placement],
    worker_busy: dict[uuid.UUID, list[solver.Interval]],
    station_busy: dict[uuid.UUID, list[solver.Interval]],
) -> None:
    by_session = {s.id: s for s in stage.sessions}
    for p in placements:
        s = by_session[p.session_id]
        interval = solver.Interval(s.starts_at, s.ends_at, f"entry {p.entry_id}")
        for w in stage.entries[p.entry_id]:
            worker_busy[w].append(interval)
        station_busy[p.station_id].append(interval)


def verify(problem: Problem, results: list[solver.Result]) -> list[str]:
    """`solver.check` on every stage against the final schedule of all the other stages."""
    worker_slots: dict[uuid.UUID, list[tuple[int, solver.Interval]]] = defaultdict(list)
    station_slots: dict[uuid.UUID, list[tuple[int, solver.Interval]]] = defaultdict(list)
    for i, (stage, result) in enumerate(zip(problem.stages, results, strict=True)):
        by_session = {s.id: s for s in stage.sessions}
        for p in result.placements:
            s = by_session[p.session_id]
            interval = solver.Interval(s.starts_at, s.ends_at, f"stage {i} entry {p.entry_id}")
            for w in stage.entries[p.entry_id]:
                worker_slots[w].append((i, interval))
            station_slots[p.station_id].append((i, interval))
    problems = []
    for i, (stage, result) in enumerate(zip(problem.stages, results, strict=True)):
        workers = {w for ws in stage.entries.values() for w in ws}
        busy = {w: [iv for j, iv in worker_slots[w] if j != i] for w in workers}
        taken = {
            s.id: [iv for j, iv in station_slots[s.id] if j != i]
            for s in problem.stations
            if s.occupation == stage.occupation
        }
        problems += solver.check(
            result.placements,
            stage.entries,
            stage.sessions,
            problem.stations,
            stage.occupation,
            busy,
            taken,
        )
    return problems


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def run(entries: int, events: int, double_workers: int) -> dict[str, Any]:
    problem, generate_s = _timed(generate, entries, events, double_workers)
    sides: dict[str, dict[str, Any]] = {}
    for side, fn in (("ours", schedule), ("baseline", trivial)):
        results, seconds = _timed(fn, problem)
        problems, check_s = _timed(verify, problem, results)
        placed = sum(len(r.placements) for r in results)
        sides[side] = {
            "seconds": seconds,
            "check_seconds": check_s,
            "entries": entries,
            "placed": placed,
            "unplaced": sum(len(r.unplaced) for r in results)
            + (entries - placed if side == "baseline" else 0),
            "sessions_used": sum(r.sessions_used for r in results),
            "sessions_lower_bound": sum(
                solver.lower_bound(len(st.entries), st.sessions, problem.stations, st.occupation)
                for st in problem.stages
            ),
            "problems": len(problems),
            "no_clash": not problems,
            "first_problems": problems[:5],
            "peak_rss_kib": None,
        }
    ours = sides["ours"]
    ok = ours["placed"] == entries and ours["no_clash"]
    return {
        "kind": "scheduler",
        "ours": ours,
        "baseline": sides["baseline"],
        "ratio": ours["seconds"] / sides["baseline"]["seconds"],
        "target": "every entry placed, no clash (checker); no time target",
        "meets_target": ok,
        "problem": {
            "entries": entries,
            "events": events,
            "workers": problem.workers,
            "double_workers": double_workers,
            "occupations": problem.occupations,
            "venues": VENUES,
            "workstations": len(problem.stations),
            "workstations_per_venue_and_occupation": problem.stations_per_venue,
            "sessions_per_stage": len(problem.stages[0].sessions),
            "generate_seconds": generate_s,
        },
    }
