"""Registration through HTTP: every eligibility rule, capacity, waitlist, lifecycle, bulk."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from services.competitions.entries.batching import PlaceBatcher
from shared.config import Settings
from shared.models.registry import FileStatus, Sex, SkillGrade
from tests.conftest import (
    Services,
    assert_problem,
    bearer,
    create_account,
    get_token,
    matching,
)
from tests.factories import credit_code, identity_number, make_worker
from tests.registry.test_achievements import body as achievement_body
from tests.registry.test_achievements import setup_people


@pytest.fixture
def settings(registration_settings: Settings) -> Settings:
    """Every test here runs with registration's fast paths on and off (tests/competitions/
    conftest.py)."""
    return registration_settings


COMPETITION = {
    "name": "2026年山东省数控车工职业技能竞赛",
    "kind": "skill_competition",
    "level": "provincial",
    "year": 2026,
    "organiser_locality_code": "370000",
    "starts_on": "2026-12-10",
}


async def worker(services: Services, **overrides: Any) -> uuid.UUID:
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        made = await make_worker(session, app.state.cipher, **overrides)
        return made.id


async def open_event(services: Services, headers: dict[str, str], **rules: Any) -> dict[str, Any]:
    competition = (
        await services.competitions.post("/v1/competitions", json=COMPETITION, headers=headers)
    ).json()
    event = await services.competitions.post(
        f"/v1/competitions/{competition['id']}/events",
        headers=headers,
        json={
            "name": "数控车工",
            "occupation": "数控车工",
            "mode": rules.pop("mode", "individual"),
            "capacity": rules.pop("capacity", 50),
            **rules,
        },
    )
    assert event.status_code == 201, event.text
    opened = await services.competitions.post(
        f"/v1/competitions/{competition['id']}/status",
        json={"status": "registration_open"},
        headers=await matching(
            services.competitions, f"/v1/competitions/{competition['id']}", headers
        ),
    )
    assert opened.status_code == 200, opened.text
    body: dict[str, Any] = event.json()
    return body


async def enter(
    services: Services, headers: dict[str, str], event: dict[str, Any], **body: Any
) -> httpx.Response:
    return await services.competitions.post(
        f"/v1/events/{event['id']}/entries", json=body, headers=headers
    )


async def test_lifecycle_transitions_and_illegal_ones(
    services: Services, admin_headers: dict[str, str]
) -> None:
    created = (
        await services.competitions.post(
            "/v1/competitions", json=COMPETITION, headers=admin_headers
        )
    ).json()
    url = f"/v1/competitions/{created['id']}/status"
    assert created["allowed_transitions"] == ["registration_open"]
    illegal = await services.competitions.post(
        url,
        json={"status": "in_progress"},
        headers=await matching(
            services.competitions, f"/v1/competitions/{created['id']}", admin_headers
        ),
    )
    problem = assert_problem(illegal, 409)
    assert problem["allowed"] == ["registration_open"]
    for status in (
        "registration_open",
        "registration_closed",
        "registration_open",
        "registration_closed",
        "in_progress",
        "results_published",
        "archived",
    ):
        response = await services.competitions.post(
            url,
            json={"status": status},
            headers=await matching(
                services.competitions, f"/v1/competitions/{created['id']}", admin_headers
            ),
        )
        assert response.status_code == 200, (status, response.text)
        assert response.json()["status"] == status
    assert "none" in str(
        assert_problem(
            await services.competitions.post(
                url,
                json={"status": "draft"},
                headers=await matching(
                    services.competitions, f"/v1/competitions/{created['id']}", admin_headers
                ),
            ),
            409,
        )["detail"]
    )
    edit = await services.competitions.patch(
        f"/v1/competitions/{created['id']}",
        json={"name": "改名"},
        headers=await matching(
            services.competitions, f"/v1/competitions/{created['id']}", admin_headers
        ),
    )
    assert_problem(edit, 409)


async def test_every_failed_rule_is_listed(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(
        services,
        admin_headers,
        min_age=20,
        max_age=40,
        min_grade="intermediate",
        max_grade="technician",
        allowed_locality_codes=["370200"],
    )
    # Born 1960: 66 on the day; grade principal technician; from Jinan.
    old = await worker(services, birth_date=date(1960, 1, 1), grade=SkillGrade.principal_technician)
    response = await enter(services, admin_headers, event, worker_id=str(old))
    problem = assert_problem(response, 422)
    rules = {r["rule"] for r in problem["rules"]}
    assert rules == {"max_age", "max_grade", "allowed_localities"}
    young = await worker(
        services, birth_date=date(2008, 1, 1), grade=SkillGrade.junior, locality_code="370200"
    )
    rules = {
        r["rule"]
        for r in assert_problem(
            await enter(services, admin_headers, event, worker_id=str(young)), 422
        )["rules"]
    }
    assert rules == {"min_age", "min_grade"}
    unknown = assert_problem(
        await enter(services, admin_headers, event, worker_id=str(uuid.uuid4())), 422
    )
    assert unknown["rules"][0]["rule"] == "worker_exists"
    fine = await worker(
        services, birth_date=date(1990, 1, 1), grade=SkillGrade.senior, locality_code="370200"
    )
    ok = await enter(services, admin_headers, event, worker_id=str(fine))
    assert ok.status_code == 201, ok.text
    assert ok.json()["status"] == "approved"
    again = await enter(services, admin_headers, event, worker_id=str(fine))
    assert assert_problem(again, 422)["rules"][0]["rule"] == "one_entry_per_event"


async def test_retired_file_and_national_winner_refused(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers)
    retired = await worker(services, file_status=FileStatus.retired)
    assert (
        assert_problem(await enter(services, admin_headers, event, worker_id=str(retired)), 422)[
            "rules"
        ][0]["rule"]
        == "file_active"
    )
    champion = await worker(services)
    granted = await services.registry.post(
        "/v1/honours/national_technical_expert/grants",
        headers=admin_headers,
        json={
            "worker_id": str(champion),
            "granted_on": "2025-05-01",
            "source": "nomination",
            "citation": "全国技术能手",
        },
    )
    assert granted.status_code == 201, granted.text
    problem = assert_problem(
        await enter(services, admin_headers, event, worker_id=str(champion)), 422
    )
    assert problem["rules"][0]["rule"] == "not_national_winner"
    open_to_all = await open_event(services, admin_headers, exclude_national_winners=False)
    assert (
        await enter(services, admin_headers, open_to_all, worker_id=str(champion))
    ).status_code == 201


async def test_enterprise_quota(services: Services, admin_headers: dict[str, str]) -> None:
    enterprise = (
        await services.registry.post(
            "/v1/enterprises",
            headers=admin_headers,
            json={
                "credit_code": credit_code(),
                "name": "潍柴动力股份有限公司",
                "locality_code": "370700",
                "industry": "high_end_equipment",
                "size": "large",
            },
        )
    ).json()
    event = await open_event(services, admin_headers, enterprise_quota=2)
    ids = [
        await worker(services, enterprise_id=uuid.UUID(enterprise["id"]), locality_code="370700")
        for _ in range(3)
    ]
    for worker_id in ids[:2]:
        assert (
            await enter(services, admin_headers, event, worker_id=str(worker_id))
        ).status_code == 201
    problem = assert_problem(
        await enter(services, admin_headers, event, worker_id=str(ids[2])), 422
    )
    assert problem["rules"][0]["rule"] == "enterprise_quota"
    assert "quota is 2" in problem["rules"][0]["message"]


async def test_waitlist_and_promotion_when_a_place_frees(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers, capacity=2)
    entries = []
    for _ in range(4):
        response = await enter(
            services, admin_headers, event, worker_id=str(await worker(services))
        )
        entries.append(response.json())
    assert [e["status"] for e in entries] == ["approved", "approved", "waitlisted", "waitlisted"]
    assert [e["waitlist_position"] for e in entries[2:]] == [1, 2]
    withdrawn = await services.competitions.post(
        f"/v1/entries/{entries[0]['id']}/withdraw", headers=admin_headers
    )
    assert withdrawn.json()["status"] == "withdrawn"
    promoted = (
        await services.competitions.get(f"/v1/entries/{entries[2]['id']}", headers=admin_headers)
    ).json()
    # Registered by the organisers: approved once it has a place, as it would have been at once.
    assert promoted["status"] == "approved"
    assert promoted["status_reason"] == "promoted from the waitlist"
    still = (
        await services.competitions.get(f"/v1/entries/{entries[3]['id']}", headers=admin_headers)
    ).json()
    assert (still["status"], still["waitlist_position"]) == ("waitlisted", 1)
    listed = (
        await services.competitions.get(f"/v1/events/{event['id']}", headers=admin_headers)
    ).json()
    assert (listed["places_taken"], listed["waitlisted"]) == (2, 1)
    raised = await services.competitions.patch(
        f"/v1/events/{event['id']}",
        json={"capacity": 3},
        headers=await matching(services.competitions, f"/v1/events/{event['id']}", admin_headers),
    )
    assert raised.json()["waitlisted"] == 0
    lowered = await services.competitions.patch(
        f"/v1/events/{event['id']}",
        json={"capacity": 1},
        headers=await matching(services.competitions, f"/v1/events/{event['id']}", admin_headers),
    )
    assert_problem(lowered, 409)


async def test_concurrent_registration_for_the_last_place(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers, capacity=1)
    workers = [await worker(services) for _ in range(6)]
    responses = await asyncio.gather(
        *[enter(services, admin_headers, event, worker_id=str(w)) for w in workers]
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["approved"] + ["waitlisted"] * 5


async def test_entry_actions_and_roles(services: Services, admin_headers: dict[str, str]) -> None:
    event = await open_event(services, admin_headers)
    me = await worker(services)
    await create_account(services, "wang.worker", "worker", worker_id=str(me))
    own = bearer(await get_token(services, "wang.worker"))
    mine = await enter(services, own, event, worker_id=str(me))
    assert mine.json()["status"] == "pending"  # self-registration waits for approval
    someone = await worker(services)
    assert_problem(await enter(services, own, event, worker_id=str(someone)), 403)
    entry_url = f"/v1/entries/{mine.json()['id']}"
    assert_problem(await services.competitions.post(entry_url + "/approve", headers=own), 403)
    reject = await services.competitions.post(entry_url + "/reject", headers=admin_headers)
    assert assert_problem(reject, 422)["errors"][0]["field"] == "reason"
    approved = await services.competitions.post(entry_url + "/approve", headers=admin_headers)
    assert approved.json()["status"] == "approved"
    early = await services.competitions.post(entry_url + "/check-in", headers=admin_headers)
    assert_problem(early, 409)
    twice = await services.competitions.post(entry_url + "/approve", headers=admin_headers)
    assert assert_problem(twice, 409)["allowed_actions"] == ["withdraw", "check-in", "disqualify"]
    await create_account(services, "qd.org", "organiser", locality_code="370200")
    stranger = bearer(await get_token(services, "qd.org"))
    assert_problem(await services.competitions.get(entry_url, headers=stranger), 403)
    withdrawn = await services.competitions.post(entry_url + "/withdraw", headers=own)
    assert withdrawn.json()["status"] == "withdrawn"
    again = await enter(services, own, event, worker_id=str(me))
    assert again.status_code == 201  # a withdrawn worker may enter again


async def test_team_event_rules(services: Services, admin_headers: dict[str, str]) -> None:
    event = await open_event(services, admin_headers, mode="team", team_min=2, team_max=3)
    a, b, c, d = [await worker(services) for _ in range(4)]
    shapeless = await enter(services, admin_headers, event, worker_id=str(a))
    fields = {e["field"] for e in assert_problem(shapeless, 422)["errors"]}
    assert {"worker_id", "leader_id", "team_name"} <= fields
    too_big = await enter(
        services,
        admin_headers,
        event,
        team_name="一队",
        leader_id=str(a),
        members=[str(x) for x in (a, b, c, d)],
    )
    assert_problem(too_big, 422)
    team = await enter(
        services, admin_headers, event, team_name="一队", leader_id=str(a), members=[str(b), str(a)]
    )
    assert team.status_code == 201, team.text
    assert [m["role"] for m in team.json()["members"]] == ["leader", "member"]
    overlap = await enter(
        services, admin_headers, event, team_name="二队", leader_id=str(c), members=[str(c), str(b)]
    )
    problem = assert_problem(overlap, 422)
    assert problem["rules"][0]["rule"] == "one_entry_per_event"
    assert problem["rules"][0]["worker_id"] == str(b)


async def test_registration_closed_and_bulk_registration(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers, capacity=2, max_grade="technician")
    numbers = [identity_number(date(1988, 3, 3), Sex.male) for _ in range(4)]
    ids = []
    for i, number in enumerate(numbers):
        ids.append(
            await worker(
                services,
                id_number=number,
                grade=SkillGrade.chief_technician if i == 1 else SkillGrade.senior,
            )
        )
    csv_text = "姓名,身份证号\n" + "\n".join(f"某人,{n}" for n in [*numbers, identity_number()])
    response = await services.competitions.post(
        f"/v1/events/{event['id']}/entries:import",
        headers=admin_headers,
        files={"file": ("报名表.csv", csv_text.encode())},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["waitlisted"], report["refused"]) == (2, 1, 2)
    by_row = {r["row_number"]: r for r in report["rows"]}
    assert by_row[3]["failures"][0]["rule"] == "max_grade"
    assert by_row[4]["status"] == "created"
    assert by_row[5]["status"] == "waitlisted"
    assert by_row[6]["failures"][0]["rule"] == "worker_exists"
    no_column = await services.competitions.post(
        f"/v1/events/{event['id']}/entries:import",
        headers=admin_headers,
        files={"file": ("x.csv", b"name\nx\n")},
    )
    assert_problem(no_column, 422)
    closing = await services.competitions.post(
        f"/v1/competitions/{event['competition_id']}/status",
        json={"status": "registration_closed"},
        headers=await matching(
            services.competitions, f"/v1/competitions/{event['competition_id']}", admin_headers
        ),
    )
    assert closing.status_code == 200
    late = await enter(services, admin_headers, event, worker_id=str(await worker(services)))
    assert "not open" in str(assert_problem(late, 409)["detail"])


@pytest.mark.parametrize("kind", ["skill_competition"])
async def test_innovation_events_only_in_innovation_competitions(
    services: Services, admin_headers: dict[str, str], kind: str
) -> None:
    competition = (
        await services.competitions.post(
            "/v1/competitions", json={**COMPETITION, "kind": kind}, headers=admin_headers
        )
    ).json()
    response = await services.competitions.post(
        f"/v1/competitions/{competition['id']}/events",
        headers=admin_headers,
        json={
            "name": "大数据",
            "occupation": "数据分析",
            "mode": "innovation",
            "capacity": 10,
            "team_min": 2,
            "team_max": 5,
        },
    )
    assert assert_problem(response, 422)["errors"][0]["field"] == "mode"


async def test_innovation_entry_takes_an_achievement_and_its_team(
    services: Services, admin_headers: dict[str, str]
) -> None:
    enterprise_id, team = await setup_people(services, n=3)
    outsider = await worker(services)
    achievement = await services.registry.post(
        "/v1/achievements", json=achievement_body(enterprise_id, team), headers=admin_headers
    )
    assert achievement.status_code == 201, achievement.text
    competition = (
        await services.competitions.post(
            "/v1/competitions",
            headers=admin_headers,
            json={
                **COMPETITION,
                "name": "2026年山东省数字化转型创新大赛",
                "kind": "innovation_competition",
                "tracks": ["five_g", "ai"],
            },
        )
    ).json()
    event = (
        await services.competitions.post(
            f"/v1/competitions/{competition['id']}/events",
            headers=admin_headers,
            json={
                "name": "5G应用赛道",
                "occupation": "5G应用",
                "mode": "innovation",
                "capacity": 20,
                "team_min": 2,
                "team_max": 5,
            },
        )
    ).json()
    await services.competitions.post(
        f"/v1/competitions/{competition['id']}/status",
        json={"status": "registration_open"},
        headers=await matching(
            services.competitions, f"/v1/competitions/{competition['id']}", admin_headers
        ),
    )
    no_achievement = await enter(
        services, admin_headers, event, leader_id=str(team[0]), members=[str(team[0]), str(team[1])]
    )
    assert "achievement_id" in {e["field"] for e in assert_problem(no_achievement, 422)["errors"]}
    unknown = await enter(
        services,
        admin_headers,
        event,
        achievement_id=str(uuid.uuid4()),
        leader_id=str(team[0]),
        members=[str(team[0]), str(team[1])],
    )
    assert assert_problem(unknown, 422)["rules"][0]["rule"] == "achievement_exists"
    stranger = await enter(
        services,
        admin_headers,
        event,
        achievement_id=achievement.json()["id"],
        leader_id=str(team[0]),
        members=[str(team[0]), str(outsider)],
    )
    problem = assert_problem(stranger, 422)
    assert [(r["rule"], r["worker_id"]) for r in problem["rules"]] == [
        ("achievement_team", str(outsider))
    ]
    entered = await enter(
        services,
        admin_headers,
        event,
        achievement_id=achievement.json()["id"],
        leader_id=str(team[0]),
        members=[str(t) for t in team],
    )
    assert entered.status_code == 201, entered.text
    assert entered.json()["achievement_id"] == achievement.json()["id"]
    assert len(entered.json()["members"]) == 3


async def test_registration_with_an_idempotency_key_is_made_once(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """With a key the place is taken in the request's transaction (the stored answer commits
    with the entry); a repeat answers the first result and registers nothing more."""
    event = await open_event(services, admin_headers, capacity=1)
    first, second = await worker(services), await worker(services)
    headers = {**admin_headers, "Idempotency-Key": "entry-key-0001"}
    made = await enter(services, headers, event, worker_id=str(first))
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "approved"
    again = await enter(services, headers, event, worker_id=str(first))
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == made.json()
    other = await enter(services, headers, event, worker_id=str(second))
    assert other.status_code == 409  # the key was used for a different request
    waiting = await enter(services, admin_headers, event, worker_id=str(second))
    assert waiting.json()["status"] == "waitlisted"
    assert waiting.json()["waitlist_position"] == 1
    listed = await services.competitions.get(
        f"/v1/events/{event['id']}/entries", headers=admin_headers
    )
    assert [e["worker_id"] for e in listed.json()["items"]] == [str(first), str(second)]


async def test_the_registration_answer_is_what_is_stored(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """The answer is built from what the place-taking call returned, without reading back:
    it must match `GET /v1/entries/{id}` (members in order, waitlist position, timestamps)."""
    event = await open_event(services, admin_headers, capacity=1)
    for _ in range(3):
        made = await enter(services, admin_headers, event, worker_id=str(await worker(services)))
        assert made.status_code == 201, made.text
        stored = await services.competitions.get(
            f"/v1/entries/{made.json()['id']}", headers=admin_headers
        )
        assert stored.json() == made.json()
    assert made.json()["waitlist_position"] == 2


async def test_a_burst_shares_database_and_registry_calls_and_keeps_arrival_order(
    services: Services,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    """Registrations that arrive together share one `take_entry_places` call (one lock, one
    commit) and one registry batch-get (none with the read model), and each still gets its own
    outcome: the places in order, then waitlist positions 1, 2, 3... in the order the places
    were taken, and a worker entered twice in the same burst refused once."""
    if not settings.registration_batching:
        pytest.skip("the batcher's own test")
    app = services.apps["competitions"]
    batcher = app.state.place_batcher = PlaceBatcher(app.state.uow.autocommit)
    place_calls: list[int] = []
    take = batcher._call

    async def counted_take(items: list[dict[str, Any]]) -> Any:
        place_calls.append(len(items))
        return await take(items)

    monkeypatch.setattr(batcher, "_call", counted_take)
    coalescer = app.state.clients.registry._workers
    registry_calls: list[int] = []
    fetch = coalescer.fetch

    async def counted_fetch(key: str, ids: list[uuid.UUID]) -> Any:
        registry_calls.append(len(ids))
        return await fetch(key, ids)

    monkeypatch.setattr(coalescer, "fetch", counted_fetch)

    event = await open_event(services, admin_headers, capacity=3)
    workers = [await worker(services) for _ in range(12)]
    bodies = [str(w) for w in workers] + [str(workers[5])]
    responses = await asyncio.gather(
        *[enter(services, admin_headers, event, worker_id=w) for w in bodies]
    )
    created = [r.json() for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(created) == 12, [r.text for r in refused]
    assert len(refused) == 1
    rules = {f["rule"] for f in assert_problem(refused[0], 422)["rules"]}
    assert rules == {"one_entry_per_event"}
    assert sorted(e["worker_id"] for e in created) == sorted(str(w) for w in workers)

    # batched: fewer calls than registrations, every registration in exactly one call
    assert sum(place_calls) == 13
    assert len(place_calls) < 13, place_calls
    if settings.eligibility_read_model:
        assert registry_calls == []  # the facts came from the read model, in SQL
    else:
        assert 0 < len(registry_calls) < 13, registry_calls

    assert [e["status"] for e in created].count("approved") == 3
    waiting = sorted(
        (e for e in created if e["status"] == "waitlisted"), key=lambda e: e["waitlist_position"]
    )
    assert [e["waitlist_position"] for e in waiting] == list(range(1, 10))
    # positions follow the order the places were taken (created_at), as the list shows them
    listed = await services.competitions.get(
        f"/v1/events/{event['id']}/entries",
        params={"status": "waitlisted", "limit": 50},
        headers=admin_headers,
    )
    assert listed.status_code == 200, listed.text
    by_id = {e["id"]: e for e in listed.json()["items"]}
    assert {e["id"]: e["waitlist_position"] for e in waiting} == {
        i: e["waitlist_position"] for i, e in by_id.items()
    }
    ordered = sorted(waiting, key=lambda e: (e["created_at"], e["id"]))
    assert [e["waitlist_position"] for e in ordered] == list(range(1, 10))


async def test_a_batch_that_fails_as_a_whole_is_retried_one_registration_at_a_time(
    services: Services,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    """A shared `take_entry_places` call that fails (a connection lost mid-call, say) fails no
    one: its registrations are retried one by one, each getting its own place, once."""
    if not settings.registration_batching:
        pytest.skip("the batcher's own test")
    app = services.apps["competitions"]
    batcher = app.state.place_batcher = PlaceBatcher(app.state.uow.autocommit)
    take = batcher._call
    failed: list[int] = []

    async def first_batch_fails(items: list[dict[str, Any]]) -> Any:
        if len(items) > 1 and not failed:
            failed.append(len(items))
            raise ConnectionResetError("the connection was lost")
        return await take(items)

    monkeypatch.setattr(batcher, "_call", first_batch_fails)
    event = await open_event(services, admin_headers, capacity=4)
    workers = [await worker(services) for _ in range(10)]
    responses = await asyncio.gather(
        *[enter(services, admin_headers, event, worker_id=str(w)) for w in workers]
    )
    assert failed, "no batch of more than one registration was formed"
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["approved"] * 4 + ["waitlisted"] * 6
    listed = await services.competitions.get(
        f"/v1/events/{event['id']}/entries", params={"limit": 50}, headers=admin_headers
    )
    assert len(listed.json()["items"]) == 10  # each registration written exactly once


async def test_with_the_read_model_registration_needs_no_service_token(
    settings: Settings, admin_headers: dict[str, str], services: Services
) -> None:
    """The read model takes the registry off registration's path entirely: not even the
    service's own token is fetched (it was, eagerly, so a registration right after a restart,
    before the warm-up had the token, failed 503 with the registry down). Through the
    registry's API (ELIGIBILITY_READ_MODEL=false) the token is needed: refused credentials
    are a 502 naming the registry, and nothing is written."""
    from tests.conftest import running_services

    wrong = settings.model_copy(update={"service_client_secret": "not-the-service-secret"})
    async with running_services(wrong) as refused:
        event = await open_event(refused, admin_headers)
        worker_id = await worker(refused)
        response = await enter(refused, admin_headers, event, worker_id=str(worker_id))
        if settings.eligibility_read_model:
            assert response.status_code == 201, response.text
            assert response.json()["status"] == "approved"
            return
        problem = assert_problem(response, 502)
        assert problem["service"] == "registry"
        listed = await refused.competitions.get(
            f"/v1/events/{event['id']}/entries", headers=admin_headers
        )
        assert listed.json()["items"] == []
