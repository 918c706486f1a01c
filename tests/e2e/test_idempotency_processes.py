"""Concurrent repeats of one Idempotency-Key against the real processes (issue 13 §5): every
copy of the request gets the first answer, never "already entered" for its own earlier copy."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.conftest import bearer
from tests.e2e.conftest import Stack, token
from tests.e2e.test_faults import CONTEST
from tests.factories import identity_number


async def test_twenty_concurrent_registrations_with_one_key_get_one_answer(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    registry, competitions = stack.urls["registry"], stack.urls["competitions"]
    headers = bearer(await token(http, registry))
    worker = await http.post(
        registry + "/v1/workers",
        json={
            "name": "赵磊",
            "id_number": identity_number(),
            "occupation": "数控车工",
            "locality_code": "370100",
            "grade": "senior",
        },
        headers=headers,
    )
    assert worker.status_code == 201, worker.text
    competition = await http.post(competitions + "/v1/competitions", json=CONTEST, headers=headers)
    assert competition.status_code == 201, competition.text
    competition_id = competition.json()["id"]
    event = await http.post(
        f"{competitions}/v1/competitions/{competition_id}/events",
        json={"name": "数控车工", "occupation": "数控车工", "mode": "individual", "capacity": 5},
        headers=headers,
    )
    assert event.status_code == 201, event.text
    read = await http.get(f"{competitions}/v1/competitions/{competition_id}", headers=headers)
    opened = await http.post(
        f"{competitions}/v1/competitions/{competition_id}/status",
        json={"status": "registration_open"},
        headers={**headers, "If-Match": read.headers["etag"]},
    )
    assert opened.status_code == 200, opened.text
    url = f"{competitions}/v1/events/{event.json()['id']}/entries"
    keyed = {**headers, "Idempotency-Key": f"burst-{uuid.uuid4()}"}
    body = {"worker_id": worker.json()["id"]}

    answers = await asyncio.gather(*(http.post(url, json=body, headers=keyed) for _ in range(20)))

    assert [a.status_code for a in answers] == [201] * 20, [a.text for a in answers]
    firsts = [a for a in answers if a.headers.get("idempotent-replayed") != "true"]
    assert len(firsts) == 1, "exactly one request made the entry; the others replayed it"
    for answer in answers:
        assert answer.json() == firsts[0].json()
        assert answer.headers["location"] == f"/v1/entries/{firsts[0].json()['id']}"
    listed = await http.get(url, headers=headers)
    assert [e["id"] for e in listed.json()["items"]] == [firsts[0].json()["id"]]


async def test_concurrent_worker_creates_with_one_key_get_one_answer(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    registry = stack.urls["registry"]
    headers = bearer(await token(http, registry))
    keyed = {**headers, "Idempotency-Key": f"worker-{uuid.uuid4()}"}
    body = {
        "name": "孙丽",
        "id_number": identity_number(),
        "phone": "13905312222",
        "occupation": "焊工",
        "locality_code": "370100",
        "grade": "senior",
    }
    answers = await asyncio.gather(
        *(http.post(registry + "/v1/workers", json=body, headers=keyed) for _ in range(12))
    )
    assert [a.status_code for a in answers] == [201] * 12, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1, "every answer is the first one, byte for byte"
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 11
