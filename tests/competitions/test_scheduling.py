"""Scheduling: venues, workstations, sessions, the conflict-free scheduler, moves, releases."""

from __future__ import annotations

import io
import itertools
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import openpyxl
from sqlalchemy import func, select

from services.competitions.scheduling import solver
from shared.models.competitions import (
    EntryMember,
    EventMode,
    ScheduleRelease,
    ScheduleSlot,
    Stage,
    StageEntry,
    Workstation,
)
from shared.models.infra import OutboxEvent
from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.factories import make_competition, make_entry, make_event

OCCUPATIONS = ["数控车工", "钳工", "电工"]
DAY = datetime.fromisoformat("2026-12-10T08:00:00+08:00")
#: Three time slots of the competition day, shared by every stage (so stages overlap).
TIMES = [(DAY + timedelta(hours=start), DAY + timedelta(hours=start + 2)) for start in (0, 2.5, 6)]


@dataclass
class World:
    competition_id: uuid.UUID
    stages: list[uuid.UUID] = field(default_factory=list)
    events: list[uuid.UUID] = field(default_factory=list)
    #: stage entry id -> the workers of its entry
    workers: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)
    #: stage id -> its stage entry ids
    stage_entries: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)


async def build(
    services: Services,
    memberships: list[list[uuid.UUID]],
    *,
    modes: list[EventMode] | None = None,
    teams: dict[int, list[list[uuid.UUID]]] | None = None,
    occupations: list[str] | None = None,
) -> World:
    """A competition (Jinan) with one event and stage per list of workers, one entry each."""
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        competition = await make_competition(s, organiser_locality_code="370100")
        world = World(competition.id)
        for i, workers in enumerate(memberships):
            mode = (modes or [])[i] if modes else EventMode.individual
            extra: dict[str, Any] = {"team_min": 2, "team_max": 3} if mode is EventMode.team else {}
            occupation = (occupations or OCCUPATIONS)[i]
            event = await make_event(
                s, competition, name=f"{occupation}{i}", occupation=occupation, mode=mode, **extra
            )
            stage = Stage(
                competition_id=competition.id,
                event_id=event.id,
                seq=1,
                name=f"{occupation}决赛",
                components=[{"component": "practical", "weight": 100}],
            )
            s.add(stage)
            await s.flush()
            world.events.append(event.id)
            world.stages.append(stage.id)
            world.stage_entries[stage.id] = []
            groups = (teams or {}).get(i) or [[w] for w in workers]
            for n, group in enumerate(groups):
                entry = await make_entry(s, event, group[0])
                if mode is EventMode.team:
                    for k, w in enumerate(group):
                        s.add(
                            EntryMember(
                                entry_id=entry.id,
                                worker_id=w,
                                event_id=event.id,
                                role="leader" if k == 0 else "member",
                            )
                        )
                stage_entry = StageEntry(
                    stage_id=stage.id, entry_id=entry.id, blind_code=f"{'ABC'[i]}{n + 1:03d}"
                )
                s.add(stage_entry)
                await s.flush()
                world.workers[stage_entry.id] = set(group)
                world.stage_entries[stage.id].append(stage_entry.id)
    return world


async def add_venue(services: Services, headers: dict[str, str], world: World, name: str) -> str:
    response = await services.competitions.post(
        f"/v1/competitions/{world.competition_id}/venues",
        json={"name": name, "address": "济南市历城区", "locality_code": "370100"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    venue_id: str = response.json()["id"]
    return venue_id


async def add_stations(
    services: Services, headers: dict[str, str], venue_id: str, occupation: str, codes: list[str]
) -> list[dict[str, Any]]:
    response = await services.competitions.post(
        f"/v1/venues/{venue_id}/workstations",
        json={"workstations": [{"code": c, "occupation": occupation} for c in codes]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def add_session(
    services: Services,
    headers: dict[str, str],
    stage_id: uuid.UUID,
    venue_id: str,
    times: tuple[datetime, datetime],
) -> str:
    response = await services.competitions.post(
        f"/v1/stages/{stage_id}/sessions",
        json={
            "venue_id": venue_id,
            "starts_at": times[0].isoformat(),
            "ends_at": times[1].isoformat(),
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    session_id: str = response.json()["id"]
    return session_id


async def slot_count(services: Services) -> int:
    async with services.apps["competitions"].state.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(ScheduleSlot)) or 0)


def independent_check(
    world: World, schedules: list[dict[str, Any]], occupation_of: dict[str, str]
) -> None:
    """No workstation twice in a session, right occupations, no worker in overlapping sessions,
    every entry placed once: checked from the HTTP answers alone."""
    seen_stations: set[tuple[str, str]] = set()
    per_worker: dict[uuid.UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
    placed: set[str] = set()
    for stage_id, schedule in zip(world.stages, schedules, strict=True):
        occupation = OCCUPATIONS[world.stages.index(stage_id)]
        assert len(schedule["slots"]) == len(world.stage_entries[stage_id])
        for slot in schedule["slots"]:
            key = (slot["session_id"], slot["workstation_id"])
            assert key not in seen_stations
            seen_stations.add(key)
            assert occupation_of[slot["workstation_id"]] == occupation
            assert slot["stage_entry_id"] not in placed
            placed.add(slot["stage_entry_id"])
            for worker in world.workers[uuid.UUID(slot["stage_entry_id"])]:
                per_worker[worker].append(
                    (
                        datetime.fromisoformat(slot["starts_at"]),
                        datetime.fromisoformat(slot["ends_at"]),
                    )
                )
    for spans in per_worker.values():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, spans


async def test_generated_data_set_is_scheduled_without_clashes(
    services: Services, admin_headers: dict[str, str]
) -> None:
    rng = random.Random(20261210)
    # 20 workers in two events each, topped up with single-event workers to 20 entries per event.
    shared_workers = [uuid.uuid4() for _ in range(20)]
    memberships: list[list[uuid.UUID]] = [[], [], []]
    for i, worker in enumerate(shared_workers):
        memberships[i % 3].append(worker)
        memberships[(i + 1) % 3].append(worker)
    for workers in memberships:
        workers.extend(uuid.uuid4() for _ in range(20 - len(workers)))
        rng.shuffle(workers)
    assert sum(len(w) for w in memberships) == 60
    world = await build(services, memberships)

    hall = await add_venue(services, admin_headers, world, "济南市高级技工学校实训中心")
    annex = await add_venue(services, admin_headers, world, "济南职业学院实训楼")
    occupation_of: dict[str, str] = {}
    for venue, occupation in (
        (hall, OCCUPATIONS[0]),
        (hall, OCCUPATIONS[1]),
        (annex, OCCUPATIONS[2]),
    ):
        prefix = {OCCUPATIONS[0]: "C", OCCUPATIONS[1]: "Q", OCCUPATIONS[2]: "D"}[occupation]
        for station in await add_stations(
            services, admin_headers, venue, occupation, [f"{prefix}-{n:02d}" for n in range(1, 9)]
        ):
            occupation_of[station["id"]] = station["occupation"]
    for stage_id, venue in zip(world.stages, (hall, hall, annex), strict=True):
        for times in TIMES:
            await add_session(services, admin_headers, stage_id, venue, times)

    schedules = []
    for stage_id in world.stages:
        response = await services.competitions.post(
            f"/v1/stages/{stage_id}/schedule", headers=admin_headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["sessions_lower_bound"] == 3  # ceil(20 / 8)
        assert body["sessions_used"] == 3
        schedules.append(body)
    independent_check(world, schedules, occupation_of)
    # Rescheduling the first stage replaces its slots and still clashes with nothing.
    again = await services.competitions.post(
        f"/v1/stages/{world.stages[0]}/schedule",
        headers=await matching(services, admin_headers, world.stages[0]),
    )
    assert again.status_code == 200
    schedules[0] = again.json()
    independent_check(world, schedules, occupation_of)
    assert await slot_count(services) == 60
    got = await services.competitions.get(
        f"/v1/stages/{world.stages[1]}/schedule", headers=admin_headers
    )
    assert got.json()["slots"] == schedules[1]["slots"]


async def test_capacity_shortfall_is_409_and_nothing_changes(
    services: Services, admin_headers: dict[str, str]
) -> None:
    world = await build(services, [[uuid.uuid4() for _ in range(20)]])
    venue = await add_venue(services, admin_headers, world, "济南市高级技工学校实训中心")
    await add_stations(services, admin_headers, venue, OCCUPATIONS[0], [f"C-{n}" for n in range(8)])
    # Workstations of another occupation do not count.
    await add_stations(services, admin_headers, venue, OCCUPATIONS[1], [f"Q-{n}" for n in range(8)])
    await add_session(services, admin_headers, world.stages[0], venue, TIMES[0])
    response = await services.competitions.post(
        f"/v1/stages/{world.stages[0]}/schedule", headers=admin_headers
    )
    body = assert_problem(response, 409)
    assert "12 entries could not be placed" in str(body["detail"])
    assert body["unplaced_count"] == 12
    assert await slot_count(services) == 0


async def test_worker_busy_in_every_session_is_409_with_the_reason(
    services: Services, admin_headers: dict[str, str]
) -> None:
    busy = uuid.uuid4()
    world = await build(services, [[busy], [busy, uuid.uuid4()]])
    venue = await add_venue(services, admin_headers, world, "济南市高级技工学校实训中心")
    await add_stations(services, admin_headers, venue, OCCUPATIONS[0], ["C-01"])
    await add_stations(services, admin_headers, venue, OCCUPATIONS[1], ["Q-01", "Q-02"])
    await add_session(services, admin_headers, world.stages[0], venue, TIMES[0])
    await add_session(services, admin_headers, world.stages[1], venue, TIMES[0])
    first = await services.competitions.post(
        f"/v1/stages/{world.stages[0]}/schedule", headers=admin_headers
    )
    assert first.status_code == 200
    response = await services.competitions.post(
        f"/v1/stages/{world.stages[1]}/schedule", headers=admin_headers
    )
    body = assert_problem(response, 409)
    assert "1 of 2 entries could not be placed" in str(body["detail"])
    assert "overlapping every session" in str(body["detail"])
    unplaced: Any = body["unplaced"]
    assert [u["stage_entry_id"] for u in unplaced] == [str(world.stage_entries[world.stages[1]][0])]
    assert await slot_count(services) == 1


async def test_a_workstation_is_not_used_by_overlapping_sessions(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # Two events of the same occupation share a venue's workstations.
    world = await build(
        services,
        [[uuid.uuid4() for _ in range(3)], [uuid.uuid4() for _ in range(3)]],
        occupations=[OCCUPATIONS[0], OCCUPATIONS[0]],
    )
    venue = await add_venue(services, admin_headers, world, "济南市高级技工学校实训中心")
    await add_stations(services, admin_headers, venue, OCCUPATIONS[0], ["C-1", "C-2", "C-3", "C-4"])
    for stage_id in world.stages:
        await add_session(services, admin_headers, stage_id, venue, TIMES[0])
    first = await services.competitions.post(
        f"/v1/stages/{world.stages[0]}/schedule", headers=admin_headers
    )
    assert first.status_code == 200
    response = await services.competitions.post(
        f"/v1/stages/{world.stages[1]}/schedule", headers=admin_headers
    )
    body = assert_problem(response, 409)
    assert "2 of 3 entries could not be placed" in str(body["detail"])
    assert "full" in str(body["detail"])
    later = await add_session(services, admin_headers, world.stages[1], venue, TIMES[1])
    second = await services.competitions.post(
        f"/v1/stages/{world.stages[1]}/schedule",
        headers=await matching(services, admin_headers, world.stages[1]),
    )
    assert second.status_code == 200, second.text
    sessions = [s["session_id"] for s in second.json()["slots"]]
    assert sorted(sessions).count(later) == 2
    # Moving an entry onto a workstation the other stage uses at that time is refused.
    held = next(s for s in first.json()["slots"])
    early = next(s for s in second.json()["slots"] if s["session_id"] != later)
    mover = next(s for s in second.json()["slots"] if s["session_id"] == later)
    response = await services.competitions.put(
        f"/v1/stage-entries/{mover['stage_entry_id']}/slot",
        json={"session_id": early["session_id"], "workstation_id": held["workstation_id"]},
        headers=await matching(services, admin_headers, world.stages[1]),
    )
    body = assert_problem(response, 409)
    assert held["stage_entry_id"] in str(body["detail"])


async def move_world(services: Services, headers: dict[str, str]) -> dict[str, Any]:
    """Event 0 (individual): workers W and X in one session at C-01/C-02. Event 1 (team): W's
    team in sessions overlapping (T0') and not overlapping (T2) event 0's session."""
    w, x, mate = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    world = await build(
        services,
        [[w, x], [w, mate]],
        modes=[EventMode.individual, EventMode.team],
        teams={1: [[mate, w]]},
    )
    venue = await add_venue(services, headers, world, "济南市高级技工学校实训中心")
    c_stations = await add_stations(
        services, headers, venue, OCCUPATIONS[0], ["C-01", "C-02", "C-03"]
    )
    q_stations = await add_stations(services, headers, venue, OCCUPATIONS[1], ["Q-01"])
    s0 = await add_session(services, headers, world.stages[0], venue, TIMES[0])
    overlapping = (TIMES[0][0] + timedelta(hours=1), TIMES[0][1] + timedelta(hours=1))
    t_overlap = await add_session(services, headers, world.stages[1], venue, overlapping)
    t_late = await add_session(services, headers, world.stages[1], venue, TIMES[2])
    for stage_id in world.stages:
        response = await services.competitions.post(
            f"/v1/stages/{stage_id}/schedule", headers=headers
        )
        assert response.status_code == 200, response.text
    return {
        "world": world,
        "c": [st["id"] for st in c_stations],
        "q": [st["id"] for st in q_stations],
        "s0": s0,
        "t_overlap": t_overlap,
        "t_late": t_late,
    }


async def matching(
    services: Services, headers: dict[str, str], stage_id: uuid.UUID
) -> dict[str, str]:
    """`headers` with If-Match: the stage schedule's current ETag (required once it exists)."""
    response = await services.competitions.get(f"/v1/stages/{stage_id}/schedule", headers=headers)
    assert response.status_code == 200, response.text
    return {**headers, "if-match": response.headers["etag"]}


async def schedule_of(services: Services, headers: dict[str, str], stage_id: uuid.UUID) -> Any:
    response = await services.competitions.get(f"/v1/stages/{stage_id}/schedule", headers=headers)
    assert response.status_code == 200
    return response.json()


async def test_manual_moves_and_their_clashes(
    services: Services, admin_headers: dict[str, str]
) -> None:
    m = await move_world(services, admin_headers)
    world: World = m["world"]
    stage0, stage1 = world.stages
    team_slot = (await schedule_of(services, admin_headers, stage1))["slots"][0]
    # The team holding W avoided the session overlapping W's individual session.
    assert team_slot["session_id"] == m["t_late"]
    before = [await schedule_of(services, admin_headers, s) for s in world.stages]
    slots = before[0]["slots"]
    first, second = slots[0], slots[1]

    # Onto the workstation the other entry holds in that session.
    response = await services.competitions.put(
        f"/v1/stage-entries/{first['stage_entry_id']}/slot",
        json={"session_id": m["s0"], "workstation_id": second["workstation_id"]},
        headers=await matching(services, admin_headers, stage0),
    )
    body = assert_problem(response, 409)
    assert second["stage_entry_id"] in str(body["detail"])
    assert body["other_stage_entry_id"] == second["stage_entry_id"]

    # The team (with W) into the session overlapping W's individual session.
    response = await services.competitions.put(
        f"/v1/stage-entries/{team_slot['stage_entry_id']}/slot",
        json={"session_id": m["t_overlap"], "workstation_id": m["q"][0]},
        headers=await matching(services, admin_headers, stage1),
    )
    body = assert_problem(response, 409)
    assert body["clash"] == "worker"
    assert m["s0"] in str(body["detail"])

    # A workstation of another occupation.
    response = await services.competitions.put(
        f"/v1/stage-entries/{first['stage_entry_id']}/slot",
        json={"session_id": m["s0"], "workstation_id": m["q"][0]},
        headers=await matching(services, admin_headers, stage0),
    )
    assert "occupation" in str(assert_problem(response, 409)["detail"])

    # A session of another stage, or a workstation at another venue: 422 naming the field.
    response = await services.competitions.put(
        f"/v1/stage-entries/{first['stage_entry_id']}/slot",
        json={"session_id": m["t_late"], "workstation_id": m["q"][0]},
        headers=await matching(services, admin_headers, stage0),
    )
    assert assert_problem(response, 422)["errors"][0]["field"] == "session_id"
    assert [await schedule_of(services, admin_headers, s) for s in world.stages] == before

    # A free workstation: moved, if the schedule is still the one read (If-Match).
    read = await services.competitions.get(f"/v1/stages/{stage0}/schedule", headers=admin_headers)
    etag = read.headers["etag"]
    move = {"session_id": m["s0"], "workstation_id": m["c"][2]}
    url = f"/v1/stage-entries/{first['stage_entry_id']}/slot"
    missing = await services.competitions.put(url, json=move, headers=admin_headers)
    assert assert_problem(missing, 428)["current_etag"] == etag
    stale = await services.competitions.put(
        url, json=move, headers={**admin_headers, "if-match": '"0123456789abcdef0123"'}
    )
    assert etag in str(assert_problem(stale, 412)["detail"])
    assert [await schedule_of(services, admin_headers, s) for s in world.stages] == before
    response = await services.competitions.put(
        url, json=move, headers={**admin_headers, "if-match": etag}
    )
    assert response.status_code == 200, response.text
    assert response.json()["workstation_code"] == "C-03"
    assert response.headers["etag"] != etag
    reread = await services.competitions.get(f"/v1/stages/{stage0}/schedule", headers=admin_headers)
    assert reread.headers["etag"] == response.headers["etag"]
    moved = next(
        s for s in reread.json()["slots"] if s["stage_entry_id"] == first["stage_entry_id"]
    )
    assert moved["workstation_code"] == "C-03"
    # The old ETag no longer replaces the schedule wholesale either.
    rerun = await services.competitions.post(
        f"/v1/stages/{stage0}/schedule", headers={**admin_headers, "if-match": etag}
    )
    assert_problem(rerun, 412)


async def test_releases_are_versioned_frozen_and_exported(
    services: Services, admin_headers: dict[str, str]
) -> None:
    await create_account(services, "worker.li", "worker", worker_id=uuid.uuid4())
    worker_headers = bearer(await get_token(services, "worker.li"))
    world = await build(services, [[uuid.uuid4() for _ in range(5)]])
    stage_id = world.stages[0]
    venue = await add_venue(services, admin_headers, world, "=HYPERLINK(1) 实训中心")
    stations = await add_stations(
        services, admin_headers, venue, OCCUPATIONS[0], ["C-01", "C-02", "C-03"]
    )
    await add_session(services, admin_headers, stage_id, venue, TIMES[0])
    await add_session(services, admin_headers, stage_id, venue, TIMES[1])
    assert (
        await services.competitions.post(f"/v1/stages/{stage_id}/schedule", headers=admin_headers)
    ).status_code == 200

    base = f"/v1/stages/{stage_id}/schedule/releases"
    first = await services.competitions.post(base, headers=admin_headers)
    assert first.status_code == 201, first.text
    v1 = first.json()
    assert v1["version"] == 1
    assert v1["slot_count"] == 5
    assert {s["code"] for s in v1["slots"]} == {f"A{n:03d}" for n in range(1, 6)}
    assert first.headers["location"] == f"{base}/1"

    # A later edit changes the working schedule, not release 1.
    schedule = await schedule_of(services, admin_headers, stage_id)
    taken = {(s["session_id"], s["workstation_id"]) for s in schedule["slots"]}
    slot = schedule["slots"][-1]  # the second session has a free workstation
    free = next(st["id"] for st in stations if (slot["session_id"], st["id"]) not in taken)
    moved = await services.competitions.put(
        f"/v1/stage-entries/{slot['stage_entry_id']}/slot",
        json={"session_id": slot["session_id"], "workstation_id": free},
        headers=await matching(services, admin_headers, stage_id),
    )
    assert moved.status_code == 200, moved.text
    second = await services.competitions.post(base, headers=admin_headers)
    assert second.json()["version"] == 2
    assert (await services.competitions.get(f"{base}/1", headers=worker_headers)).json() == v1
    listed = await services.competitions.get(base, headers=worker_headers)
    assert [r["version"] for r in listed.json()["items"]] == [1, 2]
    assert_problem(await services.competitions.get(f"{base}/3", headers=worker_headers), 404)

    async with services.apps["competitions"].state.sessionmaker() as s:
        events = (
            await s.scalars(select(OutboxEvent).where(OutboxEvent.type == "schedule.published"))
        ).all()
    assert sorted(e.payload["data"]["version"] for e in events) == [1, 2]
    assert events[0].payload["data"]["slot_count"] == 5
    assert events[0].payload["data"]["stage_id"] == str(stage_id)

    xlsx = await services.competitions.get(f"{base}/1.xlsx", headers=worker_headers)
    assert xlsx.status_code == 200
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 6
    assert rows[1][0] == "2026-12-10 08:00"  # Asia/Shanghai
    assert rows[1][2] == "'=HYPERLINK(1) 实训中心"  # not a formula
    assert {r[4] for r in rows[1:]} == {f"A{n:03d}" for n in range(1, 6)}

    ics = await services.competitions.get(f"{base}/1.ics", headers=worker_headers)
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    text = ics.content.decode("utf-8")
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert text.count("BEGIN:VEVENT") == 2  # two sessions
    assert "DTSTART:20261210T000000Z" in text  # 08:00 in Shanghai
    unfolded = text.replace("\r\n ", "")
    assert "A001" in unfolded
    assert "=HYPERLINK(1) 实训中心" in unfolded


async def test_venue_workstation_and_session_validation(
    services: Services, admin_headers: dict[str, str]
) -> None:
    world = await build(services, [[uuid.uuid4()]])
    other = await build(services, [[uuid.uuid4()]])
    venue = await add_venue(services, admin_headers, world, "济南市高级技工学校实训中心")
    foreign_venue = await add_venue(services, admin_headers, other, "青岛实训基地")
    await add_stations(services, admin_headers, venue, OCCUPATIONS[0], ["C-01", "C-02"])
    response = await services.competitions.post(
        f"/v1/venues/{venue}/workstations",
        json={
            "workstations": [
                {"code": "C-02", "occupation": OCCUPATIONS[0]},
                {"code": "C-03", "occupation": OCCUPATIONS[0]},
                {"code": "C-03", "occupation": OCCUPATIONS[0]},
            ]
        },
        headers=admin_headers,
    )
    body = assert_problem(response, 409)
    assert body["duplicates"] == ["C-02", "C-03"]
    listed = await services.competitions.get(
        f"/v1/venues/{venue}/workstations", headers=admin_headers
    )
    assert [w["code"] for w in listed.json()["items"]] == ["C-01", "C-02"]

    url = f"/v1/stages/{world.stages[0]}/sessions"
    cases = [
        ({"starts_at": "2026-12-10T08:00:00", "ends_at": "2026-12-10T10:00:00+08:00"}, "starts_at"),
        (
            {"starts_at": "2026-12-10T10:00:00+08:00", "ends_at": "2026-12-10T10:00:00+08:00"},
            "ends_at",
        ),
    ]
    for times, field_name in cases:
        response = await services.competitions.post(
            url, json={"venue_id": venue, **times}, headers=admin_headers
        )
        assert assert_problem(response, 422)["errors"][0]["field"] == field_name
    response = await services.competitions.post(
        url,
        json={
            "venue_id": foreign_venue,
            "starts_at": TIMES[0][0].isoformat(),
            "ends_at": TIMES[0][1].isoformat(),
        },
        headers=admin_headers,
    )
    assert assert_problem(response, 422)["errors"][0]["field"] == "venue_id"
    assert (await services.competitions.get(url, headers=admin_headers)).json()["items"] == []
    venues = await services.competitions.get(
        f"/v1/competitions/{world.competition_id}/venues", headers=admin_headers
    )
    assert [v["id"] for v in venues.json()["items"]] == [venue]


async def test_roles_and_scopes(services: Services, admin_headers: dict[str, str]) -> None:
    await create_account(services, "jinan.org", "organiser", locality_code="370100")
    await create_account(services, "qingdao.org", "organiser", locality_code="370200")
    await create_account(services, "worker.wang", "worker", worker_id=uuid.uuid4())
    jinan = bearer(await get_token(services, "jinan.org"))
    qingdao = bearer(await get_token(services, "qingdao.org"))
    worker = bearer(await get_token(services, "worker.wang"))
    world = await build(services, [[uuid.uuid4(), uuid.uuid4()]])
    stage_id = world.stages[0]
    # The organiser in scope does everything.
    venue = await add_venue(services, jinan, world, "济南市高级技工学校实训中心")
    stations = await add_stations(services, jinan, venue, OCCUPATIONS[0], ["C-01", "C-02", "C-03"])
    session_id = await add_session(services, jinan, stage_id, venue, TIMES[0])
    assert (
        await services.competitions.post(f"/v1/stages/{stage_id}/schedule", headers=jinan)
    ).status_code == 200
    stage_entry = world.stage_entries[stage_id][0]
    releases = f"/v1/stages/{stage_id}/schedule/releases"

    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        (
            "POST",
            f"/v1/competitions/{world.competition_id}/venues",
            {"name": "别处场地", "locality_code": "370100"},
        ),
        (
            "POST",
            f"/v1/venues/{venue}/workstations",
            {"workstations": [{"code": "X-1", "occupation": OCCUPATIONS[0]}]},
        ),
        (
            "POST",
            f"/v1/stages/{stage_id}/sessions",
            {
                "venue_id": venue,
                "starts_at": TIMES[1][0].isoformat(),
                "ends_at": TIMES[1][1].isoformat(),
            },
        ),
        ("POST", f"/v1/stages/{stage_id}/schedule", None),
        (
            "PUT",
            f"/v1/stage-entries/{stage_entry}/slot",
            {"session_id": session_id, "workstation_id": stations[2]["id"]},
        ),
        ("POST", releases, None),
        ("GET", f"/v1/stages/{stage_id}/schedule", None),
    ]
    before = await schedule_of(services, jinan, stage_id)
    # Until judging locks the stage, organisers know entries by blind code only; admins by both.
    assert [s["entry_id"] for s in before["slots"]] == [None, None]
    assert all(s["blind_code"] for s in before["slots"])
    as_admin = await schedule_of(services, admin_headers, stage_id)
    assert all(s["entry_id"] for s in as_admin["slots"])
    for headers, who in ((qingdao, "370200"), (worker, "worker")):
        for method, url, body in writes:
            response = await services.competitions.request(method, url, json=body, headers=headers)
            assert who in str(assert_problem(response, 403)["detail"]), (method, url)
    assert await schedule_of(services, jinan, stage_id) == before
    async with services.apps["competitions"].state.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(ScheduleRelease)) == 0
        assert await s.scalar(select(func.count()).select_from(Workstation)) == 3
    # Published releases are for everyone signed in.
    assert (await services.competitions.post(releases, headers=jinan)).status_code == 201
    for headers in (qingdao, worker):
        assert (
            await services.competitions.get(f"{releases}/1", headers=headers)
        ).status_code == 200
        assert (
            await services.competitions.get(f"{releases}/1.ics", headers=headers)
        ).status_code == 200


def test_the_checker_catches_each_kind_of_clash() -> None:
    """The independent checker is what stands between a scheduler bug and the database."""
    venue, other_venue = uuid.uuid4(), uuid.uuid4()
    a = solver.Session(uuid.uuid4(), venue, TIMES[0][0], TIMES[0][1])
    b = solver.Session(uuid.uuid4(), venue, TIMES[0][0] + timedelta(hours=1), TIMES[1][1])
    c1, c2 = (solver.Station(uuid.uuid4(), venue, f"C-{n}", OCCUPATIONS[0]) for n in (1, 2))
    q1 = solver.Station(uuid.uuid4(), venue, "Q-1", OCCUPATIONS[1])
    far = solver.Station(uuid.uuid4(), other_venue, "F-1", OCCUPATIONS[0])
    w1, w2, w3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    e1, e2, e3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    entries = {e1: frozenset({w1}), e2: frozenset({w2}), e3: frozenset({w3})}
    args = ([a, b], [c1, c2, q1, far], OCCUPATIONS[0])

    def problems(
        placements: list[tuple[uuid.UUID, solver.Session, solver.Station]], **kw: Any
    ) -> str:
        ps = [solver.Placement(e, s.id, w.id) for e, s, w in placements]
        return " | ".join(solver.check(ps, entries, *args, kw.get("busy", {}), kw.get("stations")))

    valid = [(e1, a, c1), (e2, a, c2), (e3, b, c2)]
    assert problems([*valid[:2], (e3, b, c1)]) == "workstation " + str(c1.id) + (
        f" is in entry {e1} and entry {e3} at once"
    )
    assert "used 2 times" in problems([(e1, a, c1), (e2, a, c1), (e3, b, c2)])
    assert "is for 钳工" in problems([(e1, a, q1), (e2, a, c2), (e3, b, c1)])
    assert "not at the venue" in problems([(e1, a, far), (e2, a, c2), (e3, b, c1)])
    assert f"entry {e3} is placed 0 times" in problems(valid[:2])
    outside = {w3: [solver.Interval(TIMES[1][0], TIMES[1][1], "another stage")]}
    assert f"worker {w3} is in entry {e3} and another stage" in problems(
        [(e1, a, c1), (e2, a, c2), (e3, b, c1)], busy=outside
    )
    # The scheduler: with b overlapping a, the two workstations serve only two entries...
    result = solver.place(entries, *args, outside)
    assert len(result.unplaced) == 1
    assert e3 not in result.unplaced  # the most constrained went first
    # ...with a later session instead, everyone is placed, and the checker agrees.
    later = solver.Session(uuid.uuid4(), venue, TIMES[2][0], TIMES[2][1])
    args = ([a, later], [c1, c2, q1, far], OCCUPATIONS[0])
    outside = {w3: [solver.Interval(TIMES[2][0], TIMES[2][1], "another stage")]}
    result = solver.place(entries, *args, outside)
    assert result.unplaced == {}
    assert (result.sessions_used, result.lower_bound) == (2, 2)
    assert solver.check(result.placements, entries, *args, outside) == []
    in_a = {p.entry_id for p in result.placements if p.session_id == a.id}
    assert len(in_a) == 2
    assert e3 in in_a


async def test_publishing_with_an_idempotency_key_publishes_once(
    services: Services, admin_headers: dict[str, str]
) -> None:
    world = await build(services, [[uuid.uuid4()]])
    stage_id = world.stages[0]
    venue = await add_venue(services, admin_headers, world, "济南市高级技工学校实训中心")
    await add_stations(services, admin_headers, venue, OCCUPATIONS[0], ["C-01"])
    await add_session(services, admin_headers, stage_id, venue, TIMES[0])
    base = f"/v1/stages/{stage_id}/schedule/releases"
    # Nothing scheduled yet: nothing to publish.
    assert "scheduler" in str(
        assert_problem(await services.competitions.post(base, headers=admin_headers), 409)["detail"]
    )
    await services.competitions.post(f"/v1/stages/{stage_id}/schedule", headers=admin_headers)
    headers = {**admin_headers, "idempotency-key": "publish-stage-1"}
    first = await services.competitions.post(base, headers=headers)
    again = await services.competitions.post(base, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    listed = await services.competitions.get(base, headers=admin_headers)
    assert [r["version"] for r in listed.json()["items"]] == [1]
