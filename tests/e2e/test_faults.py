"""Fault injection against real processes: Postgres restarted and stopped under running
services, a downstream service stopped in the middle of a cross-service write, and concurrent
conflicting updates.

The Postgres test uses a PRIVATE server (pgserver in a temporary folder, restarted with its own
pg_ctl): the machine's shared Postgres is never touched.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.registry.accounts import service as account_service
from shared.config import Settings
from shared.db import make_engine, make_sessionmaker
from shared.dblogin import ensure_app_login
from shared.migrate import upgrade_head
from shared.processes import stop_services
from tests.conftest import SERVICE_SECRET, app_database_url, assert_problem, bearer
from tests.e2e.conftest import Stack, create_admin, free_port, launch, service_env, token
from tests.factories import identity_number

CONTEST = {
    "name": "2026年济南市数控车工职业技能竞赛",
    "kind": "skill_competition",
    "level": "city",
    "year": 2026,
    "organiser_locality_code": "370100",
    "starts_on": "2026-12-10",
    "ends_on": "2026-12-12",
}


class PrivatePostgres:
    """A Postgres server of this test alone, in a temporary folder."""

    def __init__(self, data_dir: Path) -> None:
        import pgserver

        self.data_dir = data_dir
        self.server = pgserver.get_server(str(data_dir), cleanup_mode="stop")

    def url(self, database: str) -> str:
        uri: str = self.server.get_uri()
        host = uri.split("host=", 1)[1].split("&", 1)[0]
        return f"postgresql+asyncpg://postgres:@/{database}?host={host}"

    def pg_ctl(self, *args: str) -> None:
        from pgserver import _commands

        pg_ctl = getattr(_commands, "pg_ctl")  # noqa: B009 - made at import, unknown to mypy
        pg_ctl(["-w", *args], pgdata=self.data_dir, user=self.server.system_user, timeout=30)

    def restart(self) -> None:
        # Fast mode: every open connection is terminated, as in a failover or a crash restart.
        self.pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def close(self) -> None:
        self.server.cleanup()


@pytest.fixture
async def private_pg(tmp_path: Path) -> AsyncIterator[tuple[PrivatePostgres, str]]:
    pg = await asyncio.to_thread(PrivatePostgres, tmp_path / "pgdata")
    try:
        await asyncio.to_thread(pg.server.psql, "CREATE DATABASE faults;")
        url = pg.url("faults")
        await asyncio.to_thread(upgrade_head, url)
        await ensure_app_login(url, app_database_url(url))
        engine = make_engine(Settings(database_url=url), pool_size=1, max_overflow=0)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                await account_service.ensure_service_client(session, SERVICE_SECRET)
        finally:
            await engine.dispose()
        yield pg, url
    finally:
        await asyncio.to_thread(pg.close)


async def fetch_all(
    http: httpx.AsyncClient, urls: dict[str, str], headers: dict[str, str]
) -> dict[str, httpx.Response]:
    paths = {
        "registry": "/v1/workers?limit=5",
        "competitions": "/v1/competitions?limit=5",
        "judging": "/v1/judges?limit=5",
    }
    responses = await asyncio.gather(
        *(http.get(urls[s] + p, headers=headers) for s, p in paths.items())
    )
    return dict(zip(paths, responses, strict=True))


async def test_services_survive_a_postgres_restart_and_outage(
    private_pg: tuple[PrivatePostgres, str], tmp_path: Path, http: httpx.AsyncClient
) -> None:
    pg, url = private_pg
    ports = {"registry": free_port(), "competitions": free_port(), "judging": free_port()}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    env = service_env(url, tmp_path / "keys", urls)
    procs = await launch(env, ports, tmp_path)
    try:
        create_admin(env, "pg.admin")
        headers = bearer(await token(http, urls["registry"], "pg.admin"))
        # Fill each service's pool with several connections.
        for _ in range(3):
            rounds = await asyncio.gather(*(fetch_all(http, urls, headers) for _ in range(4)))
            assert all(r.status_code == 200 for batch in rounds for r in batch.values())

        await asyncio.to_thread(pg.restart)
        # Every pooled connection is dead now; the very first request of each service must
        # still succeed (the pool pings a connection before handing it out).
        after = await fetch_all(http, urls, headers)
        assert {s: r.status_code for s, r in after.items()} == dict.fromkeys(after, 200)
        created = await http.post(
            urls["competitions"] + "/v1/competitions", json=CONTEST, headers=headers
        )
        assert created.status_code == 201, created.text

        # Postgres down: clean 503 problems (never a 500 or a hang), readiness says so.
        await asyncio.to_thread(pg.stop)
        down = await fetch_all(http, urls, headers)
        for service, response in down.items():
            body = assert_problem(response, 503)
            assert "database" in body["detail"].lower(), (service, body)
        for service in urls:
            assert_problem(await http.get(urls[service] + "/readyz"), 503)

        # Back up: the same processes serve again, nothing restarted.
        await asyncio.to_thread(pg.start)
        again = await fetch_all(http, urls, headers)
        assert {s: r.status_code for s, r in again.items()} == dict.fromkeys(again, 200)
        assert all(p.poll() is None for p in procs.values())
    finally:
        stop_services(procs)


@pytest.mark.parametrize("read_model", [False, True], ids=["registry-call", "read-model"])
async def test_registration_with_the_registry_down_is_503_then_the_retry_completes(
    e2e_database: str, tmp_path: Path, http: httpx.AsyncClient, read_model: bool
) -> None:
    """Through the registry's HTTP API (ELIGIBILITY_READ_MODEL=false) a registration needs the
    registry: 503 naming it, nothing written, the retry completes. With the read model (the
    default) registration does not call the registry at all, so it goes on while it is down."""
    ports = {"registry": free_port(), "competitions": free_port()}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    urls["judging"] = "http://127.0.0.1:9"
    env = service_env(
        e2e_database,
        tmp_path / "keys",
        urls,
        ELIGIBILITY_READ_MODEL=str(read_model).lower(),
    )
    procs = await launch(env, ports, tmp_path)
    try:
        admin = f"retry.admin.{'model' if read_model else 'call'}"
        create_admin(env, admin)
        headers = bearer(await token(http, urls["registry"], admin))
        worker = await http.post(
            urls["registry"] + "/v1/workers",
            json={
                "name": "李娜",
                "id_number": identity_number(),
                "occupation": "数控车工",
                "locality_code": "370100",
                "grade": "senior",
            },
            headers=headers,
        )
        assert worker.status_code == 201, worker.text
        competition = (
            await http.post(
                urls["competitions"] + "/v1/competitions", json=CONTEST, headers=headers
            )
        ).json()
        event = await http.post(
            urls["competitions"] + f"/v1/competitions/{competition['id']}/events",
            json={
                "name": "数控车工",
                "occupation": "数控车工",
                "mode": "individual",
                "capacity": 10,
            },
            headers=headers,
        )
        assert event.status_code == 201, event.text
        opened = await http.post(
            urls["competitions"] + f"/v1/competitions/{competition['id']}/status",
            json={"status": "registration_open"},
            headers={**headers, "if-match": '"1"'},  # as created: version 1
        )
        assert opened.status_code == 200, opened.text
        entries_url = urls["competitions"] + f"/v1/events/{event.json()['id']}/entries"
        body = {"worker_id": worker.json()["id"]}
        key = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}

        stop_services({"registry": procs.pop("registry")})
        if read_model:
            done = await http.post(entries_url, json=body, headers={**headers, **key})
            assert done.status_code == 201, done.text
            assert done.json()["status"] == "approved"
            return
        failed = await http.post(entries_url, json=body, headers={**headers, **key})
        problem = assert_problem(failed, 503)
        assert problem["service"] == "registry"
        listed = await http.get(entries_url, headers=headers)
        assert listed.status_code == 200, listed.text
        assert listed.json()["items"] == [], "the failed registration left an entry behind"

        procs.update(await launch(env, {"registry": ports["registry"]}, tmp_path))
        done = await http.post(entries_url, json=body, headers={**headers, **key})
        assert done.status_code == 201, done.text
        replay = await http.post(entries_url, json=body, headers={**headers, **key})
        assert replay.status_code == 201
        assert replay.headers.get("idempotent-replayed") == "true"
        assert replay.json()["id"] == done.json()["id"]
        listed = await http.get(entries_url, headers=headers)
        assert [e["id"] for e in listed.json()["items"]] == [done.json()["id"]]
    finally:
        stop_services(procs)


async def test_concurrent_conflicting_updates_lose_nothing(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    headers = bearer(await token(http, stack.urls["registry"]))
    created = await http.post(
        stack.urls["registry"] + "/v1/workers",
        json={
            "name": "张伟",
            "id_number": identity_number(),
            "occupation": "焊工",
            "locality_code": "370100",
            "grade": "senior",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    worker_url = stack.urls["registry"] + f"/v1/workers/{created.json()['id']}"
    etag = (await http.get(worker_url, headers=headers)).headers["etag"]

    async def patch(i: int) -> tuple[int, httpx.Response]:
        response = await http.patch(
            worker_url,
            json={"occupation": f"焊工{i}"},
            headers={**headers, "If-Match": etag},
        )
        return i, response

    results = await asyncio.gather(*(patch(i) for i in range(8)))
    winners = [i for i, r in results if r.status_code == 200]
    losers = [r for _, r in results if r.status_code != 200]
    assert len(winners) == 1, [r.status_code for _, r in results]
    for response in losers:
        assert_problem(response, 412)
    final = (await http.get(worker_url, headers=headers)).json()
    assert final["occupation"] == f"焊工{winners[0]}"
    # The loser re-reads and re-applies on the new version: nothing is lost.
    current = await http.get(worker_url, headers=headers)
    retried = await http.patch(
        worker_url,
        json={"occupation": "焊工（复核）"},
        headers={**headers, "If-Match": current.headers["etag"]},
    )
    assert retried.status_code == 200, retried.text
    audit: Any = (
        await http.get(
            stack.urls["registry"] + "/v1/audit",
            params={"entity_id": created.json()["id"], "entity_type": "worker"},
            headers=headers,
        )
    ).json()
    updates = [r for r in audit["items"] if r["action"] != audit["items"][0]["action"]]
    assert len(updates) == 2, audit
