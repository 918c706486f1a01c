"""Who may call each endpoint of the registry service: its row of the authorisation matrix.

Enforced by each route's `require(...)` gate and the object-level checks of the service;
`tests/security/test_authorisation_matrix.py` checks every route against every role, and fails
for a route missing here. See `shared/auth/policy.py`.
"""

from __future__ import annotations

from shared.auth.policy import (
    AUTHENTICATED,
    ORG_LOCALITY,
    OWN_WORKER,
    RouteKey,
    Rule,
    allow,
    public,
    statistics_policy,
)
from shared.auth.principal import Role

#: Confirming or declining a nomination to the craftsman reserve is the province's.
PROVINCE_ONLY = "organisers of the province (370000) only; others 403"

POLICY: dict[RouteKey, Rule] = {
    ("GET", "/openapi.json"): public(),
    ("GET", "/docs"): public(),
    ("GET", "/docs/oauth2-redirect"): public(),
    ("GET", "/redoc"): public(),
    ("GET", "/healthz"): public(),
    ("GET", "/readyz"): public(),
    ("POST", "/v1/auth/token"): public(),
    ("GET", "/.well-known/jwks.json"): public(),
    ("GET", "/v1/localities"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
    ),
    ("GET", "/v1/localities/{code}"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
    ),
    ("POST", "/v1/localities"): allow(Role.admin),
    ("POST", "/v1/enterprises"): allow(Role.admin, Role.organiser, organiser=ORG_LOCALITY),
    ("GET", "/v1/enterprises"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
    ),
    ("GET", "/v1/enterprises/{enterprise_id}"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
    ),
    ("PATCH", "/v1/enterprises/{enterprise_id}"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/workers"): allow(Role.admin, Role.organiser, organiser=ORG_LOCALITY),
    ("GET", "/v1/workers"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("POST", "/v1/workers:batch-get"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("POST", "/v1/workers:roster"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("POST", "/v1/workers/{worker_id}/national-results"): allow(
        Role.admin,
        Role.organiser,
        organiser=ORG_LOCALITY + "; national honours by admins only",
    ),
    ("POST", "/v1/workers:lookup"): allow(
        Role.admin, Role.organiser, scopes=("internal",), organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/workers/{worker_id}"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("PATCH", "/v1/workers/{worker_id}"): allow(
        Role.admin, Role.organiser, Role.worker, organiser=ORG_LOCALITY, worker=OWN_WORKER
    ),
    ("POST", "/v1/workers/{worker_id}/grade-changes"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/workers/{worker_id}/grade-changes"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("POST", "/v1/workers/{worker_id}/transfers"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/workers/{worker_id}/file-status"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/workers/{worker_id}/timeline"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("PUT", "/v1/internal/grade-promotions/{source_ref}"): allow(
        Role.admin, scopes=("internal", "registry:write")
    ),
    ("PUT", "/v1/internal/competition-results/{source_ref}"): allow(
        Role.admin, scopes=("internal", "registry:write")
    ),
    ("POST", "/v1/imports/workers"): allow(Role.admin, Role.organiser, organiser=ORG_LOCALITY),
    ("POST", "/v1/imports/enterprises"): allow(Role.admin, Role.organiser, organiser=ORG_LOCALITY),
    ("GET", "/v1/imports"): allow(Role.admin, Role.organiser, organiser=ORG_LOCALITY),
    ("GET", "/v1/imports/templates/{kind}.csv"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/imports/{job_id}"): allow(Role.admin, Role.organiser, organiser=ORG_LOCALITY),
    ("GET", "/v1/imports/{job_id}/errors"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/imports/{job_id}/errors.csv"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/mentorships"): allow(Role.admin, Role.organiser, organiser=ORG_LOCALITY),
    ("GET", "/v1/mentorships"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("GET", "/v1/mentorships/{mentorship_id}"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("POST", "/v1/mentorships/{mentorship_id}/activate"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/mentorships/{mentorship_id}/complete"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/mentorships/{mentorship_id}/terminate"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/training-programmes"): allow(Role.admin, Role.organiser, organiser=ORG_LOCALITY),
    ("GET", "/v1/training-programmes"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
    ),
    ("GET", "/v1/training-programmes/{programme_id}"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
    ),
    ("POST", "/v1/training-programmes/{programme_id}/open"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/training-programmes/{programme_id}/start"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/training-programmes/{programme_id}/complete"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/training-programmes/{programme_id}/cancel"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/training-programmes/{programme_id}/sessions"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/training-programmes/{programme_id}/sessions"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
    ),
    ("POST", "/v1/training-programmes/{programme_id}/enrolments"): allow(
        Role.admin, Role.organiser, Role.worker, organiser=ORG_LOCALITY, worker=OWN_WORKER
    ),
    ("GET", "/v1/training-programmes/{programme_id}/enrolments"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("POST", "/v1/training-programmes/{programme_id}/enrolments/{worker_id}/withdraw"): allow(
        Role.admin, Role.organiser, Role.worker, organiser=ORG_LOCALITY, worker=OWN_WORKER
    ),
    ("PUT", "/v1/training-programmes/{programme_id}/sessions/{session_id}/attendance"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/training-programmes/{programme_id}/sessions/{session_id}/attendance"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("GET", "/v1/workers/{worker_id}/training"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("GET", "/v1/honours"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
    ),
    ("GET", "/v1/honours/{code}"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
    ),
    ("POST", "/v1/honours"): allow(Role.admin),
    ("POST", "/v1/honours/{code}/grants"): allow(
        Role.admin, Role.organiser, scopes=("internal", "registry:write"), organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/honour-grants"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("GET", "/v1/honour-grants/{grant_id}"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("POST", "/v1/honour-grants/{grant_id}/revoke"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/achievements"): allow(Role.admin, Role.organiser, organiser=ORG_LOCALITY),
    ("GET", "/v1/achievements"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("GET", "/v1/achievements/{achievement_id}"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("PATCH", "/v1/achievements/{achievement_id}"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/achievements/{achievement_id}/entry-links"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("POST", "/v1/reserve-members"): allow(Role.admin, Role.organiser, organiser=ORG_LOCALITY),
    ("GET", "/v1/reserve-members"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("GET", "/v1/reserve-members/{member_id}"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("GET", "/v1/reserve-members/{member_id}/progress"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal", "registry:read"),
        organiser=ORG_LOCALITY,
        worker=OWN_WORKER,
    ),
    ("POST", "/v1/reserve-members/{member_id}/confirm"): allow(
        Role.admin, Role.organiser, organiser=PROVINCE_ONLY
    ),
    ("POST", "/v1/reserve-members/{member_id}/decline"): allow(
        Role.admin, Role.organiser, organiser=PROVINCE_ONLY
    ),
    ("POST", "/v1/reserve-members/{member_id}/leave"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("PUT", "/v1/reserve-members/{member_id}/plan"): allow(
        Role.admin, Role.organiser, organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/reserve-reviews"): allow(
        Role.admin, Role.organiser, scopes=("internal", "registry:read"), organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/reserve-progress"): allow(
        Role.admin, Role.organiser, scopes=("internal", "registry:read"), organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/reserve-targets"): allow(
        Role.admin, Role.organiser, scopes=("internal", "registry:read"), organiser=ORG_LOCALITY
    ),
    ("GET", "/v1/reserve-targets/{locality_code}/{year}"): allow(
        Role.admin, Role.organiser, scopes=("internal", "registry:read"), organiser=ORG_LOCALITY
    ),
    ("PUT", "/v1/reserve-targets/{locality_code}/{year}"): allow(Role.admin),
    ("POST", "/v1/accounts"): allow(Role.admin),
    ("GET", "/v1/accounts"): allow(Role.admin),
    ("GET", "/v1/accounts/{account_id}"): allow(Role.admin),
    ("PATCH", "/v1/accounts/{account_id}"): allow(Role.admin),
    ("POST", "/v1/machine-clients"): allow(Role.admin),
    ("GET", "/v1/machine-clients"): allow(Role.admin),
    ("DELETE", "/v1/machine-clients/{client_pk}"): allow(Role.admin),
    ("POST", "/v1/webhook-subscriptions"): allow(
        Role.admin, scopes=("webhooks:manage",), integration="own subscriptions only"
    ),
    ("GET", "/v1/webhook-subscriptions"): allow(
        Role.admin, scopes=("webhooks:manage",), integration="own subscriptions only"
    ),
    ("GET", "/v1/webhook-subscriptions/{subscription_id}"): allow(
        Role.admin, scopes=("webhooks:manage",), integration="own subscriptions only"
    ),
    ("PATCH", "/v1/webhook-subscriptions/{subscription_id}"): allow(
        Role.admin, scopes=("webhooks:manage",), integration="own subscriptions only"
    ),
    ("DELETE", "/v1/webhook-subscriptions/{subscription_id}"): allow(
        Role.admin, scopes=("webhooks:manage",), integration="own subscriptions only"
    ),
    ("POST", "/v1/webhook-subscriptions/{subscription_id}/rotate-secret"): allow(
        Role.admin, scopes=("webhooks:manage",), integration="own subscriptions only"
    ),
    ("POST", "/v1/webhook-subscriptions/{subscription_id}/ping"): allow(
        Role.admin, scopes=("webhooks:manage",), integration="own subscriptions only"
    ),
    ("GET", "/v1/webhook-subscriptions/{subscription_id}/deliveries"): allow(
        Role.admin, scopes=("webhooks:manage",), integration="own subscriptions only"
    ),
    ("POST", "/v1/webhook-subscriptions/{subscription_id}/deliveries/redeliver"): allow(
        Role.admin, scopes=("webhooks:manage",), integration="own subscriptions only"
    ),
    ("GET", "/v1/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}"): allow(
        Role.admin, scopes=("webhooks:manage",), integration="own subscriptions only"
    ),
    (
        "POST",
        "/v1/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/redeliver",
    ): allow(Role.admin, scopes=("webhooks:manage",), integration="own subscriptions only"),
    ("GET", "/v1/me"): allow(*AUTHENTICATED),
    ("GET", "/v1/audit"): allow(Role.admin),
    **statistics_policy(
        "/v1/statistics/reports/quarterly", "/v1/statistics/reports/quarterly.xlsx"
    ),
}
