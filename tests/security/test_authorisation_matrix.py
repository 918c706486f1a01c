"""The authorisation matrix, checked route by route and role by role through HTTP.

Generated from each app's routes: every (method, path) must have a rule in its service's
`policy.py` (and nothing else may be there), the `require(...)` gate of a route must name the
rule's roles and scopes, and each route is called as every role with dummy ids and an empty
body. A role the rule does not admit must get 401 (no token) or 403, as problem+json, and no
table of the database may change; an admitted role must never get 401 nor the role or scope
gate's 403 (it may get 404 or 422: the ids are dummies and the body is empty, or a 403 from an
object-level check for a role the rule admits only to its own objects).

One app instance per service and one token per role for the whole module, so ~2,000 requests
take seconds.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.competitions.policy import POLICY as COMPETITIONS_POLICY
from services.judging.policy import POLICY as JUDGING_POLICY
from services.registry.accounts import schemas as account_schemas
from services.registry.accounts import service as account_service
from services.registry.policy import POLICY as REGISTRY_POLICY
from shared.auth.policy import RouteKey, Rule, routes
from shared.auth.principal import INTEGRATION_SCOPES, Role
from tests.conftest import (
    Services,
    bearer,
    create_account,
    get_token,
    make_settings,
    running_services,
)
from tests.dbutil import PgServer
from tests.factories import make_enterprise, make_worker

POLICIES: dict[str, Mapping[RouteKey, Rule]] = {
    "registry": REGISTRY_POLICY,
    "competitions": COMPETITIONS_POLICY,
    "judging": JUDGING_POLICY,
}
SERVICES = list(POLICIES)


@dataclass
class Persona:
    name: str
    role: Role | None
    headers: dict[str, str]


@dataclass
class Matrix:
    services: Services
    people: list[Persona]
    client_id: str
    client_secret: str
    _scope_tokens: dict[frozenset[str], str]

    async def integration(self, scopes: frozenset[str]) -> dict[str, str]:
        """A machine client's token holding exactly `scopes` (one token per set, cached)."""
        if scopes not in self._scope_tokens:
            response = await self.services.registry.post(
                "/v1/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "scope": " ".join(sorted(scopes)),
                },
            )
            assert response.status_code == 200, response.text
            self._scope_tokens[scopes] = response.json()["access_token"]
        return bearer(self._scope_tokens[scopes])


@pytest.fixture(scope="module")
async def matrix(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Matrix]:
    name = await pg_server.create_database(template=template_db)
    settings = make_settings(pg_server.url_for(name), tmp_path_factory.mktemp("matrix-keys"))
    try:
        async with running_services(settings) as services:
            registry = services.apps["registry"]
            async with registry.state.sessionmaker() as session, session.begin():
                enterprise = await make_enterprise(session)
                worker = await make_worker(session, registry.state.cipher)
                client = await account_service.create_client(
                    session,
                    account_schemas.MachineClientCreate(
                        name="matrix client", scopes=sorted(INTEGRATION_SCOPES)
                    ),
                    None,
                )
            accounts: list[tuple[str, str, dict[str, Any]]] = [
                ("admin", "admin", {}),
                ("organiser_province", "organiser", {"locality_code": "370000"}),
                ("organiser_city", "organiser", {"locality_code": "370100"}),
                ("organiser_enterprise", "organiser", {"enterprise_id": enterprise.id}),
                ("judge", "judge", {}),
                ("worker", "worker", {"worker_id": worker.id}),
            ]
            people = [Persona("anonymous", None, {})]
            for username, role, extra in accounts:
                await create_account(services, username.replace("_", "."), role, **extra)
                token = await get_token(services, username.replace("_", "."))
                people.append(Persona(username, Role(role), bearer(token)))
            yield Matrix(services, people, client.client_id, client.client_secret, {})
    finally:
        await pg_server.drop_database(name)


# Dummy values for path parameters: valid in form, naming nothing that exists.
PATH_VALUES = {"code": "370100", "kind": "workers", "version": "1", "source_ref": "matrix-ref"}


def concrete(path: str) -> str:
    return re.sub(
        r"\{([^}:]+)(?::[^}]*)?\}",
        lambda m: PATH_VALUES.get(m.group(1), str(uuid.UUID(int=0x5EC))),
        path,
    )


async def call(
    services: Services, service: str, key: RouteKey, headers: dict[str, str]
) -> httpx.Response:
    method, path = key
    return await services.client(service).request(
        method,
        concrete(path),
        headers={**headers, "If-Match": '"0"'},
        json={} if method in ("POST", "PUT", "PATCH") else None,
    )


#: Request bookkeeping, not data: the token endpoint counts every request per window
#: (`shared/ratelimit.py`), and the matrix signs machine clients in between its calls, so a
#: window that turns over mid-test adds a row whatever the denied calls do; and each sign-in
#: holds a `login_attempts` row from before its password is checked until it succeeds, so the
#: services' own machine-token warm-up at start can be in flight at either snapshot.
BOOKKEEPING = {"rate_limit_counters", "login_attempts"}


async def row_counts(services: Services) -> dict[str, int]:
    """Rows of every table but `BOOKKEEPING`: a denied request must change none of them."""
    async with services.apps["registry"].state.sessionmaker() as session:
        tables = (
            await session.scalars(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "ORDER BY tablename"
                )
            )
        ).all()
        # Table names come from the catalogue, not from input.
        selects = [f"SELECT '{t}' AS t, count(*) AS n FROM \"{t}\"" for t in tables]  # noqa: S608
        query = " UNION ALL ".join(selects)
        counts = {t: n for t, n in (await session.execute(text(query))).all()}
        return {t: n for t, n in counts.items() if t not in BOOKKEEPING}


def is_gate_denial(response: httpx.Response) -> bool:
    if response.status_code == 401:
        return True
    if response.status_code != 403:
        return False
    body: dict[str, Any] = response.json()
    return body.get("denied_by") in ("role", "scope")


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_has_exactly_one_rule(matrix: Matrix, service: str) -> None:
    app = matrix.services.apps[service]
    served = {key for key, _ in routes(app)}
    policy = POLICIES[service]
    missing = sorted(served - set(policy), key=lambda k: (k[1], k[0]))
    stale = sorted(set(policy) - served, key=lambda k: (k[1], k[0]))
    assert not missing, f"routes of {service} without a rule in services/{service}/policy.py"
    assert not stale, f"rules in services/{service}/policy.py for routes that do not exist"


def _gates(dependant: Any) -> list[Any]:
    found = []
    for sub in dependant.dependencies:
        if hasattr(sub.call, "required_roles"):
            found.append(sub.call)
        found.extend(_gates(sub))
    return found


@pytest.mark.parametrize("service", SERVICES)
async def test_role_gates_match_the_policy(matrix: Matrix, service: str) -> None:
    policy = POLICIES[service]
    mismatched = []
    for key, route in routes(matrix.services.apps[service]):
        rule = policy.get(key)
        if route is None or rule is None:
            continue
        for gate in _gates(route.dependant):
            if (gate.required_roles, gate.required_scopes) != (rule.roles, rule.scopes):
                mismatched.append((key, sorted(gate.required_roles), sorted(gate.required_scopes)))
    assert not mismatched, "require(...) gates that disagree with the policy table"


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_against_every_role(matrix: Matrix, service: str) -> None:
    policy = POLICIES[service]
    services = matrix.services
    failures: list[str] = []
    all_scopes = frozenset(INTEGRATION_SCOPES)

    # Callers per route: the people, plus a machine client holding one of the route's scopes
    # and one holding every other scope.
    async def callers(rule: Rule) -> list[tuple[Persona, bool, bool]]:
        out = []
        for persona in matrix.people:
            limited = persona.role in rule.limits
            out.append((persona, rule.admits(persona.role), limited))
        for scope in sorted(rule.scopes):  # each admitting scope on its own
            headers = await matrix.integration(frozenset({scope}))
            persona = Persona(f"integration[{scope}]", Role.integration, headers)
            out.append((persona, True, Role.integration in rule.limits))
        others = all_scopes - rule.scopes
        if others:
            persona = Persona(
                "integration-scope", Role.integration, await matrix.integration(others)
            )
            out.append(
                (persona, rule.admits(Role.integration, others), Role.integration in rule.limits)
            )
        return out

    keys = sorted(policy, key=lambda k: (k[1], k[0]))
    # Denials first, all of them, then the table snapshot: none may have changed anything.
    before = await row_counts(services)
    for key in keys:
        rule = policy[key]
        for persona, admitted, _ in await callers(rule):
            if admitted:
                continue
            response = await call(services, service, key, persona.headers)
            expected = 401 if persona.role is None else 403
            if response.status_code != expected or not response.headers.get(
                "content-type", ""
            ).startswith("application/problem+json"):
                failures.append(
                    f"{key[0]} {key[1]} as {persona.name}: expected {expected}, got "
                    f"{response.status_code} {response.text[:160]}"
                )
    after = await row_counts(services)
    changed = {t: (before[t], after.get(t)) for t in before if before[t] != after.get(t)}
    assert not changed, f"denied requests changed tables: {changed}"

    for key in keys:
        rule = policy[key]
        for persona, admitted, limited in await callers(rule):
            if not admitted:
                continue
            response = await call(services, service, key, persona.headers)
            denied = is_gate_denial(response) or (response.status_code == 403 and not limited)
            if denied:
                failures.append(
                    f"{key[0]} {key[1]} as {persona.name}: admitted by the policy, got "
                    f"{response.status_code} {response.text[:160]}"
                )
    assert not failures, "\n".join(failures)


def test_markdown_lists_every_rule() -> None:
    """`python -m services.policy` prints the matrix of every service, one row per rule."""
    from services.policy import POLICIES as SYSTEM
    from shared.auth.policy import markdown

    assert SYSTEM == POLICIES
    table = markdown(SYSTEM)
    assert table.count("\n") == 1 + sum(len(p) for p in POLICIES.values())
