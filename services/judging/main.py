"""Judging service: judges, marking schemes, scores, results, awards.

Run: `uvicorn --factory services.judging.main:create_app --port 8003`.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.judging.analytics.router import router as analytics_router
from services.judging.appeals.router import router as appeals_router
from services.judging.appeals.router import webhooks as appeal_webhooks
from services.judging.assignment.router import router as assignment_router
from services.judging.assignment.router import webhooks as assignment_webhooks
from services.judging.awards.router import router as awards_router
from services.judging.awards.router import webhooks as award_webhooks
from services.judging.awards.sweeper import run as run_award_sweeper
from services.judging.certificates.router import router as certificates_router
from services.judging.conflicts.router import router as conflicts_router
from services.judging.judges.router import router as judges_router
from services.judging.marking.router import router as marking_router
from services.judging.pairwise.router import router as pairwise_router
from services.judging.recommendations.router import router as recommendations_router
from services.judging.results.leaderboard import LeaderboardFastPath
from services.judging.results.router import router as results_router
from services.judging.results.router import webhooks as results_webhooks
from services.judging.scoring.router import router as scoring_router
from services.judging.scoring.router import webhooks as scoring_webhooks
from services.judging.statistics.router import router as statistics_router
from shared.app import create_service_app
from shared.config import Settings, get_settings
from shared.stats.fold import fold_loop

DESCRIPTION = """
Blind, conflict-free judging: judges, marking schemes, scores, aggregation, results and awards.

**Sign in** with **Authorize**: tokens come from the registry's `/v1/auth/token`.
"""


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    return create_service_app(
        service="judging",
        title="Shandong Skills · Judging",
        description=DESCRIPTION,
        settings=settings or get_settings(),
        routers=[
            judges_router,
            conflicts_router,
            marking_router,
            assignment_router,
            scoring_router,
            results_router,
            appeals_router,
            awards_router,
            recommendations_router,
            certificates_router,
            analytics_router,
            pairwise_router,
            statistics_router,
        ],
        openapi_tags=[
            {
                "name": "judges",
                "description": "Judges: registered workers or outside experts, with locality, "
                "occupations, qualification level, availability and an account link.",
            },
            {
                "name": "conflicts",
                "description": "Conflicts of interest (enterprise, locality, mentorship, "
                "declared): a conflicted judge never sees or scores the entry.",
            },
            {
                "name": "marking schemes",
                "description": "Per stage: criteria, sub-criteria and aspects (measurement or "
                "judgement) per component, totalling 100; versioned, frozen when scoring starts.",
            },
            {
                "name": "assignments",
                "description": "k judges per entry, conflict-free and with balanced loads, solved "
                "as a min-cost flow; judges see their entries by blind code only.",
            },
            {
                "name": "scores",
                "description": "Blind score entry with If-Match versions and full history, "
                "disagreement flags, sign-off by re-authentication and the panel lock.",
            },
            {
                "name": "results",
                "description": "Result rules, aggregation and ranking, the results lifecycle "
                "(draft, provisional, final), the public leaderboard and its live stream, "
                "appeals.",
            },
            {
                "name": "awards",
                "description": "What final results earn in the registry (honours, grade "
                "promotions, talent-file results): rules per stage, sent exactly once per "
                "award, with each award's delivery state.",
            },
            {
                "name": "certificates",
                "description": "A certificate per awarded competitor: PDF with a QR code, "
                "public verification by code, revocation.",
            },
            {
                "name": "judge analytics",
                "description": "For organisers: judge severity and leniency, inter-rater "
                "agreement (Krippendorff's alpha), score distributions per judge.",
            },
            {
                "name": "pairwise judging",
                "description": "For large innovation contests: judges compare two entries at a "
                "time; CrowdBT ranks the entries and weighs judges by reliability.",
            },
            {
                "name": "statistics",
                "description": "Programme statistics (aggregates only): the vocabulary, figures "
                "by dimension with margins, trends with year-on-year change, charts (PNG, SVG). "
                "Small cells are suppressed.",
            },
        ],
        webhooks=[
            assignment_webhooks,
            scoring_webhooks,
            results_webhooks,
            appeal_webhooks,
            award_webhooks,
        ],
        transport=transport,
        background=[run_award_sweeper, fold_loop("judging")],
        fast_paths=[LeaderboardFastPath],
    )
