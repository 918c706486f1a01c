"""Who may call each endpoint of the competitions service: its row of the authorisation matrix.

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
    statistics_policy,
)
from shared.auth.principal import Role

#: Organisers manage competitions organised within their scope.
ORG = "competitions organised in their locality or by their enterprise"
OWN_ENTRIES = "own entries (as competitor or team member) only"

POLICY: dict[RouteKey, Rule] = {
    ("GET", "/openapi.json"): public(),
    ("GET", "/docs"): public(),
    ("GET", "/docs/oauth2-redirect"): public(),
    ("GET", "/redoc"): public(),
    ("GET", "/healthz"): public(),
    ("GET", "/readyz"): public(),
    ("POST", "/v1/competitions"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("GET", "/v1/competitions"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("GET", "/v1/competitions/{competition_id}"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("PATCH", "/v1/competitions/{competition_id}"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/competitions/{competition_id}/status"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/competitions/{competition_id}/events"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/competitions/{competition_id}/events"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("GET", "/v1/events/{event_id}"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("PATCH", "/v1/events/{event_id}"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/events/{event_id}/entries"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("POST", "/v1/events/{event_id}/entries:import"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/events/{event_id}/entries"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal",),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("GET", "/v1/entries/{entry_id}"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal",),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("POST", "/v1/entries:batch-get"): allow(
        Role.admin, Role.organiser, scopes=("internal",), organiser=ORG
    ),
    ("POST", "/v1/entries/{entry_id}/approve"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/entries/{entry_id}/reject"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/entries/{entry_id}/withdraw"): allow(
        Role.admin, Role.organiser, Role.worker, organiser=ORG, worker=OWN_ENTRIES
    ),
    ("POST", "/v1/entries/{entry_id}/check-in"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/entries/{entry_id}/disqualify"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/events/{event_id}/entries:approve"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/events/{event_id}/entries:reject"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/events/{event_id}/entries:withdraw"): allow(
        Role.admin, Role.organiser, Role.worker, organiser=ORG, worker=OWN_ENTRIES
    ),
    ("POST", "/v1/events/{event_id}/entries:check-in"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/events/{event_id}/entries:disqualify"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/events/{event_id}/stages"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("GET", "/v1/events/{event_id}/stages"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("GET", "/v1/stages/{stage_id}"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("PATCH", "/v1/stages/{stage_id}"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/stages/{stage_id}/entries:seed"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/stages/{stage_id}/advancement-overrides"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/stages/{stage_id}/advancement-overrides"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("PUT", "/v1/stages/{stage_id}/advancement"): allow(
        Role.admin, Role.organiser, scopes=("internal",), organiser=ORG
    ),
    ("GET", "/v1/stages/{stage_id}/advancement"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
    ),
    ("POST", "/v1/stages/{stage_id}/lock"): allow(Role.admin, scopes=("internal",)),
    ("POST", "/v1/stages/{stage_id}/blind-codes"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("GET", "/v1/stages/{stage_id}/stage-entries"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
    ),
    ("GET", "/v1/stages/{stage_id}/blind-codes:mapping"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/competitions/{competition_id}/venues"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/competitions/{competition_id}/venues"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("POST", "/v1/venues/{venue_id}/workstations"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/venues/{venue_id}/workstations"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("POST", "/v1/stages/{stage_id}/sessions"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("GET", "/v1/stages/{stage_id}/sessions"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("POST", "/v1/stages/{stage_id}/schedule"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("GET", "/v1/stages/{stage_id}/schedule"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("PUT", "/v1/stage-entries/{stage_entry_id}/slot"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/stages/{stage_id}/schedule/releases"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/stages/{stage_id}/schedule/releases"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("GET", "/v1/stages/{stage_id}/schedule/releases/{version}.xlsx"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("GET", "/v1/stages/{stage_id}/schedule/releases/{version}.ics"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("GET", "/v1/stages/{stage_id}/schedule/releases/{version}"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        organiser=ORG,
        worker=OWN_ENTRIES,
    ),
    ("GET", "/v1/me"): allow(*AUTHENTICATED),
    ("GET", "/v1/audit"): allow(Role.admin),
    **statistics_policy(),
}
