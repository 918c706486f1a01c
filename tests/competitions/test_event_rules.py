"""Event rules as a client meets them: team sizes (optional in the schema, so they have
defaults), one clear message per team problem naming its field, the minimum working age in the
schema, and eligibility refusals that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from shared.config import Settings
from tests.competitions.test_entries import COMPETITION, enter, open_event, worker
from tests.conftest import Services, assert_problem, matching


@pytest.fixture
def settings(registration_settings: Settings) -> Settings:
    """Every test here runs with registration's fast paths on and off (tests/competitions/
    conftest.py)."""
    return registration_settings


async def _competition(services: Services, headers: dict[str, str], kind: str) -> dict[str, Any]:
    body = {**COMPETITION, "kind": kind}
    if kind == "innovation_competition":
        body["tracks"] = ["ai"]
    response = await services.competitions.post("/v1/competitions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    competition: dict[str, Any] = response.json()
    return competition


async def _add_event(
    services: Services, headers: dict[str, str], competition: dict[str, Any], **body: Any
) -> Any:
    return await services.competitions.post(
        f"/v1/competitions/{competition['id']}/events",
        json={"name": "项目", "occupation": "数控车工", "capacity": 10, **body},
        headers=headers,
    )


@pytest.mark.parametrize(
    ("kind", "mode", "sizes"),
    [("innovation_competition", "innovation", (1, 15)), ("skill_competition", "team", (2, 20))],
)
async def test_team_sizes_are_optional_with_documented_defaults(
    services: Services, admin_headers: dict[str, str], kind: str, mode: str, sizes: tuple[int, int]
) -> None:
    competition = await _competition(services, admin_headers, kind)
    made = await _add_event(services, admin_headers, competition, mode=mode)
    assert made.status_code == 201, made.text
    assert (made.json()["team_min"], made.json()["team_max"]) == sizes
    # Only one of them: the other takes its default.
    capped = await _add_event(services, admin_headers, competition, mode=mode, team_max=4)
    assert capped.status_code == 201, capped.text
    assert (capped.json()["team_min"], capped.json()["team_max"]) == (sizes[0], 4)


async def test_the_schema_says_what_the_behaviour_is(services: Services) -> None:
    document = (await services.competitions.get("/openapi.json")).json()
    event_create = document["components"]["schemas"]["EventCreate"]
    assert "team_min" not in event_create.get("required", [])
    assert (
        "Default: 2 for a team event, 1 for an innovation event"
        in (event_create["properties"]["team_min"]["description"])
    )
    min_age = event_create["properties"]["min_age"]
    assert any(branch.get("minimum") == 16 for branch in min_age["anyOf"])
    assert "16 (the legal working age" in min_age["description"]
    worker_create = (await services.registry.get("/openapi.json")).json()["components"]["schemas"][
        "WorkerCreate"
    ]
    assert "at least 16" in worker_create["properties"]["id_number"]["description"]


async def test_team_size_refusals_name_their_field(
    services: Services, admin_headers: dict[str, str]
) -> None:
    competition = await _competition(services, admin_headers, "skill_competition")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"mode": "team", "team_min": 1}, "team_min", "at least 2"),
        ({"mode": "team", "team_min": 4, "team_max": 3}, "team_max", "below team_min (4)"),
        ({"mode": "individual", "team_max": 3}, "team_max", "not used in an individual"),
        ({"mode": "individual", "min_age": 15}, "min_age", "greater than or equal to 16"),
        ({"mode": "individual", "min_age": 40, "max_age": 30}, "max_age", "below min_age"),
        (
            {"mode": "individual", "min_grade": "technician", "max_grade": "junior"},
            "max_grade",
            "below min_grade",
        ),
        ({"mode": "individual", "allowed_locality_codes": ["济南"]}, "allowed_locality_codes", ""),
    ]
    for body, field, message in cases:
        problem = assert_problem(
            await _add_event(services, admin_headers, competition, **body), 422
        )
        assert [e["field"] for e in problem["errors"]] == [field], problem
        assert message in problem["errors"][0]["message"], problem
    events = await services.competitions.get(
        f"/v1/competitions/{competition['id']}/events", headers=admin_headers
    )
    assert events.json()["items"] == []


async def test_an_update_that_breaks_the_rules_names_the_field(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers, min_age=30)
    problem = assert_problem(
        await services.competitions.patch(
            f"/v1/events/{event['id']}",
            json={"max_age": 20},
            headers=await matching(
                services.competitions, f"/v1/events/{event['id']}", admin_headers
            ),
        ),
        422,
    )
    assert [e["field"] for e in problem["errors"]] == ["max_age"]


async def test_each_team_problem_has_its_own_message(
    services: Services, admin_headers: dict[str, str]
) -> None:
    event = await open_event(services, admin_headers, mode="team", team_min=2, team_max=3)
    a, b, c, d = [str(await worker(services)) for _ in range(4)]
    cases = [
        ({"members": [a]}, "members", "too few members: 1, the event's teams have at least 2"),
        ({"members": [a, b, c, d]}, "members", "too many members: 4"),
        ({"members": [b, c]}, "leader_id", "the leader must be one of the members"),
    ]
    details = set()
    for body, field, message in cases:
        problem = assert_problem(
            await enter(services, admin_headers, event, team_name="一队", leader_id=a, **body),
            422,
        )
        assert [e["field"] for e in problem["errors"]] == [field]
        assert message in problem["errors"][0]["message"]
        assert message in problem["detail"]
        details.add(problem["detail"])
    assert len(details) == len(cases)


async def test_an_innovation_event_without_sizes_admits_a_lone_innovator(
    services: Services, admin_headers: dict[str, str]
) -> None:
    competition = await _competition(services, admin_headers, "innovation_competition")
    made = await _add_event(services, admin_headers, competition, mode="innovation")
    assert made.status_code == 201, made.text
    url = f"/v1/competitions/{competition['id']}"
    opened = await services.competitions.post(
        f"{url}/status",
        json={"status": "registration_open"},
        headers=await matching(services.competitions, url, admin_headers),
    )
    assert opened.status_code == 200, opened.text
    lone = str(await worker(services))
    problem = assert_problem(
        await enter(services, admin_headers, made.json(), leader_id=lone, members=[lone]), 422
    )
    # The size is fine: only the achievement is missing.
    assert [e["field"] for e in problem["errors"]] == ["achievement_id"]
