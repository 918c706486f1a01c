"""Mentorships: lifecycle, the mentor and apprentice rules, talent-file timeline, events, roles."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from services.registry.mentorships.schemas import MentorshipEvent
from shared.clock import TIMEZONE as PROGRAMME_TZ
from shared.clock import today
from shared.config import Settings
from shared.models.infra import AuditLog, OutboxEvent
from shared.models.registry import FileStatus, Mentorship, SkillGrade, TimelineEntry, Worker
from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.factories import make_worker

Headers = dict[str, str]


async def new_worker(services: Services, **overrides: Any) -> Worker:
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        return await make_worker(session, app.state.cipher, **overrides)


async def mentor_worker(services: Services, **overrides: Any) -> Worker:
    return await new_worker(
        services, grade=overrides.pop("grade", SkillGrade.technician), **overrides
    )


def proposal(mentor: Worker, apprentice: Worker, **overrides: Any) -> dict[str, Any]:
    return {
        "mentor_id": str(mentor.id),
        "apprentice_id": str(apprentice.id),
        "kind": "master_apprentice",
        "goals": "一年内掌握五轴数控加工中心的编程与操作。",
        "planned_start_date": "2026-12-01",
        "planned_end_date": "2027-11-30",
        **overrides,
    }


async def propose(
    services: Services, headers: Headers, mentor: Worker, apprentice: Worker, **overrides: Any
) -> dict[str, Any]:
    response = await services.registry.post(
        "/v1/mentorships", json=proposal(mentor, apprentice, **overrides), headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def activate(services: Services, headers: Headers, mentorship_id: str) -> Any:
    return await services.registry.post(
        f"/v1/mentorships/{mentorship_id}/activate", headers=headers
    )


async def count_mentorships(services: Services) -> int:
    async with services.apps["registry"].state.sessionmaker() as session:
        return len((await session.scalars(select(Mentorship.id))).all())


async def timeline_of(services: Services, worker_id: uuid.UUID) -> list[TimelineEntry]:
    async with services.apps["registry"].state.sessionmaker() as session:
        rows = await session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.worker_id == worker_id)
            .order_by(TimelineEntry.id)
        )
        return list(rows.all())


async def events(services: Services, type_: str) -> list[OutboxEvent]:
    async with services.apps["registry"].state.sessionmaker() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == type_).order_by(OutboxEvent.seq)
        )
        return list(rows.all())


async def person(services: Services, username: str, role: str, **extra: Any) -> Headers:
    await create_account(services, username, role, **extra)
    return bearer(await get_token(services, username))


# --- the happy path ----------------------------------------------------------------------------


async def test_propose_activate_complete_writes_both_files_and_events(
    services: Services, admin_headers: Headers
) -> None:
    mentor = await mentor_worker(services, name="王建国")
    apprentice = await new_worker(services, name="李小明", grade=SkillGrade.junior)

    created = await services.registry.post(
        "/v1/mentorships", json=proposal(mentor, apprentice), headers=admin_headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert created.headers["location"] == f"/v1/mentorships/{body['id']}"
    assert body["status"] == "proposed"
    assert body["mentor"]["name"] == "王建国"
    assert body["apprentice"]["id"] == str(apprentice.id)
    assert body["actual_start_date"] is None
    assert body["evaluation"] is None
    assert "id_number" not in str(body)
    # Proposing writes nothing on the talent files yet.
    assert await timeline_of(services, mentor.id) == []

    started = await activate(services, admin_headers, body["id"])
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "active"
    assert started.json()["actual_start_date"] == today().isoformat()
    assert started.headers["etag"] == '"2"'

    for worker, counterpart, words in (
        (mentor, "李小明", "为徒"),
        (apprentice, "王建国", "为师"),
    ):
        (entry,) = await timeline_of(services, worker.id)
        assert entry.kind == "mentorship_started"
        assert entry.source_type == "mentorship"
        assert entry.source_id == body["id"]
        assert counterpart in entry.summary
        assert words in entry.summary
        assert entry.data["mentorship_id"] == body["id"]
    (started_event,) = await events(services, "mentorship.started")
    MentorshipEvent.model_validate(started_event.payload)
    assert started_event.payload["data"] == {
        "mentorship_id": body["id"],
        "mentor_id": str(mentor.id),
        "apprentice_id": str(apprentice.id),
        "mentor_locality_code": mentor.locality_code,
        "apprentice_locality_code": apprentice.locality_code,
        "kind": "master_apprentice",
        "status": "active",
    }

    completed = await services.registry.post(
        f"/v1/mentorships/{body['id']}/complete",
        json={"evaluation": {"rating": "excellent", "comment": "已独立完成五轴加工。"}},
        headers=admin_headers,
    )
    assert completed.status_code == 200, completed.text
    done = completed.json()
    assert done["status"] == "completed"
    assert done["evaluation"] == {"rating": "excellent", "comment": "已独立完成五轴加工。"}
    assert done["actual_end_date"] == today().isoformat()
    assert done["version"] == 3

    for worker in (mentor, apprentice):
        entries = await timeline_of(services, worker.id)
        assert [e.kind for e in entries] == ["mentorship_started", "mentorship_ended"]
        assert entries[1].source_id == body["id"]
        assert "优秀" in entries[1].summary
        assert entries[1].data["rating"] == "excellent"
    (ended_event,) = await events(services, "mentorship.ended")
    assert ended_event.payload["data"]["status"] == "completed"
    assert ended_event.subject == f"mentorships/{body['id']}"

    fetched = await services.registry.get(f"/v1/mentorships/{body['id']}", headers=admin_headers)
    assert fetched.json() == done
    assert fetched.headers["etag"] == '"3"'

    async with services.apps["registry"].state.sessionmaker() as session:
        actions = (
            await session.scalars(
                select(AuditLog.action)
                .where(AuditLog.entity_id == body["id"])
                .order_by(AuditLog.id)
            )
        ).all()
    assert actions == ["mentorship.create", "mentorship.activate", "mentorship.complete"]


async def test_pair_assistance_and_an_explicit_start_date(
    services: Services, admin_headers: Headers
) -> None:
    mentor = await mentor_worker(services, name="赵海燕")
    apprentice = await new_worker(services, name="孙立新")
    created = await propose(services, admin_headers, mentor, apprentice, kind="pair_assistance")
    last_week = today() - timedelta(days=7)
    response = await services.registry.post(
        f"/v1/mentorships/{created['id']}/activate",
        json={"started_on": last_week.isoformat()},
        headers=admin_headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["actual_start_date"] == last_week.isoformat()
    (entry,) = await timeline_of(services, apprentice.id)
    assert "结对帮扶" in entry.summary
    assert "赵海燕" in entry.summary
    assert entry.occurred_at.astimezone(PROGRAMME_TZ).date() == last_week

    future = await services.registry.post(
        f"/v1/mentorships/{created['id']}/complete",
        json={
            "evaluation": {"rating": "good", "comment": "进步明显"},
            "ended_on": (today() + timedelta(days=3)).isoformat(),
        },
        headers=admin_headers,
    )
    assert assert_problem(future, 422)["errors"][0]["field"] == "ended_on"
    before_start = await services.registry.post(
        f"/v1/mentorships/{created['id']}/complete",
        json={
            "evaluation": {"rating": "good", "comment": "进步明显"},
            "ended_on": (last_week - timedelta(days=1)).isoformat(),
        },
        headers=admin_headers,
    )
    assert_problem(before_start, 422)
    still = await services.registry.get(f"/v1/mentorships/{created['id']}", headers=admin_headers)
    assert still.json()["status"] == "active"


# --- the rules ---------------------------------------------------------------------------------


async def test_mentor_below_the_minimum_grade_is_refused(
    services: Services, admin_headers: Headers
) -> None:
    senior = await new_worker(services, grade=SkillGrade.senior)
    apprentice = await new_worker(services)
    response = await services.registry.post(
        "/v1/mentorships", json=proposal(senior, apprentice), headers=admin_headers
    )
    problem = assert_problem(response, 422)
    assert problem["rules"] == ["mentor_min_grade"]
    assert problem["min_grade"] == "technician"
    assert "technician" in str(problem["detail"])
    assert "MENTOR_MIN_GRADE" in str(problem["detail"])
    assert problem["errors"][0]["field"] == "mentor_id"
    assert await count_mentorships(services) == 0


async def test_mentor_demoted_after_the_proposal_cannot_activate(
    services: Services, admin_headers: Headers
) -> None:
    mentor = await mentor_worker(services)
    apprentice = await new_worker(services)
    created = await propose(services, admin_headers, mentor, apprentice)
    async with services.apps["registry"].state.sessionmaker() as session, session.begin():
        await session.execute(
            update(Worker).where(Worker.id == mentor.id).values(grade=SkillGrade.senior)
        )
    problem = assert_problem(await activate(services, admin_headers, created["id"]), 422)
    assert problem["rules"] == ["mentor_min_grade"]
    fetched = await services.registry.get(f"/v1/mentorships/{created['id']}", headers=admin_headers)
    assert fetched.json()["status"] == "proposed"
    assert await timeline_of(services, apprentice.id) == []


async def test_mentor_over_capacity_is_refused(services: Services, admin_headers: Headers) -> None:
    mentor = await mentor_worker(services, name="王建国")
    apprentices = [await new_worker(services) for _ in range(7)]
    # Proposals do not take a place: all six may be proposed.
    created = [await propose(services, admin_headers, mentor, a) for a in apprentices[:6]]
    for mentorship in created[:5]:
        assert (await activate(services, admin_headers, mentorship["id"])).status_code == 200

    sixth = await activate(services, admin_headers, created[5]["id"])
    problem = assert_problem(sixth, 409)
    assert problem["rule"] == "mentor_max_apprentices"
    assert problem["limit"] == 5
    assert "MENTOR_MAX_APPRENTICES = 5" in str(problem["detail"])
    assert "王建国" in str(problem["detail"])
    fetched = await services.registry.get(
        f"/v1/mentorships/{created[5]['id']}", headers=admin_headers
    )
    assert fetched.json()["status"] == "proposed"
    assert await timeline_of(services, apprentices[5].id) == []
    assert len(await events(services, "mentorship.started")) == 5

    # Proposing counts the active ones: a full mentor takes no new proposal either.
    seventh = await services.registry.post(
        "/v1/mentorships", json=proposal(mentor, apprentices[6]), headers=admin_headers
    )
    assert assert_problem(seventh, 409)["rule"] == "mentor_max_apprentices"
    assert await count_mentorships(services) == 6

    # A place freed is a place taken.
    ended = await services.registry.post(
        f"/v1/mentorships/{created[0]['id']}/terminate",
        json={"reason": "徒弟调往青岛分公司"},
        headers=admin_headers,
    )
    assert ended.status_code == 200, ended.text
    assert (await activate(services, admin_headers, created[5]["id"])).status_code == 200


async def test_apprentice_with_an_active_mentor_is_refused(
    services: Services, admin_headers: Headers
) -> None:
    first, second, third = [await mentor_worker(services) for _ in range(3)]
    apprentice = await new_worker(services, name="李小明")
    a = await propose(services, admin_headers, first, apprentice)
    b = await propose(services, admin_headers, second, apprentice)
    assert (await activate(services, admin_headers, a["id"])).status_code == 200

    problem = assert_problem(await activate(services, admin_headers, b["id"]), 409)
    assert problem["rule"] == "one_active_mentor"
    assert problem["limit"] == 1
    assert "李小明" in str(problem["detail"])
    fetched = await services.registry.get(f"/v1/mentorships/{b['id']}", headers=admin_headers)
    assert fetched.json()["status"] == "proposed"
    assert len(await timeline_of(services, second.id)) == 0

    again = await services.registry.post(
        "/v1/mentorships", json=proposal(third, apprentice), headers=admin_headers
    )
    assert assert_problem(again, 409)["rule"] == "one_active_mentor"
    assert await count_mentorships(services) == 2


async def test_self_mentoring_is_refused(services: Services, admin_headers: Headers) -> None:
    worker = await mentor_worker(services)
    response = await services.registry.post(
        "/v1/mentorships", json=proposal(worker, worker), headers=admin_headers
    )
    problem = assert_problem(response, 422)
    assert problem["rules"] == ["distinct_parties"]
    assert problem["errors"][0]["field"] == "apprentice_id"
    assert await count_mentorships(services) == 0


async def test_inactive_files_are_refused(services: Services, admin_headers: Headers) -> None:
    mentor = await mentor_worker(services, file_status=FileStatus.retired)
    apprentice = await new_worker(services, file_status=FileStatus.left)
    response = await services.registry.post(
        "/v1/mentorships", json=proposal(mentor, apprentice), headers=admin_headers
    )
    problem = assert_problem(response, 422)
    assert problem["rules"] == ["active_file", "active_file"]
    assert {e["field"] for e in problem["errors"]} == {"mentor_id", "apprentice_id"}
    assert "retired" in str(problem["detail"])
    assert await count_mentorships(services) == 0


async def test_a_pair_has_one_open_mentorship(services: Services, admin_headers: Headers) -> None:
    mentor = await mentor_worker(services)
    apprentice = await new_worker(services)
    await propose(services, admin_headers, mentor, apprentice)
    again = await services.registry.post(
        "/v1/mentorships", json=proposal(mentor, apprentice), headers=admin_headers
    )
    assert assert_problem(again, 409)["rule"] == "one_open_per_pair"
    assert await count_mentorships(services) == 1


async def test_invalid_input_names_the_field(services: Services, admin_headers: Headers) -> None:
    mentor = await mentor_worker(services)
    apprentice = await new_worker(services)
    backwards = await services.registry.post(
        "/v1/mentorships",
        json=proposal(mentor, apprentice, planned_end_date="2026-11-30"),
        headers=admin_headers,
    )
    assert assert_problem(backwards, 422)["errors"][0]["field"] == "planned_end_date"
    unknown = await services.registry.post(
        "/v1/mentorships",
        json={**proposal(mentor, apprentice), "mentor_id": str(uuid.uuid4())},
        headers=admin_headers,
    )
    assert assert_problem(unknown, 422)["errors"][0]["field"] == "mentor_id"
    bad_kind = await services.registry.post(
        "/v1/mentorships", json=proposal(mentor, apprentice, kind="friends"), headers=admin_headers
    )
    assert assert_problem(bad_kind, 422)["errors"][0]["field"] == "kind"
    extra = await services.registry.post(
        "/v1/mentorships", json=proposal(mentor, apprentice, status="active"), headers=admin_headers
    )
    assert assert_problem(extra, 422)["errors"][0]["field"] == "status"
    no_goals = await services.registry.post(
        "/v1/mentorships", json=proposal(mentor, apprentice, goals=""), headers=admin_headers
    )
    assert assert_problem(no_goals, 422)["errors"][0]["field"] == "goals"
    missing = await services.registry.get(f"/v1/mentorships/{uuid.uuid4()}", headers=admin_headers)
    assert_problem(missing, 404)
    assert_problem(await activate(services, admin_headers, str(uuid.uuid4())), 404)
    assert await count_mentorships(services) == 0


# --- the lifecycle -----------------------------------------------------------------------------


async def test_illegal_transitions_are_409_naming_the_allowed_ones(
    services: Services, admin_headers: Headers
) -> None:
    mentor = await mentor_worker(services)
    apprentice = await new_worker(services)
    created = await propose(services, admin_headers, mentor, apprentice)
    url = f"/v1/mentorships/{created['id']}"
    evaluation = {"evaluation": {"rating": "pass", "comment": "合格"}}

    early = await services.registry.post(f"{url}/complete", json=evaluation, headers=admin_headers)
    problem = assert_problem(early, 409)
    assert problem["allowed"] == ["active", "terminated"]
    assert "active, terminated" in str(problem["detail"])

    assert (await activate(services, admin_headers, created["id"])).status_code == 200
    twice = assert_problem(await activate(services, admin_headers, created["id"]), 409)
    assert twice["allowed"] == ["completed", "terminated"]

    done = await services.registry.post(f"{url}/complete", json=evaluation, headers=admin_headers)
    assert done.status_code == 200
    for action, body in (
        ("activate", None),
        ("complete", evaluation),
        ("terminate", {"reason": "重复操作"}),
    ):
        response = await services.registry.post(f"{url}/{action}", json=body, headers=admin_headers)
        final = assert_problem(response, 409)
        assert final["allowed"] == []
        assert final["current_status"] == "completed"
    fetched = (await services.registry.get(url, headers=admin_headers)).json()
    assert fetched["status"] == "completed"
    assert fetched["termination_reason"] is None
    assert len(await timeline_of(services, mentor.id)) == 2


async def test_complete_needs_an_evaluation_and_terminate_a_reason(
    services: Services, admin_headers: Headers
) -> None:
    mentor = await mentor_worker(services)
    apprentice = await new_worker(services)
    created = await propose(services, admin_headers, mentor, apprentice)
    url = f"/v1/mentorships/{created['id']}"
    await activate(services, admin_headers, created["id"])
    no_eval = await services.registry.post(f"{url}/complete", json={}, headers=admin_headers)
    assert assert_problem(no_eval, 422)["errors"][0]["field"] == "evaluation"
    bad_rating = await services.registry.post(
        f"{url}/complete",
        json={"evaluation": {"rating": "superb", "comment": "好"}},
        headers=admin_headers,
    )
    assert assert_problem(bad_rating, 422)["errors"][0]["field"] == "evaluation.rating"
    no_reason = await services.registry.post(f"{url}/terminate", json={}, headers=admin_headers)
    assert assert_problem(no_reason, 422)["errors"][0]["field"] == "reason"
    assert (await services.registry.get(url, headers=admin_headers)).json()["status"] == "active"


async def test_terminate_an_active_or_a_proposed_mentorship(
    services: Services, admin_headers: Headers
) -> None:
    mentor = await mentor_worker(services, name="王建国")
    apprentice = await new_worker(services, name="李小明")
    other = await new_worker(services)
    active = await propose(services, admin_headers, mentor, apprentice)
    proposed = await propose(services, admin_headers, mentor, other)
    await activate(services, admin_headers, active["id"])

    ended = await services.registry.post(
        f"/v1/mentorships/{active['id']}/terminate",
        json={"reason": "徒弟调往青岛分公司"},
        headers=admin_headers,
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "terminated"
    assert ended.json()["termination_reason"] == "徒弟调往青岛分公司"
    assert ended.json()["actual_end_date"] == today().isoformat()
    assert ended.json()["evaluation"] is None
    for worker in (mentor, apprentice):
        entries = await timeline_of(services, worker.id)
        assert [e.kind for e in entries] == ["mentorship_started", "mentorship_ended"]
        assert "徒弟调往青岛分公司" in entries[1].summary
        assert entries[1].source_id == active["id"]
    (event,) = await events(services, "mentorship.ended")
    assert event.payload["data"]["status"] == "terminated"

    withdrawn = await services.registry.post(
        f"/v1/mentorships/{proposed['id']}/terminate",
        json={"reason": "双方协商不再结对"},
        headers=admin_headers,
    )
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "terminated"
    assert withdrawn.json()["actual_end_date"] is None
    # A proposal that never started leaves no trace on the talent files and sends no event.
    assert await timeline_of(services, other.id) == []
    assert len(await events(services, "mentorship.ended")) == 1


async def test_if_match_guards_transitions(services: Services, admin_headers: Headers) -> None:
    mentor = await mentor_worker(services)
    apprentice = await new_worker(services)
    created = await propose(services, admin_headers, mentor, apprentice)
    url = f"/v1/mentorships/{created['id']}"
    etag = (await services.registry.get(url, headers=admin_headers)).headers["etag"]
    assert etag == '"1"'
    stale = await services.registry.post(
        f"{url}/activate", headers={**admin_headers, "if-match": '"7"'}
    )
    assert assert_problem(stale, 412)
    assert stale.headers["etag"] == '"1"'
    garbage = await services.registry.post(
        f"{url}/activate", headers={**admin_headers, "if-match": "yesterday"}
    )
    assert_problem(garbage, 422)
    fresh = await services.registry.post(
        f"{url}/activate", headers={**admin_headers, "if-match": etag}
    )
    assert fresh.status_code == 200
    assert fresh.headers["etag"] == '"2"'
    old = await services.registry.post(
        f"{url}/terminate",
        json={"reason": "过期的版本"},
        headers={**admin_headers, "if-match": etag},
    )
    assert_problem(old, 412)
    assert (await services.registry.get(url, headers=admin_headers)).json()["status"] == "active"


async def test_idempotency_key_replays_the_proposal(
    services: Services, admin_headers: Headers
) -> None:
    mentor = await mentor_worker(services)
    apprentice = await new_worker(services)
    headers = {**admin_headers, "idempotency-key": "mentorship-wang-li-0001"}
    body = proposal(mentor, apprentice)
    first = await services.registry.post("/v1/mentorships", json=body, headers=headers)
    second = await services.registry.post("/v1/mentorships", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert await count_mentorships(services) == 1


async def test_list_filters_and_pages(services: Services, admin_headers: Headers) -> None:
    mentor, other_mentor = await mentor_worker(services), await mentor_worker(services)
    apprentices = [await new_worker(services) for _ in range(4)]
    ids = [(await propose(services, admin_headers, mentor, a))["id"] for a in apprentices[:3]]
    pair = await propose(
        services, admin_headers, other_mentor, apprentices[3], kind="pair_assistance"
    )
    await activate(services, admin_headers, ids[0])

    async def listed(**params: Any) -> list[str]:
        response = await services.registry.get(
            "/v1/mentorships", params=params, headers=admin_headers
        )
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["items"]]

    assert await listed(mentor_id=str(mentor.id)) == ids
    assert await listed(apprentice_id=str(apprentices[3].id)) == [pair["id"]]
    assert await listed(status="active") == [ids[0]]
    assert await listed(status="proposed", mentor_id=str(mentor.id)) == ids[1:]
    assert await listed(kind="pair_assistance") == [pair["id"]]

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (
            await services.registry.get("/v1/mentorships", params=params, headers=admin_headers)
        ).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [*ids, pair["id"]]
    bad = await services.registry.get(
        "/v1/mentorships", params={"status": "paused"}, headers=admin_headers
    )
    assert assert_problem(bad, 422)["errors"][0]["field"] == "status"


# --- who may do what ---------------------------------------------------------------------------


async def test_roles_workers_read_their_own_and_organisers_their_scope(
    services: Services, admin_headers: Headers
) -> None:
    mentor = await mentor_worker(services, locality_code="370200")  # Qingdao
    apprentice = await new_worker(services, locality_code="370100")  # Jinan
    stranger = await new_worker(services, locality_code="370100")
    jinan = await person(services, "org.jinan", "organiser", locality_code="370100")
    qingdao = await person(services, "org.qingdao", "organiser", locality_code="370200")
    yantai = await person(services, "org.yantai", "organiser", locality_code="370600")
    as_mentor = await person(services, "w.mentor", "worker", worker_id=mentor.id)
    as_apprentice = await person(services, "w.apprentice", "worker", worker_id=apprentice.id)
    as_stranger = await person(services, "w.stranger", "worker", worker_id=stranger.id)
    judge = await person(services, "judge.zhou", "judge")
    body = proposal(mentor, apprentice)

    # Writes: admins and organisers whose scope covers the apprentice.
    for headers in (as_apprentice, as_mentor, judge):
        assert_problem(
            await services.registry.post("/v1/mentorships", json=body, headers=headers), 403
        )
    for headers in (qingdao, yantai):  # the mentor's city does not make the apprentice theirs
        denied = await services.registry.post("/v1/mentorships", json=body, headers=headers)
        assert "scope" in str(assert_problem(denied, 403)["detail"])
    assert await count_mentorships(services) == 0
    created = await services.registry.post("/v1/mentorships", json=body, headers=jinan)
    assert created.status_code == 201, created.text
    mentorship_id = created.json()["id"]
    url = f"/v1/mentorships/{mentorship_id}"
    for headers in (qingdao, as_mentor, as_apprentice):
        assert_problem(await activate(services, headers, mentorship_id), 403)
    terminate = await services.registry.post(
        f"{url}/terminate", json={"reason": "越权"}, headers=yantai
    )
    assert_problem(terminate, 403)
    assert (await services.registry.get(url, headers=admin_headers)).json()["status"] == "proposed"
    assert (await activate(services, jinan, mentorship_id)).status_code == 200

    # Reads: admin, organisers covering either worker, and the two workers.
    for headers in (admin_headers, jinan, qingdao, as_mentor, as_apprentice):
        response = await services.registry.get(url, headers=headers)
        assert response.status_code == 200, response.text
        listed = await services.registry.get("/v1/mentorships", headers=headers)
        assert [m["id"] for m in listed.json()["items"]] == [mentorship_id]
    for headers in (yantai, as_stranger):
        assert_problem(await services.registry.get(url, headers=headers), 403)
        listed = await services.registry.get("/v1/mentorships", headers=headers)
        assert listed.json()["items"] == []
    assert_problem(await services.registry.get(url, headers=judge), 403)
    assert_problem(await services.registry.get("/v1/mentorships", headers=judge), 403)
    assert_problem(await services.registry.get("/v1/mentorships"), 401)


async def test_enterprise_organiser_scope(services: Services, admin_headers: Headers) -> None:
    from tests.factories import make_enterprise

    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        ours = await make_enterprise(session)
        theirs = await make_enterprise(session)
    mentor = await mentor_worker(services, enterprise_id=ours.id)
    apprentice = await new_worker(services, enterprise_id=ours.id)
    outsider = await new_worker(services, enterprise_id=theirs.id)
    organiser = await person(services, "org.ours", "organiser", enterprise_id=ours.id)
    created = await services.registry.post(
        "/v1/mentorships", json=proposal(mentor, apprentice), headers=organiser
    )
    assert created.status_code == 201, created.text
    denied = await services.registry.post(
        "/v1/mentorships", json=proposal(mentor, outsider), headers=organiser
    )
    assert_problem(denied, 403)
    assert await count_mentorships(services) == 1


# --- settings ----------------------------------------------------------------------------------


class TestSettingsAreHonoured:
    """MENTOR_MIN_GRADE=senior and MENTOR_MAX_APPRENTICES=1 instead of the defaults."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(
            update={"mentor_min_grade": SkillGrade.senior, "mentor_max_apprentices": 1}
        )

    async def test_minimum_grade_and_capacity(
        self, services: Services, admin_headers: Headers
    ) -> None:
        senior = await new_worker(services, grade=SkillGrade.senior)
        intermediate = await new_worker(services, grade=SkillGrade.intermediate)
        first, second = await new_worker(services), await new_worker(services)
        low = await services.registry.post(
            "/v1/mentorships", json=proposal(intermediate, first), headers=admin_headers
        )
        problem = assert_problem(low, 422)
        assert problem["min_grade"] == "senior"
        assert "at least the grade senior" in str(problem["detail"])

        a = await propose(services, admin_headers, senior, first)
        b = await propose(services, admin_headers, senior, second)
        assert (await activate(services, admin_headers, a["id"])).status_code == 200
        full = assert_problem(await activate(services, admin_headers, b["id"]), 409)
        assert full["limit"] == 1
        assert "MENTOR_MAX_APPRENTICES = 1" in str(full["detail"])

    async def test_concurrent_activations_cannot_exceed_the_capacity(
        self, services: Services, admin_headers: Headers
    ) -> None:
        mentor = await mentor_worker(services)
        proposals = [
            await propose(services, admin_headers, mentor, await new_worker(services))
            for _ in range(4)
        ]
        # Hold the mentor's row so that all four activations are in flight together: they
        # must queue on the lock (none finishes while it is held) and then count each other.
        app = services.apps["registry"]
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(select(Worker).where(Worker.id == mentor.id).with_for_update())
            tasks = [
                asyncio.create_task(activate(services, admin_headers, p["id"])) for p in proposals
            ]
            await asyncio.sleep(0.5)
            assert not any(t.done() for t in tasks)
        responses = await asyncio.gather(*tasks)
        assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
        active = await services.registry.get(
            "/v1/mentorships", params={"status": "active"}, headers=admin_headers
        )
        assert len(active.json()["items"]) == 1
        assert len(await events(services, "mentorship.started")) == 1


async def test_concurrent_activations_for_one_apprentice(
    services: Services, admin_headers: Headers
) -> None:
    apprentice = await new_worker(services)
    proposals = [
        await propose(services, admin_headers, await mentor_worker(services), apprentice)
        for _ in range(3)
    ]
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(select(Worker).where(Worker.id == apprentice.id).with_for_update())
        tasks = [asyncio.create_task(activate(services, admin_headers, p["id"])) for p in proposals]
        await asyncio.sleep(0.5)
        assert not any(t.done() for t in tasks)  # queued on the apprentice's row
    responses = await asyncio.gather(*tasks)
    assert sorted(r.status_code for r in responses) == [200, 409, 409]
    assert all(r.json()["rule"] == "one_active_mentor" for r in responses if r.status_code == 409)
    assert len(await timeline_of(services, apprentice.id)) == 1


async def test_openapi_documents_the_endpoints_and_events(services: Services) -> None:
    spec = (await services.registry.get("/openapi.json")).json()
    for path in ("/v1/mentorships", "/v1/mentorships/{mentorship_id}/activate"):
        for operation in spec["paths"][path].values():
            assert operation["summary"]
            assert operation["description"]
            assert "403" in operation["responses"]
    assert {"mentorship.started", "mentorship.ended"} <= set(spec["webhooks"])
    assert any(tag["name"] == "mentorships" for tag in spec["tags"])


def test_defaults() -> None:
    fields = Settings.model_fields
    assert fields["mentor_min_grade"].default is SkillGrade.technician
    assert fields["mentor_max_apprentices"].default == 5
