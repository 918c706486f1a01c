"""Out-of-scope people are indistinguishable from unknown ones, through HTTP (issue 13, 1).

A Jinan organiser (370100) probes a Qingdao worker (370200) in every way an answer could name
them: registering the identity number, importing it, entering it into an event with strict
rules (one by one and by spreadsheet), batch reads by id. Each answer is compared with the
answer for a number or id that nobody has: they must be equal once the caller's own request
data is set aside, and must carry none of the Qingdao worker's facts (id, grade, locality,
employer).
"""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import openpyxl
import pytest

from services.registry.workers.service import NOT_REGISTRABLE
from shared.models.registry import SkillGrade
from tests.conftest import (
    Services,
    assert_problem,
    bearer,
    create_account,
    get_token,
    matching,
)
from tests.factories import identity_number, make_enterprise, make_worker
from tests.registry.test_imports import csv_bytes, upload

Headers = dict[str, str]


async def _worker(services: Services, **overrides: Any) -> tuple[uuid.UUID, str]:
    """A worker made straight in the database; its id and identity number."""
    app = services.apps["registry"]
    number = identity_number()
    async with app.state.sessionmaker() as session, session.begin():
        made = await make_worker(session, app.state.cipher, id_number=number, **overrides)
        return made.id, number


async def _organiser(services: Services, name: str, **scope: Any) -> Headers:
    await create_account(services, name, "organiser", **scope)
    return bearer(await get_token(services, name))


@pytest.fixture
async def people(services: Services, admin_headers: Headers) -> dict[str, Any]:
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        qingdao_firm = await make_enterprise(session, locality_code="370200")
        qingdao_firm_id = qingdao_firm.id
    qingdao_id, qingdao_number = await _worker(
        services,
        locality_code="370200",
        enterprise_id=qingdao_firm_id,
        grade=SkillGrade.junior,
    )
    jinan_id, jinan_number = await _worker(services, locality_code="370100")
    return {
        "admin": admin_headers,
        "jinan": await _organiser(services, "jn.org", locality_code="370100"),
        "heze": await _organiser(services, "hz.org", locality_code="371700"),
        "qingdao_id": qingdao_id,
        "qingdao_number": qingdao_number,
        "qingdao_firm_id": qingdao_firm_id,
        "jinan_id": jinan_id,
        "jinan_number": jinan_number,
    }


def _names_nothing(text: str, people: dict[str, Any]) -> None:
    """None of the Qingdao worker's facts appear in an answer."""
    for fact in (
        str(people["qingdao_id"]),
        str(people["qingdao_firm_id"]),
        "370200",
        "junior",
        people["qingdao_number"],
    ):
        assert fact not in text, f"{fact} leaked in {text}"


def _worker_body(number: str) -> dict[str, Any]:
    return {
        "name": "王建国",
        "id_number": number,
        "occupation": "数控车工",
        "locality_code": "370100",
        "grade": "senior",
    }


# --- registry: registering and importing a number ----------------------------------------------


async def test_registering_an_out_of_scope_number_names_nobody(
    services: Services, people: dict[str, Any]
) -> None:
    jinan = people["jinan"]
    outside = await services.registry.post(
        "/v1/workers", json=_worker_body(people["qingdao_number"]), headers=jinan
    )
    body = assert_problem(outside, 409)
    assert body["detail"] == NOT_REGISTRABLE
    assert "existing_worker_id" not in body
    _names_nothing(outside.text, people)

    # In scope the organiser may read the worker anyway: the 409 names them.
    inside = await services.registry.post(
        "/v1/workers", json=_worker_body(people["jinan_number"]), headers=jinan
    )
    assert assert_problem(inside, 409)["existing_worker_id"] == str(people["jinan_id"])

    # The caller's own scope is checked before duplicates: a locality outside it is the same
    # 403 whether the number is on file elsewhere or not.
    far = {**_worker_body(people["qingdao_number"]), "locality_code": "371700"}
    fresh = {**_worker_body(identity_number()), "locality_code": "371700"}
    on_file = await services.registry.post("/v1/workers", json=far, headers=jinan)
    unknown = await services.registry.post("/v1/workers", json=fresh, headers=jinan)
    assert on_file.status_code == unknown.status_code == 403
    assert _without(on_file.json(), "") == _without(unknown.json(), "")


async def test_worker_import_report_names_only_workers_in_scope(
    services: Services, people: dict[str, Any]
) -> None:
    jinan = people["jinan"]
    rows = [["name", "id_number", "occupation", "locality_code", "grade"]]
    rows.append(["甲", people["qingdao_number"], "车工", "370100", "junior"])
    rows.append(["乙", people["jinan_number"], "车工", "370100", "junior"])
    job = await upload(services, jinan, csv_bytes(rows))
    errors = (await services.registry.get(f"/v1/imports/{job['id']}/errors", headers=jinan)).json()[
        "items"
    ]
    reasons = {e["row_number"]: e["reason"] for e in errors}
    assert reasons == {
        2: "cannot be registered in your scope",
        3: f"already registered as worker {people['jinan_id']}",
    }
    _names_nothing(json.dumps(errors), people)


async def test_batch_reads_leave_out_of_scope_ids_out_like_unknown_ones(
    services: Services, people: dict[str, Any]
) -> None:
    jinan, unknown = people["jinan"], uuid.uuid4()
    response = await services.registry.post(
        "/v1/workers:batch-get",
        json={"ids": [str(people["qingdao_id"]), str(unknown), str(people["jinan_id"])]},
        headers=jinan,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [w["id"] for w in body["items"]] == [str(people["jinan_id"])]
    assert sorted(body["missing"]) == sorted([str(people["qingdao_id"]), str(unknown)])
    lookup = await services.registry.post(
        "/v1/workers:lookup",
        json={"id_numbers": [people["qingdao_number"], identity_number()]},
        headers=jinan,
    )
    assert [m["worker_id"] for m in lookup.json()] == [None, None]


# --- competitions: registering into an event --------------------------------------------------


async def _jinan_event(services: Services, headers: Headers, **rules: Any) -> dict[str, Any]:
    """An open event of a Jinan city competition with strict rules."""
    competition = await services.competitions.post(
        "/v1/competitions",
        json={
            "name": "2026年济南市数控车工职业技能竞赛",
            "kind": "skill_competition",
            "level": "city",
            "year": 2026,
            "organiser_locality_code": "370100",
            "starts_on": "2026-12-10",
        },
        headers=headers,
    )
    assert competition.status_code == 201, competition.text
    return await _open_event(services, headers, competition.json()["id"], **rules)


async def _open_event(
    services: Services, headers: Headers, competition_id: str, **rules: Any
) -> dict[str, Any]:
    event = await services.competitions.post(
        f"/v1/competitions/{competition_id}/events",
        json={"name": "数控车工", "occupation": "数控车工", "mode": "individual", "capacity": 20}
        | rules,
        headers=headers,
    )
    assert event.status_code == 201, event.text
    url = f"/v1/competitions/{competition_id}"
    opened = await services.competitions.post(
        f"{url}/status",
        json={"status": "registration_open"},
        headers=await matching(services.competitions, url, headers),
    )
    assert opened.status_code == 200, opened.text
    body: dict[str, Any] = event.json()
    return body


def _without(body: dict[str, Any], worker_id: Any) -> str:
    """A problem body with the id the caller sent replaced (and without the request's own
    id), to compare two answers."""
    body = {k: v for k, v in body.items() if k != "request_id"}
    text = json.dumps(body, sort_keys=True)
    return text.replace(str(worker_id), "<id>") if worker_id else text


async def test_registering_an_out_of_scope_worker_answers_as_for_an_unknown_id(
    services: Services, people: dict[str, Any]
) -> None:
    jinan = people["jinan"]
    event = await _jinan_event(
        services, jinan, min_grade="senior", allowed_locality_codes=["370100"]
    )
    path = f"/v1/events/{event['id']}/entries"
    outside = await services.competitions.post(
        path, json={"worker_id": str(people["qingdao_id"])}, headers=jinan
    )
    unknown_id = uuid.uuid4()
    unknown = await services.competitions.post(
        path, json={"worker_id": str(unknown_id)}, headers=jinan
    )
    assert_problem(outside, 422)
    assert _without(outside.json(), people["qingdao_id"]) == _without(unknown.json(), unknown_id)
    _names_nothing(outside.text.replace(str(people["qingdao_id"]), "<the id sent>"), people)

    # The Qingdao worker's own organiser or the province see the real reasons.
    admin = await services.competitions.post(
        path, json={"worker_id": str(people["qingdao_id"])}, headers=people["admin"]
    )
    rules = {r["rule"] for r in assert_problem(admin, 422)["rules"]}
    assert rules == {"min_grade", "allowed_localities"}


async def test_spreadsheet_registration_treats_out_of_scope_numbers_as_unknown(
    services: Services, people: dict[str, Any]
) -> None:
    jinan = people["jinan"]
    event = await _jinan_event(services, jinan)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["身份证号"])
    for number in (people["qingdao_number"], identity_number(), people["jinan_number"]):
        sheet.append([number])
    out = io.BytesIO()
    book.save(out)
    response = await services.competitions.post(
        f"/v1/events/{event['id']}/entries:import",
        files={"file": ("entries.xlsx", out.getvalue())},
        headers=jinan,
    )
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert [r["status"] for r in rows] == ["refused", "refused", "created"]
    assert rows[0] == {**rows[1], "row_number": 2}
    _names_nothing(response.text, people)
    # The entry made for the Jinan worker carries only facts the organiser may read.
    entry = await services.competitions.get(f"/v1/entries/{rows[2]['entry_id']}", headers=jinan)
    assert entry.json()["locality_code"] == "370100"


async def test_city_organiser_registers_its_workers_into_a_provincial_event(
    services: Services, people: dict[str, Any]
) -> None:
    jinan, heze, admin = people["jinan"], people["heze"], people["admin"]
    competition = await services.competitions.post(
        "/v1/competitions",
        json={
            "name": "2026年山东省数控车工职业技能竞赛",
            "kind": "skill_competition",
            "level": "provincial",
            "year": 2026,
            "organiser_locality_code": "370000",
            "starts_on": "2026-12-10",
        },
        headers=admin,
    )
    event = await _open_event(services, admin, competition.json()["id"])
    path = f"/v1/events/{event['id']}/entries"
    mine = await services.competitions.post(
        path, json={"worker_id": str(people["jinan_id"])}, headers=jinan
    )
    assert mine.status_code == 201, mine.text
    entry = mine.json()
    assert entry["status"] == "pending"  # the province decides
    # Someone else's worker: the same answer as an id nobody has.
    theirs = await services.competitions.post(
        path, json={"worker_id": str(people["qingdao_id"])}, headers=jinan
    )
    assert assert_problem(theirs, 422)["rules"][0]["rule"] == "worker_exists"
    _names_nothing(theirs.text.replace(str(people["qingdao_id"]), "<the id sent>"), people)

    # The entry is Jinan's and the province's; Heze gets a 403 and nothing from batch-get.
    got = await services.competitions.get(f"/v1/entries/{entry['id']}", headers=jinan)
    assert got.status_code == 200, got.text
    assert_problem(await services.competitions.get(f"/v1/entries/{entry['id']}", headers=heze), 403)
    batch = {"ids": [entry["id"]]}
    assert (
        await services.competitions.post("/v1/entries:batch-get", json=batch, headers=heze)
    ).json() == []
    assert [
        e["id"]
        for e in (
            await services.competitions.post("/v1/entries:batch-get", json=batch, headers=jinan)
        ).json()
    ] == [entry["id"]]
    assert [
        e["id"]
        for e in (
            await services.competitions.post("/v1/entries:batch-get", json=batch, headers=admin)
        ).json()
    ] == [entry["id"]]
    # Listing the event: Jinan sees its own people's entries, Heze none.
    listed = await services.competitions.get(path, headers=jinan)
    assert [e["id"] for e in listed.json()["items"]] == [entry["id"]]
    assert (await services.competitions.get(path, headers=heze)).json()["items"] == []
    # Jinan may withdraw what it registered; Heze may not.
    assert_problem(
        await services.competitions.post(f"/v1/entries/{entry['id']}/withdraw", headers=heze),
        403,
    )
    withdrawn = await services.competitions.post(
        f"/v1/entries/{entry['id']}/withdraw", headers=jinan
    )
    assert withdrawn.json()["status"] == "withdrawn", withdrawn.text


async def test_a_team_leader_learns_nothing_about_teammates(
    services: Services, people: dict[str, Any]
) -> None:
    admin = people["admin"]
    competition = await services.competitions.post(
        "/v1/competitions",
        json={
            "name": "2026年山东省数控车工职业技能竞赛",
            "kind": "skill_competition",
            "level": "provincial",
            "year": 2026,
            "organiser_locality_code": "370000",
            "starts_on": "2026-12-10",
        },
        headers=admin,
    )
    event = await _open_event(
        services,
        admin,
        competition.json()["id"],
        mode="team",
        team_min=2,
        team_max=3,
        min_grade="senior",
    )
    await create_account(services, "leader", "worker", worker_id=people["jinan_id"])
    leader = bearer(await get_token(services, "leader"))
    path = f"/v1/events/{event['id']}/entries"
    answers = []
    for teammate in (people["qingdao_id"], uuid.uuid4()):  # too junior; nobody
        response = await services.competitions.post(
            path,
            json={
                "team_name": "泉城队",
                "leader_id": str(people["jinan_id"]),
                "members": [str(people["jinan_id"]), str(teammate)],
            },
            headers=leader,
        )
        answers.append(_without(assert_problem(response, 422), teammate))
        _names_nothing(response.text.replace(str(people["qingdao_id"]), "<the id sent>"), people)
    assert answers[0] == answers[1]
    assert '"team_member"' in answers[0]


# --- judging: a worker made a judge ---------------------------------------------------------


async def test_making_an_out_of_scope_worker_a_judge_answers_as_for_an_unknown_id(
    services: Services, people: dict[str, Any]
) -> None:
    jinan = people["jinan"]
    body = {
        "kind": "worker",
        "occupations": ["数控车工"],
        "qualification": "city_judge",
        "locality_code": "370100",  # a Jinan judge: the scope check on the judge passes
    }
    outside = await services.judging.post(
        "/v1/judges", json={**body, "worker_id": str(people["qingdao_id"])}, headers=jinan
    )
    unknown_id = uuid.uuid4()
    unknown = await services.judging.post(
        "/v1/judges", json={**body, "worker_id": str(unknown_id)}, headers=jinan
    )
    assert_problem(outside, 422)
    assert _without(outside.json(), people["qingdao_id"]) == _without(unknown.json(), unknown_id)
    # In scope, the registry's facts are taken as before.
    inside = await services.judging.post(
        "/v1/judges", json={**body, "worker_id": str(people["jinan_id"])}, headers=jinan
    )
    assert inside.status_code == 201, inside.text
