"""The service-client contract: retries only when safe, failures mapped to 502/503/504.

The downstream here is an httpx transport standing in for a *misbehaving network peer*; our
own services are exercised for real in tests/e2e and the in-process suites.
"""

from __future__ import annotations

import httpx
import pytest

from shared.clients.base import ServiceClient
from shared.errors import DownstreamError
from shared.request_id import request_id_var


def client_for(handler: httpx.MockTransport, retries: int = 2) -> ServiceClient:
    return ServiceClient(httpx.AsyncClient(transport=handler), "http://peer", retries=retries)


async def test_get_is_retried_until_it_succeeds_and_carries_request_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503 if len(seen) < 3 else 200, json={"ok": True})

    token = request_id_var.set("rid-123")
    try:
        response = await client_for(httpx.MockTransport(handler)).request("GET", "/x", token="t0k")
    finally:
        request_id_var.reset(token)
    assert response.status_code == 200
    assert len(seen) == 3
    assert all(r.headers["x-request-id"] == "rid-123" for r in seen)
    assert seen[0].headers["authorization"] == "Bearer t0k"


async def test_post_without_idempotency_key_is_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(502)

    with pytest.raises(DownstreamError) as raised:
        await client_for(httpx.MockTransport(handler)).request("POST", "/x", json={})
    assert calls == 1
    assert raised.value.status == 502


async def test_post_with_idempotency_key_is_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        assert request.headers["idempotency-key"] == "k-1"
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json={})

    response = await client_for(httpx.MockTransport(handler)).request(
        "POST", "/x", json={}, idempotency_key="k-1"
    )
    assert response.status_code == 201
    assert calls == 2


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (httpx.ConnectError("refused"), 503),
        (httpx.ReadTimeout("slow"), 504),
        (httpx.ConnectTimeout("slow"), 504),
    ],
)
async def test_transport_failures_map_to_problems(failure: Exception, status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    with pytest.raises(DownstreamError) as raised:
        await client_for(httpx.MockTransport(handler), retries=1).request("GET", "/x")
    assert raised.value.status == status
    assert raised.value.extra["service"] == "service"


async def test_client_errors_are_returned_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(404, json={"status": 404})

    client = client_for(httpx.MockTransport(handler))
    assert await client.get_or_none("/x", token=None) is None
    assert calls == 1
