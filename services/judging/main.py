"""Judging service: judges, marking schemes, scores, results, awards.

Run: `uvicorn --factory services.judging.main:create_app --port 8003`.
"""

from __future__ import annotations

import httpx
from fastapi import FastAPI

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
        routers=[],
        openapi_tags=[],
        transport=transport,
    )
