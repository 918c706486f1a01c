"""Judging service: judges, marking schemes, scores, results, awards.

Run: `uvicorn --factory services.judging.main:create_app --port 8003`.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.judging.conflicts.router import router as conflicts_router
from services.judging.judges.router import router as judges_router
from services.judging.marking.router import router as marking_router
from services.judging.results.router import router as results_router
from services.judging.results.router import webhooks as results_webhooks
from shared.app import create_service_app
from shared.config import Settings, get_settings

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
        routers=[judges_router, conflicts_router, marking_router, results_router],
        webhooks=[results_webhooks],
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
                "name": "results",
                "description": "Result rules, aggregation and ranking, the results lifecycle "
                "(draft, provisional, final), the public leaderboard and its live stream, "
                "appeals.",
            },
        ],
        transport=transport,
    )
