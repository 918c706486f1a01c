"""The audit log: `GET /v1/audit` for admins (filters, cursor pages, masked personal fields),
least privilege (the services' database role cannot rewrite it), exports audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.factories import identity_number
from tests.registry.test_imports import csv_bytes, upload, wait_done

PHONE = "13905318888"


async def create_worker(services: Services, headers: dict[str, str], number: str) -> str:
    response = await services.registry.post(
        "/v1/workers",
        json={
            "name": "王建国",
            "id_number": number,
            "phone": PHONE,
            "occupation": "数控车工",
            "locality_code": "370100",
            "grade": "senior",
        },
        headers={**headers, "x-request-id": "audit-create-1"},
    )
    assert response.status_code == 201, response.text
    worker_id: str = response.json()["id"]
    return worker_id


async def audit(services: Services, service: str, headers: dict[str, str], **q: Any) -> Any:
    response = await services.client(service).get("/v1/audit", params=q, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_admin_reads_filtered_masked_audit_log(
    services: Services, admin_headers: dict[str, str]
) -> None:
    number = identity_number()
    worker_id = await create_worker(services, admin_headers, number)
    me = (await services.registry.get("/v1/me", headers=admin_headers)).json()

    page = await audit(
        services, "registry", admin_headers, entity_type="worker", entity_id=worker_id
    )
    assert len(page["items"]) == 1
    row = page["items"][0]
    assert row["service"] == "registry"
    assert row["actor_sub"] == me["sub"]
    assert row["actor_role"] == "admin"
    assert row["request_id"] == "audit-create-1"
    # Personal numbers are masked in the snapshot, never in clear anywhere in the answer.
    raw = (
        await services.registry.get(
            "/v1/audit", params={"entity_id": worker_id}, headers=admin_headers
        )
    ).text
    assert number not in raw
    assert PHONE not in raw
    assert number[:4] in str(row["after"])

    # Each filter narrows; the same log is readable from every service.
    by_request = await audit(services, "judging", admin_headers, request_id="audit-create-1")
    assert [r["id"] for r in by_request["items"]] == [row["id"]]
    assert (await audit(services, "competitions", admin_headers, action=row["action"]))["items"]
    assert not (await audit(services, "registry", admin_headers, action="no.such"))["items"]
    assert (await audit(services, "registry", admin_headers, actor=me["sub"]))["items"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert not (await audit(services, "registry", admin_headers, since=future))["items"]
    assert (await audit(services, "registry", admin_headers, until=future))["items"]

    # Cursor pages: one row at a time, no repeats.
    await create_worker(services, admin_headers, identity_number())
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, "entity_type": "worker"}
        if cursor:
            params["cursor"] = cursor
        page = await audit(services, "registry", admin_headers, **params)
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 2
    assert len(set(seen)) == 2


async def test_audit_is_for_admins_only(services: Services) -> None:
    await create_account(services, "jinan", "organiser", locality_code="370100")
    headers = bearer(await get_token(services, "jinan"))
    for service in ("registry", "competitions", "judging"):
        assert_problem(await services.client(service).get("/v1/audit", headers=headers), 403)
        assert_problem(await services.client(service).get("/v1/audit"), 401)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ],
)
async def test_the_services_database_role_cannot_rewrite_the_audit_log(
    services: Services, admin_headers: dict[str, str], statement: str
) -> None:
    await create_worker(services, admin_headers, identity_number())
    for name in ("registry", "competitions", "judging"):
        async with services.apps[name].state.sessionmaker() as session:
            assert await session.scalar(text("SELECT current_user")) == "app_writer"
            with pytest.raises(DBAPIError, match="permission denied"):
                await session.execute(text(statement))
            await session.rollback()
            # ...while it may still append.
            assert await session.scalar(text("SELECT has_table_privilege('audit_log', 'INSERT')"))


async def test_export_of_import_errors_is_audited(
    services: Services, admin_headers: dict[str, str]
) -> None:
    content = csv_bytes(
        [
            ["name", "id_number", "occupation", "locality_code", "grade"],
            ["王", "bad", "x", "1", "y"],
        ]
    )
    job = await upload(services, admin_headers, content, "w.csv")
    await wait_done(services, admin_headers, job["id"])
    response = await services.registry.get(
        f"/v1/imports/{job['id']}/errors.csv", headers=admin_headers
    )
    assert response.status_code == 200, response.text
    page = await audit(
        services,
        "registry",
        admin_headers,
        action="import_job.errors_exported",
        entity_id=job["id"],
    )
    assert len(page["items"]) == 1
