"""Judges see blind codes only: never a workstation next to a code (issue 13, section 8).

A workstation number beside a blind code lets anyone at the venue match the code to the person
sitting at that workstation. Every answer a judge can read that lists codes (the stage's entry
list, the published schedule as JSON, XLSX and iCalendar) must leave the workstations out for
judges, while admins and organisers keep them.
"""

from __future__ import annotations

import io
import uuid

import openpyxl

from tests.competitions.test_scheduling import (
    OCCUPATIONS,
    TIMES,
    add_session,
    add_stations,
    add_venue,
    build,
)
from tests.competitions.test_stages import account, machine, organiser, setup_event, two_stages
from tests.conftest import Services

STATIONS = ["C-01", "C-02", "C-03"]


async def test_stage_entries_show_judges_no_workstation(
    services: Services, admin_headers: dict[str, str]
) -> None:
    setup = await setup_event(services, ["370100"] * 6)
    jinan = await organiser(services, "jinan.org", "370100")
    judge = await account(services, "judge.li", "judge")
    first, _ = await two_stages(services, jinan, setup)
    assigned = await services.competitions.post(f"/v1/stages/{first}/blind-codes", headers=jinan)
    assert assigned.json()["workstations"] is True
    url = f"/v1/stages/{first}/stage-entries"
    for locked in (False, True):
        if locked:  # after judging locks the stage, too
            judging = await machine(services, admin_headers, "internal")
            await services.competitions.post(f"/v1/stages/{first}/lock", headers=judging)
        for headers in (admin_headers, jinan):
            items = (await services.competitions.get(url, headers=headers)).json()["items"]
            assert sorted(x["workstation_no"] for x in items) == list(range(1, 7))
        seen = (await services.competitions.get(url, headers=judge)).json()["items"]
        assert len(seen) == 6
        assert all(x["blind_code"] for x in seen)
        assert [x["workstation_no"] for x in seen] == [None] * 6


async def test_published_schedules_show_judges_codes_without_workstations(
    services: Services, admin_headers: dict[str, str]
) -> None:
    judge = await account(services, "judge.wang", "judge")
    world = await build(services, [[uuid.uuid4() for _ in range(3)]])
    stage_id = world.stages[0]
    venue = await add_venue(services, admin_headers, world, "济南市高级技工学校实训中心")
    await add_stations(services, admin_headers, venue, OCCUPATIONS[0], STATIONS)
    await add_session(services, admin_headers, stage_id, venue, TIMES[0])
    assert (
        await services.competitions.post(f"/v1/stages/{stage_id}/schedule", headers=admin_headers)
    ).status_code == 200
    base = f"/v1/stages/{stage_id}/schedule/releases"
    assert (await services.competitions.post(base, headers=admin_headers)).status_code == 201

    full = (await services.competitions.get(f"{base}/1", headers=admin_headers)).json()
    assert {s["workstation_code"] for s in full["slots"]} == set(STATIONS)
    codes = {s["code"] for s in full["slots"]}

    blind = (await services.competitions.get(f"{base}/1", headers=judge)).json()
    assert {s["code"] for s in blind["slots"]} == codes
    assert [s["workstation_code"] for s in blind["slots"]] == [None] * 3
    assert [s["code"] for s in blind["slots"]] == sorted(codes)  # no order to read them from

    ics = (await services.competitions.get(f"{base}/1.ics", headers=judge)).text
    assert all(code in ics for code in codes)
    assert not any(station in ics for station in STATIONS)
    full_ics = (await services.competitions.get(f"{base}/1.ics", headers=admin_headers)).text
    assert all(station in full_ics for station in STATIONS)

    xlsx = await services.competitions.get(f"{base}/1.xlsx", headers=judge)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert {r[4] for r in rows} == codes
    assert {r[3] for r in rows} <= {None, ""}
