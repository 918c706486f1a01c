"""The awards sweeper: a loop in every judging process that completes award jobs left behind,
because the process that finalised a stage died before (or while) sending its awards, or
because the registry was down.

Every `AWARD_SWEEP_SECONDS` it leases due jobs (`FOR UPDATE SKIP LOCKED`: several replicas
share the work and never run one job twice at once) and runs each: plan the awards (idempotent)
and send the unsent ones, each exactly once in the registry thanks to its `source_ref`.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from services.judging.awards import flows, jobs
from services.judging.upstream import Upstream, upstream_for
from shared.db import UnitOfWork

log = logging.getLogger("judging.awards.sweeper")

#: Jobs one sweep leases at a time (each is a whole stage).
BATCH = 10


async def sweep(uow: UnitOfWork, upstream: Upstream, retry_seconds: float) -> int:
    """Run every due award job once; the number of jobs run."""
    done = 0
    while True:
        async with uow.transaction() as session:
            claimed = await jobs.claim_due(session, BATCH)
        for stage_id, attempts in claimed:
            await flows.run_job(uow, upstream, stage_id, attempts, None, retry_seconds)
        done += len(claimed)
        if len(claimed) < BATCH:
            return done


async def run(app: FastAPI) -> None:
    """The loop, started with the app and stopped with it (`app.state.stopping`)."""
    settings = app.state.settings
    if settings.award_sweep_seconds <= 0:
        return
    while True:
        try:  # wait for the next round, or stop at once when the service stops
            await asyncio.wait_for(app.state.stopping.wait(), settings.award_sweep_seconds)
            return
        except TimeoutError:
            pass
        try:
            await sweep(app.state.uow, upstream_for(app), settings.award_retry_seconds)
        except Exception:  # the database away: try again next round
            log.exception("award sweep failed")
