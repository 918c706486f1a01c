"""Who may call each endpoint of the judging service: its row of the authorisation matrix.

Enforced by each route's `require(...)` gate and the object-level checks of the service;
`tests/security/test_authorisation_matrix.py` checks every route against every role, and fails
for a route missing here. See `shared/auth/policy.py`.
"""

from __future__ import annotations

from shared.auth.policy import (
    AUTHENTICATED,
    RouteKey,
    Rule,
    allow,
    public,
)
from shared.auth.principal import Role

#: Organisers manage competitions organised within their scope.
ORG = "competitions organised in their locality or by their enterprise"

POLICY: dict[RouteKey, Rule] = {
    ("GET", "/openapi.json"): public(),
    ("GET", "/docs"): public(),
    ("GET", "/docs/oauth2-redirect"): public(),
    ("GET", "/redoc"): public(),
    ("GET", "/healthz"): public(),
    ("GET", "/readyz"): public(),
    ("POST", "/v1/judges"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("GET", "/v1/judges"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        organiser=ORG,
        judge="own judge record and stages only",
    ),
    ("GET", "/v1/judges/me"): allow(Role.judge, judge="own judge record and stages only"),
    ("GET", "/v1/judges/{judge_id}"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        organiser=ORG,
        judge="own judge record and stages only",
    ),
    ("PATCH", "/v1/judges/{judge_id}"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("DELETE", "/v1/judges/{judge_id}"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("GET", "/v1/judges/{judge_id}/conflicts"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        scopes=("internal",),
        organiser=ORG,
        judge="own judge record and stages only",
    ),
    ("GET", "/v1/stages/{stage_id}/conflicts"): allow(
        Role.admin, Role.organiser, scopes=("internal",), organiser=ORG
    ),
    ("POST", "/v1/judges/{judge_id}/declared-conflicts"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        organiser=ORG,
        judge="own judge record and stages only",
    ),
    ("GET", "/v1/judges/{judge_id}/declared-conflicts"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        organiser=ORG,
        judge="own judge record and stages only",
    ),
    ("POST", "/v1/stages/{stage_id}/marking-schemes"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/stages/{stage_id}/marking-schemes"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        scopes=("internal",),
        organiser=ORG,
        judge="own judge record and stages only",
    ),
    ("GET", "/v1/stages/{stage_id}/marking-schemes/current"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        scopes=("internal",),
        organiser=ORG,
        judge="own judge record and stages only",
    ),
    ("GET", "/v1/stages/{stage_id}/marking-schemes/versions/{version}"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        scopes=("internal",),
        organiser=ORG,
        judge="own judge record and stages only",
    ),
    ("POST", "/v1/stages/{stage_id}/marking-schemes/freeze"): allow(
        Role.admin, Role.organiser, scopes=("internal",), organiser=ORG
    ),
    ("GET", "/v1/me"): allow(*AUTHENTICATED),
    ("GET", "/v1/audit"): allow(Role.admin),
}
