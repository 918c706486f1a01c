"""Every kind of bad request gets an RFC 9457 problem with the right status, over HTTP."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import Services, assert_problem


async def test_malformed_json_is_400(services: Services, admin_headers: dict[str, str]) -> None:
    response = await services.competitions.post(
        "/v1/competitions",
        content=b'{"name": "broken',
        headers={**admin_headers, "content-type": "application/json"},
    )
    body = assert_problem(response, 400)
    assert "not valid JSON" in str(body["detail"])


async def test_missing_field_is_422_naming_it(
    services: Services, admin_headers: dict[str, str]
) -> None:
    response = await services.competitions.post(
        "/v1/competitions",
        json={
            "name": "2026年济南市钳工竞赛",
            "kind": "skill_competition",
            "level": "city",
            "year": 2026,
        },
        headers=admin_headers,
    )
    body = assert_problem(response, 422)
    assert body["errors"] == [
        {"field": "organiser_locality_code", "location": "body", "message": "Field required"}
    ]


async def test_wrong_type_and_unknown_field_are_422(
    services: Services, admin_headers: dict[str, str]
) -> None:
    response = await services.competitions.post(
        "/v1/competitions",
        json={
            "name": "2026年济南市钳工竞赛",
            "kind": "skill_competition",
            "level": "city",
            "year": "next year",
            "organiser_locality_code": "370100",
            "colour": "red",
        },
        headers=admin_headers,
    )
    body = assert_problem(response, 422)
    fields = {e["field"]: e["message"] for e in body["errors"]}
    assert set(fields) == {"year", "colour"}
    assert "integer" in fields["year"]
    assert "Unknown field" in fields["colour"]


async def test_bad_query_parameter_names_the_parameter(
    services: Services, admin_headers: dict[str, str]
) -> None:
    response = await services.registry.get(
        "/v1/localities", params={"limit": 0}, headers=admin_headers
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "limit"
    assert body["errors"][0]["location"] == "query"


@pytest.mark.parametrize("service", ["registry", "competitions", "judging"])
async def test_unknown_path_is_404_problem(services: Services, service: str) -> None:
    response = await services.client(service).get("/v1/no-such-thing")
    body = assert_problem(response, 404)
    assert body["instance"] == "/v1/no-such-thing"


async def test_wrong_method_is_405_problem(services: Services) -> None:
    assert_problem(await services.registry.delete("/v1/localities"), 405)


@pytest.mark.parametrize("service", ["registry", "competitions", "judging"])
async def test_bad_token_is_401_problem(services: Services, service: str) -> None:
    response = await services.client(service).get(
        "/v1/me", headers={"authorization": "Bearer not-a-jwt"}
    )
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert "JWT" in str(body["detail"])


async def test_unexpected_error_is_500_problem_without_traceback(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    app = services.apps["judging"]

    async def explode() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/boom", explode)
    with caplog.at_level(logging.ERROR):
        response = await services.judging.get("/boom", headers={"x-request-id": "trace-me-1"})
    body = assert_problem(response, 500)
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert body["request_id"] == "trace-me-1"
    assert response.headers["x-request-id"] == "trace-me-1"
    # ...but the operator finds it in the log under the same request id.
    assert any("secret internals" in (r.exc_text or str(r.exc_info)) for r in caplog.records)


async def test_request_id_is_generated_and_security_headers_set(services: Services) -> None:
    response = await services.registry.get("/healthz")
    assert len(response.headers["x-request-id"]) == 32
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_exhausted_database_pool_is_a_retryable_503() -> None:
    import httpx
    from fastapi import FastAPI
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from shared.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/busy")
    async def busy() -> None:
        raise PoolTimeout("QueuePool limit of size 10 overflow 10 reached")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/busy")
    body = assert_problem(response, 503)
    assert response.headers["retry-after"] == "1"
    assert "busy" in body["detail"]
