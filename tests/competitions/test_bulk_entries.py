"""Bulk entry actions (`POST /v1/events/{id}/entries:approve` and the others): each item as
the single action would do it (checks, audit, webhook), each item's outcome reported; and a
waitlisted entry promoted into the status its registration implied."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from shared.models.infra import AuditLog, OutboxEvent
from tests.competitions.test_entries import enter, open_event, worker
from tests.conftest import Services, assert_problem, bearer, create_account, get_token


async def _self_registered(
    services: Services, event: dict[str, Any], n: int
) -> list[dict[str, Any]]:
    """`n` workers registering themselves (pending, awaiting approval)."""
    entries = []
    for _ in range(n):
        worker_id = await worker(services)
        username = f"w.{uuid.uuid4().hex[:8]}"
        await create_account(services, username, "worker", worker_id=worker_id)
        headers = bearer(await get_token(services, username))
        response = await enter(services, headers, event, worker_id=str(worker_id))
        assert response.status_code == 201, response.text
        entries.append(response.json())
    return entries


async def _count(services: Services, model: Any, **where: Any) -> int:
    async with services.apps["competitions"].state.sessionmaker() as session:
        stmt = select(func.count()).select_from(model)
        for column, value in where.items():
            stmt = stmt.where(getattr(model, column) == value)
        return int(await session.scalar(stmt) or 0)


async def _bulk(
    services: Services,
    headers: dict[str, str],
    event: dict[str, Any],
    action: str,
    items: list[dict[str, Any]],
    **body: Any,
) -> Any:
    return await services.competitions.post(
        f"/v1/events/{event['id']}/entries:{action}",
        json={"items": items, **body},
        headers=headers,
    )


async def test_bulk_approve_reports_each_item(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers)
    other_event = await open_event(services, admin_headers)
    pending = await _self_registered(services, event, 4)
    assert {e["status"] for e in pending} == {"pending"}
    elsewhere = (await _self_registered(services, other_event, 1))[0]
    # One is withdrawn by its competitor (wrong state), one changes after it was read (stale).
    withdrawn = await services.competitions.post(
        f"/v1/entries/{pending[2]['id']}/withdraw", headers=admin_headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    before_audit = await _count(services, AuditLog, action="entry.approve")
    before_hooks = await _count(services, OutboxEvent, type="entry.approved")

    items = [
        {"entry_id": pending[0]["id"], "version": pending[0]["version"]},
        {"entry_id": pending[1]["id"]},
        {"entry_id": pending[2]["id"]},
        {"entry_id": pending[3]["id"], "version": pending[3]["version"] + 1},
        {"entry_id": elsewhere["id"]},
        {"entry_id": str(uuid.uuid4())},
    ]
    response = await _bulk(services, admin_headers, event, "approve", items)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(i["entry_id"], i["outcome"]) for i in body["items"]] == [
        (pending[0]["id"], "ok"),
        (pending[1]["id"], "ok"),
        (pending[2]["id"], "wrong_state"),
        (pending[3]["id"], "stale"),
        (elsewhere["id"], "not_found"),
        (items[5]["entry_id"], "not_found"),
    ]
    assert (body["ok"], body["unchanged"], body["refused"]) == (2, 0, 4)
    assert [i["status"] for i in body["items"][:4]] == [
        "approved",
        "approved",
        "withdrawn",
        "pending",
    ]
    assert body["items"][2]["allowed_actions"] == []
    assert "withdrawn cannot be approved" in body["items"][2]["detail"]
    assert body["items"][3]["version"] == pending[3]["version"]

    # Done as the single action does it: the entries, an audit row and a webhook each; the
    # refused ones untouched.
    for entry, status in ((pending[0], "approved"), (pending[3], "pending")):
        read = await services.competitions.get(f"/v1/entries/{entry['id']}", headers=admin_headers)
        assert read.json()["status"] == status
    assert await _count(services, AuditLog, action="entry.approve") == before_audit + 2
    assert await _count(services, OutboxEvent, type="entry.approved") == before_hooks + 2

    # A retry (the answer was lost): nothing done again, nothing sent again.
    again = await _bulk(services, admin_headers, event, "approve", items[:2])
    assert [i["outcome"] for i in again.json()["items"]] == ["unchanged", "unchanged"]
    assert await _count(services, OutboxEvent, type="entry.approved") == before_hooks + 2


async def test_bulk_refusals_of_the_whole_request_change_nothing(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers)
    pending = await _self_registered(services, event, 2)
    ids = [{"entry_id": e["id"]} for e in pending]
    twice = assert_problem(
        await _bulk(services, admin_headers, event, "approve", [ids[0], ids[1], ids[0]]), 422
    )
    assert [e["field"] for e in twice["errors"]] == ["items[2].entry_id"]
    no_reason = assert_problem(await _bulk(services, admin_headers, event, "reject", ids), 422)
    assert [e["field"] for e in no_reason["errors"]] == ["reason"]
    too_many = assert_problem(
        await _bulk(
            services, admin_headers, event, "approve", [{"entry_id": str(uuid.uuid4())}] * 501
        ),
        422,
    )
    assert too_many["errors"][0]["field"] == "items"
    assert_problem(
        await services.competitions.post(
            f"/v1/events/{uuid.uuid4()}/entries:approve", json={"items": ids}, headers=admin_headers
        ),
        404,
    )
    # Organisers of another city: the entries are not theirs to approve (the competition is
    # the province's), each refused as the single action refuses it.
    qingdao = await _login(services, "organiser", locality_code="370200")
    refused = await _bulk(services, qingdao, event, "approve", ids)
    assert refused.status_code == 200, refused.text
    assert [(i["outcome"], i["status"]) for i in refused.json()["items"]] == [
        ("forbidden", None),
        ("forbidden", None),
    ]
    single = await services.competitions.post(
        f"/v1/entries/{pending[0]['id']}/approve", headers=qingdao
    )
    assert_problem(single, 403)
    # A judge's role may not take the action at all.
    judge = await _login(services, "judge")
    assert_problem(await _bulk(services, judge, event, "approve", ids), 403)
    for entry in pending:
        read = await services.competitions.get(f"/v1/entries/{entry['id']}", headers=admin_headers)
        assert (read.json()["status"], read.json()["version"]) == ("pending", entry["version"])
    assert await _count(services, AuditLog, action="entry.approve") == 0


async def _login(services: Services, role: str, **scope: Any) -> dict[str, str]:
    username = f"{role}.{uuid.uuid4().hex[:8]}"
    await create_account(services, username, role, **scope)
    return bearer(await get_token(services, username))


async def test_bulk_reject_frees_places_for_the_waitlist_once(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers, capacity=2)
    placed = await _self_registered(services, event, 2)
    waiting = await _self_registered(services, event, 2)
    organised = (
        await enter(services, admin_headers, event, worker_id=str(await worker(services)))
    ).json()
    assert [e["status"] for e in waiting] == ["waitlisted", "waitlisted"]
    assert organised["status"] == "waitlisted"

    response = await _bulk(
        services,
        admin_headers,
        event,
        "reject",
        [{"entry_id": e["id"]} for e in (*placed, waiting[0])],
        reason="资格审查：工种不符",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [i["outcome"] for i in body["items"]] == ["ok", "ok", "ok"]
    # Two places freed: the oldest waiting entries take them, each in the status its
    # registration implied (self-registered: pending; registered by the organisers: approved).
    assert body["promoted"] == [
        {"entry_id": waiting[1]["id"], "status": "pending"},
        {"entry_id": organised["id"], "status": "approved"},
    ]
    listed = (
        await services.competitions.get(f"/v1/events/{event['id']}", headers=admin_headers)
    ).json()
    assert (listed["places_taken"], listed["waitlisted"]) == (2, 0)
    assert await _count(services, AuditLog, action="entry.reject") == 3
    assert await _count(services, OutboxEvent, type="entry.rejected") == 3


async def test_a_worker_withdraws_only_their_own_in_bulk(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers)
    mine_worker = await worker(services)
    await create_account(services, "bulk.me", "worker", worker_id=mine_worker)
    me = bearer(await get_token(services, "bulk.me"))
    mine = (await enter(services, me, event, worker_id=str(mine_worker))).json()
    theirs = (await _self_registered(services, event, 1))[0]
    response = await _bulk(
        services,
        me,
        event,
        "withdraw",
        [{"entry_id": mine["id"]}, {"entry_id": theirs["id"]}],
    )
    assert response.status_code == 200, response.text
    assert [i["outcome"] for i in response.json()["items"]] == ["ok", "forbidden"]
    assert await _count(services, OutboxEvent, type="entry.withdrawn") == 1


async def test_an_entry_the_organisers_registered_is_approved_when_promoted(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers, capacity=1)
    first = (
        await enter(services, admin_headers, event, worker_id=str(await worker(services)))
    ).json()
    second = (
        await enter(services, admin_headers, event, worker_id=str(await worker(services)))
    ).json()
    assert (first["status"], second["status"]) == ("approved", "waitlisted")
    withdrawn = await services.competitions.post(
        f"/v1/entries/{first['id']}/withdraw", headers=admin_headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    promoted = (
        await services.competitions.get(f"/v1/entries/{second['id']}", headers=admin_headers)
    ).json()
    assert (promoted["status"], promoted["status_reason"]) == (
        "approved",
        "promoted from the waitlist",
    )
    # Announced like any approval.
    async with services.apps["competitions"].state.sessionmaker() as session:
        subjects = list(
            await session.scalars(
                select(OutboxEvent.subject).where(OutboxEvent.type == "entry.approved")
            )
        )
    assert subjects.count(f"entry:{second['id']}") == 1
