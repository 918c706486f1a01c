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
    statistics_policy,
)
from shared.auth.principal import Role

#: Organisers manage competitions organised within their scope.
ORG = "competitions organised in their locality or by their enterprise"
#: Judges work on the stages and blind codes assigned to them, never on a conflicted entry.
JUDGE = "assigned stages and blind codes only; never a conflicted entry"
#: Provisional and final results are public; drafts only for the stage's organisers and admins.
PUBLISHED = "provisional and final versions only"
#: Competitors act on their own entries (a team's leader for the team).
WORKER = "own entries only (the leader for a team)"

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
    ("GET", "/v1/stages/{stage_id}/marking-schemes/outline"): allow(
        Role.admin,
        Role.judge,
        Role.organiser,
        Role.worker,
        scopes=("competitions:read", "internal"),
        worker=PUBLISHED,
        organiser=PUBLISHED,
        judge=PUBLISHED,
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
    ("POST", "/v1/stages/{stage_id}/assignments:solve"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/stages/{stage_id}/assignments"): allow(
        Role.admin, Role.organiser, scopes=("internal",), organiser=ORG
    ),
    ("GET", "/v1/judges/me/assignments"): allow(Role.judge, judge=JUDGE),
    ("GET", "/v1/stages/{stage_id}/scores/{blind_code}"): allow(Role.judge, judge=JUDGE),
    ("PUT", "/v1/stages/{stage_id}/scores/{blind_code}"): allow(Role.judge, judge=JUDGE),
    ("POST", "/v1/stages/{stage_id}/scores/{blind_code}:submit"): allow(Role.judge, judge=JUDGE),
    ("GET", "/v1/stages/{stage_id}/scores/{blind_code}/panel"): allow(Role.judge, judge=JUDGE),
    ("GET", "/v1/stages/{stage_id}/scores"): allow(
        Role.admin, Role.organiser, scopes=("internal",), organiser=ORG
    ),
    ("GET", "/v1/stages/{stage_id}/score-flags"): allow(
        Role.admin, Role.organiser, scopes=("internal",), organiser=ORG
    ),
    ("POST", "/v1/stages/{stage_id}/signoffs"): allow(Role.judge, judge=JUDGE),
    ("POST", "/v1/stages/{stage_id}/scores:lock"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("GET", "/v1/stages/{stage_id}/result-rules"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("PUT", "/v1/stages/{stage_id}/result-rules"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("PUT", "/v1/stages/{stage_id}/completion-times"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/stages/{stage_id}/results:compute"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/stages/{stage_id}/results:publish-provisional"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/stages/{stage_id}/results:finalise"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/stages/{stage_id}/results"): allow(
        *AUTHENTICATED,
        organiser=ORG + " (drafts too); published versions elsewhere",
        judge=PUBLISHED,
        worker=PUBLISHED,
        integration=PUBLISHED,
    ),
    ("GET", "/v1/stages/{stage_id}/results/{version}"): allow(
        *AUTHENTICATED,
        organiser=ORG + " (drafts too); published versions elsewhere",
        judge=PUBLISHED,
        worker=PUBLISHED,
        integration=PUBLISHED,
    ),
    ("GET", "/v1/stages/{stage_id}/results/{version}/verification"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/stages/{stage_id}/leaderboard"): public(),
    ("GET", "/v1/stages/{stage_id}/leaderboard:stream"): public(),
    ("POST", "/v1/stages/{stage_id}/appeals"): allow(Role.worker, worker=WORKER),
    ("GET", "/v1/stages/{stage_id}/appeals"): allow(
        Role.admin, Role.organiser, Role.worker, scopes=("internal",), organiser=ORG, worker=WORKER
    ),
    ("GET", "/v1/appeals/{appeal_id}"): allow(
        Role.admin,
        Role.organiser,
        Role.worker,
        scopes=("internal",),
        organiser=ORG,
        worker=WORKER,
    ),
    ("POST", "/v1/appeals/{appeal_id}:decide"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/appeals/{appeal_id}:relock-scores"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("POST", "/v1/stages/{stage_id}/award-rules"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("GET", "/v1/stages/{stage_id}/award-rules"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("DELETE", "/v1/award-rules/{rule_id}"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/stages/{stage_id}/awards:send"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("GET", "/v1/stages/{stage_id}/awards"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/awards/{award_id}:retry"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/awards/{award_id}:confirm"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/awards/{award_id}:decline"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("POST", "/v1/award-rules"): allow(Role.admin),
    ("GET", "/v1/award-rules"): allow(
        Role.admin, Role.organiser, organiser="the province's standing rules (no personal data)"
    ),
    ("GET", "/v1/events/{event_id}/national-recommendations"): allow(
        Role.admin, Role.organiser, organiser=ORG + "; provincial events only"
    ),
    ("GET", "/v1/events/{event_id}/national-recommendations.xlsx"): allow(
        Role.admin, Role.organiser, organiser=ORG + "; provincial events only"
    ),
    ("GET", "/v1/certificates:verify"): public(),
    ("GET", "/v1/stages/{stage_id}/certificates"): allow(Role.admin, Role.organiser, organiser=ORG),
    ("GET", "/v1/certificates/{certificate_id}.pdf"): allow(
        Role.admin, Role.organiser, Role.worker, organiser=ORG, worker=WORKER
    ),
    ("GET", "/v1/certificates/{certificate_id}"): allow(
        Role.admin, Role.organiser, Role.worker, organiser=ORG, worker=WORKER
    ),
    ("POST", "/v1/certificates/{certificate_id}:revoke"): allow(Role.admin),
    ("GET", "/v1/stages/{stage_id}/analytics/judges"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/stages/{stage_id}/analytics/judges.png"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/stages/{stage_id}/pairwise/next-pair"): allow(Role.judge, judge=JUDGE),
    ("POST", "/v1/stages/{stage_id}/pairwise/votes"): allow(Role.judge, judge=JUDGE),
    ("GET", "/v1/stages/{stage_id}/pairwise/ranking"): allow(
        Role.admin, Role.organiser, organiser=ORG
    ),
    ("GET", "/v1/me"): allow(*AUTHENTICATED),
    ("GET", "/v1/audit"): allow(Role.admin),
    **statistics_policy(),
}
