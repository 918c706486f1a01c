"""Forged cursors at every list endpoint of every service (issue 13 §4): never a 5xx.

The endpoints are read from each app's OpenAPI document (every operation with a `cursor` query
parameter), so a new list endpoint is covered without touching this file. Each is called, as a
role its policy admits, with real ids in its path (a world built once: worker, import job,
training programme, webhook subscription, competition, event, stage, venue, judge) and with
cursors drawn by Hypothesis:

- random text and random bytes in base64url;
- base64url of random JSON (wrong types, lengths and nesting), unsigned;
- valid-looking cursors (real sort keys) unsigned, signed with another key, or a real cursor
  with one character changed;
- random JSON *signed with the service's own key*: this gets past the signature, so it proves
  that every value is also type-checked against its column before it reaches SQL.

Every one must be a 422 problem naming `cursor`, on a database shared by the whole module.
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from services.competitions.policy import POLICY as COMPETITIONS_POLICY
from services.judging.policy import POLICY as JUDGING_POLICY
from services.registry.policy import POLICY as REGISTRY_POLICY
from shared.auth.principal import Role
from shared.models.competitions import CompetitionLevel
from shared.pagination import CursorCodec, load_cursor_key
from tests.conftest import (
    Services,
    assert_problem,
    bearer,
    create_account,
    get_token,
    make_settings,
    running_services,
)
from tests.dbutil import PgServer
from tests.factories import make_competition, make_event
from tests.judging.helpers import create_judge, stage_with_entries, sub_of, worker
from tests.registry.test_training import programme_body

#: Cursors per endpoint (CURSOR_EXAMPLES=200 for a deeper local run).
EXAMPLES = int(os.environ.get("CURSOR_EXAMPLES", "20"))
POLICIES = {
    "registry": REGISTRY_POLICY,
    "competitions": COMPETITIONS_POLICY,
    "judging": JUDGING_POLICY,
}
#: Who calls each endpoint: the first of these roles its rule admits.
ROLE_ORDER = [Role.admin, Role.judge, Role.worker]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "2026-12-02T14:29:16.205376+00:00",
            "2026-12-02T14:29:16",
            "2026-12-02",
            "9999-12-31T23:59:59+14:00",
            str(uuid.uuid4()),
            "00000000-0000-0000-0000-000000000000",
            "370100",
            "a\x00b",
            "\ud800",
            "1e400",
            "NaN",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
#: Lists of 1-4 values: the shapes real sort keys have, with any types inside.
key_lists = st.lists(json_values, min_size=1, max_size=4)
other_key = CursorCodec(b"another deployment's cursor key!" * 2)


@st.composite
def mutated(draw: st.DrawFn, real: str) -> str:
    """A real cursor with one character changed."""
    i = draw(st.integers(0, len(real) - 1))
    c = draw(st.sampled_from("AbZz09-_"))
    return real[:i] + (c if c != real[i] else "Q") + real[i + 1 :]


def cursor_strategy(own: CursorCodec, real: str) -> st.SearchStrategy[tuple[str, bool]]:
    """(cursor, signed by us). A cursor our own key signed is no forgery: when its payload
    happens to have the shape of an endpoint's sort key (`[15888]`, an offset into a ranked
    list), it is a real position in that list and the endpoint may answer it (200). Every
    other cursor must be refused with a 422 naming `cursor`."""
    forged = st.one_of(
        st.text(min_size=1, max_size=200),
        st.binary(min_size=1, max_size=300).map(b64),
        json_values.map(json_bytes).map(b64),
        key_lists.map(json_bytes).map(b64),
        key_lists.map(json_bytes).map(other_key.sign),
        mutated(real),
    )
    ours = st.one_of(
        st.binary(max_size=300).map(own.sign),
        json_values.map(json_bytes).map(own.sign),
        key_lists.map(json_bytes).map(own.sign),
    )
    return st.one_of(forged.map(lambda c: (c, False)), ours.map(lambda c: (c, True)))


def draw(strategy: st.SearchStrategy[tuple[str, bool]], n: int) -> list[tuple[str, bool]]:
    drawn: list[tuple[str, bool]] = []

    @hypothesis_settings(
        max_examples=n,
        phases=[Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(cursor: tuple[str, bool]) -> None:
        drawn.append(cursor)

    collect()
    return drawn


@dataclass
class World:
    services: Services
    headers: dict[Role, dict[str, str]]
    path_values: dict[str, str]
    codec: CursorCodec
    real_cursor: str


@pytest.fixture(scope="module")
async def world(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    name = await pg_server.create_database(template=template_db)
    key_dir = tmp_path_factory.mktemp("cursor-keys")
    settings = make_settings(pg_server.url_for(name), key_dir, webhook_allowed_hosts=["127.0.0.1"])
    try:
        async with running_services(settings) as services:
            yield await build_world(services, CursorCodec(load_cursor_key(None, key_dir)))
    finally:
        await pg_server.drop_database(name)


async def build_world(services: Services, codec: CursorCodec) -> World:
    await create_account(services, "cursor.admin", "admin")
    admin = bearer(await get_token(services, "cursor.admin"))
    person = await worker(services)
    await create_account(services, "cursor.worker", "worker", worker_id=person.id)
    await create_account(services, "cursor.judge", "judge")
    judge_headers = bearer(await get_token(services, "cursor.judge"))
    judge = await create_judge(services, admin, account_sub=await sub_of(services, judge_headers))

    setup = await stage_with_entries(services, admin, [{"worker_id": person.id}])
    venue = await services.competitions.post(
        f"/v1/competitions/{setup.competition_id}/venues",
        json={"name": "济南职业学院实训楼", "address": "济南市历城区", "locality_code": "370100"},
        headers=admin,
    )
    assert venue.status_code == 201, venue.text
    # A city event feeding the (provincial) stage's event: a pathway qualifier.
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        city = await make_competition(
            s, level=CompetitionLevel.city, organiser_locality_code="370100"
        )
        city_event = await make_event(s, city)
    pathway = await services.competitions.put(
        f"/v1/events/{setup.event_id}/pathway", json={}, headers=admin
    )
    assert pathway.status_code == 200, pathway.text
    qualifier = await services.competitions.post(
        f"/v1/events/{setup.event_id}/pathway/qualifiers",
        json={"qualifier_event_id": str(city_event.id), "quota": 2},
        headers=admin,
    )
    assert qualifier.status_code == 201, qualifier.text
    programme = await services.registry.post(
        "/v1/training-programmes", json=programme_body(), headers=admin
    )
    assert programme.status_code == 201, programme.text
    subscription = await services.registry.post(
        "/v1/webhook-subscriptions",
        json={"url": "http://127.0.0.1:9/hooks", "event_types": ["worker.created"]},
        headers=admin,
    )
    assert subscription.status_code == 201, subscription.text
    job = await services.registry.post(
        "/v1/imports/workers",
        files={"file": ("workers.csv", "姓名,身份证号\n张三,123\n".encode())},
        headers=admin,
    )
    assert job.status_code == 202, job.text
    # A real cursor: the second page of the seeded localities.
    page = await services.registry.get("/v1/localities", params={"limit": 1}, headers=admin)
    real = page.json()["next_cursor"]
    assert real
    return World(
        services=services,
        headers={
            Role.admin: admin,
            Role.judge: judge_headers,
            Role.worker: bearer(await get_token(services, "cursor.worker")),
        },
        path_values={
            "worker_id": str(person.id),
            "job_id": job.json()["id"],
            "programme_id": programme.json()["id"],
            "subscription_id": subscription.json()["id"],
            "competition_id": str(setup.competition_id),
            "event_id": str(setup.event_id),
            "stage_id": str(setup.stage_id),
            "venue_id": venue.json()["id"],
            "judge_id": judge["id"],
            "qualifier_id": qualifier.json()["id"],
        },
        codec=codec,
        real_cursor=real,
    )


def list_endpoints(services: Services) -> list[tuple[str, str]]:
    found = []
    for service, app in services.apps.items():
        for path, operations in app.openapi()["paths"].items():
            get = operations.get("get")
            if get and any(
                p["name"] == "cursor" and p["in"] == "query" for p in get.get("parameters", [])
            ):
                found.append((service, path))
    return found


def caller(world: World, service: str, path: str) -> dict[str, str]:
    rule = POLICIES[service][("GET", path)]
    role = next(r for r in ROLE_ORDER if rule.admits(r))
    return world.headers[role]


async def test_every_list_endpoint_answers_forged_cursors_with_a_422_naming_cursor(
    world: World,
) -> None:
    services = world.services
    endpoints = list_endpoints(services)
    # The three audit logs and the known list endpoints of the issue are among them.
    assert {
        ("registry", "/v1/workers"),
        ("registry", "/v1/honours"),
        ("judging", "/v1/audit"),
    } <= set(endpoints)
    assert len(endpoints) >= 35, endpoints
    strategy = cursor_strategy(world.codec, world.real_cursor)
    failures: list[str] = []
    for service, path in endpoints:
        url = re.sub(r"\{(\w+)\}", lambda m: world.path_values[m.group(1)], path)
        headers = caller(world, service, path)
        client = services.client(service)
        plain = await client.get(url, headers=headers)
        assert plain.status_code == 200, f"{service} {url}: {plain.status_code} {plain.text}"
        for cursor, signed_by_us in draw(strategy, EXAMPLES):
            response = await client.get(url, params={"cursor": cursor}, headers=headers)
            if signed_by_us and response.status_code == 200:
                continue  # a genuine position in this list (see cursor_strategy)
            fields = [e.get("field") for e in response.json().get("errors") or []]
            # A NUL anywhere in a request is refused before routing, by a guard that does not
            # name the field (shared/errors.py); any other bad cursor must be named.
            named = fields == ["cursor"] or ("\x00" in cursor and not fields)
            if response.status_code != 422 or not named:
                failures.append(
                    f"{service} GET {url}?cursor={cursor!r}: {response.status_code} "
                    f"{response.text[:300]}"
                )
                continue
            assert_problem(response, 422)
    assert not failures, "\n".join(failures[:30])


async def test_a_real_cursor_still_pages_and_one_from_another_deployment_does_not(
    world: World,
) -> None:
    services, admin = world.services, world.headers[Role.admin]
    first = await services.registry.get("/v1/localities", params={"limit": 2}, headers=admin)
    second = await services.registry.get(
        "/v1/localities",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=admin,
    )
    assert second.status_code == 200, second.text
    codes = [x["code"] for x in first.json()["items"] + second.json()["items"]]
    assert codes == sorted(codes)
    assert len(set(codes)) == 4
    # The same sort key signed with another deployment's key is refused.
    last = first.json()["items"][-1]["code"]
    forged = other_key.encode([last])
    assert world.codec.encode([last]) == first.json()["next_cursor"]
    refused = await services.registry.get(
        "/v1/localities", params={"limit": 2, "cursor": forged}, headers=admin
    )
    assert assert_problem(refused, 422)["errors"][0]["field"] == "cursor"
