"""Running the services as processes: one uvicorn process per service (through `shared.serve`),
the webhook dispatcher, waiting for them to be ready and stopping them.

The kit's half of running the system; the command that orchestrates the services (`make run`,
services/run.py), the end-to-end tests and the benchmarks use it. Children die with their parent
on Linux (PR_SET_PDEATHSIG), so a killed runner leaves no orphans.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from shared.config import PROJECT_ROOT

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def service_command(
    service: str, host: str, port: int, workers: int = 1, extra: Sequence[str] = ()
) -> list[str]:
    """The command that runs one service: uvicorn through `shared.serve`, whose workers each
    accept their own connections (SO_REUSEPORT) instead of sharing one socket."""
    cmd = [
        sys.executable,
        "-m",
        "shared.serve",
        service,
        "--host",
        host,
        "--port",
        str(port),
        "--timeout-graceful-shutdown",
        "5",
        "--workers",
        str(workers),
    ]
    return cmd + list(extra)


def start_services(
    env: dict[str, str],
    host: str,
    ports: dict[str, int],
    workers: int = 1,
    log_dir: Path | None = None,
    extra: Sequence[str] = (),
) -> dict[str, subprocess.Popen[bytes]]:
    """Start one uvicorn process per service; with `log_dir`, each logs to `<service>.log`;
    `extra` adds uvicorn options (e.g. `--loop uvloop`)."""
    procs = {}
    for service, port in ports.items():
        output = open(log_dir / f"{service}.log", "ab") if log_dir else None  # noqa: SIM115
        procs[service] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            service_command(service, host, port, workers, extra),
            env=env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        if output:
            output.close()  # the child holds its own descriptor
    return procs


DISPATCHER_COMMAND = [sys.executable, "-m", "shared.webhooks"]


def start_dispatcher(
    env: dict[str, str], log_dir: Path | None = None, name: str = "dispatcher"
) -> subprocess.Popen[bytes]:
    """Start one webhook dispatcher process; with `log_dir`, it logs to `<name>.log`."""
    output = open(log_dir / f"{name}.log", "ab") if log_dir else None  # noqa: SIM115
    try:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            DISPATCHER_COMMAND,
            env=env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
    finally:
        if output:
            output.close()


def wait_ready(
    urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    while pending:
        for service, url in list(pending.items()):
            if procs[service].poll() is not None:
                raise RuntimeError(f"{service} exited with code {procs[service].returncode}")
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    del pending[service]
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
        time.sleep(0.2)


def stop_services(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 10
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
