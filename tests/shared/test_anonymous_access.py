"""Every /v1 endpoint of every service refuses a request without a token (generated from routes).

A new endpoint that forgets its auth dependency fails here. The full role matrix (which role
may call what) grows with the domain issues; this is its floor.
"""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import Services, assert_problem

PUBLIC = {
    ("POST", "/v1/auth/token"),
    # The public leaderboard and its live stream (published results only).
    ("GET", "/v1/stages/{stage_id}/leaderboard"),
    ("GET", "/v1/stages/{stage_id}/leaderboard:stream"),
    # The certificate check anyone may make from the QR code on the paper.
    ("GET", "/v1/certificates:verify"),
}


def _concrete(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return "370100" if name == "code" else str(uuid.uuid4())

    return re.sub(r"\{([^}]+)\}", value, path)


@pytest.mark.parametrize("service", ["registry", "competitions", "judging"])
async def test_every_v1_route_needs_a_token(services: Services, service: str) -> None:
    # The OpenAPI document lists every routed operation (FastAPI includes routers lazily, so
    # app.routes does not show them flat).
    spec = services.apps[service].openapi()
    checked = 0
    for path, operations in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method in operations:
            if (method.upper(), path) in PUBLIC:
                continue
            response = await services.client(service).request(method, _concrete(path))
            assert_problem(response, 401)
            checked += 1
    assert checked >= 1
