"""`make bench` keeps working: its pieces on a tiny size (no timing assertions here)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import (
    assignment,
    imports,
    load,
    registration,
    scheduler,
    scoring,
    statistics,
    webhooks,
)
from bench.data import SEARCH_TERMS, split_csv, write_workers_csv
from bench.main import create_admin_and_job, explain, http_urls
from bench.servers import server_env, start_baseline, stop

ROWS = 200


@pytest.mark.timeout(30)
async def test_import_both_ways_then_load_the_baseline_app(
    database_url: str, tmp_path: Path
) -> None:
    csv_path = write_workers_csv(tmp_path / "workers.csv", ROWS)
    # Sent as two files, one job each, as the 10M point sends its register.
    job_ids = [
        (await create_admin_and_job(database_url, part.read_bytes(), tmp_path / "keys"))[1]
        for part in split_csv(csv_path, ROWS // 2)
    ]

    ours = await imports.run_ours(database_url, tmp_path / "keys", job_ids)
    assert ours["status"] == "completed"
    assert (ours["rows"], ours["errors"], ours["duplicates"]) == (ROWS, 0, 0)
    assert ours["files"] == 2
    assert len(ours["seconds_per_file"]) == 2
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
        # The registration burst's baseline endpoint: each body POSTed once, all 201.
        setup = await registration.prepare(database_url, tmp_path / "keys", tmp_path, 20, warmup=0)
        await registration.create_baseline_table(database_url)
        bodies = registration.write_bodies(tmp_path / "bodies.jsonl", setup.worker_ids)
        result = await load.run(
            [f"{url}/events/{setup.event_id}/entries"],
            concurrency=4,
            duration=10,
            max_requests=1000,
            headers={},
            bodies=[line.encode() for line in bodies.read_text().splitlines()],
            expect=201,
        )
        assert result["statuses"] == {"201": 20}
    finally:
        await asyncio.to_thread(stop, procs)


@pytest.mark.timeout(90)
async def test_registration_burst_ours_and_its_checks(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registry and competitions as real processes, 20 registrations into capacity 10, then
    the SQL checks (the baseline's endpoint is exercised in the test above)."""
    # Cheap password hashes for the admin and the machine client (their verification is
    # not what this test is about).
    monkeypatch.setenv("ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ARGON2_MEMORY_KIB", "1024")
    n = 20
    setup = await registration.prepare(database_url, tmp_path / "keys", tmp_path, n, warmup=0)
    assert (len(setup.worker_ids), setup.capacity) == (n, n // 2)
    env = server_env(database_url, tmp_path / "keys")
    ours = await asyncio.to_thread(registration.run_ours, env, tmp_path, setup, 8, 1)
    assert ours["requests"] == n
    verdict = await registration.verify(database_url, setup, ours, None)
    assert verdict["ok"], verdict
    assert verdict["detail"]["entries_by_status"] == {"approved": n // 2, "waitlisted": n // 2}


def test_scheduler_places_everything_without_a_clash() -> None:
    result = scheduler.run(entries=200, events=4, double_workers=40)
    assert result["ours"]["placed"] == 200
    assert result["ours"]["no_clash"]
    assert result["ours"]["sessions_used"] >= result["ours"]["sessions_lower_bound"] > 0
    assert not result["baseline"]["no_clash"]  # the unconstrained reference clashes
    assert result["meets_target"]


def test_assignment_bench_is_optimal_balanced_and_conflict_free() -> None:
    result = assignment.run(300, 20, 3)
    ours = result["ours"]
    assert ours["ok"], ours
    assert ours["conflicted_pairs"] == 0
    assert ours["conflicted_pairs_in_input"] > 0
    assert ours["load_max"] - ours["load_min"] <= 1
    assert result["baseline"]["conflicted_pairs"] > 0  # the round-robin ignores conflicts


@pytest.mark.timeout(180)
async def test_score_burst_ours_baseline_and_checks(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registry, competitions and judging as real processes; 4 judges, 4 entries, k = 3,
    each sheet raced with If-Match; the SQL checks must all hold."""
    monkeypatch.setenv("ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ARGON2_MEMORY_KIB", "1024")
    env = server_env(database_url, tmp_path / "keys")
    result = await asyncio.to_thread(
        scoring.run, database_url, env, tmp_path, 4, 4, tmp_path / "keys", 1
    )
    assert result["verification"]["ok"], result["verification"]
    assert result["ours"]["statuses"]["put"] == {"200": 12}
    assert result["baseline"]["statuses"]["race"] == {"200/200": 12}
    assert result["assignment_http"]["solver_status"] == "OPTIMAL"


@pytest.mark.timeout(60)
async def test_result_computation_agrees_with_the_sql_aggregation(database_url: str) -> None:
    from bench import results as judging_results

    stage_id = await judging_results.prepare(database_url, 30)
    base = await judging_results.compute_baseline(database_url, stage_id)
    assert base["entries"] == 30
    ours = await judging_results.compute_ours(database_url, stage_id)
    assert (ours["entries"], ours["scores"]) == (30, 30 * 5 * 10)
    agreement = await judging_results.agree(database_url, ours["result_id"], base["scores"])
    assert agreement["ok"], agreement
    trimmed = await judging_results.compute_ours(database_url, stage_id, "trimmed_mean", "zscore")
    assert trimmed["version"] == 2


@pytest.mark.timeout(90)
async def test_webhook_fan_out_benchmark_counts_every_delivery(
    database_url: str, tmp_path: Path
) -> None:
    out = await webhooks.run(database_url, tmp_path, events=40, subscribers=2)
    ours, base = out["ours"], out["baseline"]
    assert (ours["deliveries"], ours["attempts"]) == (80, 80)
    assert (ours["lost"], ours["duplicates"], ours["rejected"]) == (0, 0, 0)
    assert ours["statuses"] == {"succeeded": 80}
    assert base["received"] == base["count"] == 80
    assert ours["peak_rss_kib"] > 0


@pytest.mark.timeout(120)
async def test_statistics_bench_sides_agree_and_a_new_worker_appears(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The programme statistics benchmark on 200 imported workers: both sides answer the same
    figures, and a worker registered over HTTP is counted (no timing assertions)."""
    monkeypatch.setenv("ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ARGON2_MEMORY_KIB", "1024")
    csv_path = write_workers_csv(tmp_path / "workers.csv", ROWS)
    _, job_id = await create_admin_and_job(database_url, csv_path.read_bytes(), tmp_path / "keys")
    ours = await imports.run_ours(database_url, tmp_path / "keys", [job_id])
    assert ours["rows"] == ROWS
    out = await statistics.run(database_url, tmp_path / "keys", tmp_path, 0.5, 0.2)
    assert out["figure"]["agreement"]["ok"], out["figure"]["agreement"]
    assert out["figure"]["agreement"]["cells"] > 0
    assert out["trend"]["agreement"]["ok"], out["trend"]["agreement"]
    assert out["trend"]["agreement"]["points"] == 36
    for key in ("figure", "trend"):
        for side in ("ours", "baseline"):
            assert out[key][side]["requests"] > 0
            assert out[key][side]["errors"] == 0
    assert out["freshness"]["samples"] > 0
