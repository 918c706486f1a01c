"""The webhook dispatcher process: `python -m shared.webhooks`.

Runs until SIGTERM or SIGINT, then finishes and records the batch in flight and exits. Any
number may run at once (docker-compose `deploy.replicas`); they share the work through
`FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import asyncio
import signal

from shared.config import Settings, get_settings
from shared.db import make_engine, make_sessionmaker
from shared.logging import configure_logging
from shared.webhooks.dispatcher import Dispatcher


async def serve(settings: Settings, stopping: asyncio.Event | None = None) -> None:
    stopping = stopping or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    # Durability of the dispatcher's own writes can be relaxed: a commit lost in a Postgres
    # crash (claims, outcomes, fan-out, each with its marker in the same transaction) only
    # means that work is done again, i.e. a delivery sent twice, which Standard Webhooks
    # receivers deduplicate by `webhook-id`. Not waiting for the WAL flush at every commit
    # is worth ~a third of the throughput on a busy disk. No pre-ping either: a lane that hits
    # a dead connection logs, retries, and SQLAlchemy replaces the connection.
    engine = make_engine(
        settings,
        server_settings={
            "application_name": "shandong-skills-dispatcher",
            "synchronous_commit": "off",
        },
        pool_pre_ping=False,
    )
    dispatcher = Dispatcher(make_sessionmaker(engine), settings)
    try:
        await dispatcher.run(stopping)
    finally:
        await dispatcher.aclose()
        await engine.dispose()


def main() -> None:
    settings = get_settings()
    configure_logging("dispatcher", settings.log_level, settings.log_json, settings.environment)
    try:  # uvicorn[standard] brings uvloop (not on Windows): faster sockets for HTTP and asyncpg
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(serve(settings))
    else:
        uvloop.run(serve(settings))


if __name__ == "__main__":
    main()
