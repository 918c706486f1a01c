"""Disabling an account or revoking a machine client takes effect in every service within
ACCESS_REVOCATION_CACHE_SECONDS, although the access tokens already issued are still valid
(issue 13, section 7). Through HTTP, on the three apps."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from shared.auth import revocations
from shared.config import Settings
from tests.conftest import (
    Services,
    assert_problem,
    bearer,
    create_account,
    get_token,
    make_settings,
    running_services,
)

SERVICES = ("registry", "competitions", "judging")
#: One read endpoint per service besides /v1/me, as an organiser or a machine client uses them.
READS = {
    "registry": "/v1/enterprises",
    "competitions": "/v1/competitions",
    "judging": "/v1/me",
}


@pytest.fixture
def settings(database_url: str, key_dir: Path) -> Settings:
    # The bound set to 0: every request sees the latest state (the default is tested below).
    return make_settings(database_url, key_dir, access_revocation_cache_seconds=0)


async def statuses(services: Services, headers: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Per service, the status of /v1/me and of one other read."""
    out = {}
    for name in SERVICES:
        client = services.client(name)
        me = await client.get("/v1/me", headers=headers)
        read = await client.get(READS[name], headers=headers)
        out[name] = (me.status_code, read.status_code)
    return out


async def test_a_disabled_person_is_refused_everywhere_at_once_and_must_sign_in_again(
    services: Services, admin_headers: dict[str, str]
) -> None:
    account = await create_account(services, "jinan.org", "organiser", locality_code="370100")
    token = bearer(await get_token(services, "jinan.org"))
    assert await statuses(services, token) == {name: (200, 200) for name in SERVICES}
    await asyncio.sleep(1.05)  # `iat` is whole seconds: the token is from before the change

    disabled = await services.registry.patch(
        f"/v1/accounts/{account}", json={"is_active": False}, headers=admin_headers
    )
    assert disabled.status_code == 200, disabled.text
    for name in SERVICES:
        for path in ("/v1/me", READS[name]):
            body = assert_problem(await services.client(name).get(path, headers=token), 401)
            assert "disabled" in body["detail"], (name, body)
    # Everyone else is unaffected.
    assert (await services.judging.get("/v1/me", headers=admin_headers)).status_code == 200

    enabled = await services.registry.patch(
        f"/v1/accounts/{account}", json={"is_active": True}, headers=admin_headers
    )
    assert enabled.status_code == 200, enabled.text
    # The token from before stays refused (enabled again is not "as if nothing happened")...
    for name in SERVICES:
        body = assert_problem(await services.client(name).get("/v1/me", headers=token), 401)
        assert "sign in again" in body["detail"]
    # ...and a new sign-in works everywhere.
    fresh = bearer(await get_token(services, "jinan.org"))
    assert await statuses(services, fresh) == {name: (200, 200) for name in SERVICES}


async def test_a_revoked_machine_client_is_refused_everywhere_at_once(
    services: Services, admin_headers: dict[str, str]
) -> None:
    created = await services.registry.post(
        "/v1/machine-clients",
        json={"name": "人社厅 系统", "scopes": ["registry:read", "competitions:read"]},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    client = created.json()
    issued = await services.registry.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert issued.status_code == 200, issued.text
    token = bearer(issued.json()["access_token"])
    assert await statuses(services, token) == {name: (200, 200) for name in SERVICES}

    revoked = await services.registry.delete(
        f"/v1/machine-clients/{client['id']}", headers=admin_headers
    )
    assert revoked.status_code == 200, revoked.text
    for name in SERVICES:
        for path in ("/v1/me", READS[name]):
            body = assert_problem(await services.client(name).get(path, headers=token), 401)
            assert "revoked" in body["detail"], (name, body)


async def test_every_service_refuses_within_the_bound(
    database_url: str, key_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ACCESS_REVOCATION_CACHE_SECONDS at 1 s and every service's copy warm (each had just
    accepted the token), all three refuse it within the bound after the change. The change is
    made as by another registry replica: this process's copies are not told about it."""
    monkeypatch.setattr(revocations, "_expire_copies", lambda _session: None)
    bound = 1.0
    settings = make_settings(database_url, key_dir, access_revocation_cache_seconds=bound)
    async with running_services(settings) as services:
        await create_account(services, "admin", "admin")
        admin = bearer(await get_token(services, "admin"))
        account = await create_account(services, "judge.wang", "judge")
        token = bearer(await get_token(services, "judge.wang"))
        for name in SERVICES:
            assert (await services.client(name).get("/v1/me", headers=token)).status_code == 200
        changed = await services.registry.patch(
            f"/v1/accounts/{account}", json={"is_active": False}, headers=admin
        )
        assert changed.status_code == 200
        committed = time.monotonic()
        refused_after: dict[str, float] = {}
        while len(refused_after) < len(SERVICES) and time.monotonic() - committed < bound + 2:
            for name in SERVICES:
                if name not in refused_after:
                    got = await services.client(name).get("/v1/me", headers=token)
                    if got.status_code == 401:
                        refused_after[name] = time.monotonic() - committed
            await asyncio.sleep(0.05)
        assert set(refused_after) == set(SERVICES), refused_after
        # The bound, plus the time of the reload and of one polling round on a busy machine.
        assert max(refused_after.values()) <= bound + 0.5, refused_after


async def test_the_replica_that_made_the_change_refuses_from_the_next_request(
    database_url: str, key_dir: Path
) -> None:
    """Default bound (2 s): the process whose transaction withdrew access drops its copy on
    commit, so there the token is refused at once."""
    async with running_services(make_settings(database_url, key_dir)) as services:
        await create_account(services, "admin", "admin")
        admin = bearer(await get_token(services, "admin"))
        account = await create_account(services, "org.qd", "organiser", locality_code="370200")
        token = bearer(await get_token(services, "org.qd"))
        assert (await services.registry.get("/v1/me", headers=token)).status_code == 200
        await services.registry.patch(
            f"/v1/accounts/{account}", json={"is_active": False}, headers=admin
        )
        assert_problem(await services.registry.get("/v1/me", headers=token), 401)


async def test_the_check_costs_no_query_per_request_within_the_bound(
    database_url: str, key_dir: Path
) -> None:
    """The hot paths must not pay a database round trip for the check: within the bound, a
    hundred requests cause at most one read of `access_revocations` per service."""
    settings = make_settings(database_url, key_dir, access_revocation_cache_seconds=60)
    async with running_services(settings) as services:
        await create_account(services, "judge.li", "judge")
        token = bearer(await get_token(services, "judge.li"))
        reads = dict.fromkeys(SERVICES, 0)
        for name in SERVICES:
            engine = services.apps[name].state.autocommit_engine.sync_engine

            def count(*args: Any, name: str = name) -> None:
                if "access_revocations" in args[2]:  # (conn, cursor, statement, ...)
                    reads[name] += 1

            event.listen(engine, "before_cursor_execute", count)
        for name in SERVICES:
            for _ in range(100):
                got = await services.client(name).get("/v1/me", headers=token)
                assert got.status_code == 200
        assert all(n <= 1 for n in reads.values()), reads
