"""`make bench` keeps working: its pieces on a tiny size (no timing assertions here)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import imports, load
from bench.data import SEARCH_TERMS, write_workers_csv
from bench.main import create_admin_and_job, explain, http_urls
from bench.servers import server_env, start_baseline, stop

ROWS = 200


@pytest.mark.timeout(30)
async def test_import_both_ways_then_load_the_baseline_app(
    database_url: str, tmp_path: Path
) -> None:
    csv_path = write_workers_csv(tmp_path / "workers.csv", ROWS)
    _, job_id = await create_admin_and_job(database_url, csv_path.read_bytes())

    ours = await imports.run_ours(database_url, tmp_path / "keys", job_id)
    assert ours["status"] == "completed"
    assert (ours["rows"], ours["errors"], ours["duplicates"]) == (ROWS, 0, 0)
    assert ours["peak_rss_kib"] > 0
    baseline = await imports.run_baseline(database_url, csv_path)
    assert baseline["rows"] == ROWS

    plans = await explain(database_url, SEARCH_TERMS[0])
    assert "workers" in plans["search"]["plan"]  # which index: too few rows to say
    assert isinstance(plans["search"]["gin_index_used"], bool)

    env = server_env(database_url, tmp_path / "keys")
    url, procs = await asyncio.to_thread(start_baseline, env, tmp_path, 1)
    try:
        for urls in http_urls(url, "/workers").values():
            result = await load.run(
                urls, concurrency=4, duration=0.5, max_requests=2000, headers={}
            )
            assert result["requests"] > 0
            assert result["errors"] == 0
    finally:
        await asyncio.to_thread(stop, procs)
