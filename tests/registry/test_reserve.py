"""The craftsman reserve through HTTP: the workflow, scope and privacy, plans with If-Match,
reviews due, each member's progress and each locality's progress against its targets, the
latter two compared with an independent computation over the rows each test created."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update

from shared.models.infra import AuditLog, OutboxEvent
from shared.models.registry import ReserveMember, SkillGrade, TimelineEntry, Worker
from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.factories import make_enterprise, make_worker

Headers = dict[str, str]
MEMBERS = "/v1/reserve-members"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_today() -> date:
    return datetime.now(SHANGHAI).date()


#: A date no service clock sees as the future (Shanghai's and the server's UTC differ at night).
TODAY = min(shanghai_today(), datetime.now(ZoneInfo("UTC")).date())


async def person(services: Services, username: str, role: str, **extra: Any) -> Headers:
    await create_account(services, username, role, **extra)
    return bearer(await get_token(services, username))


async def new_enterprise(services: Services, locality: str) -> uuid.UUID:
    async with services.apps["registry"].state.sessionmaker() as s, s.begin():
        return (await make_enterprise(s, locality_code=locality)).id


async def new_worker(services: Services, **overrides: Any) -> Worker:
    app = services.apps["registry"]
    async with app.state.sessionmaker() as s, s.begin():
        return await make_worker(s, app.state.cipher, **overrides)


async def nominate(
    services: Services, headers: Headers, worker_id: uuid.UUID, status: int = 201, **extra: Any
) -> dict[str, Any]:
    body = {"worker_id": str(worker_id), "reason": "市级技术能手，带徒5名。", **extra}
    response = await services.registry.post(MEMBERS, json=body, headers=headers)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def act(
    services: Services, headers: Headers, member_id: str, action: str, **body: Any
) -> Any:
    return await services.registry.post(
        f"{MEMBERS}/{member_id}/{action}", json=body or None, headers=headers
    )


async def events(services: Services, prefix: str = "reserve.") -> list[dict[str, Any]]:
    async with services.apps["registry"].state.sessionmaker() as s:
        rows = await s.scalars(
            select(OutboxEvent).where(OutboxEvent.type.startswith(prefix)).order_by(OutboxEvent.seq)
        )
        return [{"type": r.type, **r.payload["data"]} for r in rows]


async def table_counts(services: Services) -> tuple[int, int, int, int]:
    """Memberships, audit rows, outbox rows, timeline entries: a refusal changes none."""
    async with services.apps["registry"].state.sessionmaker() as s:
        return (
            int(await s.scalar(select(func.count()).select_from(ReserveMember)) or 0),
            int(await s.scalar(select(func.count()).select_from(AuditLog)) or 0),
            int(await s.scalar(select(func.count()).select_from(OutboxEvent)) or 0),
            int(await s.scalar(select(func.count()).select_from(TimelineEntry)) or 0),
        )


async def timeline_kinds(services: Services, worker_id: uuid.UUID) -> list[str]:
    async with services.apps["registry"].state.sessionmaker() as s:
        rows = await s.scalars(
            select(TimelineEntry.kind)
            .where(TimelineEntry.worker_id == worker_id)
            .order_by(TimelineEntry.id)
        )
        return list(rows)


def same_problem(a: Any, b: Any) -> None:
    """Two refusals a caller cannot tell apart (request ids and paths aside)."""
    strip = ("request_id", "instance")
    first = {k: v for k, v in a.json().items() if k not in strip}
    second = {k: v for k, v in b.json().items() if k not in strip}
    assert (a.status_code, first) == (b.status_code, second)


# --- the workflow -----------------------------------------------------------------------------


async def test_nominate_confirm_plan_leave_and_nominate_again(
    services: Services, admin_headers: Headers
) -> None:
    jinan = await person(services, "jinan.org", "organiser", locality_code="370100")
    province = await person(services, "province.org", "organiser", locality_code="370000")
    worker = await new_worker(services, locality_code="370102", grade=SkillGrade.technician)

    member = await nominate(services, jinan, worker.id, track="qilu_craftsman")
    mid = member["id"]
    assert member["status"] == "nominated"
    assert member["track"] == "qilu_craftsman"
    assert member["nominated_by"] == {
        "body": "locality",
        "enterprise_id": None,
        "locality_code": "370100",
    }
    assert member["grade_at_nomination"] == "technician"
    assert member["nominated_on"] == shanghai_today().isoformat()
    assert member["plan"] is None
    # One open membership per worker.
    again = await services.registry.post(
        MEMBERS, json={"worker_id": str(worker.id), "reason": "再次推荐"}, headers=jinan
    )
    assert assert_problem(again, 409)["member_id"] == mid

    # Only the province decides: a city organiser who may see the nomination gets a 403.
    refused = await act(services, jinan, mid, "confirm")
    assert assert_problem(refused, 403)
    assert await timeline_kinds(services, worker.id) == []
    confirmed = await act(services, province, mid, "confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["confirmed_on"] == shanghai_today().isoformat()
    assert confirmed.headers["etag"] == '"2"'
    assert await timeline_kinds(services, worker.id) == ["reserve_joined"]
    assert_problem(await act(services, province, mid, "confirm"), 409)
    assert_problem(await act(services, province, mid, "decline", reason="迟到的拒绝"), 409)

    # The plan: If-Match required (428), a stale one refused (412), nothing written either way.
    url = f"{MEMBERS}/{mid}/plan"
    plan = {"target_grade": "senior_technician", "review_on": shanghai_today().isoformat()}
    before = await table_counts(services)
    assert_problem(await services.registry.put(url, json=plan, headers=jinan), 428)
    stale = {**jinan, "If-Match": '"1"'}
    assert_problem(await services.registry.put(url, json=plan, headers=stale), 412)
    assert await table_counts(services) == before
    put = await services.registry.put(url, json=plan, headers={**jinan, "If-Match": '"2"'})
    assert put.status_code == 200, put.text
    assert put.headers["etag"] == '"3"'
    assert put.json()["plan"]["target_grade"] == "senior_technician"
    # A target grade not above the grade held when nominated is refused, naming the field.
    low = {**plan, "target_grade": "technician"}
    bad = await services.registry.put(url, json=low, headers={**jinan, "If-Match": '"3"'})
    assert assert_problem(bad, 422)["errors"][0]["field"] == "target_grade"

    left = await act(services, jinan, mid, "leave", reason="调离本省工作。")
    assert left.status_code == 200, left.text
    assert (left.json()["status"], left.json()["leave_reason"]) == ("left", "调离本省工作。")
    assert left.json()["left_on"] == shanghai_today().isoformat()
    assert await timeline_kinds(services, worker.id) == ["reserve_joined", "reserve_left"]
    assert_problem(await act(services, jinan, mid, "leave", reason="again"), 409)
    # A plan of a closed membership no longer changes.
    closed = await services.registry.put(url, json=plan, headers={**jinan, "If-Match": '"4"'})
    assert_problem(closed, 409)

    # Left: the worker may be nominated again (a new membership).
    second = await nominate(services, jinan, worker.id)
    assert second["id"] != mid

    sent = await events(services)
    assert [e["type"] for e in sent] == [
        "reserve.nominated",
        "reserve.confirmed",
        "reserve.left",
        "reserve.nominated",
    ]
    assert {e["locality_code"] for e in sent} == {"370102"}
    assert {e["worker_id"] for e in sent} == {str(worker.id)}
    async with services.apps["registry"].state.sessionmaker() as s:
        actions = list(
            await s.scalars(
                select(AuditLog.action)
                .where(AuditLog.entity_type == "reserve_member")
                .order_by(AuditLog.id)
            )
        )
    assert actions == [
        "reserve.nominate",
        "reserve.confirm",
        "reserve.plan",
        "reserve.leave",
        "reserve.nominate",
    ]


async def test_an_enterprise_nominates_and_the_province_declines(
    services: Services, admin_headers: Headers
) -> None:
    enterprise = await new_enterprise(services, "370102")
    company = await person(services, "company.org", "organiser", enterprise_id=enterprise)
    worker = await new_worker(services, locality_code="370102", enterprise_id=enterprise)
    member = await nominate(services, company, worker.id)
    assert member["nominated_by"] == {
        "body": "enterprise",
        "enterprise_id": str(enterprise),
        "locality_code": None,
    }
    # The enterprise leaves nothing to decide itself; the reason is required.
    assert_problem(await act(services, company, member["id"], "decline", reason="x"), 403)
    missing = await act(services, admin_headers, member["id"], "decline")
    assert_problem(missing, 422)
    declined = await act(
        services, admin_headers, member["id"], "decline", reason="近三年无晋升或竞赛成绩。"
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    assert declined.json()["decline_reason"] == "近三年无晋升或竞赛成绩。"
    assert_problem(await act(services, admin_headers, member["id"], "confirm"), 409)
    assert_problem(await act(services, admin_headers, member["id"], "leave", reason="x"), 409)
    # Declined never joined: nothing on the file.
    assert await timeline_kinds(services, worker.id) == []
    assert [e["type"] for e in await events(services)] == ["reserve.nominated", "reserve.declined"]
    # An admin nominates for the province.
    again = await nominate(services, admin_headers, worker.id)
    assert again["nominated_by"]["locality_code"] == "370000"


async def test_a_left_file_is_not_nominated(services: Services, admin_headers: Headers) -> None:
    worker = await new_worker(services, file_status="retired")
    response = await services.registry.post(
        MEMBERS, json={"worker_id": str(worker.id), "reason": "r"}, headers=admin_headers
    )
    body = assert_problem(response, 422)
    assert body["rule"] == "active_file"
    assert body["errors"][0]["field"] == "worker_id"


# --- scope and privacy ------------------------------------------------------------------------


async def test_workers_outside_the_scope_are_indistinguishable_from_unknown(
    services: Services, admin_headers: Headers
) -> None:
    jinan = await person(services, "jinan.org", "organiser", locality_code="370100")
    qingdao_worker = await new_worker(services, locality_code="370202")
    jinan_worker = await new_worker(services, locality_code="370102")
    qingdao_member = await nominate(services, admin_headers, qingdao_worker.id)

    before = await table_counts(services)
    # Nominating: the Qingdao worker gets exactly the unknown id's answer.
    outside = await services.registry.post(
        MEMBERS, json={"worker_id": str(qingdao_worker.id), "reason": "r"}, headers=jinan
    )
    unknown = await services.registry.post(
        MEMBERS, json={"worker_id": str(uuid.uuid4()), "reason": "r"}, headers=jinan
    )
    assert_problem(outside, 422)
    same_problem(outside, unknown)
    # Reading or acting on the Qingdao membership: the unknown id's 404.
    for suffix in ("", "/progress"):
        seen = await services.registry.get(
            f"{MEMBERS}/{qingdao_member['id']}{suffix}", headers=jinan
        )
        nobody = await services.registry.get(f"{MEMBERS}/{uuid.uuid4()}{suffix}", headers=jinan)
        assert_problem(seen, 404)
        assert seen.json()["detail"].startswith("No reserve membership with id")
        assert nobody.json()["detail"].startswith("No reserve membership with id")
    left = await act(services, jinan, qingdao_member["id"], "leave", reason="r")
    assert_problem(left, 404)
    # A plan naming a mentor outside the scope: the unknown mentor's answer.
    mine = await nominate(services, admin_headers, jinan_worker.id)
    before = await table_counts(services)
    url = f"{MEMBERS}/{mine['id']}/plan"
    headers = {**jinan, "If-Match": '"1"'}
    review = shanghai_today().isoformat()
    far = await services.registry.put(
        url, json={"mentor_id": str(qingdao_worker.id), "review_on": review}, headers=headers
    )
    none = await services.registry.put(
        url, json={"mentor_id": str(uuid.uuid4()), "review_on": review}, headers=headers
    )
    assert assert_problem(far, 422)["errors"][0]["field"] == "mentor_id"
    same_problem(far, none)
    assert await table_counts(services) == before

    # Lists: the Jinan organiser sees Jinan's membership only; a locality filter outside the
    # scope finds nothing.
    listed = await services.registry.get(MEMBERS, headers=jinan)
    assert [m["id"] for m in listed.json()["items"]] == [mine["id"]]
    qingdao = await services.registry.get(
        MEMBERS, params={"locality_code": "370200"}, headers=jinan
    )
    assert qingdao.json()["items"] == []
    everyone = await services.registry.get(MEMBERS, headers=admin_headers)
    assert {m["id"] for m in everyone.json()["items"]} == {mine["id"], qingdao_member["id"]}


async def test_enterprise_and_worker_scopes(services: Services, admin_headers: Headers) -> None:
    enterprise = await new_enterprise(services, "370102")
    company = await person(services, "company.org", "organiser", enterprise_id=enterprise)
    own = await new_worker(services, locality_code="370102", enterprise_id=enterprise)
    other = await new_worker(services, locality_code="370102")  # same county, other employer
    own_member = await nominate(services, company, own.id)
    other_member = await nominate(services, admin_headers, other.id)
    assert (await nominate(services, company, other.id, status=422))["rule"] == "worker_exists"

    listed = await services.registry.get(MEMBERS, headers=company)
    assert [m["id"] for m in listed.json()["items"]] == [own_member["id"]]
    assert_problem(
        await services.registry.get(f"{MEMBERS}/{other_member['id']}", headers=company), 404
    )

    await create_account(services, "own.worker", "worker", worker_id=own.id)
    worker = bearer(await get_token(services, "own.worker"))
    mine = await services.registry.get(f"{MEMBERS}/{own_member['id']}", headers=worker)
    assert mine.status_code == 200, mine.text
    assert mine.headers["etag"] == '"1"'
    assert (
        await services.registry.get(f"{MEMBERS}/{own_member['id']}/progress", headers=worker)
    ).status_code == 200
    assert_problem(
        await services.registry.get(f"{MEMBERS}/{other_member['id']}", headers=worker), 404
    )
    listed = await services.registry.get(MEMBERS, headers=worker)
    assert [m["id"] for m in listed.json()["items"]] == [own_member["id"]]


async def test_reviews_due_for_organisers(services: Services, admin_headers: Headers) -> None:
    jinan = await person(services, "jinan.org", "organiser", locality_code="370100")
    workers = [
        await new_worker(services, locality_code=code) for code in ("370102", "370100", "370202")
    ]
    members = [await nominate(services, admin_headers, w.id) for w in workers]
    today = shanghai_today()
    reviews = [today + timedelta(days=d) for d in (0, 30, 0)]
    for member, review in zip(members, reviews, strict=True):
        response = await services.registry.put(
            f"{MEMBERS}/{member['id']}/plan",
            json={"review_on": review.isoformat()},
            headers={**admin_headers, "If-Match": '"1"'},
        )
        assert response.status_code == 200, response.text
    due = await services.registry.get("/v1/reserve-reviews", headers=jinan)
    assert [m["id"] for m in due.json()["items"]] == [members[0]["id"]]
    later = (today + timedelta(days=30)).isoformat()
    due = await services.registry.get(
        "/v1/reserve-reviews", params={"due_by": later}, headers=jinan
    )
    assert [m["id"] for m in due.json()["items"]] == [members[0]["id"], members[1]["id"]]
    everyone = await services.registry.get(
        "/v1/reserve-reviews", params={"due_by": later, "limit": 2}, headers=admin_headers
    )
    page = everyone.json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    rest = await services.registry.get(
        "/v1/reserve-reviews",
        params={"due_by": later, "limit": 2, "cursor": page["next_cursor"]},
        headers=admin_headers,
    )
    ids = [m["id"] for m in page["items"] + rest.json()["items"]]
    assert sorted(ids) == sorted(m["id"] for m in members)
    # Soonest first.
    assert ids[-1] == members[1]["id"]


# --- a member's progress ----------------------------------------------------------------------


async def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def grade_change(
    services: Services, headers: Headers, worker: uuid.UUID, to: str, day: date, **extra: Any
) -> None:
    body = {"to_grade": to, "effective_date": day.isoformat(), **extra}
    if body.setdefault("source", "certification") == "certification":
        body |= {"certificate_no": f"S{uuid.uuid4().hex[:12]}", "issuing_body": "济南市鉴定中心"}
    await ok(
        await services.registry.post(
            f"/v1/workers/{worker}/grade-changes", json=body, headers=headers
        ),
        201,
    )


async def result(
    services: Services, headers: Headers, worker: uuid.UUID, competition: str, **row: Any
) -> None:
    body = {
        "worker_id": str(worker),
        "competition_id": competition,
        "competition_name": "山东省数控车工职业技能竞赛",
        "stage_name": "决赛",
        **row,
    }
    url = f"/v1/internal/competition-results/{uuid.uuid4()}"
    assert (await services.registry.put(url, json=body, headers=headers)).status_code in (200, 201)


async def grant(
    services: Services, headers: Headers, worker: uuid.UUID, code: str, day: date
) -> str:
    body = {
        "worker_id": str(worker),
        "granted_on": day.isoformat(),
        "source": "nomination",
        "source_ref": uuid.uuid4().hex,
    }
    created = await ok(
        await services.registry.post(f"/v1/honours/{code}/grants", json=body, headers=headers),
        201,
    )
    return str(created["id"])


async def programme(
    services: Services, headers: Headers, sessions: list[tuple[date, str]]
) -> tuple[str, list[str]]:
    """An open programme around TODAY with sessions (day, hours); its id and the sessions'."""
    body = {
        "kind": "master_heritage_hall",
        "title": f"大师传承讲堂·{uuid.uuid4().hex[:4]}",
        "locality_code": "370100",
        "capacity": 10,
        "starts_on": (TODAY - timedelta(days=20)).isoformat(),
        "ends_on": (TODAY + timedelta(days=5)).isoformat(),
    }
    pid = (await ok(await services.registry.post(PROGRAMMES, json=body, headers=headers), 201))[
        "id"
    ]
    ids = []
    for day, hours in sessions:
        session = {
            "title": f"{day}",
            "starts_at": f"{day.isoformat()}T09:00:00+08:00",
            "ends_at": f"{day.isoformat()}T13:00:00+08:00",
            "hours": float(hours),
        }
        url = f"{PROGRAMMES}/{pid}/sessions"
        ids.append(
            (await ok(await services.registry.post(url, json=session, headers=headers), 201))["id"]
        )
    await ok(await services.registry.post(f"{PROGRAMMES}/{pid}/open", headers=headers))
    return pid, ids


PROGRAMMES = "/v1/training-programmes"


async def test_member_progress_follows_the_talent_file(
    services: Services, admin_headers: Headers
) -> None:
    """Every figure of the progress, against the same figure worked out here in Python from
    what this test recorded (dates relative to the day the member joined)."""
    admin = admin_headers
    worker = await new_worker(services, locality_code="370102", grade=SkillGrade.senior)
    mentor = await new_worker(services, locality_code="370102", grade=SkillGrade.technician)
    joined = TODAY - timedelta(days=10)
    before = joined - timedelta(days=1)

    # Promoted before joining: the baseline, not progress.
    grades: list[tuple[str, str, str, date]] = []  # (source, from, to, effective)
    await grade_change(services, admin, worker.id, "technician", before)
    grades.append(("certification", "senior", "technician", before))

    member = await nominate(services, admin, worker.id, track="qilu_craftsman")
    mid = member["id"]
    await ok(await act(services, admin, mid, "confirm"))
    # History: the member joined ten days ago (the API dates joining today).
    async with services.apps["registry"].state.sessionmaker() as s, s.begin():
        await s.execute(
            update(ReserveMember)
            .where(ReserveMember.id == uuid.UUID(mid))
            .values(nominated_on=joined, confirmed_on=joined)
        )

    pair = await ok(
        await services.registry.post(
            "/v1/mentorships",
            json={
                "mentor_id": str(mentor.id),
                "apprentice_id": str(worker.id),
                "kind": "master_apprentice",
                "goals": "五轴加工",
                "planned_start_date": TODAY.isoformat(),
                "planned_end_date": (TODAY + timedelta(days=300)).isoformat(),
            },
            headers=admin,
        ),
        201,
    )
    await ok(await services.registry.post(f"/v1/mentorships/{pair['id']}/activate", headers=admin))

    # Training: P1 and P2 in the plan, P3 not; the worker enrolled in P1 and P3.
    day = lambda n: TODAY - timedelta(days=n)  # noqa: E731
    p1, (s1, s2, s3) = await programme(
        services, admin, [(day(12), "4"), (day(5), "3.5"), (day(2), "2")]
    )
    p2, _ = await programme(services, admin, [(day(3), "1.5")])
    p3, (s5,) = await programme(services, admin, [(day(4), "2.25")])
    sessions = {  # session -> (programme, day, hours, present)
        s1: (p1, day(12), "4", True),
        s2: (p1, day(5), "3.5", True),
        s3: (p1, day(2), "2", False),
        s5: (p3, day(4), "2.25", True),
    }
    planned = {p1: ["4", "3.5", "2"], p2: ["1.5"]}
    for pid in (p1, p3):
        url = f"{PROGRAMMES}/{pid}/enrolments"
        await ok(
            await services.registry.post(url, json={"worker_id": str(worker.id)}, headers=admin),
            201,
        )
    for sid, (pid, _, _, present) in sessions.items():
        url = f"{PROGRAMMES}/{pid}/sessions/{sid}/attendance"
        marks = [{"worker_id": str(worker.id), "present": present}]
        await ok(await services.registry.put(url, json=marks, headers=admin))

    c1, c2, c3 = (str(uuid.uuid4()) for _ in range(3))
    plan = {
        "mentorship_id": pair["id"],
        "programme_ids": [p1, p2],
        "target_grade": "senior_technician",
        "target_competition_ids": [c1, c3],
        "review_on": day(1).isoformat(),
    }
    put = await services.registry.put(
        f"{MEMBERS}/{mid}/plan", json=plan, headers={**admin, "If-Match": '"2"'}
    )
    assert (await ok(put))["plan"]["mentor_id"] == str(mentor.id)  # from the mentorship

    # After joining: a certified promotion, then an admin's correction (not a promotion).
    await grade_change(services, admin, worker.id, "senior_technician", TODAY)
    grades.append(("certification", "technician", "senior_technician", TODAY))
    await grade_change(
        services,
        admin,
        worker.id,
        "principal_technician",
        TODAY,
        source="correction",
        reason="记录更正",
    )
    grades.append(("correction", "senior_technician", "principal_technician", TODAY))

    results = [  # (competition, published day, rank, prize)
        (c1, before, 3, None),
        (c1, day(1), 1, "first"),
        (c2, day(2), 5, None),
    ]
    for competition, published, rank, prize in results:
        await result(
            services,
            admin,
            worker.id,
            competition,
            rank=rank,
            prize=prize,
            published_at=f"{published.isoformat()}T10:00:00+08:00",
        )

    honours = [  # (code, granted_on, revoked)
        ("qilu_craftsman", day(1), False),
        ("provincial_technical_expert", before, False),
        ("technical_skills_master", day(2), True),
    ]
    for code, granted_on, revoked in honours:
        grant_id = await grant(services, admin, worker.id, code, granted_on)
        if revoked:
            url = f"/v1/honour-grants/{grant_id}/revoke"
            await ok(await services.registry.post(url, json={"reason": "撤销"}, headers=admin))

    got = await ok(await services.registry.get(f"{MEMBERS}/{mid}/progress", headers=admin))

    # The same figures, worked out from what was recorded above.
    ladder = list(SkillGrade)
    now = shanghai_today()
    in_window = lambda d: joined <= d <= now  # noqa: E731
    promotions = [
        g
        for g in grades
        if g[0] in ("certification", "competition")
        and ladder.index(SkillGrade(g[2])) > ladder.index(SkillGrade(g[1]))
        and in_window(g[3])
    ]
    attended = {
        pid: sum(float(h) for p, _, h, present in sessions.values() if p == pid and present)
        for pid in (p1, p2)
    }
    window_hours = sum(
        float(h) for _, d, h, present in sessions.values() if present and in_window(d)
    )
    expected: dict[str, Any] = {
        "since": joined.isoformat(),
        "as_of": now.isoformat(),
        "grade": {
            "at_nomination": "technician",
            "current": "principal_technician",
            "target": "senior_technician",
            "reached": True,
            "promotions": len(promotions),
        },
        "training": {
            "programmes": [
                {
                    "programme_id": pid,
                    "enrolled": pid == p1,
                    "planned_hours": sum(float(h) for h in planned[pid]),
                    "attended_hours": attended[pid],
                }
                for pid in (p1, p2)
            ],
            "plan_attended_hours": sum(attended.values()),
            "attended_hours": window_hours,
        },
        "competitions": {
            "target": [(c, r) for c, _, r, _ in results if c in (c1, c3)],
            "targets_with_result": len({c for c, *_ in results if c in (c1, c3)}),
            "results": len([r for r in results if in_window(r[1])]),
        },
        "honours": sorted(
            (code, d.isoformat()) for code, d, revoked in honours if not revoked and in_window(d)
        ),
        "track_honour_held": any(c == "qilu_craftsman" and not r for c, _, r in honours),
    }
    assert promotions
    assert window_hours
    assert expected["competitions"]["results"] == 2
    training = got["training"]
    actual = {
        "since": got["since"],
        "as_of": got["as_of"],
        "grade": got["grade"],
        "training": {
            "programmes": [
                {k: p[k] for k in ("programme_id", "enrolled", "planned_hours", "attended_hours")}
                for p in training["programmes"]
            ],
            "plan_attended_hours": training["plan_attended_hours"],
            "attended_hours": training["attended_hours"],
        },
        "competitions": {
            "target": [
                (r["competition_id"], r["rank"]) for r in got["competitions"]["target_results"]
            ],
            "targets_with_result": got["competitions"]["targets_with_result"],
            "results": got["competitions"]["results"],
        },
        "honours": sorted(
            (h["honour_code"], h["granted_on"]) for h in got["honour_grants"]["granted"]
        ),
        "track_honour_held": got["honour_grants"]["track_honour_held"],
    }
    assert actual == expected
    assert got["mentoring"] == {
        "mentor_id": str(mentor.id),
        "mentorship_id": pair["id"],
        "mentorship_status": "active",
    }
    assert (got["review_on"], got["review_due"]) == (day(1).isoformat(), True)
    # Hours are JSON numbers, never strings.
    assert isinstance(training["plan_attended_hours"], float | int)


# --- targets and progress against them --------------------------------------------------------

#: The test's own formulation of the three measures (positions on the ladder, LIKE prefixes),
#: independent of the service's.
LADDER = [g.value for g in SkillGrade]
SQL_SIZE = """
    SELECT count(DISTINCT m.worker_id) FROM reserve_members m JOIN workers w ON w.id = m.worker_id
    WHERE w.locality_code LIKE :prefix AND m.confirmed_on <= :as_of
      AND (m.left_on IS NULL OR m.left_on > :as_of)
"""
SQL_PROMOTIONS = """
    SELECT count(*) FROM grade_changes g JOIN workers w ON w.id = g.worker_id
    WHERE w.locality_code LIKE :prefix AND g.source IN ('certification', 'competition')
      AND array_position(CAST(:ladder AS text[]), g.to_grade)
          > array_position(CAST(:ladder AS text[]), g.from_grade)
      AND g.effective_date BETWEEN :first AND :as_of
"""
SQL_HONOURS = """
    SELECT count(*) FROM honour_grants h JOIN workers w ON w.id = h.worker_id
    WHERE w.locality_code LIKE :prefix AND h.revoked_at IS NULL
      AND h.granted_on BETWEEN :first AND :as_of
"""


async def independent(services: Services, prefix: str, year: int) -> dict[str, int]:
    first, as_of = date(year, 1, 1), min(date(year, 12, 31), shanghai_today())
    params = {"prefix": prefix + "%", "as_of": as_of, "first": first, "ladder": LADDER}
    async with services.apps["registry"].state.sessionmaker() as s:
        return {
            name: int((await s.execute(text(sql), params)).scalar_one())
            for name, sql in (
                ("reserve_size", SQL_SIZE),
                ("grade_promotions", SQL_PROMOTIONS),
                ("honours", SQL_HONOURS),
            )
        }


def measures(row: dict[str, Any]) -> dict[str, tuple[int | None, int, float | None]]:
    return {m["measure"]: (m["target"], m["actual"], m["progress"]) for m in row["measures"]}


async def test_targets_and_progress_by_scope(services: Services, admin_headers: Headers) -> None:
    admin = admin_headers
    year = shanghai_today().year
    last = year - 1
    targets = {
        ("370000", year): {"reserve_size": 100, "grade_promotions": 200, "honours": 8},
        ("370100", year): {"reserve_size": 3, "grade_promotions": 4, "honours": 0},
        ("370100", last): {"reserve_size": 1, "grade_promotions": 1, "honours": 1},
    }
    for (code, y), body in targets.items():
        url = f"/v1/reserve-targets/{code}/{y}"
        missing = await services.registry.get(url, headers=admin)
        assert_problem(missing, 404)
        assert missing.headers["etag"] == '"0"'
        created = await services.registry.put(url, json=body, headers=admin)
        assert created.status_code == 201, created.text
        assert created.headers["etag"] == '"1"'
    # Changing a target: If-Match required, stale refused; a county has no targets.
    url = f"/v1/reserve-targets/370100/{year}"
    change = {"reserve_size": 3, "grade_promotions": 4, "honours": 2}
    assert_problem(await services.registry.put(url, json=change, headers=admin), 428)
    changed = await services.registry.put(url, json=change, headers={**admin, "If-Match": '"1"'})
    assert (changed.status_code, changed.headers["etag"]) == (200, '"2"')
    targets["370100", year] = change
    stale = await services.registry.put(url, json=change, headers={**admin, "If-Match": '"1"'})
    assert_problem(stale, 412)
    county = await services.registry.put(
        f"/v1/reserve-targets/370102/{year}", json=change, headers=admin
    )
    assert_problem(county, 404)
    bad = await services.registry.put(
        url, json={**change, "honours": -1}, headers={**admin, "If-Match": '"2"'}
    )
    assert assert_problem(bad, 422)["errors"][0]["field"] == "honours"

    # The data: members in Jinan (city and a county) and Qingdao, in and out of the pool.
    enterprise = await new_enterprise(services, "370102")
    places = ["370102", "370102", "370100", "370102", "370202", "370202"]
    workers = [
        await new_worker(
            services,
            locality_code=code,
            enterprise_id=enterprise if i < 2 else None,
            grade=SkillGrade.senior,
        )
        for i, code in enumerate(places)
    ]
    members = [await nominate(services, admin, w.id) for w in workers]
    for m in members[:5]:
        await ok(await act(services, admin, m["id"], "confirm"))
    await ok(await act(services, admin, members[3]["id"], "leave", reason="退休"))
    # History: member 1 joined last year and is still in; member 4 (Qingdao) joined and left
    # last year.
    history: dict[str, dict[str, Any]] = {
        members[1]["id"]: {"nominated_on": date(last, 3, 1), "confirmed_on": date(last, 4, 1)},
        members[4]["id"]: {
            "nominated_on": date(last, 3, 1),
            "confirmed_on": date(last, 4, 1),
            "left_on": date(last, 12, 31),
            "status": "left",
            "leave_reason": "调离",
        },
    }
    async with services.apps["registry"].state.sessionmaker() as s, s.begin():
        for mid, values in history.items():
            await s.execute(
                update(ReserveMember).where(ReserveMember.id == uuid.UUID(mid)).values(**values)
            )
    # Promotions (one a correction, one last year) and honours (one revoked, one last year).
    await grade_change(services, admin, workers[0].id, "technician", TODAY)
    await grade_change(services, admin, workers[2].id, "technician", date(last, 6, 1))
    await grade_change(services, admin, workers[4].id, "technician", TODAY)
    await grade_change(
        services, admin, workers[3].id, "technician", TODAY, source="correction", reason="更正"
    )
    await grant(services, admin, workers[0].id, "qilu_craftsman", TODAY)
    revoked = await grant(services, admin, workers[1].id, "qilu_craftsman", TODAY)
    await ok(
        await services.registry.post(
            f"/v1/honour-grants/{revoked}/revoke", json={"reason": "撤销"}, headers=admin
        )
    )
    await grant(services, admin, workers[2].id, "provincial_technical_expert", date(last, 5, 1))

    async def check(headers: Headers, y: int, **params: Any) -> list[dict[str, Any]]:
        got = await ok(
            await services.registry.get(
                "/v1/reserve-progress", params={"year": y, **params}, headers=headers
            )
        )
        assert got["as_of"] == min(date(y, 12, 31), shanghai_today()).isoformat()
        for row in got["rows"]:
            if row["enterprise_id"] is not None:
                continue
            code = row["locality_code"]
            prefix = code[:2] if code == "370000" else code[:4] if code.endswith("00") else code
            want = await independent(services, prefix, y)
            goal = targets.get((code, y))
            assert measures(row) == {
                name: (
                    goal[name] if goal else None,
                    value,
                    round(value / goal[name], 3) if goal and goal[name] else None,
                )
                for name, value in want.items()
            }, code
        rows: list[dict[str, Any]] = got["rows"]
        return rows

    province_rows = await check(admin, year)
    assert [r["locality_code"] for r in province_rows][:3] == ["370000", "370100", "370200"]
    assert len(province_rows) == 17
    by_code = {r["locality_code"]: measures(r) for r in province_rows}
    # The data was built to make every measure non-trivial somewhere.
    assert by_code["370100"]["reserve_size"][1] == 3
    assert by_code["370100"]["grade_promotions"][1] == 1
    assert by_code["370200"]["grade_promotions"][1] == 1
    assert by_code["370100"]["honours"][1] == 1
    last_rows = await check(admin, last)
    assert {r["locality_code"]: measures(r) for r in last_rows}["370100"]["reserve_size"][1] == 1

    # Scope: a city its own row (or a county of it); nothing outside it.
    jinan = await person(services, "jinan.org", "organiser", locality_code="370100")
    assert [r["locality_code"] for r in await check(jinan, year)] == ["370100"]
    assert [r["locality_code"] for r in await check(jinan, year, locality_code="370102")] == [
        "370102"
    ]
    outside = await services.registry.get(
        "/v1/reserve-progress", params={"locality_code": "370200"}, headers=jinan
    )
    assert assert_problem(outside, 403)["errors"][0]["field"] == "locality_code"
    province = await person(services, "province.org", "organiser", locality_code="370000")
    assert len(await check(province, year)) == 17
    # An enterprise its enterprise (no targets), checked against the same counts by hand.
    company = await person(services, "company.org", "organiser", enterprise_id=enterprise)
    (row,) = await check(company, year)
    assert row["enterprise_id"] == str(enterprise)
    assert measures(row) == {
        "reserve_size": (None, 2, None),  # members 0 and 1 (since last year)
        "grade_promotions": (None, 1, None),  # worker 0
        "honours": (None, 1, None),  # worker 0 (worker 1's was revoked)
    }
    # Targets are listed within the scope.
    listed = await ok(await services.registry.get("/v1/reserve-targets", headers=jinan))
    assert {(t["locality_code"], t["year"]) for t in listed["items"]} == {
        ("370100", year),
        ("370100", last),
    }
    assert (await ok(await services.registry.get("/v1/reserve-targets", headers=company)))[
        "items"
    ] == []
    assert_problem(
        await services.registry.get(f"/v1/reserve-targets/370000/{year}", headers=jinan), 404
    )
    future = await services.registry.get(
        "/v1/reserve-progress", params={"year": year + 1}, headers=admin
    )
    assert assert_problem(future, 422)["errors"][0]["field"] == "year"
