"""The conflict-free scheduler and its independent checker: pure functions, no database.

Rules a schedule of a stage must satisfy:
1. every entry sits in exactly one session of the stage, at a workstation of that session's venue;
2. a workstation is used at most once per session;
3. the workstation's occupation is the event's occupation;
4. no worker (an individual competitor, or any member of a team) sits in two sessions that
   overlap in time, counting the slots they already hold in other stages of the competition;
5. likewise a workstation is not used by two sessions that overlap in time (two stages of the
   same occupation sharing a venue, or two overlapping sessions of one stage).

`place` is greedy by constraint and valid by construction: it walks the entries from the most
constrained (fewest sessions they are free in) to the least, and gives each the earliest session
(by start time) that overlaps nothing its workers hold, at the first matching workstation of that
session's venue that is free for the session's whole time, then records that placement (for the
workers and the workstation) before the next entry. Each placement is checked against every
earlier placement and every outside slot, and a later placement never changes an earlier one, so
the invariants that hold after each step hold at the end. It is not guaranteed to be optimal:
when it leaves entries unplaced the caller refuses rather than writing a partial schedule.

`check` verifies a finished schedule from scratch with a different method (sort intervals per
worker, count per station), so a bug in `place` cannot slip a clash into the database.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Session:
    id: uuid.UUID
    venue_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Station:
    id: uuid.UUID
    venue_id: uuid.UUID
    code: str
    occupation: str


@dataclass(frozen=True)
class Interval:
    """Time a worker is already taken (a slot held in another stage)."""

    starts_at: datetime
    ends_at: datetime
    label: str = ""


@dataclass(frozen=True)
class Placement:
    entry_id: uuid.UUID
    session_id: uuid.UUID
    station_id: uuid.UUID


@dataclass
class Result:
    placements: list[Placement] = field(default_factory=list)
    #: entry id -> why it could not be placed
    unplaced: dict[uuid.UUID, str] = field(default_factory=dict)
    sessions_used: int = 0
    lower_bound: int = 0


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Half-open intervals: a session ending at 10:00 does not clash with one starting then."""
    return a_start < b_end and b_start < a_end


def capacity(sessions: Sequence[Session], stations: Sequence[Station], occupation: str) -> int:
    per_venue = Counter(s.venue_id for s in stations if s.occupation == occupation)
    return sum(per_venue[s.venue_id] for s in sessions)


def lower_bound(
    entries: int, sessions: Sequence[Session], stations: Sequence[Station], occupation: str
) -> int:
    """Fewest sessions any schedule needs: ceil(entries / most workstations in one session)."""
    per_venue = Counter(s.venue_id for s in stations if s.occupation == occupation)
    widest = max((per_venue[s.venue_id] for s in sessions), default=0)
    if entries == 0:
        return 0
    return math.ceil(entries / widest) if widest else 0


def place(
    entries: Mapping[uuid.UUID, frozenset[uuid.UUID]],
    sessions: Sequence[Session],
    stations: Sequence[Station],
    occupation: str,
    busy: Mapping[uuid.UUID, Sequence[Interval]],
    station_busy: Mapping[uuid.UUID, Sequence[Interval]] | None = None,
) -> Result:
    """Place `entries` (entry id -> its workers) into `sessions` at matching `stations`.

    `busy` holds, per worker, the time they already sit elsewhere in the competition, and
    `station_busy`, per workstation, the time other stages already use it.
    """
    ordered_sessions = sorted(sessions, key=lambda s: (s.starts_at, s.ends_at, str(s.id)))
    candidates: dict[uuid.UUID, list[Station]] = {}
    for s in ordered_sessions:
        candidates[s.id] = sorted(
            (w for w in stations if w.venue_id == s.venue_id and w.occupation == occupation),
            key=lambda w: (w.code, str(w.id)),
        )
    taken: dict[uuid.UUID, list[Interval]] = defaultdict(list)
    for worker, intervals in busy.items():
        taken[worker].extend(intervals)
    # Workers and workstations are uuids from different tables: one map holds both.
    for station_id, intervals in (station_busy or {}).items():
        taken[station_id].extend(intervals)

    def free_station(s: Session) -> Station | None:
        for w in candidates[s.id]:
            if free_in([w.id], s):
                return w
        return None

    def free_in(workers: Iterable[uuid.UUID], s: Session) -> bool:
        return not any(
            overlaps(i.starts_at, i.ends_at, s.starts_at, s.ends_at)
            for w in workers
            for i in taken[w]
        )

    # Most constrained first; ties broken by id so the same input gives the same schedule.
    freedom = {e: sum(free_in(ws, s) for s in ordered_sessions) for e, ws in entries.items()}
    result = Result(lower_bound=lower_bound(len(entries), sessions, stations, occupation))
    used: set[uuid.UUID] = set()
    for entry_id in sorted(entries, key=lambda e: (freedom[e], str(e))):
        workers = entries[entry_id]
        if freedom[entry_id] == 0:
            result.unplaced[entry_id] = (
                "its workers already sit in other sessions overlapping every session of the stage"
                if ordered_sessions
                else "the stage has no sessions"
            )
            continue
        for s in ordered_sessions:
            station = free_station(s) if free_in(workers, s) else None
            if station is not None:
                result.placements.append(Placement(entry_id, s.id, station.id))
                used.add(s.id)
                for w in (*workers, station.id):
                    taken[w].append(Interval(s.starts_at, s.ends_at, f"entry {entry_id}"))
                break
        else:
            result.unplaced[entry_id] = (
                "every session its workers are free in is already full (no matching workstation "
                "left)"
            )
    result.sessions_used = len(used)
    return result


def check(
    placements: Sequence[Placement],
    entries: Mapping[uuid.UUID, frozenset[uuid.UUID]],
    sessions: Sequence[Session],
    stations: Sequence[Station],
    occupation: str,
    busy: Mapping[uuid.UUID, Sequence[Interval]],
    station_busy: Mapping[uuid.UUID, Sequence[Interval]] | None = None,
) -> list[str]:
    """Every rule a placement breaks, as sentences; empty when the schedule is valid."""
    problems: list[str] = []
    by_session = {s.id: s for s in sessions}
    by_station = {w.id: w for w in stations}
    counts = Counter(p.entry_id for p in placements)
    for entry_id in entries:
        if counts[entry_id] != 1:
            problems.append(f"entry {entry_id} is placed {counts[entry_id]} times")
    for entry_id in counts.keys() - entries.keys():
        problems.append(f"entry {entry_id} is not an entry of this stage")
    for (session_id, station_id), n in Counter(
        (p.session_id, p.station_id) for p in placements
    ).items():
        if n > 1:
            problems.append(f"workstation {station_id} is used {n} times in session {session_id}")
    # Per worker, every interval they sit in (outside ones and this schedule's), sorted by
    # start: any overlap shows up between neighbours.
    timeline: dict[uuid.UUID, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for worker, intervals in busy.items():
        timeline[worker].extend((i.starts_at, i.ends_at, i.label or "elsewhere") for i in intervals)
    station_timeline: dict[uuid.UUID, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for station_id, intervals in (station_busy or {}).items():
        station_timeline[station_id].extend(
            (i.starts_at, i.ends_at, i.label or "elsewhere") for i in intervals
        )
    for p in placements:
        s = by_session.get(p.session_id)
        w = by_station.get(p.station_id)
        if s is None or w is None:
            problems.append(f"entry {p.entry_id} is placed in an unknown session or workstation")
            continue
        if w.venue_id != s.venue_id:
            problems.append(f"entry {p.entry_id}: workstation {w.code} is not at the venue")
        if w.occupation != occupation:
            problems.append(
                f"entry {p.entry_id}: workstation {w.code} is for {w.occupation}, not {occupation}"
            )
        for worker in entries.get(p.entry_id, frozenset()):
            timeline[worker].append((s.starts_at, s.ends_at, f"entry {p.entry_id}"))
        station_timeline[w.id].append((s.starts_at, s.ends_at, f"entry {p.entry_id}"))
    problems += _overlaps("worker", timeline) + _overlaps("workstation", station_timeline)
    return problems


def _overlaps(
    kind: str, timelines: dict[uuid.UUID, list[tuple[datetime, datetime, str]]]
) -> list[str]:
    """Sorted by start, any overlap shows up against the latest end seen so far."""
    problems = []
    for key, spans in timelines.items():
        spans.sort()
        latest_end: datetime | None = None
        latest_label = ""
        for start, end, label in spans:
            if latest_end is not None and start < latest_end:
                problems.append(f"{kind} {key} is in {latest_label} and {label} at once")
            if latest_end is None or end > latest_end:
                latest_end, latest_label = end, label
    return problems
