"""Role matrix of the awards, certificates, analytics and pairwise endpoints: admins and the
organisers covering the stage's competition manage; other organisers, judges and workers are
refused (403), except where a rule says otherwise (a holder reads their certificate, judges
vote in pairwise mode)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Services
from tests.judging.awards_setup import STANDARD_RULES, add_rules, award_world
from tests.judging.helpers import login

MANAGERS = {"admin": 200, "organiser": 200, "other organiser": 403, "judge": 403, "worker": 403}


async def test_role_matrix(services: Services, admin_headers: dict[str, str]) -> None:
    world = await award_world(services, admin_headers)
    sid = world.stage.stage_id
    who = {
        "admin": admin_headers,
        "organiser": await login(services, "r.org.in", "organiser", locality_code="370000"),
        "other organiser": await login(services, "r.org.out", "organiser", locality_code="370300"),
        "judge": await login(services, "r.judge", "judge"),
        "worker": await login(services, "r.worker", "worker"),
    }
    refused = {"other organiser": 403, "judge": 403, "worker": 403}
    rule = {"kind": "competition_result"}
    expected: list[tuple[str, str, Any, dict[str, int]]] = [
        ("POST", f"/v1/stages/{sid}/award-rules", rule, {**refused, "organiser": 201}),
        ("GET", f"/v1/stages/{sid}/award-rules", None, MANAGERS),
        ("POST", f"/v1/stages/{sid}/awards:send", None, {**refused, "admin": 200}),
        ("GET", f"/v1/stages/{sid}/awards", None, MANAGERS),
        ("GET", f"/v1/stages/{sid}/certificates", None, MANAGERS),
        ("GET", f"/v1/stages/{sid}/analytics/judges", None, MANAGERS),
        ("GET", f"/v1/stages/{sid}/analytics/judges.png", None, MANAGERS),
        ("GET", f"/v1/stages/{sid}/pairwise/ranking", None, MANAGERS),
        ("GET", f"/v1/stages/{sid}/pairwise/next-pair", None, {
            "admin": 403, "organiser": 403, "worker": 403, "judge": 404,  # no judge record
        }),
        ("POST", f"/v1/stages/{sid}/pairwise/votes", {"winner": "AAA", "loser": "BBB"}, {
            "admin": 403, "organiser": 403, "worker": 403,
        }),
    ]  # fmt: skip
    await add_rules(services, admin_headers, sid, STANDARD_RULES[:2])
    for method, path, body, statuses in expected:
        for role, status in statuses.items():
            response = await services.judging.request(method, path, json=body, headers=who[role])
            assert response.status_code == status, (method, path, role, response.text)

    awards = (await services.judging.get(f"/v1/stages/{sid}/awards", headers=admin_headers)).json()
    award = awards["items"][0]["id"]
    certificate = (
        await services.judging.get(f"/v1/stages/{sid}/certificates", headers=admin_headers)
    ).json()["items"][0]["id"]
    rules = (
        await services.judging.get(f"/v1/stages/{sid}/award-rules", headers=admin_headers)
    ).json()
    second: list[tuple[str, str, Any, dict[str, int]]] = [
        ("POST", f"/v1/awards/{award}:retry", None, MANAGERS),
        ("DELETE", f"/v1/award-rules/{rules[0]['id']}", None, {**refused, "admin": 409}),
        ("GET", f"/v1/certificates/{certificate}", None, MANAGERS),
        ("GET", f"/v1/certificates/{certificate}.pdf", None, MANAGERS),
        ("POST", f"/v1/certificates/{certificate}:revoke", {"reason": "违规"}, {
            **refused, "organiser": 403, "admin": 200,
        }),
    ]  # fmt: skip
    for method, path, body, statuses in second:
        for role, status in statuses.items():
            response = await services.judging.request(method, path, json=body, headers=who[role])
            assert response.status_code == status, (method, path, role, response.text)
