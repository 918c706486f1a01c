"""The authorisation matrix: who may call which endpoint, as one reviewable table per service.

Each service keeps a `policy.py` next to its `main.py` with `POLICY: dict[(method, path), Rule]`
covering every route it serves (docs and probes included). Enforcement stays where it was: the
`require(...)` dependency of each route (the role and scope gate) and the object-level checks in
the services (an organiser's locality or enterprise, a judge's assigned stages, a worker's own
records). The table is the specification both are tested against:

- `tests/security/test_authorisation_matrix.py` asserts that the set of routes of each app equals
  the set of keys of its table (a new route without a rule fails the suite), that the roles and
  scopes of each route's `require(...)` equal its rule's, and calls every route as every role
  (admin; organisers of the province, a city and an enterprise; judge; worker; machine clients
  with and without the route's scope; anonymous): a role the rule does not admit gets 401/403
  and changes nothing, an admitted one never gets 401 nor the role gate's 403.
- `python -m services.policy` prints the matrix as Markdown for reviewers (`markdown` here).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from shared.auth.principal import Role

#: Every role a person's account can hold.
PEOPLE: frozenset[Role] = frozenset({Role.admin, Role.organiser, Role.judge, Role.worker})
#: Any valid token: people and machine clients, whatever their scopes.
AUTHENTICATED: frozenset[Role] = PEOPLE | {Role.integration}

RouteKey = tuple[str, str]


@dataclass(frozen=True)
class Rule:
    """Who may call one endpoint.

    `roles` pass the role gate; a machine client (role integration) passes it when it holds one
    of `scopes`, or, for rules without scopes, when `roles` includes integration. `limits` says,
    for roles admitted only to some objects, which ones (the object-level rule, in words): such
    a role may still get a 403 or 404 for an object outside its scope.
    """

    roles: frozenset[Role] = frozenset()
    scopes: frozenset[str] = frozenset()
    public: bool = False
    limits: Mapping[Role, str] = field(default_factory=dict)

    def admits(self, role: Role | None, scopes: frozenset[str] = frozenset()) -> bool:
        """Whether this caller passes the role gate (None: no token)."""
        if self.public:
            return True
        if role is None:
            return False
        if role is Role.integration and self.scopes:
            return bool(self.scopes & scopes)
        return role in self.roles

    def describe(self, role: Role) -> str:
        if self.public:
            return "public"
        if role is Role.integration and self.scopes:
            granted = " or ".join(f"`{s}`" for s in sorted(self.scopes))
            return f"scope {granted}" + (f": {self.limits[role]}" if role in self.limits else "")
        if role not in self.roles:
            return "—"
        return self.limits.get(role, "yes")


def public() -> Rule:
    """No token needed: docs, probes, the token endpoint and the public keys."""
    return Rule(public=True)


def allow(
    *roles: Role,
    scopes: tuple[str, ...] = (),
    admin: str | None = None,
    organiser: str | None = None,
    judge: str | None = None,
    worker: str | None = None,
    integration: str | None = None,
) -> Rule:
    """A rule admitting `roles` (and machine clients holding one of `scopes`); the keyword
    arguments name the object-level limit of a role admitted only to its own objects."""
    named = {
        Role.admin: admin,
        Role.organiser: organiser,
        Role.judge: judge,
        Role.worker: worker,
        Role.integration: integration,
    }
    return Rule(
        roles=frozenset(roles),
        scopes=frozenset(scopes),
        limits={role: text for role, text in named.items() if text},
    )


# Object-level rules used across services, in words.
ORG_LOCALITY = "own locality (a city includes its counties) or own enterprise"
OWN_WORKER = "own worker record only"


#: Programme statistics: aggregates only, within the caller's scope (shared/stats).
STATS_SCOPE = "organiser's locality subtree or enterprise (aggregates only)"
STATISTICS_PATHS = (
    "/v1/statistics/measures",
    "/v1/statistics/figures",
    "/v1/statistics/trends",
    "/v1/statistics/charts/figure",
    "/v1/statistics/charts/trend",
)


def statistics_policy(*extra: str) -> dict[RouteKey, Rule]:
    """The rows of the statistics endpoints every service serves (and `extra` paths)."""
    rule = allow(
        Role.admin,
        Role.organiser,
        scopes=("statistics:read",),
        organiser=STATS_SCOPE,
        integration="province-wide aggregates",
    )
    return {("GET", path): rule for path in (*STATISTICS_PATHS, *extra)}


def routes(app: FastAPI) -> Iterator[tuple[RouteKey, APIRoute | None]]:
    """Every (method, path) the app answers (HEAD aside), with its APIRoute when it has one.

    FastAPI includes routers lazily, so `app.routes` does not list them flat; this walks them.
    Static mounts (the docs' assets) are not endpoints and are skipped.
    """
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount) or context.path is None:
            continue
        methods = getattr(route, "methods", None) or set()
        for method in sorted(methods - {"HEAD"}):
            yield (method, context.path), route if isinstance(route, APIRoute) else None


def markdown(policies: Mapping[str, Mapping[RouteKey, Rule]]) -> str:
    """The matrix as a Markdown table, one row per endpoint."""
    order = [Role.admin, Role.organiser, Role.judge, Role.worker, Role.integration]
    lines = [
        "| service | method | path | " + " | ".join(r.value for r in order) + " |",
        "|---|---|---|" + "---|" * len(order),
    ]
    for service, policy in policies.items():
        for (method, path), rule in sorted(policy.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            cells = " | ".join(rule.describe(role) for role in order)
            lines.append(f"| {service} | {method} | `{path}` | {cells} |")
    return "\n".join(lines)
