"""Workers and talent files through HTTP: identity checks, privacy, search, grades, moves."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import Text, func, select
from stdnum.cn import ric

from shared import clock, pagination
from shared.models.infra import AuditLog, OutboxEvent
from shared.models.registry import Sex, Worker
from tests.conftest import (
    Services,
    assert_problem,
    bearer,
    create_account,
    get_token,
    matching,
)
from tests.factories import credit_code, identity_number


@pytest.fixture
async def enterprise_id(services: Services, admin_headers: dict[str, str]) -> str:
    response = await services.registry.post(
        "/v1/enterprises",
        json={
            "credit_code": credit_code(),
            "name": "济南二机床集团有限公司",
            "locality_code": "370100",
            "industry": "high_end_equipment",
            "size": "large",
        },
        headers=admin_headers,
    )
    assert response.status_code == 201
    value: str = response.json()["id"]
    return value


def worker_body(enterprise_id: str | None = None, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "王建国",
        "id_number": identity_number(date(1985, 6, 15), Sex.male),
        "phone": "13805310001",
        "occupation": "数控车工",
        "grade": "senior",
    }
    if enterprise_id:
        body["enterprise_id"] = enterprise_id
    else:
        body["locality_code"] = "370100"
    body.update(overrides)
    return body


async def worker_count(services: Services) -> int:
    async with services.apps["registry"].state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Worker)) or 0)


async def test_register_derives_facts_and_masks_for_organisers(
    services: Services, admin_headers: dict[str, str], enterprise_id: str
) -> None:
    # Linyi Lanshan (371302): missing from python-stdnum's county table, yet a real region.
    number = identity_number(date(1990, 3, 8), Sex.female, region="371302")
    created = await services.registry.post(
        "/v1/workers",
        json=worker_body(enterprise_id, id_number=number, name="李秀英"),
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    worker = created.json()
    assert worker["birth_date"] == "1990-03-08"
    assert worker["sex"] == "female"
    assert worker["locality_code"] == "370100"  # taken from the enterprise
    assert worker["file_type"] == "technician"
    assert worker["id_number"] == number  # admins see it in clear
    await create_account(services, "jinan.org", "organiser", locality_code="370100")
    organiser = bearer(await get_token(services, "jinan.org"))
    seen = (await services.registry.get(f"/v1/workers/{worker['id']}", headers=organiser)).json()
    assert seen["id_number"] == number[:4] + "*" * 10 + number[-4:]
    assert seen["phone"] == "138****0001"
    # The worker sees their own numbers.
    await create_account(services, "li.xiuying", "worker", worker_id=worker["id"])
    own = bearer(await get_token(services, "li.xiuying"))
    mine = (await services.registry.get(f"/v1/workers/{worker['id']}", headers=own)).json()
    assert mine["id_number"] == number
    # Personal numbers are stored encrypted and never appear in the audit log.
    async with services.apps["registry"].state.sessionmaker() as session:
        row = await session.get(Worker, uuid.UUID(worker["id"]))
        assert row is not None
        assert number.encode() not in row.id_number_enc
        audit_rows = (await session.scalars(select(AuditLog.after))).all()
        assert number not in str(audit_rows)
        event = await session.scalar(
            select(OutboxEvent).where(OutboxEvent.type == "worker.created")
        )
        assert event is not None
        assert number not in str(event.payload)
        assert event.payload["data"]["worker_id"] == worker["id"]


async def test_identity_number_errors(services: Services, admin_headers: dict[str, str]) -> None:
    good = identity_number(date(1985, 6, 15), Sex.male)
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    bad_date = good[:10] + "13" + good[12:17]
    bad_date += ric.calc_check_digit(bad_date + "0")
    cases = [
        ({"id_number": bad_check}, "id_number", "check digit"),
        ({"id_number": bad_date}, "id_number", "does not exist"),
        (
            {"id_number": "99" + good[2:17] + ric.calc_check_digit("99" + good[2:])},
            "id_number",
            "region code",
        ),
        ({"id_number": good[:17]}, "id_number", "18 characters"),
        ({"id_number": good, "birth_date": "1985-06-16"}, "birth_date", "differs"),
        ({"id_number": good, "sex": "female"}, "sex", "differs"),
        (
            {"id_number": identity_number(clock.today() - timedelta(days=365 * 15))},
            "id_number",
            "working age",
        ),
        ({"id_number": good, "phone": "12345"}, "phone", "pattern"),
    ]
    for overrides, field, message in cases:
        response = await services.registry.post(
            "/v1/workers", json=worker_body(**overrides), headers=admin_headers
        )
        problem = assert_problem(response, 422)
        fields = {e["field"]: e["message"] for e in problem["errors"]}
        assert field in fields, (overrides, problem)
        assert message in fields[field], (overrides, fields)
    assert await worker_count(services) == 0


async def test_unknown_enterprise_and_duplicate_person(
    services: Services, admin_headers: dict[str, str]
) -> None:
    unknown = await services.registry.post(
        "/v1/workers", json=worker_body(str(uuid.uuid4())), headers=admin_headers
    )
    assert assert_problem(unknown, 422)["errors"][0]["field"] == "enterprise_id"
    body = worker_body()
    first = await services.registry.post("/v1/workers", json=body, headers=admin_headers)
    assert first.status_code == 201
    second = await services.registry.post(
        "/v1/workers", json={**body, "name": "王建军"}, headers=admin_headers
    )
    problem = assert_problem(second, 409)
    assert problem["existing_worker_id"] == first.json()["id"]
    assert str(body["id_number"]) not in second.text
    assert await worker_count(services) == 1


async def test_search_by_chinese_name_and_filters(
    services: Services, admin_headers: dict[str, str], enterprise_id: str
) -> None:
    for name, grade in (
        ("王建国", "senior"),
        ("王建", "technician"),
        ("李建国", "junior"),
        ("张伟", "technician"),
    ):
        response = await services.registry.post(
            "/v1/workers",
            json=worker_body(enterprise_id, name=name, grade=grade, id_number=identity_number()),
            headers=admin_headers,
        )
        assert response.status_code == 201, response.text

    async def names(**params: str) -> list[str]:
        response = await services.registry.get("/v1/workers", params=params, headers=admin_headers)
        assert response.status_code == 200, response.text
        return [w["name"] for w in response.json()["items"]]

    assert await names(q="王建") == ["王建", "王建国"]
    # Within a match class by name (code point order): 李 U+674E before 王 U+738B.
    assert await names(q="建国") == ["李建国", "王建国"]
    assert await names(q="伟") == ["张伟"]
    assert await names(q="赵") == []
    assert await names(min_grade="technician") == ["王建", "张伟"]
    assert await names(grade="junior") == ["李建国"]
    assert await names(enterprise_id=enterprise_id, q="国") == ["李建国", "王建国"]
    # An organiser of another city sees none of them.
    await create_account(services, "qd.org", "organiser", locality_code="370200")
    qd = bearer(await get_token(services, "qd.org"))
    assert (await services.registry.get("/v1/workers", headers=qd)).json()["items"] == []


#: Names around the term 王建 and their match class (0 exact, 1 prefix, 2 elsewhere).
SEARCH_NAMES = {
    "王建": 0,
    "王建国": 1,
    "王建华": 1,
    "王建军": 1,
    "李王建": 2,
    "陈王建明": 3,
    "欧阳王建": 2,
    "王建王建": 1,
}
NEAR_MISSES = ["王国建", "建王", "王"]


async def test_search_ranks_classes_and_pages_across_their_boundaries(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """Exact matches first (by id), then prefixes (by name, code point order), then names
    ending in the term (by the reversed name), then the rest (by name); every page size gives
    the same sequence, cursors crossing the class boundaries."""
    ids: dict[str, list[str]] = {}
    for city in ("370100", "370200"):
        for name in [*SEARCH_NAMES, *NEAR_MISSES, "王建"]:  # two called 王建 in each city
            response = await services.registry.post(
                "/v1/workers",
                json=worker_body(name=name, locality_code=city, id_number=identity_number()),
                headers=admin_headers,
            )
            assert response.status_code == 201, response.text
            ids.setdefault(city, []).append(response.json()["id"])

    async def pages(headers: dict[str, str], limit: int) -> list[tuple[str, str]]:
        seen: list[tuple[str, str]] = []
        cursor: str | None = None
        for _ in range(50):
            params: dict[str, str | int] = {"q": "王建", "limit": limit}
            if cursor:
                params["cursor"] = cursor
            response = await services.registry.get("/v1/workers", params=params, headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            assert len(body["items"]) <= limit
            seen += [(w["name"], w["id"]) for w in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return seen
        raise AssertionError("pagination did not end")

    def expected(cities: tuple[str, ...]) -> list[tuple[str, str]]:
        rows = []
        for city in cities:
            names = [*SEARCH_NAMES, *NEAR_MISSES, "王建"]
            rows += [(n, i) for n, i in zip(names, ids[city], strict=True)]
        matching = [(n, i) for n, i in rows if n in SEARCH_NAMES]

        # Exact ones by id (their names are equal), suffixes by the reversed name, the others
        # by name; then by id.
        def key(row: tuple[str, str]) -> tuple[int, str, str]:
            match = SEARCH_NAMES[row[0]]
            return (match, row[0][::-1] if match == 2 else row[0], row[1])

        return sorted(matching, key=key)

    everyone = expected(("370100", "370200"))
    assert [n for n, _ in everyone][:4] == ["王建"] * 4
    assert [SEARCH_NAMES[n] for n, _ in everyone] == sorted(SEARCH_NAMES[n] for n, _ in everyone)
    for limit in (1, 3, 4, 5, 200):
        assert await pages(admin_headers, limit) == everyone, limit

    # An organiser of Qingdao finds only Qingdao's workers, in the same order, page by page.
    await create_account(services, "qd.search", "organiser", locality_code="370200")
    qd = bearer(await get_token(services, "qd.search"))
    for limit in (2, 5):
        assert await pages(qd, limit) == expected(("370200",)), limit


async def test_search_refuses_cursors_it_did_not_issue(
    services: Services, admin_headers: dict[str, str]
) -> None:
    for _ in range(3):
        response = await services.registry.post(
            "/v1/workers",
            json=worker_body(name="王芳", id_number=identity_number()),
            headers=admin_headers,
        )
        assert response.status_code == 201
    # A cursor of the plain listing (created_at, id) is not a search cursor, nor the reverse.
    listing = await services.registry.get("/v1/workers", params={"limit": 1}, headers=admin_headers)
    search = await services.registry.get(
        "/v1/workers", params={"q": "王", "limit": 1}, headers=admin_headers
    )
    for params in (
        {"q": "王", "cursor": listing.json()["next_cursor"]},
        {"cursor": search.json()["next_cursor"]},
        {"q": "王", "cursor": pagination.encode_cursor([7, "王芳", str(uuid.uuid4())])},
    ):
        assert_problem(
            await services.registry.get("/v1/workers", params=params, headers=admin_headers), 422
        )


async def test_grade_ladder_rules_and_history(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker = (
        await services.registry.post(
            "/v1/workers", json=worker_body(grade="apprentice"), headers=admin_headers
        )
    ).json()
    assert worker["file_type"] == "apprentice"
    url = f"/v1/workers/{worker['id']}/grade-changes"
    cert = {
        "effective_date": "2026-10-15",
        "source": "certification",
        "certificate_no": "S0000370100022640001",
        "issuing_body": "济南市职业技能鉴定指导中心",
    }
    skip = await services.registry.post(
        url, json={**cert, "to_grade": "intermediate"}, headers=admin_headers
    )
    problem = assert_problem(skip, 422)
    assert problem["allowed"] == ["junior"]
    no_cert = await services.registry.post(
        url,
        json={"to_grade": "junior", "effective_date": "2026-10-15", "source": "certification"},
        headers=admin_headers,
    )
    assert {e["field"] for e in assert_problem(no_cert, 422)["errors"]} == {
        "certificate_no",
        "issuing_body",
    }
    future = await services.registry.post(
        url,
        json={**cert, "to_grade": "junior", "effective_date": "2099-01-01"},
        headers=admin_headers,
    )
    assert_problem(future, 422)
    up = await services.registry.post(
        url, json={**cert, "to_grade": "junior"}, headers=admin_headers
    )
    assert up.status_code == 201, up.text
    same = await services.registry.post(
        url, json={**cert, "to_grade": "junior"}, headers=admin_headers
    )
    assert_problem(same, 409)
    down = await services.registry.post(
        url, json={**cert, "to_grade": "apprentice"}, headers=admin_headers
    )
    assert_problem(down, 422)
    correction = await services.registry.post(
        url,
        json={
            "to_grade": "senior",
            "effective_date": "2026-10-16",
            "source": "correction",
            "reason": "鉴定机构补录证书",
        },
        headers=admin_headers,
    )
    assert correction.status_code == 201
    current = (
        await services.registry.get(f"/v1/workers/{worker['id']}", headers=admin_headers)
    ).json()
    assert current["grade"] == "senior"
    assert current["file_type"] == "technician"
    history = (await services.registry.get(url, headers=admin_headers)).json()
    assert [(h["from_grade"], h["to_grade"], h["source"]) for h in history] == [
        (None, "apprentice", "initial"),
        ("apprentice", "junior", "certification"),
        ("junior", "senior", "correction"),
    ]
    # Organisers certify but cannot correct.
    await create_account(services, "jn.org", "organiser", locality_code="370100")
    organiser = bearer(await get_token(services, "jn.org"))
    refused = await services.registry.post(
        url,
        json={
            "to_grade": "junior",
            "effective_date": "2026-10-16",
            "source": "correction",
            "reason": "x",
        },
        headers=organiser,
    )
    assert_problem(refused, 403)


async def test_competition_promotion_is_idempotent_and_needs_a_machine_scope(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker = (
        await services.registry.post(
            "/v1/workers", json=worker_body(grade="senior"), headers=admin_headers
        )
    ).json()
    client = (
        await services.registry.post(
            "/v1/machine-clients",
            json={"name": "judging service", "scopes": ["internal"]},
            headers=admin_headers,
        )
    ).json()
    token = (
        await services.registry.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client["client_id"],
                "client_secret": client["client_secret"],
            },
        )
    ).json()["access_token"]
    body = {
        "worker_id": worker["id"],
        "to_grade": "technician",
        "effective_date": "2026-11-20",
        "competition_id": str(uuid.uuid4()),
        "reason": "2026年山东省数控车工职业技能竞赛 一等奖",
    }
    url = "/v1/internal/grade-promotions/result:abc-123"
    first = await services.registry.put(url, json=body, headers=bearer(token))
    assert first.status_code == 201, first.text
    again = await services.registry.put(url, json=body, headers=bearer(token))
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    other = await services.registry.put(
        url, json={**body, "to_grade": "senior_technician"}, headers=bearer(token)
    )
    assert_problem(other, 409)
    future = await services.registry.put(
        "/v1/internal/grade-promotions/result:later-1",
        json={**body, "effective_date": (clock.today() + timedelta(days=1)).isoformat()},
        headers=bearer(token),
    )
    assert assert_problem(future, 422)["errors"][0]["field"] == "effective_date"
    skip = await services.registry.put(
        "/v1/internal/grade-promotions/result:def-456",
        json={**body, "to_grade": "principal_technician"},
        headers=bearer(token),
    )
    assert_problem(skip, 422)
    await create_account(services, "jn.org", "organiser", locality_code="370100")
    organiser = bearer(await get_token(services, "jn.org"))
    assert_problem(
        await services.registry.put(
            "/v1/internal/grade-promotions/result:x-9", json=body, headers=organiser
        ),
        403,
    )
    timeline = (
        await services.registry.get(
            f"/v1/workers/{worker['id']}/timeline",
            params={"kind": "grade_changed"},
            headers=admin_headers,
        )
    ).json()["items"]
    assert len(timeline) == 1
    assert timeline[0]["data"]["source_ref"] == "result:abc-123"


async def test_transfer_status_and_timeline_in_order(
    services: Services, admin_headers: dict[str, str], enterprise_id: str
) -> None:
    worker = (
        await services.registry.post(
            "/v1/workers", json=worker_body(enterprise_id), headers=admin_headers
        )
    ).json()
    other = (
        await services.registry.post(
            "/v1/enterprises",
            json={
                "credit_code": credit_code(),
                "name": "青岛海尔集团",
                "locality_code": "370200",
                "industry": "new_generation_it",
                "size": "large",
            },
            headers=admin_headers,
        )
    ).json()
    url = f"/v1/workers/{worker['id']}"
    bad_date = await services.registry.post(
        url + "/transfers",
        json={"to_enterprise_id": other["id"], "date": "2000-01-01"},
        headers=admin_headers,
    )
    assert assert_problem(bad_date, 422)["errors"][0]["field"] == "date"
    # Nor in the future: the file would show now an employer the worker does not have yet.
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    future = await services.registry.post(
        url + "/transfers",
        json={"to_enterprise_id": other["id"], "date": tomorrow},
        headers=admin_headers,
    )
    error = assert_problem(future, 422)["errors"][0]
    assert (error["field"], error["message"]) == ("date", "in the future")
    unchanged = (await services.registry.get(url, headers=admin_headers)).json()
    assert unchanged["enterprise_id"] == worker["enterprise_id"]
    moved = await services.registry.post(
        url + "/transfers",
        json={"to_enterprise_id": other["id"], "date": clock.today().isoformat()},
        headers=admin_headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["enterprise_id"] == other["id"]
    assert moved.json()["locality_code"] == "370200"
    same = await services.registry.post(
        url + "/transfers",
        json={"to_enterprise_id": other["id"], "date": clock.today().isoformat()},
        headers=admin_headers,
    )
    assert_problem(same, 409)
    retired = await services.registry.post(
        url + "/file-status",
        json={"status": "retired", "reason": "到龄退休"},
        headers=admin_headers,
    )
    assert retired.json()["file_status"] == "retired"
    entries = (await services.registry.get(url + "/timeline", headers=admin_headers)).json()[
        "items"
    ]
    assert [e["kind"] for e in entries] == ["registered", "transferred", "status_changed"]
    assert "青岛海尔集团" in entries[1]["summary"]
    # The Jinan organiser no longer manages a worker who moved to Qingdao.
    await create_account(services, "jn.org", "organiser", locality_code="370100")
    organiser = bearer(await get_token(services, "jn.org"))
    assert_problem(await services.registry.get(url + "/timeline", headers=organiser), 403)


async def test_update_with_if_match_and_worker_self_service(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker = (
        await services.registry.post("/v1/workers", json=worker_body(), headers=admin_headers)
    ).json()
    url = f"/v1/workers/{worker['id']}"
    tag = (await services.registry.get(url, headers=admin_headers)).headers["etag"]
    await create_account(services, "wang", "worker", worker_id=worker["id"])
    own = bearer(await get_token(services, "wang"))
    changed = await services.registry.patch(
        url, json={"phone": "13905320002"}, headers={**own, "if-match": tag}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "13905320002"
    stale = await services.registry.patch(
        url, json={"occupation": "钳工"}, headers={**admin_headers, "if-match": tag}
    )
    assert_problem(stale, 412)
    await create_account(services, "someone", "worker", worker_id=str(uuid.uuid4()))
    stranger = bearer(await get_token(services, "someone"))
    assert_problem(
        await services.registry.patch(url, json={"occupation": "钳工"}, headers=stranger), 403
    )
    assert_problem(await services.registry.get(url, headers=stranger), 403)


@pytest.mark.parametrize(
    ("body", "refused"),
    [
        ({"name": "王建民"}, ["name"]),
        ({"occupation": "钳工"}, ["occupation"]),
        # One refused field refuses the whole change: the phone is not changed either.
        ({"name": "王建民", "phone": "13905320002"}, ["name"]),
    ],
)
async def test_a_worker_changes_only_their_phone_and_nothing_else_is_written(
    services: Services, admin_headers: dict[str, str], body: dict[str, str], refused: list[str]
) -> None:
    created = await services.registry.post("/v1/workers", json=worker_body(), headers=admin_headers)
    worker = created.json()
    url = f"/v1/workers/{worker['id']}"
    await create_account(services, "wang", "worker", worker_id=worker["id"])
    own = bearer(await get_token(services, "wang"))
    problem = assert_problem(await services.registry.patch(url, json=body, headers=own), 403)
    assert [e["field"] for e in problem["errors"]] == refused
    assert "organiser" in problem["detail"]
    after = (await services.registry.get(url, headers=own)).json()
    assert {k: after[k] for k in ("name", "phone", "occupation", "version")} == {
        k: worker[k] for k in ("name", "phone", "occupation", "version")
    }
    updates = await services.registry.get(
        "/v1/audit",
        params={"entity_type": "worker", "entity_id": worker["id"], "action": "worker.update"},
        headers=admin_headers,
    )
    assert updates.json()["items"] == []


async def test_identity_facts_change_for_nobody_through_patch(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker = (
        await services.registry.post("/v1/workers", json=worker_body(), headers=admin_headers)
    ).json()
    await create_account(services, "wang", "worker", worker_id=worker["id"])
    own = bearer(await get_token(services, "wang"))
    for headers in (own, admin_headers):
        for field, value in (
            ("id_number", identity_number()),
            ("sex", "female"),
            ("birth_date", "1990-01-01"),
            ("enterprise_id", str(uuid.uuid4())),
            ("grade", "technician"),
        ):
            response = await services.registry.patch(
                f"/v1/workers/{worker['id']}", json={field: value}, headers=headers
            )
            problem = assert_problem(response, 422)
            assert problem["errors"][0]["field"] == field


async def test_self_service_and_organiser_changes_are_both_audited_masked(
    services: Services, admin_headers: dict[str, str]
) -> None:
    await create_account(services, "jinan.organiser", "organiser", locality_code="370100")
    organiser = bearer(await get_token(services, "jinan.organiser"))
    body = worker_body()
    worker = (await services.registry.post("/v1/workers", json=body, headers=organiser)).json()
    url = f"/v1/workers/{worker['id']}"
    await create_account(services, "wang", "worker", worker_id=worker["id"])
    own = bearer(await get_token(services, "wang"))
    new_phone = "13905320002"
    mine = await services.registry.patch(
        url, json={"phone": new_phone}, headers=await matching(services.registry, url, own)
    )
    assert mine.status_code == 200, mine.text
    assert mine.json()["phone"] == new_phone  # the worker reads their own number in clear
    corrected = await services.registry.patch(
        url,
        json={"name": "王建民", "occupation": "钳工"},
        headers=await matching(services.registry, url, organiser),
    )
    assert corrected.status_code == 200, corrected.text
    assert (corrected.json()["name"], corrected.json()["occupation"]) == ("王建民", "钳工")

    page = await services.registry.get(
        "/v1/audit",
        params={"entity_type": "worker", "entity_id": worker["id"], "action": "worker.update"},
        headers=admin_headers,
    )
    rows = sorted(page.json()["items"], key=lambda r: r["at"])
    assert [r["actor_role"] for r in rows] == ["worker", "organiser"]
    by_worker, by_organiser = rows
    assert by_worker["before"]["phone"] == "138****0001"
    assert by_worker["after"]["phone"] == "139****0002"
    assert by_worker["before"]["name"] == by_worker["after"]["name"] == "王建国"
    assert (by_organiser["before"]["name"], by_organiser["after"]["name"]) == ("王建国", "王建民")
    assert by_organiser["after"]["occupation"] == "钳工"
    # No audit row anywhere holds either phone number or the identity number in clear.
    async with services.apps["registry"].state.sessionmaker() as session:
        for secret in ("13805310001", new_phone, body["id_number"]):
            hits = await session.scalar(
                select(func.count()).where(
                    func.concat(AuditLog.before.cast(Text), AuditLog.after.cast(Text)).contains(
                        str(secret)
                    )
                )
            )
            assert hits == 0, secret


async def test_batch_get_for_other_services(
    services: Services, admin_headers: dict[str, str]
) -> None:
    ids = []
    for _ in range(3):
        response = await services.registry.post(
            "/v1/workers", json=worker_body(id_number=identity_number()), headers=admin_headers
        )
        ids.append(response.json()["id"])
    missing = str(uuid.uuid4())
    result = await services.registry.post(
        "/v1/workers:batch-get", json={"ids": [*ids, missing, ids[0]]}, headers=admin_headers
    )
    assert result.status_code == 200, result.text
    body = result.json()
    assert [w["id"] for w in body["items"]] == ids
    assert body["missing"] == [missing]
    assert "id_number" not in body["items"][0]
    too_many = await services.registry.post(
        "/v1/workers:batch-get",
        json={"ids": [str(uuid.uuid4()) for _ in range(1001)]},
        headers=admin_headers,
    )
    assert_problem(too_many, 422)


async def test_competition_results_in_the_file_and_honour_filter(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker = (
        await services.registry.post("/v1/workers", json=worker_body(), headers=admin_headers)
    ).json()
    other = (
        await services.registry.post(
            "/v1/workers",
            json=worker_body(name="赵强", id_number=identity_number()),
            headers=admin_headers,
        )
    ).json()
    body = {
        "worker_id": worker["id"],
        "competition_id": str(uuid.uuid4()),
        "competition_name": "2026年山东省数控车工职业技能竞赛",
        "stage_name": "省级决赛",
        "rank": 1,
        "prize": "first",
        "score": 92.35,
        "published_at": "2026-11-20T10:00:00+08:00",
    }
    url = "/v1/internal/competition-results/result:r-1"
    first = await services.registry.put(url, json=body, headers=admin_headers)
    assert first.status_code == 201, first.text
    assert "一等奖" in first.json()["summary"]
    again = await services.registry.put(url, json=body, headers=admin_headers)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert_problem(
        await services.registry.put(url, json={**body, "prize": "gold"}, headers=admin_headers), 422
    )
    # The longest reference the endpoint accepts (128 characters) is stored, not a 500.
    long_ref = "result:" + "x" * 121
    longest = await services.registry.put(
        f"/v1/internal/competition-results/{long_ref}",
        json={**body, "competition_id": str(uuid.uuid4())},
        headers=admin_headers,
    )
    assert longest.status_code == 201, longest.text
    entries = (
        await services.registry.get(
            f"/v1/workers/{worker['id']}/timeline",
            params={"kind": "competition_result"},
            headers=admin_headers,
        )
    ).json()["items"]
    assert len(entries) == 2
    assert all(e["occurred_at"].startswith("2026-11-20T02:00:00") for e in entries)

    granted = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants",
        headers=admin_headers,
        json={
            "worker_id": worker["id"],
            "granted_on": "2026-11-21",
            "source": "nomination",
            "citation": "数控加工技术攻关",
        },
    )
    assert granted.status_code == 201, granted.text
    listed = await services.registry.get(
        "/v1/workers", params={"honour": "qilu_craftsman"}, headers=admin_headers
    )
    assert [w["id"] for w in listed.json()["items"]] == [worker["id"]]
    assert other["id"] not in {w["id"] for w in listed.json()["items"]}
