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
HIGHER = "the higher event's organisers (its competition in their scope)"
QUALIFIER = "the qualifier's organisers (its competition in their scope)"
EITHER = "the organisers of the qualifier or of the higher event"
OWN_NOMINATIONS = "own nominations only"

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
    # Competitions at every level: pathways, nominations, the calendar.
    ("GET", "/v1/events/{event_id}/pathway"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
    ),
    ("PUT", "/v1/events/{event_id}/pathway"): allow(Role.admin, Role.organiser, organiser=HIGHER),
    ("POST", "/v1/events/{event_id}/pathway/qualifiers"): allow(
        Role.admin, Role.organiser, organiser=HIGHER
    ),
    ("POST", "/v1/events/{event_id}/pathway/direct-places"): allow(
        Role.admin, Role.organiser, organiser=HIGHER
    ),
    ("GET", "/v1/pathway-qualifiers/{qualifier_id}"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
    ),
    ("PATCH", "/v1/pathway-qualifiers/{qualifier_id}"): allow(
        Role.admin, Role.organiser, organiser=HIGHER
    ),
    ("GET", "/v1/pathway-qualifiers/{qualifier_id}/quota-history"): allow(
        Role.admin, Role.organiser, organiser=EITHER
    ),
    ("GET", "/v1/pathway-qualifiers/{qualifier_id}/suggestions"): allow(
        Role.admin, Role.organiser, organiser=EITHER
    ),
    ("POST", "/v1/pathway-qualifiers/{qualifier_id}/nominations"): allow(
        Role.admin, Role.organiser, organiser=QUALIFIER
    ),
    ("POST", "/v1/pathway-qualifiers/{qualifier_id}/nominations:submit"): allow(
        Role.admin, Role.organiser, organiser=QUALIFIER
    ),
    ("GET", "/v1/nominations/{nomination_id}"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal",),
        organiser=EITHER,
        worker=OWN_NOMINATIONS,
    ),
    ("POST", "/v1/nominations/{nomination_id}/substitute"): allow(
        Role.admin, Role.organiser, organiser=QUALIFIER
    ),
    ("POST", "/v1/nominations/{nomination_id}/withdraw"): allow(
        Role.admin, Role.organiser, organiser=QUALIFIER
    ),
    ("POST", "/v1/nominations/{nomination_id}/accept"): allow(
        Role.admin, Role.organiser, organiser=HIGHER
    ),
    ("POST", "/v1/nominations/{nomination_id}/return"): allow(
        Role.admin, Role.organiser, organiser=HIGHER
    ),
    ("GET", "/v1/events/{event_id}/nominations"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal",),
        organiser=EITHER,
        worker=OWN_NOMINATIONS,
    ),
    ("GET", "/v1/calendar"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
    ),
    ("GET", "/v1/calendar.ics"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
    ),
    ("GET", "/v1/me/open-events"): allow(Role.worker),
    ("GET", "/v1/me"): allow(*AUTHENTICATED),
    ("GET", "/v1/audit"): allow(Role.admin),
    **statistics_policy(),
}
