"""Innovation achievements: teams, stages forward only, entry links, scopes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from shared.models.infra import AuditLog
from shared.models.registry import InnovationAchievement, TimelineEntry
from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.factories import make_enterprise, make_worker


def error_fields(response: httpx.Response, status: int = 422) -> list[str]:
    """The `field` of each entry of a problem's `errors`."""
    errors = assert_problem(response, status)["errors"]
    assert isinstance(errors, list)
    return [e["field"] for e in errors]


async def setup_people(
    services: Services, n: int = 3, locality_code: str = "370100"
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        enterprise = await make_enterprise(session, locality_code=locality_code)
        workers = [
            await make_worker(
                session, app.state.cipher, enterprise_id=enterprise.id, locality_code=locality_code
            )
            for _ in range(n)
        ]
        return enterprise.id, [w.id for w in workers]


def body(enterprise_id: uuid.UUID, workers: list[uuid.UUID], **extra: Any) -> dict[str, Any]:
    return {
        "title": "基于5G的数控机床远程故障诊断系统",
        "summary": "利用5G低时延网络采集机床振动数据，结合边缘计算实现故障预警。",
        "enterprise_id": str(enterprise_id),
        "technology_area": "five_g",
        "team": [
            {"worker_id": str(w), "role": "lead" if i == 0 else "member"}
            for i, w in enumerate(workers)
        ],
        **extra,
    }


async def count_achievements(services: Services) -> int:
    async with services.apps["registry"].state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(InnovationAchievement)) or 0


async def test_record_achievement_with_team_and_timeline(
    services: Services, admin_headers: dict[str, str]
) -> None:
    enterprise_id, workers = await setup_people(services)
    entry = str(uuid.uuid4())
    response = await services.registry.post(
        "/v1/achievements",
        json=body(enterprise_id, workers, stage="prototype", entry_ids=[entry]),
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/achievements/{created['id']}"
    assert [m["worker_id"] for m in created["team"]] == [str(w) for w in workers]
    assert [m["role"] for m in created["team"]] == ["lead", "member", "member"]
    assert created["stage"] == "prototype"
    assert created["entry_ids"] == [entry]
    assert created["version"] == 1

    async with services.apps["registry"].state.sessionmaker() as session:
        entries = (
            await session.scalars(
                select(TimelineEntry).where(TimelineEntry.kind == "achievement_recorded")
            )
        ).all()
        assert sorted(e.worker_id for e in entries) == sorted(workers)
        assert all(e.data["achievement_id"] == created["id"] for e in entries)
        lead = next(e for e in entries if e.worker_id == workers[0])
        assert lead.data["role"] == "lead"
        assert await session.scalar(
            select(AuditLog.id).where(
                AuditLog.entity_id == created["id"], AuditLog.action == "achievement.create"
            )
        )

    fetched = await services.registry.get(
        f"/v1/achievements/{created['id']}", headers=admin_headers
    )
    assert fetched.json() == created
    assert fetched.headers["etag"] == '"1"'


async def test_list_filters(services: Services, admin_headers: dict[str, str]) -> None:
    enterprise_id, workers = await setup_people(services, 3)
    other_enterprise, others = await setup_people(services, 1, locality_code="370200")
    a = await services.registry.post(
        "/v1/achievements", json=body(enterprise_id, workers[:2]), headers=admin_headers
    )
    b = await services.registry.post(
        "/v1/achievements",
        json=body(other_enterprise, others, technology_area="ai", title="AI质检"),
        headers=admin_headers,
    )
    c = await services.registry.post(
        "/v1/achievements",
        json=body(enterprise_id, [workers[2]], technology_area="blockchain", stage="applied"),
        headers=admin_headers,
    )
    ids = {k: r.json()["id"] for k, r in (("a", a), ("b", b), ("c", c))}

    async def listed(**params: str) -> list[str]:
        response = await services.registry.get(
            "/v1/achievements", params=params, headers=admin_headers
        )
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await listed() == [ids["a"], ids["b"], ids["c"]]
    assert await listed(technology_area="ai") == [ids["b"]]
    assert await listed(stage="applied") == [ids["c"]]
    assert await listed(enterprise_id=str(enterprise_id)) == [ids["a"], ids["c"]]
    assert await listed(worker_id=str(workers[1])) == [ids["a"]]
    first = (
        await services.registry.get("/v1/achievements", params={"limit": 2}, headers=admin_headers)
    ).json()
    assert len(first["items"]) == 2
    assert first["items"][0]["team"]  # teams are filled on every page
    rest = await listed(cursor=first["next_cursor"])
    assert rest == [ids["c"]]


async def test_team_rules_are_422_and_nothing_is_recorded(
    services: Services, admin_headers: dict[str, str]
) -> None:
    enterprise_id, workers = await setup_people(services)
    ghost_a, ghost_b = uuid.uuid4(), uuid.uuid4()
    unknown = await services.registry.post(
        "/v1/achievements",
        json=body(enterprise_id, [workers[0], ghost_a, workers[1], ghost_b]),
        headers=admin_headers,
    )
    problem = assert_problem(unknown, 422)
    assert problem["unknown_worker_ids"] == [str(ghost_a), str(ghost_b)]
    assert str(ghost_a) in str(problem["detail"])
    assert str(ghost_b) in str(problem["detail"])
    assert error_fields(unknown) == ["team[1].worker_id", "team[3].worker_id"]

    two_leads = body(enterprise_id, workers)
    two_leads["team"][1]["role"] = "lead"
    response = await services.registry.post(
        "/v1/achievements", json=two_leads, headers=admin_headers
    )
    assert "exactly one lead" in str(assert_problem(response, 422)["detail"])
    assert error_fields(response) == ["team"]

    no_lead = body(enterprise_id, workers)
    no_lead["team"][0]["role"] = "member"
    assert_problem(
        await services.registry.post("/v1/achievements", json=no_lead, headers=admin_headers), 422
    )

    duplicate = await services.registry.post(
        "/v1/achievements",
        json=body(enterprise_id, [workers[0], workers[1], workers[0]]),
        headers=admin_headers,
    )
    fields = error_fields(duplicate)
    assert fields == ["team[2].worker_id"]

    empty = await services.registry.post(
        "/v1/achievements", json=body(enterprise_id, []), headers=admin_headers
    )
    assert error_fields(empty)[0] == "team"
    too_many = body(enterprise_id, [uuid.uuid4() for _ in range(16)])
    too_many_response = await services.registry.post(
        "/v1/achievements", json=too_many, headers=admin_headers
    )
    assert error_fields(too_many_response)[0] == "team"

    no_enterprise = await services.registry.post(
        "/v1/achievements", json=body(uuid.uuid4(), workers), headers=admin_headers
    )
    assert error_fields(no_enterprise)[0] == "enterprise_id"
    bad_area = await services.registry.post(
        "/v1/achievements",
        json=body(enterprise_id, workers, technology_area="quantum"),
        headers=admin_headers,
    )
    assert error_fields(bad_area)[0] == "technology_area"
    assert await count_achievements(services) == 0
    async with services.apps["registry"].state.sessionmaker() as session:
        assert not await session.scalar(
            select(func.count()).where(TimelineEntry.kind == "achievement_recorded")
        )


async def test_stage_moves_forward_only_and_if_match(
    services: Services, admin_headers: dict[str, str]
) -> None:
    enterprise_id, workers = await setup_people(services, 1)
    created = (
        await services.registry.post(
            "/v1/achievements", json=body(enterprise_id, workers), headers=admin_headers
        )
    ).json()
    url = f"/v1/achievements/{created['id']}"
    assert created["stage"] == "idea"
    missing = await services.registry.patch(url, json={"stage": "applied"}, headers=admin_headers)
    assert assert_problem(missing, 428)["current_etag"] == '"1"'
    applied = await services.registry.patch(
        url, json={"stage": "applied"}, headers={**admin_headers, "if-match": '"1"'}
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["stage"] == "applied"
    assert applied.json()["version"] == 2
    assert applied.headers["etag"] == '"2"'

    back = await services.registry.patch(
        url, json={"stage": "prototype"}, headers={**admin_headers, "if-match": '"2"'}
    )
    detail = str(assert_problem(back, 409)["detail"])
    assert "forward" in detail
    assert "applied" in detail
    current = (await services.registry.get(url, headers=admin_headers)).json()
    assert current["stage"] == "applied"
    assert current["version"] == 2

    stale = await services.registry.patch(
        url, json={"title": "新标题"}, headers={**admin_headers, "if-match": '"1"'}
    )
    assert_problem(stale, 412)
    fresh = await services.registry.patch(
        url,
        json={"title": "新标题", "stage": "incubated"},
        headers={**admin_headers, "if-match": '"2"'},
    )
    assert fresh.status_code == 200
    assert fresh.json()["title"] == "新标题"
    assert fresh.json()["stage"] == "incubated"
    same = await services.registry.patch(
        url, json={"stage": "incubated"}, headers={**admin_headers, "if-match": '"3"'}
    )
    assert same.json()["version"] == 3  # nothing changed, no new version
    extra = await services.registry.patch(
        url, json={"team": []}, headers={**admin_headers, "if-match": '"3"'}
    )
    assert error_fields(extra)[0] == "team"
    assert_problem(
        await services.registry.patch(
            f"/v1/achievements/{uuid.uuid4()}",
            json={"stage": "applied"},
            headers={**admin_headers, "if-match": '"1"'},
        ),
        404,
    )


async def test_entry_link_is_idempotent(services: Services, admin_headers: dict[str, str]) -> None:
    enterprise_id, workers = await setup_people(services, 1)
    created = (
        await services.registry.post(
            "/v1/achievements", json=body(enterprise_id, workers), headers=admin_headers
        )
    ).json()
    url = f"/v1/achievements/{created['id']}/entry-links"
    entry = str(uuid.uuid4())
    first = await services.registry.post(url, json={"entry_id": entry}, headers=admin_headers)
    assert first.status_code == 201, first.text
    again = await services.registry.post(url, json={"entry_id": entry}, headers=admin_headers)
    assert again.status_code == 200
    assert again.json() == first.json()
    fetched = (
        await services.registry.get(f"/v1/achievements/{created['id']}", headers=admin_headers)
    ).json()
    assert fetched["entry_ids"] == [entry]
    bad = await services.registry.post(url, json={"entry_id": "nope"}, headers=admin_headers)
    assert error_fields(bad)[0] == "entry_id"
    missing = await services.registry.post(
        f"/v1/achievements/{uuid.uuid4()}/entry-links",
        json={"entry_id": entry},
        headers=admin_headers,
    )
    assert_problem(missing, 404)


async def test_who_may_record_and_read(services: Services, admin_headers: dict[str, str]) -> None:
    jinan_enterprise, jinan_workers = await setup_people(services, 2, locality_code="370100")
    qingdao_enterprise, qingdao_workers = await setup_people(services, 1, locality_code="370200")
    await create_account(services, "org.jinan", "organiser", locality_code="370100")
    jinan = bearer(await get_token(services, "org.jinan"))
    await create_account(services, "org.ent", "organiser", enterprise_id=qingdao_enterprise)
    company = bearer(await get_token(services, "org.ent"))

    mine = await services.registry.post(
        "/v1/achievements", json=body(jinan_enterprise, jinan_workers), headers=jinan
    )
    assert mine.status_code == 201, mine.text
    outside = await services.registry.post(
        "/v1/achievements", json=body(qingdao_enterprise, qingdao_workers), headers=jinan
    )
    assert_problem(outside, 403)
    theirs = await services.registry.post(
        "/v1/achievements", json=body(qingdao_enterprise, qingdao_workers), headers=company
    )
    assert theirs.status_code == 201
    assert await count_achievements(services) == 2

    jinan_list = (await services.registry.get("/v1/achievements", headers=jinan)).json()
    assert [a["id"] for a in jinan_list["items"]] == [mine.json()["id"]]
    company_list = (await services.registry.get("/v1/achievements", headers=company)).json()
    assert [a["id"] for a in company_list["items"]] == [theirs.json()["id"]]
    assert_problem(
        await services.registry.get(f"/v1/achievements/{theirs.json()['id']}", headers=jinan),
        403,
    )
    assert_problem(
        await services.registry.patch(
            f"/v1/achievements/{theirs.json()['id']}", json={"stage": "applied"}, headers=jinan
        ),
        403,
    )
    assert_problem(
        await services.registry.post(
            f"/v1/achievements/{theirs.json()['id']}/entry-links",
            json={"entry_id": str(uuid.uuid4())},
            headers=jinan,
        ),
        403,
    )

    # A team member reads their own achievements, nobody else's, and records none.
    await create_account(services, "worker.team", "worker", worker_id=jinan_workers[1])
    member = bearer(await get_token(services, "worker.team"))
    own = (await services.registry.get("/v1/achievements", headers=member)).json()
    assert [a["id"] for a in own["items"]] == [mine.json()["id"]]
    assert (
        await services.registry.get(f"/v1/achievements/{mine.json()['id']}", headers=member)
    ).status_code == 200
    assert_problem(
        await services.registry.get(f"/v1/achievements/{theirs.json()['id']}", headers=member),
        403,
    )
    assert_problem(
        await services.registry.post(
            "/v1/achievements", json=body(jinan_enterprise, jinan_workers), headers=member
        ),
        403,
    )
    # A machine client with registry:read reads all; one without it is refused.
    clients = {}
    for scope in ("registry:read", "results:read"):
        created = await services.registry.post(
            "/v1/machine-clients",
            json={"name": f"system {scope}", "scopes": [scope]},
            headers=admin_headers,
        )
        token = await services.registry.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created.json()["client_id"],
                "client_secret": created.json()["client_secret"],
            },
        )
        clients[scope] = bearer(token.json()["access_token"])
    everything = await services.registry.get("/v1/achievements", headers=clients["registry:read"])
    assert len(everything.json()["items"]) == 2
    assert_problem(
        await services.registry.get("/v1/achievements", headers=clients["results:read"]), 403
    )
    assert_problem(
        await services.registry.post(
            "/v1/achievements",
            json=body(jinan_enterprise, jinan_workers),
            headers=clients["registry:read"],
        ),
        403,
    )

    await create_account(services, "judge.y", "judge")
    judge = bearer(await get_token(services, "judge.y"))
    assert_problem(await services.registry.get("/v1/achievements", headers=judge), 403)
    assert await count_achievements(services) == 2
