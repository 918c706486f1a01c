"""Training: programmes, sessions, enrolment under capacity, attendance, completion and hours."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import func, select

from shared.models.infra import AuditLog
from shared.models.registry import TimelineEntry, TrainingAttendance, TrainingEnrolment
from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.factories import make_enterprise, make_worker

PROGRAMMES = "/v1/training-programmes"


def programme_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "master_heritage_hall",
        "title": "大师传承讲堂·数控加工",
        "description": "全国技术能手讲授五轴数控加工工艺。",
        "locality_code": "370100",
        "occupation": "数控车工",
        "capacity": 30,
        "starts_on": "2026-12-01",
        "ends_on": "2026-12-20",
    }
    body.update(overrides)
    return body


def session_body(day: int, hours: float, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"第{day}讲",
        "starts_at": f"2026-12-{day:02d}T09:00:00+08:00",
        "ends_at": f"2026-12-{day:02d}T13:00:00+08:00",
        "hours": hours,
        "venue": "济南市技师学院 实训楼 305",
    }
    body.update(overrides)
    return body


async def make_workers(services: Services, n: int, **overrides: Any) -> list[uuid.UUID]:
    app = services.apps["registry"]
    async with app.state.sessionmaker() as s, s.begin():
        return [(await make_worker(s, app.state.cipher, **overrides)).id for _ in range(n)]


async def make_enterprise_id(services: Services, **overrides: Any) -> uuid.UUID:
    async with services.apps["registry"].state.sessionmaker() as s, s.begin():
        return (await make_enterprise(s, **overrides)).id


async def headers_for(services: Services, username: str, role: str, **extra: Any) -> dict[str, str]:
    await create_account(services, username, role, **extra)
    return bearer(await get_token(services, username))


async def create_programme(
    services: Services, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await services.registry.post(
        PROGRAMMES, json=programme_body(**overrides), headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def open_programme(
    services: Services, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    programme = await create_programme(services, headers, **overrides)
    opened = await services.registry.post(f"{PROGRAMMES}/{programme['id']}/open", headers=headers)
    assert opened.status_code == 200, opened.text
    body: dict[str, Any] = opened.json()
    return body


async def enrol(
    services: Services, headers: dict[str, str], programme_id: str, worker_id: uuid.UUID
) -> Any:
    return await services.registry.post(
        f"{PROGRAMMES}/{programme_id}/enrolments",
        json={"worker_id": str(worker_id)},
        headers=headers,
    )


async def count(services: Services, model: Any, *where: Any) -> int:
    async with services.apps["registry"].state.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_happy_path_end_to_end(services: Services, admin_headers: dict[str, str]) -> None:
    ordering = await make_enterprise_id(services)
    li, wang, zhao = await make_workers(services, 3)
    organiser = await headers_for(services, "jinan.training", "organiser", locality_code="370100")
    li_headers = await headers_for(services, "worker.li", "worker", worker_id=li)

    created = await services.registry.post(
        PROGRAMMES,
        json=programme_body(
            kind="order_based",
            title="数控加工技能提升订单式培训",
            ordering_enterprise_id=str(ordering),
        ),
        headers={**organiser, "idempotency-key": "training-programme-0001"},
    )
    assert created.status_code == 201, created.text
    programme = created.json()
    pid = programme["id"]
    assert created.headers["location"] == f"{PROGRAMMES}/{pid}"
    assert programme["status"] == "planned"
    assert programme["ordering_enterprise_id"] == str(ordering)
    assert programme["enrolled_count"] == 0
    replay = await services.registry.post(
        PROGRAMMES,
        json=programme_body(
            kind="order_based",
            title="数控加工技能提升订单式培训",
            ordering_enterprise_id=str(ordering),
        ),
        headers={**organiser, "idempotency-key": "training-programme-0001"},
    )
    assert replay.json()["id"] == pid

    sessions = []
    for day, session_hours in [(2, 3.5), (9, 4), (16, 5)]:
        response = await services.registry.post(
            f"{PROGRAMMES}/{pid}/sessions", json=session_body(day, session_hours), headers=organiser
        )
        assert response.status_code == 201, response.text
        assert response.json()["hours"] == session_hours
        sessions.append(response.json()["id"])
    listed = await services.registry.get(f"{PROGRAMMES}/{pid}/sessions", headers=li_headers)
    assert [s["id"] for s in listed.json()["items"]] == sessions

    assert (await services.registry.post(f"{PROGRAMMES}/{pid}/open", headers=organiser)).json()[
        "status"
    ] == "open"
    mine = await enrol(services, li_headers, pid, li)  # a worker enrols themselves
    assert mine.status_code == 201, mine.text
    assert mine.json()["status"] == "enrolled"
    for worker in (wang, zhao):
        assert (await enrol(services, organiser, pid, worker)).status_code == 201

    started = await services.registry.post(f"{PROGRAMMES}/{pid}/start", headers=organiser)
    assert started.json()["status"] == "in_progress"
    assert started.json()["enrolled_count"] == 3

    marks = {
        sessions[0]: {li: True, wang: True, zhao: True},
        sessions[1]: {li: True, wang: False, zhao: True},
        sessions[2]: {li: True, wang: True, zhao: True},
    }
    for sid, presence in marks.items():
        response = await services.registry.put(
            f"{PROGRAMMES}/{pid}/sessions/{sid}/attendance",
            json=[{"worker_id": str(w), "present": p} for w, p in presence.items()],
            headers=organiser,
        )
        assert response.status_code == 200, response.text
        assert len(response.json()) == 3
    # An upsert: correcting a mark replaces it (Zhao missed the last session after all).
    corrected = await services.registry.put(
        f"{PROGRAMMES}/{pid}/sessions/{sessions[2]}/attendance",
        json=[{"worker_id": str(zhao), "present": False}],
        headers=organiser,
    )
    assert {a["worker_id"]: a["present"] for a in corrected.json()}[str(zhao)] is False
    assert await count(services, TrainingAttendance) == 9

    completed = await services.registry.post(f"{PROGRAMMES}/{pid}/complete", headers=organiser)
    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "completed"
    assert completed.json()["completed_at"]

    roster = await services.registry.get(f"{PROGRAMMES}/{pid}/enrolments", headers=organiser)
    hours = {e["worker_id"]: e["hours_credited"] for e in roster.json()["items"]}
    assert hours == {str(li): 12.5, str(wang): 8.5, str(zhao): 7.5}

    async with services.apps["registry"].state.sessionmaker() as s:
        entries = (
            await s.scalars(select(TimelineEntry).where(TimelineEntry.kind == "training_completed"))
        ).all()
    by_worker = {e.worker_id: e for e in entries}
    assert set(by_worker) == {li, wang, zhao}
    assert by_worker[li].summary == "完成培训《数控加工技能提升订单式培训》，计 12.5 学时"
    assert by_worker[li].data["programme_id"] == pid
    assert by_worker[li].data["kind"] == "order_based"
    assert by_worker[li].data["hours"] == 12.5
    assert by_worker[wang].data["hours"] == 8.5
    assert by_worker[li].source_id == pid

    file = await services.registry.get(f"/v1/workers/{li}/training", headers=li_headers)
    assert file.status_code == 200, file.text
    [item] = file.json()["items"]
    assert item["hours_credited"] == 12.5
    assert item["programme"]["title"] == "数控加工技能提升订单式培训"
    assert item["programme"]["status"] == "completed"

    assert await count(services, AuditLog, AuditLog.action == "training_programme.complete") == 1
    assert await count(services, AuditLog, AuditLog.action == "training_enrolment.create") == 3


async def test_capacity_full_is_409_and_nothing_written(
    services: Services, admin_headers: dict[str, str]
) -> None:
    workers = await make_workers(services, 3)
    programme = await open_programme(services, admin_headers, capacity=2)
    pid = programme["id"]
    for worker in workers[:2]:
        assert (await enrol(services, admin_headers, pid, worker)).status_code == 201
    full = await enrol(services, admin_headers, pid, workers[2])
    body = assert_problem(full, 409)
    assert "capacity is 2" in str(body["detail"])
    assert body["capacity"] == 2
    got = await services.registry.get(f"{PROGRAMMES}/{pid}", headers=admin_headers)
    assert got.json()["enrolled_count"] == 2
    assert await count(services, TrainingEnrolment, TrainingEnrolment.worker_id == workers[2]) == 0

    # Withdrawing frees the place; the worker who withdrew may come back later.
    withdrawn = await services.registry.post(
        f"{PROGRAMMES}/{pid}/enrolments/{workers[0]}/withdraw", headers=admin_headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert (await enrol(services, admin_headers, pid, workers[2])).status_code == 201
    assert_problem(await enrol(services, admin_headers, pid, workers[0]), 409)
    again = await services.registry.post(
        f"{PROGRAMMES}/{pid}/enrolments/{workers[0]}/withdraw", headers=admin_headers
    )
    assert_problem(again, 409)
    roster = await services.registry.get(
        f"{PROGRAMMES}/{pid}/enrolments", params={"status": "enrolled"}, headers=admin_headers
    )
    assert {e["worker_id"] for e in roster.json()["items"]} == {str(w) for w in workers[1:]}


async def test_concurrent_enrolments_never_exceed_capacity(
    services: Services, admin_headers: dict[str, str]
) -> None:
    workers = await make_workers(services, 6)
    pid = (await open_programme(services, admin_headers, capacity=2))["id"]
    responses = await asyncio.gather(*(enrol(services, admin_headers, pid, w) for w in workers))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 201, 409, 409, 409, 409]
    got = await services.registry.get(f"{PROGRAMMES}/{pid}", headers=admin_headers)
    assert got.json()["enrolled_count"] == 2
    assert await count(services, TrainingEnrolment) == 2


async def test_double_enrolment_is_409(services: Services, admin_headers: dict[str, str]) -> None:
    [worker] = await make_workers(services, 1)
    pid = (await open_programme(services, admin_headers))["id"]
    assert (await enrol(services, admin_headers, pid, worker)).status_code == 201
    twice = await enrol(services, admin_headers, pid, worker)
    assert "already enrolled" in str(assert_problem(twice, 409)["detail"])
    got = await services.registry.get(f"{PROGRAMMES}/{pid}", headers=admin_headers)
    assert got.json()["enrolled_count"] == 1
    assert await count(services, TrainingEnrolment) == 1


async def test_enrolment_only_while_open(services: Services, admin_headers: dict[str, str]) -> None:
    [worker] = await make_workers(services, 1)
    planned = await create_programme(services, admin_headers)
    refused = await enrol(services, admin_headers, planned["id"], worker)
    assert "only while it is open" in str(assert_problem(refused, 409)["detail"])
    pid = (await open_programme(services, admin_headers))["id"]
    await services.registry.post(f"{PROGRAMMES}/{pid}/start", headers=admin_headers)
    assert_problem(await enrol(services, admin_headers, pid, worker), 409)
    assert await count(services, TrainingEnrolment) == 0
    missing = await enrol(services, admin_headers, planned["id"], uuid.uuid4())
    assert_problem(missing, 404)


async def test_attendance_only_for_enrolled_workers(
    services: Services, admin_headers: dict[str, str]
) -> None:
    enrolled, stranger = await make_workers(services, 2)
    pid = (await open_programme(services, admin_headers))["id"]
    sid = (
        await services.registry.post(
            f"{PROGRAMMES}/{pid}/sessions", json=session_body(3, 2), headers=admin_headers
        )
    ).json()["id"]
    assert (await enrol(services, admin_headers, pid, enrolled)).status_code == 201
    refused = await services.registry.put(
        f"{PROGRAMMES}/{pid}/sessions/{sid}/attendance",
        json=[
            {"worker_id": str(enrolled), "present": True},
            {"worker_id": str(stranger), "present": True},
        ],
        headers=admin_headers,
    )
    body = assert_problem(refused, 422)
    assert body["errors"] == [  # the whole list is refused, naming the entry at fault
        {"field": "[1].worker_id", "location": "body", "message": "not enrolled in this programme"}
    ]
    assert await count(services, TrainingAttendance) == 0
    duplicate = await services.registry.put(
        f"{PROGRAMMES}/{pid}/sessions/{sid}/attendance",
        json=[
            {"worker_id": str(enrolled), "present": True},
            {"worker_id": str(enrolled), "present": False},
        ],
        headers=admin_headers,
    )
    assert_problem(duplicate, 422)
    other = await services.registry.put(
        f"{PROGRAMMES}/{pid}/sessions/{uuid.uuid4()}/attendance",
        json=[{"worker_id": str(enrolled), "present": True}],
        headers=admin_headers,
    )
    assert_problem(other, 404)
    got = await services.registry.get(
        f"{PROGRAMMES}/{pid}/sessions/{sid}/attendance", headers=admin_headers
    )
    assert got.json() == []


async def test_order_based_needs_an_existing_ordering_enterprise(
    services: Services, admin_headers: dict[str, str]
) -> None:
    without = await services.registry.post(
        PROGRAMMES, json=programme_body(kind="order_based"), headers=admin_headers
    )
    body = assert_problem(without, 422)
    assert body["errors"][0]["field"] == "ordering_enterprise_id"
    unknown = await services.registry.post(
        PROGRAMMES,
        json=programme_body(kind="order_based", ordering_enterprise_id=str(uuid.uuid4())),
        headers=admin_headers,
    )
    assert assert_problem(unknown, 422)["errors"][0]["field"] == "ordering_enterprise_id"
    enterprise = await make_enterprise_id(services)
    not_ordered = await services.registry.post(
        PROGRAMMES,
        json=programme_body(kind="team_hall", ordering_enterprise_id=str(enterprise)),
        headers=admin_headers,
    )
    assert assert_problem(not_ordered, 422)["errors"][0]["field"] == "ordering_enterprise_id"
    backwards = await services.registry.post(
        PROGRAMMES, json=programme_body(ends_on="2026-11-30"), headers=admin_headers
    )
    assert assert_problem(backwards, 422)["errors"][0]["field"] == "ends_on"
    bad_kind = await services.registry.post(
        PROGRAMMES, json=programme_body(kind="night_school"), headers=admin_headers
    )
    assert assert_problem(bad_kind, 422)["errors"][0]["field"] == "kind"
    listed = await services.registry.get(PROGRAMMES, headers=admin_headers)
    assert listed.json()["items"] == []


async def test_session_must_end_after_it_starts(
    services: Services, admin_headers: dict[str, str]
) -> None:
    pid = (await create_programme(services, admin_headers))["id"]
    backwards = await services.registry.post(
        f"{PROGRAMMES}/{pid}/sessions",
        json=session_body(4, 3, ends_at="2026-12-04T08:00:00+08:00"),
        headers=admin_headers,
    )
    assert assert_problem(backwards, 422)["errors"][0]["field"] == "ends_at"
    no_hours = await services.registry.post(
        f"{PROGRAMMES}/{pid}/sessions", json=session_body(4, 0), headers=admin_headers
    )
    assert assert_problem(no_hours, 422)["errors"][0]["field"] == "hours"
    outside = await services.registry.post(
        f"{PROGRAMMES}/{pid}/sessions",
        json=session_body(4, 3, starts_at="2026-11-04T09:00:00+08:00"),
        headers=admin_headers,
    )
    assert assert_problem(outside, 422)["errors"][0]["field"] == "starts_at"
    listed = await services.registry.get(f"{PROGRAMMES}/{pid}/sessions", headers=admin_headers)
    assert listed.json()["items"] == []


async def test_completing_twice_is_409_without_double_credit(
    services: Services, admin_headers: dict[str, str]
) -> None:
    [worker, absent] = await make_workers(services, 2)
    pid = (await open_programme(services, admin_headers, kind="team_hall"))["id"]
    sid = (
        await services.registry.post(
            f"{PROGRAMMES}/{pid}/sessions", json=session_body(5, 2.5), headers=admin_headers
        )
    ).json()["id"]
    await enrol(services, admin_headers, pid, worker)
    await enrol(services, admin_headers, pid, absent)
    await services.registry.put(
        f"{PROGRAMMES}/{pid}/sessions/{sid}/attendance",
        json=[
            {"worker_id": str(worker), "present": True},
            {"worker_id": str(absent), "present": False},
        ],
        headers=admin_headers,
    )
    early = await services.registry.post(f"{PROGRAMMES}/{pid}/complete", headers=admin_headers)
    assert "allowed actions are: start, cancel" in str(assert_problem(early, 409)["detail"])
    await services.registry.post(f"{PROGRAMMES}/{pid}/start", headers=admin_headers)
    first = await services.registry.post(f"{PROGRAMMES}/{pid}/complete", headers=admin_headers)
    assert first.status_code == 200, first.text
    second = await services.registry.post(f"{PROGRAMMES}/{pid}/complete", headers=admin_headers)
    body = assert_problem(second, 409)
    assert "completed" in str(body["detail"])
    assert body["allowed_actions"] == []
    assert await count(services, TimelineEntry, TimelineEntry.worker_id == worker) == 1
    file = await services.registry.get(f"/v1/workers/{worker}/training", headers=admin_headers)
    assert file.json()["items"][0]["hours_credited"] == 2.5
    # A worker who attended nothing gets no credit and no "completed training" in the file.
    assert await count(services, TimelineEntry, TimelineEntry.worker_id == absent) == 0
    skipped = await services.registry.get(f"/v1/workers/{absent}/training", headers=admin_headers)
    assert skipped.json()["items"][0]["hours_credited"] == 0
    # After completion the record is closed: no attendance changes, no cancelling.
    late = await services.registry.put(
        f"{PROGRAMMES}/{pid}/sessions/{sid}/attendance",
        json=[{"worker_id": str(worker), "present": False}],
        headers=admin_headers,
    )
    assert_problem(late, 409)
    assert_problem(
        await services.registry.post(f"{PROGRAMMES}/{pid}/cancel", headers=admin_headers), 409
    )
    assert_problem(
        await services.registry.post(
            f"{PROGRAMMES}/{pid}/sessions", json=session_body(6, 1), headers=admin_headers
        ),
        409,
    )


async def test_illegal_transitions_name_the_allowed_ones(
    services: Services, admin_headers: dict[str, str]
) -> None:
    pid = (await create_programme(services, admin_headers))["id"]
    started = await services.registry.post(f"{PROGRAMMES}/{pid}/start", headers=admin_headers)
    body = assert_problem(started, 409)
    assert body["allowed_actions"] == ["open", "cancel"]
    assert "allowed only from open" in str(body["detail"])
    cancelled = await services.registry.post(f"{PROGRAMMES}/{pid}/cancel", headers=admin_headers)
    assert cancelled.json()["status"] == "cancelled"
    reopened = await services.registry.post(f"{PROGRAMMES}/{pid}/open", headers=admin_headers)
    assert "none (final status)" in str(assert_problem(reopened, 409)["detail"])
    assert_problem(
        await services.registry.post(f"{PROGRAMMES}/{uuid.uuid4()}/open", headers=admin_headers),
        404,
    )


async def test_role_and_scope_rules(services: Services, admin_headers: dict[str, str]) -> None:
    li, wang = await make_workers(services, 2)
    enterprise = await make_enterprise_id(services)
    jinan = await headers_for(services, "org.jinan", "organiser", locality_code="370100")
    qingdao = await headers_for(services, "org.qingdao", "organiser", locality_code="370200")
    company = await headers_for(services, "org.company", "organiser", enterprise_id=enterprise)
    li_headers = await headers_for(services, "worker.li", "worker", worker_id=li)

    # Organisers create only inside their scope; workers never.
    assert_problem(
        await services.registry.post(PROGRAMMES, json=programme_body(), headers=qingdao), 403
    )
    assert_problem(
        await services.registry.post(PROGRAMMES, json=programme_body(), headers=li_headers), 403
    )
    assert_problem(
        await services.registry.post(PROGRAMMES, json=programme_body(), headers=company), 403
    )
    own = await create_programme(services, company, enterprise_id=str(enterprise))
    assert (
        await services.registry.post(f"{PROGRAMMES}/{own['id']}/open", headers=company)
    ).status_code == 200
    county = await create_programme(services, jinan, locality_code="370102", title="班组讲堂")
    pid = county["id"]

    # An out-of-scope organiser may not run the programme: nothing changes.
    for path in ("open", "start", "complete", "cancel"):
        assert_problem(
            await services.registry.post(f"{PROGRAMMES}/{pid}/{path}", headers=qingdao), 403
        )
    assert_problem(
        await services.registry.post(
            f"{PROGRAMMES}/{pid}/sessions", json=session_body(6, 2), headers=qingdao
        ),
        403,
    )
    assert_problem(
        await services.registry.post(
            f"{PROGRAMMES}/{pid}/sessions", json=session_body(6, 2), headers=company
        ),
        403,
    )
    got = await services.registry.get(f"{PROGRAMMES}/{pid}", headers=qingdao)
    assert got.json()["status"] == "planned"  # anyone signed in may read a programme

    # The city organiser covers the county's programme.
    assert (
        await services.registry.post(f"{PROGRAMMES}/{pid}/open", headers=jinan)
    ).status_code == 200
    assert_problem(await enrol(services, qingdao, pid, wang), 403)
    assert_problem(await enrol(services, li_headers, pid, wang), 403)  # not themselves
    assert (await enrol(services, li_headers, pid, li)).status_code == 201
    assert (await enrol(services, jinan, pid, wang)).status_code == 201
    assert_problem(
        await services.registry.post(
            f"{PROGRAMMES}/{pid}/enrolments/{wang}/withdraw", headers=li_headers
        ),
        403,
    )
    assert_problem(
        await services.registry.get(f"{PROGRAMMES}/{pid}/enrolments", headers=li_headers), 403
    )
    assert_problem(
        await services.registry.get(f"{PROGRAMMES}/{pid}/enrolments", headers=qingdao), 403
    )
    assert_problem(
        await services.registry.get(f"/v1/workers/{wang}/training", headers=li_headers), 403
    )
    assert (
        await services.registry.get(f"/v1/workers/{li}/training", headers=li_headers)
    ).status_code == 200
    withdrawn = await services.registry.post(
        f"{PROGRAMMES}/{pid}/enrolments/{li}/withdraw", headers=li_headers
    )
    assert withdrawn.json()["status"] == "withdrawn"
    assert_problem(await services.registry.get(PROGRAMMES), 401)


async def test_list_filters_and_cursor(services: Services, admin_headers: dict[str, str]) -> None:
    enterprise = await make_enterprise_id(services)
    await create_programme(services, admin_headers, kind="team_hall", locality_code="370102")
    await create_programme(services, admin_headers, kind="team_hall", locality_code="370200")
    await create_programme(
        services,
        admin_headers,
        kind="order_based",
        ordering_enterprise_id=str(enterprise),
    )
    await open_programme(services, admin_headers, kind="post_training")

    async def ids(**params: Any) -> list[str]:
        response = await services.registry.get(PROGRAMMES, params=params, headers=admin_headers)
        assert response.status_code == 200, response.text
        return [p["kind"] for p in response.json()["items"]]

    assert await ids(kind="team_hall") == ["team_hall", "team_hall"]
    assert await ids(status="open") == ["post_training"]
    assert await ids(locality_code="370100") == ["team_hall", "order_based", "post_training"]
    assert await ids(locality_code="370102") == ["team_hall"]
    assert await ids(enterprise_id=str(enterprise)) == ["order_based"]
    assert len(await ids(locality_code="370000")) == 4

    first = await services.registry.get(PROGRAMMES, params={"limit": 3}, headers=admin_headers)
    cursor = first.json()["next_cursor"]
    assert cursor
    rest = await services.registry.get(
        PROGRAMMES, params={"limit": 3, "cursor": cursor}, headers=admin_headers
    )
    assert [p["kind"] for p in rest.json()["items"]] == ["post_training"]
    assert rest.json()["next_cursor"] is None
