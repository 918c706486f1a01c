"""Account administration: validation, uniqueness, pagination, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from shared.models.infra import AuditLog
from tests.conftest import Services, assert_problem, owner_sessionmaker


async def test_create_account_validates_policy_and_scope(
    services: Services, admin_headers: dict[str, str]
) -> None:
    weak = await services.registry.post(
        "/v1/accounts",
        json={"username": "a.b", "display_name": "甲", "password": "short", "role": "judge"},
        headers=admin_headers,
    )
    assert assert_problem(weak, 422)["errors"][0]["field"] == "password"
    unscoped = await services.registry.post(
        "/v1/accounts",
        json={
            "username": "org.x",
            "display_name": "乙",
            "password": "Long-enough-1",
            "role": "organiser",
        },
        headers=admin_headers,
    )
    assert "scope" in str(assert_problem(unscoped, 422)["detail"])
    unknown_locality = await services.registry.post(
        "/v1/accounts",
        json={
            "username": "org.y",
            "display_name": "丙",
            "password": "Long-enough-1",
            "role": "organiser",
            "locality_code": "990000",
        },
        headers=admin_headers,
    )
    assert assert_problem(unknown_locality, 422)["errors"][0]["field"] == "locality_code"


async def test_duplicate_username_is_409_and_nothing_changes(
    services: Services, admin_headers: dict[str, str]
) -> None:
    body = {
        "username": "Judge.Zhou",
        "display_name": "周",
        "password": "Long-enough-1",
        "role": "judge",
    }
    first = await services.registry.post("/v1/accounts", json=body, headers=admin_headers)
    assert first.status_code == 201
    assert first.json()["username"] == "judge.zhou"
    assert first.headers["location"] == f"/v1/accounts/{first.json()['id']}"
    again = await services.registry.post(
        "/v1/accounts", json={**body, "username": "judge.zhou"}, headers=admin_headers
    )
    assert_problem(again, 409)
    listed = await services.registry.get(
        "/v1/accounts", params={"role": "judge"}, headers=admin_headers
    )
    assert [a["username"] for a in listed.json()["items"]] == ["judge.zhou"]


async def test_idempotency_key_replays_the_first_answer(
    services: Services, admin_headers: dict[str, str]
) -> None:
    body = {
        "username": "judge.wu",
        "display_name": "吴",
        "password": "Long-enough-1",
        "role": "judge",
    }
    headers = {**admin_headers, "idempotency-key": "create-judge-wu-0001"}
    first = await services.registry.post("/v1/accounts", json=body, headers=headers)
    second = await services.registry.post("/v1/accounts", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    other = await services.registry.post(
        "/v1/accounts", json={**body, "display_name": "吴二"}, headers=headers
    )
    assert "different request" in str(assert_problem(other, 409)["detail"])


async def test_pagination_walks_all_pages(
    services: Services, admin_headers: dict[str, str]
) -> None:
    for i in range(5):
        response = await services.registry.post(
            "/v1/accounts",
            json={
                "username": f"judge.{i}",
                "display_name": f"评委{i}",
                "password": "Long-enough-1",
                "role": "judge",
            },
            headers=admin_headers,
        )
        assert response.status_code == 201
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2, "role": "judge"}
        if cursor:
            params["cursor"] = cursor
        page = (
            await services.registry.get("/v1/accounts", params=params, headers=admin_headers)
        ).json()
        seen += [a["username"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"judge.{i}" for i in range(5)]
    assert pages == 3
    bad = await services.registry.get(
        "/v1/accounts", params={"cursor": "garbage!"}, headers=admin_headers
    )
    assert assert_problem(bad, 422)["errors"][0]["field"] == "cursor"


async def test_writes_are_audited_and_the_audit_log_is_append_only(
    services: Services, admin_headers: dict[str, str], database_url: str
) -> None:
    response = await services.registry.post(
        "/v1/accounts",
        json={
            "username": "judge.he",
            "display_name": "何",
            "password": "Long-enough-1",
            "role": "judge",
        },
        headers={**admin_headers, "x-request-id": "audit-trail-1"},
    )
    account_id = response.json()["id"]
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session:
        row = await session.scalar(
            select(AuditLog).where(
                AuditLog.entity_id == account_id, AuditLog.action == "account.create"
            )
        )
        assert row is not None
        assert row.request_id == "audit-trail-1"
        assert row.actor_role == "admin"
        assert row.after is not None
        assert "password" not in row.after
        assert "password_hash" not in row.after
    # The services' role may not delete (tests/security/test_audit.py); the owner hits the
    # append-only trigger.
    async with app.state.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="permission denied"):
            await conn.execute(text("DELETE FROM audit_log"))
    async with owner_sessionmaker(database_url) as owner, owner() as session:
        conn = await session.connection()
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("DELETE FROM audit_log"))
