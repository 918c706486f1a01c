"""The folder: each service moves its pending summary deltas into the summaries every second
(`stats_fold_<service>()`, one folder at a time: replicas skip while another folds).

Figures are exact without it (readers add the pending deltas); folding keeps those few, so
that a figure reads the grain's summary rows and at most a second's worth of deltas.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI

from shared.stats.rebuild import fold

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 1.0


def fold_loop(service: str) -> Callable[[FastAPI], Coroutine[Any, Any, None]]:
    async def loop(app: FastAPI) -> None:
        stopping: asyncio.Event = app.state.stopping
        while not stopping.is_set():
            try:
                async with app.state.sessionmaker() as session, session.begin():
                    await fold(session, service)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("folding the statistics summaries failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), INTERVAL_SECONDS)

    loop.__name__ = f"fold_{service}_statistics"
    return loop
