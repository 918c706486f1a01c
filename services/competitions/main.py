"""Competitions service: competitions, events, stages, entries, scheduling.

Run: `uvicorn --factory services.competitions.main:create_app --port 8002`.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.competitions.calendar.router import router as calendar_router
from services.competitions.competitions.router import router as competitions_router
from services.competitions.entries.router import router as entries_router
from services.competitions.events.router import router as events_router
from services.competitions.nominations.router import router as nominations_router
from services.competitions.nominations.router import webhooks as nomination_webhooks
from services.competitions.pathways.router import router as pathways_router
from services.competitions.scheduling.router import router as scheduling_router
from services.competitions.scheduling.router import webhooks as scheduling_webhooks
from services.competitions.stages.router import router as stages_router
from services.competitions.stages.router import webhooks as stage_webhooks
from services.competitions.statistics.router import router as statistics_router
from services.competitions.webhooks import webhooks
from shared.app import create_service_app
from shared.config import Settings, get_settings
from shared.stats.fold import fold_loop

DESCRIPTION = """
Labour-skill competitions at every level: enterprise, county, city and provincial rounds of post
training, technical contests, skill and innovation competitions.

**Sign in** with **Authorize**: tokens come from the registry's `/v1/auth/token`.
"""

TAGS = [
    {"name": "competitions", "description": "Competitions and their lifecycle."},
    {"name": "events", "description": "Contest items and their eligibility rules."},
    {"name": "entries", "description": "Registration, eligibility, waitlist, entry lifecycle."},
    {"name": "stages", "description": "Stages of an event, blind codes and advancement."},
    {
        "name": "scheduling",
        "description": "Venues, workstations, sessions; conflict-free schedules and releases.",
    },
    {
        "name": "pathways",
        "description": "How a higher event is filled: qualifiers and quotas, direct places.",
    },
    {"name": "nominations", "description": "Nominations (推荐) from qualifiers' final results."},
    {"name": "calendar", "description": "Competitions at every level, and events open to me."},
    {
        "name": "statistics",
        "description": "Programme statistics (aggregates only): the vocabulary, figures by "
        "dimension with margins, trends with year-on-year change, charts (PNG, SVG). Small "
        "cells are suppressed.",
    },
]


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    return create_service_app(
        service="competitions",
        title="Shandong Skills · Competitions",
        description=DESCRIPTION,
        settings=settings or get_settings(),
        routers=[
            competitions_router,
            events_router,
            entries_router,
            stages_router,
            scheduling_router,
            pathways_router,
            nominations_router,
            calendar_router,
            statistics_router,
        ],
        webhooks=[webhooks, stage_webhooks, scheduling_webhooks, nomination_webhooks],
        openapi_tags=TAGS,
        transport=transport,
        background=[fold_loop("competitions")],
    )
