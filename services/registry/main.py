"""Registry service: the province's record of workers, enterprises and accounts; issues tokens.

Run: `uvicorn --factory services.registry.main:create_app --port 8001`.
"""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from services.registry.accounts.router import router as accounts_router
from services.registry.achievements.router import router as achievements_router
from services.registry.auth.router import router as auth_router
from services.registry.enterprises.router import router as enterprises_router
from services.registry.honours.router import router as honours_router
from services.registry.honours.router import webhooks as honour_webhooks
from services.registry.imports.router import router as imports_router
from services.registry.imports.service import job_loop
from services.registry.localities.router import router as localities_router
from services.registry.mentorships.router import router as mentorships_router
from services.registry.mentorships.router import webhooks as mentorship_webhooks
from services.registry.reserve.router import router as reserve_router
from services.registry.reserve.router import webhooks as reserve_webhooks
from services.registry.results.router import router as results_router
from services.registry.results.router import webhooks as result_webhooks
from services.registry.statistics.router import router as statistics_router
from services.registry.training.router import router as training_router
from services.registry.webhooks.router import router as webhooks_router
from services.registry.webhooks.router import webhooks as ping_webhooks
from services.registry.workers.router import router as workers_router
from services.registry.workers.router import webhooks as worker_webhooks
from shared.app import create_service_app
from shared.auth import passwords
from shared.auth.keys import load_or_create_keys
from shared.auth.tokens import LocalKeyVerifier
from shared.config import Settings, get_settings
from shared.crypto import load_cipher
from shared.stats.fold import fold_loop

DESCRIPTION = """
The registry of Shandong's industrial workers and the system's identity provider: enterprises,
workers and their talent files (grades, moves, training, honours, mentoring, achievements).

**Sign in**: press **Authorize**, enter your username and password (password flow) or, for a
machine client, its client id and secret (client credentials flow). Tokens from here are
accepted by the competitions and judging services too.

Errors are `application/problem+json` (RFC 9457); lists use cursor pagination
(`?limit=50&cursor=...` returning `next_cursor`). Identity and phone numbers are masked except
for admins and the worker themselves.
"""

TAGS = [
    {"name": "localities", "description": "Shandong, its 16 cities and counties (GB/T 2260)."},
    {"name": "enterprises", "description": "Employers, by unified social credit code."},
    {"name": "workers", "description": "Workers and their talent files: grades, moves, timeline."},
    {"name": "imports", "description": "Bulk import of workers and enterprises (CSV, XLSX)."},
    {
        "name": "mentorships",
        "description": "Master and apprentice pairs (师带徒) and help in pairs (结对帮扶): "
        "proposed, activated, completed with an evaluation, or terminated.",
    },
    {
        "name": "training",
        "description": "Training programmes (order-based training, the master heritage, expert "
        "talent and team lecture halls, post training): sessions, enrolment, attendance, and "
        "the hours credited to talent files on completion.",
    },
    {
        "name": "honours",
        "description": "Skill-leader honours (齐鲁工匠, 齐鲁首席技师...): the catalogue, grants "
        "to workers and revocations.",
    },
    {
        "name": "achievements",
        "description": "Innovation achievements (职工创新成果): teams, stages, entries.",
    },
    {
        "name": "reserve",
        "description": "The craftsman reserve (百万工匠后备人才库): nominations by enterprises "
        "and localities, the province's confirmation, cultivation plans and their progress "
        "(computed from the talent file), members leaving, and the yearly targets per city.",
    },
    {"name": "accounts", "description": "People's accounts and machine clients (admins)."},
    {
        "name": "webhooks",
        "description": "Webhook subscriptions of other government systems (admins, and machine "
        "clients with scope `webhooks:manage` for their own): signed Standard Webhooks "
        "deliveries, retries, the delivery log, redelivery and test pings.",
    },
    {"name": "internal", "description": "Called by our other services (machine clients)."},
    {
        "name": "statistics",
        "description": "Programme statistics (aggregates only): the vocabulary, figures by "
        "dimension with margins, trends with year-on-year change, charts (PNG, SVG), and the "
        "quarterly programme report (JSON, XLSX). Small cells are suppressed.",
    },
]


def create_app(
    settings: Settings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    settings = settings or get_settings()
    passwords.configure(settings.argon2_time_cost, settings.argon2_memory_kib)
    current, published = load_or_create_keys(settings.key_dir)
    app = create_service_app(
        service="registry",
        title="Shandong Skills · Registry",
        description=DESCRIPTION,
        settings=settings,
        routers=[
            auth_router,
            localities_router,
            enterprises_router,
            workers_router,
            results_router,
            imports_router,
            mentorships_router,
            training_router,
            honours_router,
            achievements_router,
            reserve_router,
            accounts_router,
            webhooks_router,
            statistics_router,
        ],
        openapi_tags=TAGS,
        webhooks=[
            worker_webhooks,
            result_webhooks,
            mentorship_webhooks,
            honour_webhooks,
            reserve_webhooks,
            ping_webhooks,
        ],
        # Disabled accounts and revoked clients: `shared.auth.revocations`, as in every service.
        token_verifier=lambda _http: LocalKeyVerifier(settings, published),
        transport=transport,
        background=[job_loop, fold_loop("registry")],
    )
    app.state.import_wakeup = asyncio.Event()
    app.state.cipher = load_cipher(settings.data_key, settings.key_dir)
    app.state.signing_key = current
    app.state.published_keys = published
    return app
