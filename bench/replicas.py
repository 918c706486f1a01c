"""Replicas behind HAProxy (`--only replicas`): the registration burst through a real load
balancer with one and with two replicas of each service.

- Topology (shared.replicas): HAProxy (round-robin per request, health checks, one thread) in
  front of N replicas of registry, competitions and judging, each replica one uvicorn process
  with the production options (uvloop, httptools, no access log); the services call each other
  through the HAProxy frontends. N = 1, then N = 2, on the same database.
- Load: bench/registration.py's burst (its own fresh event of capacity n/2 each time, the same
  n workers, 64 connections, 200 untimed warm-up registrations first), POSTed to the
  competitions frontend; every registration also calls the registry through its frontend.
- Figures: req/s and latency; CPU seconds of the service processes (psutil, user + system,
  summed over every replica) per request, and HAProxy's own; the SQL checks of the burst
  (capacity, waitlist, no double entry) for each N.

On this 2-core machine two replicas share the same two cores as one: the row shows what a
second replica costs and that it stays correct, not a speed-up (that needs more cores).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import psutil

from bench import registration
from bench.accounts import get_token
from bench.servers import UVICORN_OPTIONS, server_env
from shared import replicas
from shared.config import PROJECT_ROOT


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def run_topology(
    env: dict[str, str], work: Path, setup: registration.Setup, count: int, haproxy: str
) -> dict[str, Any]:
    log_dir = work / f"replicas-{count}"
    log_dir.mkdir(exist_ok=True)
    env = env | {
        "SERVICE_CLIENT_ID": setup.service_client[0],
        "SERVICE_CLIENT_SECRET": setup.service_client[1],
    }
    topology = replicas.start(
        env, log_dir, replicas=count, haproxy=haproxy, extra=tuple(UVICORN_OPTIONS)
    )
    try:
        headers = {"authorization": f"Bearer {get_token(topology.lb['registry'])}"}
        services = topology.service_pids()
        proxy = [topology.procs["haproxy"].pid]
        # The warm-up is untimed and outside the CPU figures: burst() runs it first, so take
        # the CPU readings around the timed part only by running the warm-up here.
        warm_setup = setup
        if setup.warmup:
            warm = registration.write_bodies(
                log_dir / "warmup.jsonl", setup.worker_ids[: setup.warmup]
            )
            registration.post_load(
                f"{topology.lb['competitions']}/v1/events/{setup.warmup_event_id}/entries",
                warm,
                headers,
            )
            warm_setup = registration.Setup(**{**vars(setup), "warmup": 0})
        before, before_proxy = _cpu(services), _cpu(proxy)
        result = registration.burst(
            topology.lb["competitions"],
            "/v1/events/{event_id}/entries",
            warm_setup,
            log_dir,
            headers,
            [*services, *proxy],
        )
        cpu, cpu_proxy = _cpu(services) - before, _cpu(proxy) - before_proxy
        served = result["requests"] if "requests" in result else len(setup.worker_ids)
        result["service_cpu_ms_per_request"] = 1000 * cpu / served
        result["haproxy_cpu_ms_per_request"] = 1000 * cpu_proxy / served
        result["replicas_per_service"] = count
    finally:
        topology.stop()
    return result


async def run(database_url: str, work: Path, n: int) -> dict[str, Any] | None:
    """Both topologies with their checks, {"one": ..., "two": ..., "ok": ...}; None when
    HAProxy is missing and cannot be installed."""
    haproxy = await asyncio.to_thread(replicas.find_haproxy)
    if haproxy is None:
        return None
    key_dir = work / "keys"
    env = server_env(database_url, key_dir) | {"PYTHONPATH": str(PROJECT_ROOT)}
    out: dict[str, Any] = {}
    for label, count in (("one", 1), ("two", 2)):
        setup = await registration.prepare(database_url, key_dir, work, n)
        result = await asyncio.to_thread(run_topology, env, work, setup, count, haproxy)
        result["verification"] = await registration.verify(database_url, setup, result, None)
        out[label] = result
    out["ok"] = all(out[k]["verification"]["ok"] for k in ("one", "two"))
    return out
