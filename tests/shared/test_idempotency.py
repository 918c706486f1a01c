"""`Idempotency-Key` through HTTP: concurrent repeats get the first answer, and stored answers
hold no identity or phone number in clear (issue 13, sections 2 and 5).

Real processes are in tests/e2e/test_idempotency_processes.py; these run the three apps
in-process (concurrent requests on separate database connections, as deployed).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from tests.competitions.test_entries import COMPETITION, open_event
from tests.competitions.test_entries import worker as make_worker_id
from tests.conftest import Services, assert_problem
from tests.factories import identity_number

PHONE = "13905310000"


def worker_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "王建国",
        "id_number": identity_number(),
        "phone": PHONE,
        "occupation": "数控车工",
        "locality_code": "370100",
        "grade": "senior",
        **overrides,
    }


async def stored_rows(services: Services) -> list[str]:
    """Every row of idempotency_keys as text (each column, JSON and bytea included)."""
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session:
        rows = await session.execute(text("SELECT t::text FROM idempotency_keys AS t"))
        return [r[0] for r in rows]


def assert_same_answer(first: httpx.Response, replay: httpx.Response) -> None:
    assert replay.status_code == first.status_code
    assert replay.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert replay.headers.get("location") == first.headers.get("location")
    assert replay.headers["content-type"] == first.headers["content-type"]
    assert replay.json() == first.json()


async def test_a_worker_create_with_a_key_stores_no_clear_numbers_and_replays_the_same(
    services: Services, admin_headers: dict[str, str]
) -> None:
    body = worker_body()
    headers = {**admin_headers, "Idempotency-Key": f"worker-{uuid.uuid4()}"}
    first = await services.registry.post("/v1/workers", json=body, headers=headers)
    assert first.status_code == 201, first.text
    # An admin sees the numbers in clear: exactly what must not be kept in clear at rest.
    assert first.json()["id_number"] == body["id_number"]
    assert first.headers["location"] == f"/v1/workers/{first.json()['id']}"

    rows = await stored_rows(services)
    assert len(rows) == 1
    for secret in (body["id_number"], PHONE, body["id_number"][6:14]):
        assert secret not in rows[0], f"{secret} stored in clear: {rows[0]}"
    assert body["name"] not in rows[0]  # the whole answer is sealed, not only the numbers

    replay = await services.registry.post("/v1/workers", json=body, headers=headers)
    assert_same_answer(first, replay)
    assert replay.content == first.content  # byte for byte: the stored answer itself

    # The same key for another request is refused, whatever the service holds.
    other = await services.registry.post("/v1/workers", json=worker_body(), headers=headers)
    assert_problem(other, 409)
    listed = await services.registry.get("/v1/workers", headers=admin_headers)
    assert len(listed.json()["items"]) == 1


async def test_a_stored_answer_moved_to_another_key_cannot_be_replayed(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """Someone able to write the table cannot make the service decrypt one caller's answer
    under another key: the seal is bound to (service, caller, key)."""
    body = worker_body()
    key_a, key_b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    first = await services.registry.post(
        "/v1/workers", json=body, headers={**admin_headers, "Idempotency-Key": key_a}
    )
    assert first.status_code == 201, first.text
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO idempotency_keys (service, principal_sub, key, request_hash, method,"
                " path, status_code, response_sealed, location) SELECT service, principal_sub,"
                " :b, request_hash, method, path, status_code, response_sealed, location"
                " FROM idempotency_keys WHERE key = :a"
            ),
            {"a": key_a, "b": key_b},
        )
    moved = await services.registry.post(
        "/v1/workers", json=body, headers={**admin_headers, "Idempotency-Key": key_b}
    )
    problem = assert_problem(moved, 409)
    assert body["id_number"] not in moved.text
    assert "no longer kept" in problem["detail"]


async def test_concurrent_registrations_with_one_key_all_get_the_first_answer(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """Issue 13 §5: 20 identical registrations at once with one key made one entry but 4-9
    answers were 422 "already entered". Every one must be the first answer."""
    event = await open_event(services, admin_headers, capacity=5)
    worker_id = await make_worker_id(services)
    headers = {**admin_headers, "Idempotency-Key": f"entry-{uuid.uuid4()}"}
    url = f"/v1/events/{event['id']}/entries"
    answers = await asyncio.gather(
        *(
            services.competitions.post(url, json={"worker_id": str(worker_id)}, headers=headers)
            for _ in range(20)
        )
    )
    assert [a.status_code for a in answers] == [201] * 20, [a.text for a in answers]
    originals = [a for a in answers if "idempotent-replayed" not in a.headers]
    assert len(originals) == 1
    for replay in answers:
        if replay is not originals[0]:
            assert_same_answer(originals[0], replay)
    listed = await services.competitions.get(url, headers=admin_headers)
    assert [e["worker_id"] for e in listed.json()["items"]] == [str(worker_id)]


async def test_concurrent_worker_creates_with_one_key_all_get_the_first_answer(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """The registry's natural key (the identity number) gave the late copies a 409 "already
    registered" for their own request; now they wait and replay."""
    body = worker_body()
    headers = {**admin_headers, "Idempotency-Key": f"worker-{uuid.uuid4()}"}
    answers = await asyncio.gather(
        *(services.registry.post("/v1/workers", json=body, headers=headers) for _ in range(12))
    )
    assert [a.status_code for a in answers] == [201] * 12, [a.text for a in answers]
    first = next(a for a in answers if "idempotent-replayed" not in a.headers)
    assert {a.json()["id"] for a in answers} == {first.json()["id"]}
    assert sum("idempotent-replayed" in a.headers for a in answers) == 11


async def test_a_failed_first_request_leaves_the_key_free(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """Nothing is kept for a create that failed: the retry with the same key runs again."""
    headers = {**admin_headers, "Idempotency-Key": f"worker-{uuid.uuid4()}"}
    bad = await services.registry.post(
        "/v1/workers", json=worker_body(locality_code="999999"), headers=headers
    )
    assert bad.status_code in (404, 409, 422), bad.text
    assert await stored_rows(services) == []
    good = await services.registry.post("/v1/workers", json=worker_body(), headers=headers)
    assert good.status_code == 201, good.text


async def test_replays_in_services_without_personal_numbers_keep_status_body_and_location(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """Competitions and judging keep the answer as JSON (they never hold identity or phone
    numbers in clear); the replay still carries the Location of the first answer."""
    headers = {**admin_headers, "Idempotency-Key": f"comp-{uuid.uuid4()}"}
    first = await services.competitions.post("/v1/competitions", json=COMPETITION, headers=headers)
    assert first.status_code == 201, first.text
    replay = await services.competitions.post("/v1/competitions", json=COMPETITION, headers=headers)
    assert_same_answer(first, replay)
    assert replay.headers["location"] == f"/v1/competitions/{first.json()['id']}"
