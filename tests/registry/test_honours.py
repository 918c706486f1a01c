"""Honours: the seeded catalogue, grants (idempotent reports), revocation, who may do what."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from shared import clock
from shared.models.infra import AuditLog, OutboxEvent
from shared.models.registry import HonourGrant, TimelineEntry
from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.factories import make_enterprise, make_worker


def error_fields(response: httpx.Response, status: int = 422) -> list[str]:
    """The `field` of each entry of a problem's `errors`."""
    errors = assert_problem(response, status)["errors"]
    assert isinstance(errors, list)
    return [e["field"] for e in errors]


SEEDED = {
    "qilu_craftsman",
    "qilu_great_craftsman",
    "qilu_chief_technician",
    "technical_skills_master",
    "provincial_technical_expert",
    "national_technical_expert",
}


async def new_worker(services: Services, **overrides: Any) -> uuid.UUID:
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        worker = await make_worker(session, app.state.cipher, **overrides)
        return worker.id


async def counts(services: Services, worker_id: uuid.UUID) -> dict[str, int]:
    """Rows this area writes for a worker: grants, timeline entries, outbox events."""
    async with services.apps["registry"].state.sessionmaker() as session:
        return {
            "grants": await session.scalar(
                select(func.count()).where(HonourGrant.worker_id == worker_id)
            )
            or 0,
            "timeline": await session.scalar(
                select(func.count()).where(
                    TimelineEntry.worker_id == worker_id,
                    TimelineEntry.kind.in_(["honour_granted", "honour_revoked"]),
                )
            )
            or 0,
            "outbox": await session.scalar(
                select(func.count()).where(OutboxEvent.subject == f"worker:{worker_id}")
            )
            or 0,
        }


def grant_body(worker_id: uuid.UUID, **extra: Any) -> dict[str, Any]:
    return {
        "worker_id": str(worker_id),
        "granted_on": "2026-05-01",
        "source": "competition_result",
        "source_ref": str(uuid.uuid4()),
        "citation": "2026年山东省职业技能大赛数控车工项目第一名",
        **extra,
    }


async def organiser_headers(services: Services, username: str, **scope: Any) -> dict[str, str]:
    await create_account(services, username, "organiser", **scope)
    return bearer(await get_token(services, username))


async def test_seeded_catalogue_is_listed_and_filtered(
    services: Services, admin_headers: dict[str, str]
) -> None:
    response = await services.registry.get("/v1/honours", headers=admin_headers)
    assert response.status_code == 200
    items = {h["code"]: h for h in response.json()["items"]}
    assert set(items) == SEEDED
    assert items["qilu_craftsman"]["name"] == "齐鲁工匠"
    assert items["national_technical_expert"]["level"] == "national"
    assert items["national_technical_expert"]["awarding_body"] == "人力资源和社会保障部"
    assert all(h["is_system"] for h in items.values())
    national = await services.registry.get(
        "/v1/honours", params={"level": "national"}, headers=admin_headers
    )
    assert [h["code"] for h in national.json()["items"]] == ["national_technical_expert"]
    one = await services.registry.get("/v1/honours/qilu_chief_technician", headers=admin_headers)
    assert one.json()["name"] == "齐鲁首席技师"
    assert_problem(await services.registry.get("/v1/honours/nope", headers=admin_headers), 404)

    # Any authenticated principal reads the catalogue, a worker included.
    worker_id = await new_worker(services)
    await create_account(services, "worker.cat", "worker", worker_id=worker_id)
    as_worker = bearer(await get_token(services, "worker.cat"))
    assert (await services.registry.get("/v1/honours", headers=as_worker)).status_code == 200


async def test_admin_adds_honours_and_only_admins_do(
    services: Services, admin_headers: dict[str, str]
) -> None:
    body = {
        "code": "jinan_golden_craftsman",
        "name": "泉城金牌工匠",
        "level": "city",
        "awarding_body": "济南市总工会",
    }
    created = await services.registry.post("/v1/honours", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/v1/honours/jinan_golden_craftsman"
    assert created.json()["is_system"] is False
    again = await services.registry.post("/v1/honours", json=body, headers=admin_headers)
    assert "already exists" in str(assert_problem(again, 409)["detail"])
    bad = await services.registry.post(
        "/v1/honours", json={**body, "code": "Bad Code", "level": "galactic"}, headers=admin_headers
    )
    assert set(error_fields(bad)) == {"code", "level"}
    organiser = await organiser_headers(services, "org.cat", locality_code="370100")
    refused = await services.registry.post(
        "/v1/honours", json={**body, "code": "other_honour"}, headers=organiser
    )
    assert_problem(refused, 403)
    city = await services.registry.get("/v1/honours", params={"level": "city"}, headers=organiser)
    assert [h["code"] for h in city.json()["items"]] == ["jinan_golden_craftsman"]


async def test_grant_writes_grant_timeline_outbox_and_audit(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker_id = await new_worker(services)
    body = grant_body(worker_id)
    response = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants", json=body, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    grant = response.json()
    assert response.headers["location"] == f"/v1/honour-grants/{grant['id']}"
    assert grant["honour_code"] == "qilu_craftsman"
    assert grant["worker_id"] == str(worker_id)
    assert grant["active"] is True
    assert grant["source_ref"] == body["source_ref"]
    assert await counts(services, worker_id) == {"grants": 1, "timeline": 1, "outbox": 1}

    async with services.apps["registry"].state.sessionmaker() as session:
        entry = await session.scalar(
            select(TimelineEntry).where(TimelineEntry.worker_id == worker_id)
        )
        assert entry is not None
        assert entry.kind == "honour_granted"
        assert "齐鲁工匠" in entry.summary
        assert entry.data["grant_id"] == grant["id"]
        event = await session.scalar(
            select(OutboxEvent).where(OutboxEvent.subject == f"worker:{worker_id}")
        )
        assert event is not None
        assert event.type == "honour.granted"
        assert {
            k: event.payload["data"][k]
            for k in ("grant_id", "worker_id", "honour_code", "source", "source_ref")
        } == {
            "grant_id": grant["id"],
            "worker_id": str(worker_id),
            "honour_code": "qilu_craftsman",
            "source": "competition_result",
            "source_ref": body["source_ref"],
        }
        audited = await session.scalar(
            select(AuditLog).where(
                AuditLog.entity_id == grant["id"], AuditLog.action == "honour_grant.create"
            )
        )
        assert audited is not None

    listed = await services.registry.get(
        "/v1/honour-grants", params={"worker_id": str(worker_id)}, headers=admin_headers
    )
    assert [g["id"] for g in listed.json()["items"]] == [grant["id"]]
    fetched = await services.registry.get(f"/v1/honour-grants/{grant['id']}", headers=admin_headers)
    assert fetched.json() == grant


async def test_same_report_again_returns_the_existing_grant_and_writes_nothing(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker_id = await new_worker(services)
    other_id = await new_worker(services)
    body = grant_body(worker_id)
    first = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants", json=body, headers=admin_headers
    )
    assert first.status_code == 201
    before = await counts(services, worker_id)
    again = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants", json=body, headers=admin_headers
    )
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert await counts(services, worker_id) == before

    # The same source_ref for another worker, or another honour, is a different report.
    other_worker = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants",
        json={**body, "worker_id": str(other_id)},
        headers=admin_headers,
    )
    assert other_worker.status_code == 201
    other_honour = await services.registry.post(
        "/v1/honours/provincial_technical_expert/grants", json=body, headers=admin_headers
    )
    assert other_honour.status_code == 201
    assert other_honour.json()["id"] != first.json()["id"]
    by_honour = await services.registry.get(
        "/v1/honour-grants",
        params={"honour_code": "provincial_technical_expert"},
        headers=admin_headers,
    )
    assert [g["id"] for g in by_honour.json()["items"]] == [other_honour.json()["id"]]

    # With an Idempotency-Key, a replay of a 200 answer is a 200 too.
    headers = {**admin_headers, "idempotency-key": "report-qilu-0001"}
    keyed = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants", json=body, headers=headers
    )
    replayed = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants", json=body, headers=headers
    )
    assert keyed.status_code == replayed.status_code == 200
    assert replayed.headers["idempotent-replayed"] == "true"


async def test_competition_result_needs_source_ref_and_bad_input_is_refused(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker_id = await new_worker(services)
    url = "/v1/honours/qilu_craftsman/grants"
    no_ref = await services.registry.post(
        url, json=grant_body(worker_id, source_ref=None), headers=admin_headers
    )
    assert error_fields(no_ref)[0] == "source_ref"
    future = (clock.today() + timedelta(days=30)).isoformat()
    ahead = await services.registry.post(
        url, json=grant_body(worker_id, granted_on=future), headers=admin_headers
    )
    assert error_fields(ahead)[0] == "granted_on"
    nobody = await services.registry.post(url, json=grant_body(uuid.uuid4()), headers=admin_headers)
    assert error_fields(nobody)[0] == "worker_id"
    unknown = await services.registry.post(
        "/v1/honours/no_such_honour/grants", json=grant_body(worker_id), headers=admin_headers
    )
    assert_problem(unknown, 404)
    extra = await services.registry.post(
        url, json=grant_body(worker_id, level="national"), headers=admin_headers
    )
    assert error_fields(extra)[0] == "level"
    # A nomination needs no source_ref.
    nominated = await services.registry.post(
        url, json=grant_body(worker_id, source="nomination", source_ref=None), headers=admin_headers
    )
    assert nominated.status_code == 201
    assert (await counts(services, worker_id))["grants"] == 1


async def test_duplicate_active_honour_is_409_then_revoke_and_grant_again(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker_id = await new_worker(services)
    url = "/v1/honours/qilu_chief_technician/grants"
    first = await services.registry.post(url, json=grant_body(worker_id), headers=admin_headers)
    grant_id = first.json()["id"]
    before = await counts(services, worker_id)
    duplicate = await services.registry.post(
        url, json=grant_body(worker_id, source="nomination"), headers=admin_headers
    )
    problem = assert_problem(duplicate, 409)
    assert problem["existing_grant_id"] == grant_id
    assert grant_id in str(problem["detail"])
    assert await counts(services, worker_id) == before

    no_reason = await services.registry.post(
        f"/v1/honour-grants/{grant_id}/revoke", json={}, headers=admin_headers
    )
    assert error_fields(no_reason)[0] == "reason"
    revoked = await services.registry.post(
        f"/v1/honour-grants/{grant_id}/revoke",
        json={"reason": "比赛成绩因违规被取消"},
        headers=admin_headers,
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["active"] is False
    assert revoked.json()["revoke_reason"] == "比赛成绩因违规被取消"
    assert revoked.json()["revoked_by"]
    assert revoked.json()["revoked_at"]
    after_revoke = await counts(services, worker_id)
    assert after_revoke == {"grants": 1, "timeline": 2, "outbox": 2}

    missing = await services.registry.post(
        f"/v1/honour-grants/{uuid.uuid4()}/revoke", json={"reason": "无"}, headers=admin_headers
    )
    assert_problem(missing, 404)
    twice = await services.registry.post(
        f"/v1/honour-grants/{grant_id}/revoke", json={"reason": "再次撤销"}, headers=admin_headers
    )
    assert "already revoked" in str(assert_problem(twice, 409)["detail"])
    assert await counts(services, worker_id) == after_revoke

    regranted = await services.registry.post(url, json=grant_body(worker_id), headers=admin_headers)
    assert regranted.status_code == 201
    # History kept: both grants listed, one active.
    history = (
        await services.registry.get(
            "/v1/honour-grants", params={"worker_id": str(worker_id)}, headers=admin_headers
        )
    ).json()["items"]
    assert [g["active"] for g in history] == [False, True]
    active = (
        await services.registry.get(
            "/v1/honour-grants",
            params={"worker_id": str(worker_id), "active": "true"},
            headers=admin_headers,
        )
    ).json()["items"]
    assert [g["id"] for g in active] == [regranted.json()["id"]]
    async with services.apps["registry"].state.sessionmaker() as session:
        kinds = (
            await session.scalars(
                select(OutboxEvent.type)
                .where(OutboxEvent.subject == f"worker:{worker_id}")
                .order_by(OutboxEvent.seq)
            )
        ).all()
    assert kinds == ["honour.granted", "honour.revoked", "honour.granted"]


async def test_organiser_grants_local_honours_in_scope_only(
    services: Services, admin_headers: dict[str, str]
) -> None:
    await services.registry.post(
        "/v1/honours",
        json={
            "code": "jinan_golden_craftsman",
            "name": "泉城金牌工匠",
            "level": "city",
            "awarding_body": "济南市总工会",
        },
        headers=admin_headers,
    )
    jinan_worker = await new_worker(services, locality_code="370100")
    qingdao_worker = await new_worker(services, locality_code="370200")
    jinan = await organiser_headers(services, "org.jinan", locality_code="370100")

    provincial = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants", json=grant_body(jinan_worker), headers=jinan
    )
    assert "provincial" in str(assert_problem(provincial, 403)["detail"])
    outside = await services.registry.post(
        "/v1/honours/jinan_golden_craftsman/grants", json=grant_body(qingdao_worker), headers=jinan
    )
    assert_problem(outside, 403)
    assert (await counts(services, jinan_worker))["grants"] == 0
    assert (await counts(services, qingdao_worker))["grants"] == 0

    ok = await services.registry.post(
        "/v1/honours/jinan_golden_craftsman/grants", json=grant_body(jinan_worker), headers=jinan
    )
    assert ok.status_code == 201, ok.text

    # The organiser sees grants of workers in scope only.
    admin_grant = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants", json=grant_body(qingdao_worker), headers=admin_headers
    )
    listed = (await services.registry.get("/v1/honour-grants", headers=jinan)).json()["items"]
    assert [g["id"] for g in listed] == [ok.json()["id"]]
    assert_problem(
        await services.registry.get(f"/v1/honour-grants/{admin_grant.json()['id']}", headers=jinan),
        403,
    )
    # Nor may they revoke a provincial honour, even of a worker in scope.
    provincial_in_scope = await services.registry.post(
        "/v1/honours/qilu_craftsman/grants", json=grant_body(jinan_worker), headers=admin_headers
    )
    refused = await services.registry.post(
        f"/v1/honour-grants/{provincial_in_scope.json()['id']}/revoke",
        json={"reason": "越权"},
        headers=jinan,
    )
    assert_problem(refused, 403)
    revoked = await services.registry.post(
        f"/v1/honour-grants/{ok.json()['id']}/revoke", json={"reason": "重复授予"}, headers=jinan
    )
    assert revoked.status_code == 200


async def test_enterprise_organiser_scope(
    services: Services, admin_headers: dict[str, str]
) -> None:
    async with services.apps["registry"].state.sessionmaker() as session, session.begin():
        enterprise = await make_enterprise(session)
        enterprise_id = enterprise.id
    await services.registry.post(
        "/v1/honours",
        json={
            "code": "company_star",
            "name": "企业技能之星",
            "level": "enterprise",
            "awarding_body": "山东重工",
        },
        headers=admin_headers,
    )
    inside = await new_worker(services, enterprise_id=enterprise_id)
    outside = await new_worker(services)
    org = await organiser_headers(services, "org.company", enterprise_id=enterprise_id)
    url = "/v1/honours/company_star/grants"
    assert (
        await services.registry.post(url, json=grant_body(inside), headers=org)
    ).status_code == 201
    assert_problem(await services.registry.post(url, json=grant_body(outside), headers=org), 403)


async def test_integration_client_with_registry_write_grants(
    services: Services, admin_headers: dict[str, str]
) -> None:
    async def client_headers(name: str, scopes: list[str]) -> dict[str, str]:
        created = await services.registry.post(
            "/v1/machine-clients", json={"name": name, "scopes": scopes}, headers=admin_headers
        )
        assert created.status_code == 201, created.text
        token = await services.registry.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created.json()["client_id"],
                "client_secret": created.json()["client_secret"],
            },
        )
        assert token.status_code == 200, token.text
        return bearer(token.json()["access_token"])

    writer = await client_headers("judging reporter", ["registry:write"])
    reader = await client_headers("hr reader", ["registry:read"])
    worker_id = await new_worker(services)
    body = grant_body(worker_id)
    granted = await services.registry.post(
        "/v1/honours/national_technical_expert/grants", json=body, headers=writer
    )
    assert granted.status_code == 201, granted.text
    retried = await services.registry.post(
        "/v1/honours/national_technical_expert/grants", json=body, headers=writer
    )
    assert retried.status_code == 200
    assert retried.json()["id"] == granted.json()["id"]

    # A read-only client may read but not grant; a write-only client may not revoke.
    assert_problem(
        await services.registry.post(
            "/v1/honours/qilu_craftsman/grants", json=grant_body(worker_id), headers=reader
        ),
        403,
    )
    listed = await services.registry.get("/v1/honour-grants", headers=reader)
    assert [g["id"] for g in listed.json()["items"]] == [granted.json()["id"]]
    assert_problem(
        await services.registry.post(
            f"/v1/honour-grants/{granted.json()['id']}/revoke",
            json={"reason": "测试"},
            headers=writer,
        ),
        403,
    )


async def test_workers_see_only_their_own_grants_and_grant_nothing(
    services: Services, admin_headers: dict[str, str]
) -> None:
    mine = await new_worker(services)
    theirs = await new_worker(services)
    await create_account(services, "worker.me", "worker", worker_id=mine)
    as_worker = bearer(await get_token(services, "worker.me"))
    url = "/v1/honours/qilu_craftsman/grants"
    own = await services.registry.post(url, json=grant_body(mine), headers=admin_headers)
    other = await services.registry.post(url, json=grant_body(theirs), headers=admin_headers)

    listed = (await services.registry.get("/v1/honour-grants", headers=as_worker)).json()
    assert [g["id"] for g in listed["items"]] == [own.json()["id"]]
    assert_problem(
        await services.registry.get(
            "/v1/honour-grants", params={"worker_id": str(theirs)}, headers=as_worker
        ),
        403,
    )
    assert_problem(
        await services.registry.get(f"/v1/honour-grants/{other.json()['id']}", headers=as_worker),
        403,
    )
    assert_problem(await services.registry.post(url, json=grant_body(mine), headers=as_worker), 403)
    assert_problem(
        await services.registry.post(
            f"/v1/honour-grants/{own.json()['id']}/revoke",
            json={"reason": "不想要"},
            headers=as_worker,
        ),
        403,
    )
    await create_account(services, "judge.x", "judge")
    as_judge = bearer(await get_token(services, "judge.x"))
    assert_problem(await services.registry.get("/v1/honour-grants", headers=as_judge), 403)
    assert (await counts(services, mine))["grants"] == 1


async def test_concurrent_reports_grant_once(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker_id = await new_worker(services)
    body = grant_body(worker_id)
    url = "/v1/honours/qilu_great_craftsman/grants"
    same = await asyncio.gather(
        *[services.registry.post(url, json=body, headers=admin_headers) for _ in range(4)]
    )
    assert sorted(r.status_code for r in same) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in same}) == 1
    # Different reports of the same honour at once: one grant, the others refused.
    other = await new_worker(services)
    racing = await asyncio.gather(
        *[
            services.registry.post(url, json=grant_body(other), headers=admin_headers)
            for _ in range(3)
        ]
    )
    assert sorted(r.status_code for r in racing) == [201, 409, 409]
    assert (await counts(services, worker_id))["grants"] == 1
    assert (await counts(services, other)) == {"grants": 1, "timeline": 1, "outbox": 1}


async def test_honour_events_are_documented_as_webhooks(services: Services) -> None:
    spec = services.apps["registry"].openapi()
    assert {"honour.granted", "honour.revoked"} <= set(spec["webhooks"])
    grants = spec["paths"]["/v1/honours/{code}/grants"]["post"]
    assert {"200", "201", "403", "409", "422"} <= set(grants["responses"])
