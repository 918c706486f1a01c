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
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = await services.registry.get(
        "/v1/reserve-reviews",
        params={"due_by": later, "limit": 2, "cursor": page["next_cursor"]},
        headers=admin_headers,
    )
    ids = [m["id"] for m in page["items"] + rest.json()["items"]]
    assert sorted(ids) == sorted(m["id"] for m in members)
    # Soonest first.
    assert ids[-1] == members[1]["id"]
