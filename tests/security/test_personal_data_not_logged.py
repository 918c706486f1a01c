"""Identity and phone numbers never reach the logs.

Drives every path that takes an identity number (create, duplicate, invalid, lookup, search,
update, bulk import with good, duplicate and broken rows, bulk registration in competitions,
which looks numbers up at the registry) through all three in-process services, with every log
record of every service captured as the services format it (JSON, extras and tracebacks
included), then scans the capture for the numbers, and for the unmasked middle of each.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import date

import pytest

from shared.logging import JsonFormatter
from shared.models.registry import Sex
from tests.competitions.test_entries import open_event
from tests.conftest import Services
from tests.factories import identity_number
from tests.registry.test_imports import csv_bytes, upload

PHONES = ["13905318888", "13705319999"]


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter("any"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)


def leaks(text: str, secrets: list[str]) -> list[str]:
    found = []
    for secret in secrets:
        # The whole number, or its middle (the part masking hides), anywhere in the logs.
        middle = secret[4:-4]
        if secret in text or (len(middle) >= 6 and middle in text):
            found.append(secret)
    return found


async def test_identity_and_phone_numbers_are_never_logged(
    services: Services, admin_headers: dict[str, str], captured_logs: io.StringIO
) -> None:
    numbers = [identity_number(date(1986, 4, 4), Sex.male) for _ in range(4)]
    broken = numbers[0][:-1] + ("0" if numbers[0][-1] != "0" else "1")  # wrong check digit
    secrets = [*numbers, broken, *PHONES]

    def worker_body(number: str, phone: str) -> dict[str, str]:
        return {
            "name": "王建国",
            "id_number": number,
            "phone": phone,
            "occupation": "数控车工",
            "locality_code": "370100",
            "grade": "senior",
        }

    created = await services.registry.post(
        "/v1/workers", json=worker_body(numbers[0], PHONES[0]), headers=admin_headers
    )
    assert created.status_code == 201, created.text
    worker = created.json()
    duplicate = await services.registry.post(
        "/v1/workers", json=worker_body(numbers[0], PHONES[0]), headers=admin_headers
    )
    assert duplicate.status_code == 409
    invalid = await services.registry.post(
        "/v1/workers", json=worker_body(broken, PHONES[1]), headers=admin_headers
    )
    assert invalid.status_code == 422
    lookup = await services.registry.post(
        "/v1/workers:lookup", json={"id_numbers": [numbers[0], numbers[1]]}, headers=admin_headers
    )
    assert lookup.status_code == 200, lookup.text
    search = await services.registry.get(
        "/v1/workers", params={"q": numbers[0]}, headers=admin_headers
    )
    assert search.status_code in (200, 422)
    current = await services.registry.get(f"/v1/workers/{worker['id']}", headers=admin_headers)
    update = await services.registry.patch(
        f"/v1/workers/{worker['id']}",
        json={"phone": PHONES[1]},
        headers={**admin_headers, "If-Match": current.headers["etag"]},
    )
    assert update.status_code == 200, update.text
    content = csv_bytes(
        [
            ["name", "id_number", "phone", "occupation", "locality_code", "grade"],
            ["李娜", numbers[1], PHONES[0], "焊工", "370100", "senior"],
            ["李娜", numbers[1], PHONES[0], "焊工", "370100", "senior"],  # repeated in the file
            ["张伟", numbers[0], "", "焊工", "370100", "senior"],  # already registered
            ["刘强", broken, "", "焊工", "370100", "senior"],  # invalid
        ]
    )
    job = await upload(services, admin_headers, content)
    assert job["status"] == "completed", job
    errors = await services.registry.get(f"/v1/imports/{job['id']}/errors", headers=admin_headers)
    assert errors.status_code == 200

    event = await open_event(services, admin_headers, capacity=5)
    sheet = "姓名,身份证号\n" + "\n".join(f"某人,{n}" for n in [numbers[1], numbers[2], broken])
    registered = await services.competitions.post(
        f"/v1/events/{event['id']}/entries:import",
        headers=admin_headers,
        files={"file": ("报名表.csv", sheet.encode())},
    )
    assert registered.status_code == 200, registered.text

    logged = captured_logs.getvalue()
    assert logged.count("\n") > 10, "the services should have logged these requests"
    assert not leaks(logged, secrets), "personal numbers found in the logs"
