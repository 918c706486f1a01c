"""`make demo`'s data set (services/demo.py) against the three in-process services: it prints a
sign-in for every view of the API, each one obtains a token with the scope it claims, and a
second run gives new credentials that work while the old ones no longer do.

The whole command (embedded Postgres, real processes) is tested in tests/e2e/test_run_command.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.demo import DEMO_ADMIN, ENTERPRISE_ORGANISER, WORKER_ACCOUNT, load_demo
from tests.conftest import Services, bearer

URLS = {name: f"http://{name}" for name in ("registry", "competitions", "judging")}
#: username -> (role, what /v1/me must show)
PEOPLE: dict[str, tuple[str, dict[str, Any]]] = {
    DEMO_ADMIN: ("admin", {}),
    "shandong.organiser": ("organiser", {"locality_code": "370000"}),
    "jinan.organiser": ("organiser", {"locality_code": "370100"}),
    "qingdao.organiser": ("organiser", {"locality_code": "370200"}),
    ENTERPRISE_ORGANISER: ("organiser", {}),
    "judge.wang": ("judge", {}),
    WORKER_ACCOUNT: ("worker", {}),
}


async def _token(services: Services, form: dict[str, str]) -> dict[str, str]:
    response = await services.registry.post("/v1/auth/token", data=form)
    assert response.status_code == 200, f"{form.get('username') or form}: {response.text}"
    return bearer(response.json()["access_token"])


def _printed(output: str) -> tuple[dict[str, str], dict[str, str]]:
    """The people's sign-ins (username -> password) and the machine client, as printed."""
    people = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^  (\S+)\s+(Demo-\S+)\s+\S", output, re.MULTILINE)
    }
    client = dict(re.findall(r"^  (client_id|client_secret|scopes)\s+(.+)$", output, re.MULTILINE))
    return people, client


async def test_demo_prints_a_working_sign_in_for_every_view(
    services: Services, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    returned = await load_demo(database_url, URLS, transport=services.router)
    people, client = _printed(capsys.readouterr().out)
    assert set(people) == set(PEOPLE)
    assert {k: v for k, v in returned.items() if k in people} == people

    for username, (role, scope) in PEOPLE.items():
        headers = await _token(
            services, {"grant_type": "password", "username": username, "password": people[username]}
        )
        me = (await services.registry.get("/v1/me", headers=headers)).json()
        assert me["role"] == role, username
        for field, value in scope.items():
            assert me[field] == value, username

    # The enterprise organiser sees its enterprise; the worker sees their own entry.
    organiser = await _token(
        services,
        {
            "grant_type": "password",
            "username": ENTERPRISE_ORGANISER,
            "password": people[ENTERPRISE_ORGANISER],
        },
    )
    me = (await services.registry.get("/v1/me", headers=organiser)).json()
    enterprise = await services.registry.get(
        f"/v1/enterprises/{me['enterprise_id']}", headers=organiser
    )
    assert enterprise.json()["name"] == "济南二机床集团有限公司"
    admin = await _token(
        services,
        {"grant_type": "password", "username": DEMO_ADMIN, "password": people[DEMO_ADMIN]},
    )
    worker = await _token(
        services,
        {"grant_type": "password", "username": WORKER_ACCOUNT, "password": people[WORKER_ACCOUNT]},
    )
    worker_id = (await services.registry.get("/v1/me", headers=worker)).json()["worker_id"]
    competitions = (
        await services.competitions.get(
            "/v1/competitions", params={"locality_code": "370100"}, headers=admin
        )
    ).json()["items"]
    jinan = next(c for c in competitions if "数控车工" in c["name"])
    [event] = (
        await services.competitions.get(f"/v1/competitions/{jinan['id']}/events", headers=admin)
    ).json()["items"]
    own = await services.competitions.get(f"/v1/events/{event['id']}/entries", headers=worker)
    assert own.status_code == 200, own.text
    assert [e["worker_id"] for e in own.json()["items"]] == [worker_id]

    # The machine client: client credentials give a token with the printed scopes.
    machine = await _token(
        services,
        {
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    me = (await services.registry.get("/v1/me", headers=machine)).json()
    assert me["role"] == "integration"
    assert sorted(me["scopes"]) == sorted(client["scopes"].split())
    assert returned[client["client_id"]] == client["client_secret"]


async def test_running_the_demo_again_replaces_every_credential(
    services: Services, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await load_demo(database_url, URLS, transport=services.router)
    first_people, first_client = _printed(capsys.readouterr().out)
    await load_demo(database_url, URLS, transport=services.router)
    people, client = _printed(capsys.readouterr().out)
    assert set(people) == set(PEOPLE)
    for username in PEOPLE:
        await _token(
            services, {"grant_type": "password", "username": username, "password": people[username]}
        )
        stale = await services.registry.post(
            "/v1/auth/token",
            data={
                "grant_type": "password",
                "username": username,
                "password": first_people[username],
            },
        )
        assert stale.status_code in (400, 401), username
    await _token(
        services,
        {
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    old = await services.registry.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": first_client["client_id"],
            "client_secret": first_client["client_secret"],
        },
    )
    assert old.status_code in (400, 401)
