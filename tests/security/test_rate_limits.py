"""Rate limits of the public certificate verification and the token endpoint, counted in the
database: two app instances (replicas) on one database share one count per client address."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from shared.config import Settings
from tests.conftest import (
    ADMIN_PASSWORD,
    Services,
    assert_problem,
    create_account,
    from_address,
    make_settings,
    running_services,
)

TOKEN_LIMIT = 5
VERIFY_LIMIT = 4
#: Long enough that a test's requests never straddle two windows.
WINDOW = 3600


@pytest.fixture
def settings(database_url: str, key_dir: Path) -> Settings:
    return make_settings(
        database_url,
        key_dir,
        token_rate_limit=TOKEN_LIMIT,
        certificate_verify_rate_limit=VERIFY_LIMIT,
        rate_limit_window_seconds=WINDOW,
    )


@pytest.fixture
async def replica(settings: Settings) -> AsyncIterator[Services]:
    """A second instance of the three apps on the same database (another replica)."""
    async with running_services(settings) as second:
        yield second


async def sign_in(client: httpx.AsyncClient, password: str = ADMIN_PASSWORD) -> httpx.Response:
    return await client.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": "admin", "password": password},
    )


def assert_limited(response: httpx.Response, window: int) -> int:
    body = assert_problem(response, 429)
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    assert body["retry_after"] == retry_after
    return retry_after


async def test_token_limit_is_shared_by_replicas_and_counts_every_grant(
    services: Services, replica: Services
) -> None:
    await create_account(services, "admin", "admin")
    ip = "203.0.113.7"
    async with (
        from_address(services, "registry", ip) as first,
        from_address(replica, "registry", ip) as second,
    ):
        # Alternate replicas; right and wrong passwords and other grants all count.
        outcomes = []
        for i in range(TOKEN_LIMIT):
            client = (first, second)[i % 2]
            if i % 3 == 2:
                machine = {
                    "grant_type": "client_credentials",
                    "client_id": "x",
                    "client_secret": "y",
                }
                response = await client.post("/v1/auth/token", data=machine)
            else:
                response = await sign_in(client, ADMIN_PASSWORD if i % 2 else "Wrong-Passw0rd!")
            outcomes.append(response.status_code)
        assert 429 not in outcomes, outcomes
        assert 200 in outcomes
        # Over the limit on either replica, even with the right password.
        assert_limited(await sign_in(second), WINDOW)
        assert_limited(await sign_in(first), WINDOW)
        # An unlimited amount of bad form input does not get around it either.
        assert_limited(await first.post("/v1/auth/token", data={}), WINDOW)
    # Another address still gets its token, on both replicas.
    async with from_address(replica, "registry", "198.51.100.9") as other:
        assert (await sign_in(other)).status_code == 200


async def test_verify_limit_is_shared_by_replicas_and_counts_unknown_codes(
    services: Services, replica: Services
) -> None:
    ip = "203.0.113.8"
    async with (
        from_address(services, "judging", ip) as first,
        from_address(replica, "judging", ip) as second,
    ):
        for i in range(VERIFY_LIMIT):
            client = (first, second)[i % 2]
            response = await client.get(
                "/v1/certificates:verify", params={"code": f"ABCD-EFGH-JKMN-PQR{i + 2}"}
            )
            assert_problem(response, 404)
        for client in (first, second):
            limited = await client.get(
                "/v1/certificates:verify", params={"code": "ABCD-EFGH-JKMN-PQRS"}
            )
            assert_limited(limited, WINDOW)
    async with from_address(services, "judging", "198.51.100.10") as other:
        response = await other.get(
            "/v1/certificates:verify", params={"code": "ABCD-EFGH-JKMN-PQRS"}
        )
        assert_problem(response, 404)
    # The database keeps digests of the addresses, never the addresses.
    async with services.apps["judging"].state.sessionmaker() as session:
        stored = await session.scalar(
            text(
                "SELECT count(*) FROM rate_limit_counters "
                "WHERE key_hash LIKE '%203.0.113%' OR key_hash LIKE '%198.51.100%'"
            )
        )
        assert stored == 0
        buckets = set(await session.scalars(text("SELECT bucket FROM rate_limit_counters")))
        assert "certificates.verify" in buckets


async def test_the_limit_lifts_when_its_window_ends(database_url: str, key_dir: Path) -> None:
    settings = make_settings(
        database_url, key_dir, certificate_verify_rate_limit=1, rate_limit_window_seconds=2
    )
    async with (
        running_services(settings) as services,
        from_address(services, "judging", "203.0.113.9") as client,
    ):
        params = {"code": "ABCD-EFGH-JKMN-PQRS"}
        responses = [await client.get("/v1/certificates:verify", params=params)]
        responses.append(await client.get("/v1/certificates:verify", params=params))
        # The two may straddle a window boundary; then the third is the one refused.
        if responses[1].status_code != 429:
            responses.append(await client.get("/v1/certificates:verify", params=params))
        retry_after = assert_limited(responses[-1], 2)
        await asyncio.sleep(retry_after + 0.2)
        assert_problem(await client.get("/v1/certificates:verify", params=params), 404)
