"""No identity or phone number in clear at rest, anywhere (issue 13, section 2).

A realistic flow through HTTP on the three services: workers created with Idempotency-Keys
(and one replayed), a phone changed, bulk imports (one completed with row errors, one failed,
one still running), registrations one by one and by spreadsheet, results, awards sent to the
registry, and webhooks delivered to a real receiver. Then every text, varchar, json(b), array
and bytea column of every table of the database is scanned for each identity and phone number
used, as given, lower-cased, and with spaces and dashes taken out of the stored text, and for
the middle of each identity number (what masking hides): no hit anywhere. The encrypted
columns hold ciphertext, so they need no exception.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.registry.imports import engine
from shared.config import Settings
from shared.db import make_engine, make_sessionmaker
from shared.models.registry import Sex
from shared.webhooks.dispatcher import Dispatcher
from tests.competitions.test_entries import open_event
from tests.conftest import Services
from tests.factories import identity_number
from tests.judging.awards_setup import STANDARD_RULES, add_rules
from tests.judging.results_helpers import close_appeal_window, compute, put_rules, seeded_stage
from tests.registry.test_imports import csv_bytes, upload, wait_done
from tests.webhooks.receiver import Receiver

SCANNED_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea", "ARRAY")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_allowed_hosts": ["127.0.0.1"],
            "webhook_retry_schedule": [0.2],
            "webhook_poll_seconds": 0.05,
            "webhook_timeout_seconds": 5.0,
        }
    )


@pytest.fixture
async def owner_sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine_ = make_engine(settings, pool_size=2)
    yield make_sessionmaker(engine_)
    await engine_.dispose()


def phone(n: int) -> str:
    return f"139{n:08d}"


async def scan(
    sessions: async_sessionmaker[AsyncSession], secrets: list[str]
) -> list[tuple[str, str, str]]:
    """(table, column, secret) for every stored value that contains a secret."""
    needles = sorted(
        {s.lower() for s in secrets} | {s[4:-4].lower() for s in secrets if len(s) == 18}
    )
    hits = []
    async with sessions() as session:
        await session.execute(text("SET LOCAL ROLE NONE"))  # every table, as their owner
        columns = (
            await session.execute(
                text(
                    "SELECT c.table_name, c.column_name, c.data_type "
                    "FROM information_schema.columns c JOIN information_schema.tables t "
                    "USING (table_schema, table_name) "
                    "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
                    "AND c.data_type = ANY(:types) ORDER BY 1, 2"
                ),
                {"types": list(SCANNED_TYPES)},
            )
        ).all()
        assert len(columns) > 100, "the scan should see the schema of all three services"
        for table, column, data_type in columns:
            value = (
                f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f'"{column}"::text'
            )
            # Lower-cased, with the formatting people type (spaces, dashes) taken out.
            normalised = f"regexp_replace(lower({value}), '[[:space:]-]', '', 'g')"
            found = await session.scalars(
                text(
                    f"SELECT needle FROM unnest(CAST(:needles AS text[])) AS needle "  # noqa: S608
                    f'WHERE EXISTS (SELECT 1 FROM "{table}" '
                    f"WHERE strpos({normalised}, needle) > 0)"
                ),
                {"needles": needles},
            )
            hits += [(table, column, needle) for needle in found]
    return hits


async def test_no_identity_or_phone_number_in_clear_after_a_realistic_flow(
    services: Services,
    admin_headers: dict[str, str],
    settings: Settings,
    owner_sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = Receiver().start()
    try:
        await _flow(services, admin_headers, settings, owner_sessions, monkeypatch, receiver)
    finally:
        receiver.stop()


async def _flow(
    services: Services,
    headers: dict[str, str],
    settings: Settings,
    owner_sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    receiver: Receiver,
) -> None:
    secrets: list[str] = []

    def number() -> str:
        value = identity_number(date(1986, 4, 4), Sex.male)
        secrets.append(value)
        return value

    def new_phone() -> str:
        value = phone(len(secrets) + 10_000)
        secrets.append(value)
        return value

    subscription = await services.registry.post(
        "/v1/webhook-subscriptions",
        json={"url": receiver.url, "event_types": ["*"]},
        headers=headers,
    )
    assert subscription.status_code == 201, subscription.text
    receiver.secrets.append(subscription.json()["secret"])

    # Workers, with Idempotency-Keys, one request replayed; one phone changed.
    workers: list[dict[str, Any]] = []
    worker_numbers = [number() for _ in range(3)]
    for i in range(3):
        body = {
            "name": ["张卫国", "李秀英", "王建军"][i],
            "id_number": worker_numbers[i],
            "phone": new_phone(),
            "occupation": "数控车工",
            "locality_code": "370100",
            "grade": "senior",
        }
        key = {"Idempotency-Key": f"worker-{uuid.uuid4()}"}
        created = await services.registry.post("/v1/workers", json=body, headers={**headers, **key})
        assert created.status_code == 201, created.text
        replay = await services.registry.post("/v1/workers", json=body, headers={**headers, **key})
        assert replay.json()["id"] == created.json()["id"]
        workers.append(created.json())
    current = await services.registry.get(f"/v1/workers/{workers[0]['id']}", headers=headers)
    changed = await services.registry.patch(
        f"/v1/workers/{workers[0]['id']}",
        json={"phone": new_phone()},
        headers={**headers, "If-Match": current.headers["etag"]},
    )
    assert changed.status_code == 200, changed.text

    # Imports: completed with row errors (an identity number in the grade column, a number
    # already registered), failed (no grade column), and one still running at the scan.
    imported = [number() for _ in range(3)]
    bad_grade = number()
    job = await upload(
        services,
        headers,
        csv_bytes(
            [
                ["name", "id_number", "phone", "occupation", "locality_code", "grade"],
                ["孙丽", imported[0], new_phone(), "焊工", "370100", "senior"],
                ["周杰", imported[1], "", "焊工", "370100", "senior"],
                ["吴敏", imported[2], new_phone(), "焊工", "370100", bad_grade],
                ["郑七", worker_numbers[1], "", "焊工", "370100", "senior"],  # registered
            ]
        ),
    )
    assert job["status"] == "completed", job
    assert (job["inserted_rows"], job["error_rows"], job["duplicate_rows"]) == (2, 1, 1), job
    failed = await upload(
        services,
        headers,
        csv_bytes([["name", "id_number", "phone"], ["赵一", number(), new_phone()]]),
    )
    assert failed["status"] == "failed", failed

    # Registrations: one by one (with a key), and by spreadsheet (found, unknown, malformed).
    event = await open_event(services, headers, capacity=20)
    single = await services.competitions.post(
        f"/v1/events/{event['id']}/entries",
        json={"worker_id": workers[0]["id"]},
        headers={**headers, "Idempotency-Key": f"entry-{uuid.uuid4()}"},
    )
    assert single.status_code == 201, single.text
    unknown = number()
    sheet = "姓名,身份证号,手机号\n" + "\n".join(
        f"某人,{n},{new_phone()}" for n in (imported[0], imported[1], unknown, unknown[:10])
    )
    registered = await services.competitions.post(
        f"/v1/events/{event['id']}/entries:import",
        headers=headers,
        files={"file": ("报名表.csv", sheet.encode())},
    )
    assert registered.status_code == 200, registered.text
    assert registered.json()["created"] == 2

    # Results and awards for the three workers created by hand.
    seeded = await seeded_stage(
        services,
        headers,
        [[(25.0, 3.0)], [(20.0, 2.0)], [(10.0, 1.0)]],
        workers=[uuid.UUID(w["id"]) for w in workers],
    )
    sid = seeded.stage_id
    await put_rules(services, headers, sid, prize_bands={"basis": "count", "first": 1, "second": 1})
    await add_rules(services, headers, sid, STANDARD_RULES)
    await compute(services, headers, sid)
    url = f"/v1/stages/{sid}/results"
    published = await services.judging.post(url + ":publish-provisional", headers=headers)
    assert published.status_code == 200, published.text
    await close_appeal_window(services, sid)
    final = await services.judging.post(url + ":finalise", headers=headers)
    assert final.status_code == 200, final.text

    # Webhooks: every event so far delivered (and logged) to the receiver.
    dispatcher = Dispatcher(owner_sessions, settings)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while await dispatcher.step() or not receiver.accepted():
            assert loop.time() < deadline, "the dispatcher did not deliver in time"
            await asyncio.sleep(0.05)
    finally:
        await dispatcher.aclose()
    assert receiver.accepted()

    # An import that is still running when the scan happens: its file is at rest.
    gate = asyncio.Event()
    real_run = engine.ImportRunner.run

    async def held(self: engine.ImportRunner, job_id: Any) -> Any:
        await gate.wait()
        return await real_run(self, job_id)

    monkeypatch.setattr(engine.ImportRunner, "run", held)
    pending = [number() for _ in range(2)]
    response = await services.registry.post(
        "/v1/imports/workers",
        files={
            "file": (
                "名册.csv",
                csv_bytes(
                    [
                        ["name", "id_number", "phone", "occupation", "locality_code", "grade"],
                        *[["钱二", n, new_phone(), "焊工", "370100", "senior"] for n in pending],
                    ]
                ),
            )
        },
        headers=headers,
    )
    assert response.status_code == 202, response.text
    for _ in range(100):
        async with owner_sessions() as session:
            running = await session.scalar(
                text(
                    "SELECT status = 'running' AND content_enc IS NOT NULL FROM import_jobs "
                    "WHERE id = :id"
                ),
                {"id": response.json()["id"]},
            )
        if running:
            break
        await asyncio.sleep(0.05)
    assert running, "the last import should be running, its file stored"

    hits = await scan(owner_sessions, secrets)
    gate.set()
    await wait_done(services, headers, response.json()["id"])
    assert not hits, f"identity or phone numbers in clear at rest: {sorted(set(hits))}"
