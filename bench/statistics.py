"""Benchmark: programme statistics over the imported workers (1,000,000; 50,000 with --quick).

Set-up (untimed): the imported workers' registrations are spread over the last four years (one
UPDATE of their initial grade changes; the summaries follow through their triggers, as for any
change), the pending deltas are folded into the summaries (the import ran in a process of its
own, without the registry's folder), then VACUUM ANALYZE.

- ours: the registry (2 uvicorn workers, production settings, an admin token) answering
  `GET /v1/statistics/figures?measure=workers&by=city,grade` and
  `GET /v1/statistics/trends?measure=workers&interval=month` (36 months) from its summaries,
  with scope, suppression and margins;
- baseline: the bare FastAPI + asyncpg app running the same figures as GROUP BYs over the base
  tables (`bench/baseline_app.py` STATS_*_SQL), no auth.

Both are driven by bench/load.py with 8 connections (a GROUP BY over a million rows keeps a
core busy: 64 would only queue). The figures of both sides are compared cell by cell. Then the
freshness: a worker registered through `POST /v1/workers` and the time until the figure counts
it (the summaries change in the registering transaction: one round trip after the 201).
"""

from __future__ import annotations

import asyncio
import random
import statistics as pystats
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench.accounts import get_token
from bench.servers import RssSampler, server_env, start_baseline, start_registry, stop
from shared import examples as ex

CONCURRENCY = 8
FIGURE = "/v1/statistics/figures?measure=workers&by=city,grade"
TREND = "/v1/statistics/trends?measure=workers&interval=month"
SPREAD_SQL = """
UPDATE grade_changes
SET effective_date = current_date - (abs(hashtext(CAST(worker_id AS text))) % 1460)
WHERE source = 'initial'
"""


def figures_agree(ours: dict[str, Any], baseline: list[dict[str, Any]]) -> dict[str, Any]:
    """Every published (city, grade) cell of ours equals the bare GROUP BY's count (a
    suppressed one is left out: the bare query suppresses nothing)."""
    cells = [
        c for c in ours["cells"] if c["dims"]["city"] is not None and c["dims"]["grade"] is not None
    ]
    hidden = {(c["dims"]["city"], c["dims"]["grade"]) for c in cells if c["suppressed"]}
    want = {
        (r["city"], r["grade"]): r["n"] for r in baseline if (r["city"], r["grade"]) not in hidden
    }
    got = {(c["dims"]["city"], c["dims"]["grade"]): c["value"] for c in cells if c["value"]}
    differ = {
        f"{k[0]}/{k[1]}": (got.get(k), want.get(k))
        for k in set(got) | set(want)
        if got.get(k) != want.get(k)
    }
    return {
        "ok": not differ,
        "cells": len(want),
        "suppressed": len(hidden),
        "differ": dict(list(differ.items())[:10]),
    }


def trends_agree(ours: dict[str, Any], baseline: list[dict[str, Any]]) -> dict[str, Any]:
    """The total series of ours equals the bare running sum (months with no registration carry
    the previous total)."""
    by_month = {r["month"][:7]: r["n"] for r in baseline}
    running, differ = 0, []
    total = next(s for s in ours["series"] if not any(s["dims"].values()))
    first = total["points"][0]["period"]
    running = max((n for m, n in by_month.items() if m < first), default=0)
    for point in total["points"]:
        running = by_month.get(point["period"], running)
        if point["suppressed"]:
            continue
        if point["value"] != running:
            differ.append((point["period"], point["value"], running))
    return {"ok": not differ, "points": len(total["points"]), "differ": differ[:10]}


def load_side(
    side: str, env: dict[str, str], work: Path, duration: float, warmup: float
) -> dict[str, Any]:
    # The load generator process, as the other HTTP benchmarks (bench.main imports this module).
    from bench.main import Sizes, load

    sizes = Sizes.of(quick=True)
    sizes.concurrency = CONCURRENCY

    if side == "ours":
        url, procs = start_registry(env, work)
        headers = {"authorization": f"Bearer {get_token(url)}"}
        paths = {"figure": FIGURE, "trend": TREND}
    else:
        url, procs = start_baseline(env, work)
        headers = {}
        paths = {"figure": "/stats/city-grade", "trend": "/stats/trend"}
    try:
        out: dict[str, Any] = {}
        pid = next(iter(procs.values())).pid
        for name, path in paths.items():
            target = url + path
            check = httpx.get(target, headers=headers, timeout=120)
            check.raise_for_status()
            load([target], sizes, warmup, headers)
            with RssSampler(pid) as rss:
                result = load([target], sizes, duration, headers)
            result["peak_rss_kib"] = rss.peak // 1024
            result["body"] = check.json()
            out[name] = result
        if side == "ours":
            out["freshness"] = freshness(url, headers)
        return out
    finally:
        stop(procs)


def freshness(url: str, headers: dict[str, str], samples: int = 5) -> dict[str, Any]:
    """Register a worker and read the figure until it counts them: seconds from sending the
    POST to the first figure that includes the worker (median and max of `samples`)."""
    rng = random.Random(16)  # noqa: S311 - test data, not secrets
    waits = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:

        def total() -> float:
            body = client.get("/v1/statistics/figures?measure=workers").json()
            value: float = body["cells"][0]["value"]
            return value

        for _ in range(samples):
            before = total()
            number = ex.identity_number(
                "370102",
                date(1990, rng.randrange(1, 13), rng.randrange(1, 28)),
                rng.randrange(1, 999),
            )
            start = time.perf_counter()
            response = client.post(
                "/v1/workers",
                json={
                    "name": "赵新工",
                    "id_number": number,
                    "occupation": "焊工",
                    "locality_code": "370102",
                    "grade": "junior",
                },
            )
            if response.status_code != 201:
                continue  # a drawn number already on file: try another
            while total() != before + 1:
                if time.perf_counter() - start > 30:
                    raise RuntimeError("a new worker did not appear in the figures in 30 s")
            waits.append(time.perf_counter() - start)
    return {
        "samples": len(waits),
        "median_ms": pystats.median(waits) * 1000 if waits else None,
        "max_ms": max(waits) * 1000 if waits else None,
    }


async def prepare(database_url: str) -> float:
    """Spread the registrations over four years and fold (untimed set-up); returns its
    seconds (the statement's triggers move a million contributions in the summaries)."""
    import asyncpg

    from shared.dbserver import asyncpg_dsn

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        start = time.perf_counter()
        await conn.execute(SPREAD_SQL)
        # The import ran in its own process, without the registry's folder (which folds every
        # second while the registry runs imports itself): fold what it and the spread left.
        await conn.execute("SELECT stats_fold_registry()")
        seconds = time.perf_counter() - start
        await conn.execute("VACUUM ANALYZE")
        return seconds
    finally:
        await conn.close()


async def run(
    database_url: str, key_dir: Path, work: Path, duration: float, warmup: float
) -> dict[str, Any]:
    spread = await prepare(database_url)
    env = server_env(database_url, key_dir)
    sides = {}
    for side in ("baseline", "ours"):
        sides[side] = await asyncio.to_thread(load_side, side, env, work, duration, warmup)
    ours, base = sides["ours"], sides["baseline"]
    return {
        "spread_seconds": spread,
        "figure": {
            "ours": ours["figure"],
            "baseline": base["figure"],
            "agreement": figures_agree(ours["figure"].pop("body"), base["figure"].pop("body")),
        },
        "trend": {
            "ours": ours["trend"],
            "baseline": base["trend"],
            "agreement": trends_agree(ours["trend"].pop("body"), base["trend"].pop("body")),
        },
        "freshness": ours["freshness"],
    }
