"""The webhook dispatcher process: `python -m shared.webhooks`.

Runs until SIGTERM or SIGINT, then finishes and records the batch in flight and exits. Any
number may run at once (docker-compose `deploy.replicas`); they share the work through
`FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import asyncio
import signal

import httpx

from shared.config import Settings, get_settings
from shared.db import make_engine, make_sessionmaker
from shared.logging import configure_logging
from shared.webhooks.dispatcher import Dispatcher


async def serve(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    engine = make_engine(settings)
    timeout = httpx.Timeout(settings.webhook_timeout_seconds)
    limits = httpx.Limits(max_connections=settings.webhook_batch_size)
    try:
        async with httpx.AsyncClient(
            timeout=timeout, limits=limits, follow_redirects=False, trust_env=False
        ) as http:
            await Dispatcher(make_sessionmaker(engine), http, settings).run(stopping)
    finally:
        await engine.dispose()


def main() -> None:
    settings = get_settings()
    configure_logging("dispatcher", settings.log_level, settings.log_json, settings.environment)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
