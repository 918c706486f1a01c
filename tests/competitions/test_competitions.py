"""Competitions: creation checked against the registry over HTTP, scopes, idempotency."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from shared.models.competitions import Competition
from tests.conftest import Services, assert_problem, bearer, create_account, get_token

JINAN_CONTEST = {
    "name": "2026年济南市数控车工职业技能竞赛",
    "kind": "skill_competition",
    "level": "city",
    "year": 2026,
    "organiser_locality_code": "370100",
}


async def count_competitions(services: Services) -> int:
    async with services.apps["competitions"].state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Competition)) or 0)


async def test_organiser_creates_and_lists_in_own_city(services: Services) -> None:
    await create_account(services, "jinan.org", "organiser", locality_code="370100")
    headers = bearer(await get_token(services, "jinan.org"))
    created = await services.competitions.post(
        "/v1/competitions", json=JINAN_CONTEST, headers=headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "draft"
    created_at = datetime.fromisoformat(body["created_at"])
    assert created_at.utcoffset() == timedelta(0)
    fetched = await services.competitions.get(f"/v1/competitions/{body['id']}", headers=headers)
    assert fetched.json() == body
    listed = await services.competitions.get(
        "/v1/competitions", params={"locality_code": "370100", "year": 2026}, headers=headers
    )
    assert [c["id"] for c in listed.json()["items"]] == [body["id"]]


async def test_organiser_cannot_create_for_another_city(services: Services) -> None:
    await create_account(services, "qingdao.org", "organiser", locality_code="370200")
    headers = bearer(await get_token(services, "qingdao.org"))
    response = await services.competitions.post(
        "/v1/competitions", json=JINAN_CONTEST, headers=headers
    )
    assert "370100" in str(assert_problem(response, 403)["detail"])
    assert await count_competitions(services) == 0


async def test_unknown_locality_is_refused_by_asking_the_registry(
    services: Services, admin_headers: dict[str, str]
) -> None:
    response = await services.competitions.post(
        "/v1/competitions",
        json={**JINAN_CONTEST, "organiser_locality_code": "379900"},
        headers=admin_headers,
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "organiser_locality_code"
    assert await count_competitions(services) == 0


async def test_registry_down_is_503_and_nothing_is_written(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # Tokens are verified with the JWKS cached from a first call...
    assert (await services.competitions.get("/v1/me", headers=admin_headers)).status_code == 200
    # ...then the registry disappears.
    del services.router.apps["registry"]
    response = await services.competitions.post(
        "/v1/competitions",
        json=JINAN_CONTEST,
        headers={**admin_headers, "idempotency-key": "retry-me-123"},
    )
    body = assert_problem(response, 503)
    assert body["service"] == "registry"
    assert await count_competitions(services) == 0
    # The registry comes back: the retry with the same key completes the job once.
    services.router.register("registry", services.apps["registry"])
    retry = await services.competitions.post(
        "/v1/competitions",
        json=JINAN_CONTEST,
        headers={**admin_headers, "idempotency-key": "retry-me-123"},
    )
    assert retry.status_code == 201
    again = await services.competitions.post(
        "/v1/competitions",
        json=JINAN_CONTEST,
        headers={**admin_headers, "idempotency-key": "retry-me-123"},
    )
    assert again.json()["id"] == retry.json()["id"]
    assert await count_competitions(services) == 1


async def test_invalid_enum_lists_allowed_values(
    services: Services, admin_headers: dict[str, str]
) -> None:
    response = await services.competitions.post(
        "/v1/competitions", json={**JINAN_CONTEST, "kind": "beauty_contest"}, headers=admin_headers
    )
    body = assert_problem(response, 422)
    assert "skill_competition" in body["errors"][0]["message"]
