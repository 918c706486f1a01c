"""Starting the HTTP servers under test as real uvicorn processes, and watching their memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psutil

from shared.config import PROJECT_ROOT
from shared.processes import start_services, stop_services, wait_ready

WORKERS = 2
#: Production options: uvloop, httptools, no access log (shared.serve's default).
UVICORN_OPTIONS = ["--loop", "uvloop", "--http", "httptools"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_env(database_url: str, key_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=database_url,
        KEY_DIR=str(key_dir),
        ENVIRONMENT="production",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(PROJECT_ROOT),
    )
    return env


def start_registry(
    env: dict[str, str], log_dir: Path, workers: int = WORKERS
) -> tuple[str, dict[str, subprocess.Popen[bytes]]]:
    port = free_port()
    procs = start_services(
        env, "127.0.0.1", {"registry": port}, workers, log_dir=log_dir, extra=UVICORN_OPTIONS
    )
    url = f"http://127.0.0.1:{port}"
    _wait(url, procs, log_dir)
    return url, procs


def start_registry_and_competitions(
    env: dict[str, str],
    log_dir: Path,
    service_client: tuple[str, str],
    workers: int = WORKERS,
) -> tuple[str, str, dict[str, subprocess.Popen[bytes]]]:
    """The registry and competitions, as `make run` starts them, with production options;
    competitions finds the registry at REGISTRY_URL and signs in with the machine client."""
    ports = {"registry": free_port(), "competitions": free_port()}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = env | {
        "REGISTRY_URL": urls["registry"],
        "SERVICE_CLIENT_ID": service_client[0],
        "SERVICE_CLIENT_SECRET": service_client[1],
    }
    procs = start_services(env, "127.0.0.1", ports, workers, log_dir=log_dir, extra=UVICORN_OPTIONS)
    try:
        # 180 s: on a 2-core machine shared with other benchmarks, imports alone took 60 s.
        wait_ready(urls, procs, timeout=180)
    except RuntimeError as exc:
        stop_services(procs)
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in log_dir.glob("*.log"))
        raise RuntimeError(f"{exc}\n{logs}") from None
    return urls["registry"], urls["competitions"], procs


def start_baseline(
    env: dict[str, str], log_dir: Path, workers: int = WORKERS
) -> tuple[str, dict[str, subprocess.Popen[bytes]]]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "bench.baseline_app:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        *UVICORN_OPTIONS,
    ]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    with (log_dir / "baseline.log").open("ab") as output:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            cmd, env=env, cwd=PROJECT_ROOT, stdout=output, stderr=subprocess.STDOUT
        )
    procs = {"baseline": proc}
    url = f"http://127.0.0.1:{port}"
    _wait(url, procs, log_dir)
    return url, procs


def _wait(url: str, procs: dict[str, subprocess.Popen[bytes]], log_dir: Path) -> None:
    name = next(iter(procs))
    try:
        wait_ready({name: url}, procs, timeout=60)
    except RuntimeError as exc:
        stop_services(procs)
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in log_dir.glob("*.log"))
        raise RuntimeError(f"{exc}\n{logs}") from None


def stop(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    stop_services(procs)


class RssSampler:
    """The summed RSS of processes and all their children (psutil, every 100 ms): at rest (the
    first sample), at its peak, and the CPU seconds they used meanwhile.

    With `database`, also the Postgres backends serving that database (found by their process
    title, `postgres: ... <user> <database> <client> <state>`), counted apart: their private
    resident memory (RSS less its shared part: the shared buffers are the server's, mapped by
    every backend, and would otherwise be counted once per backend) and their CPU seconds."""

    def __init__(self, *pids: int, interval: float = 0.1, database: str | None = None) -> None:
        self.roots = [psutil.Process(pid) for pid in pids]
        self.interval = interval
        self.database = database
        self.rest = self.peak = self.processes = 0
        self.pg_rest = self.pg_peak = self.pg_backends = 0
        self._cpu: dict[int, tuple[float, float]] = {}  # pid -> (first, last) CPU seconds
        self._pg_cpu: dict[int, tuple[float, float]] = {}
        self._first = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _track(seen: dict[int, tuple[float, float]], proc: psutil.Process) -> None:
        times = proc.cpu_times()
        cpu = times.user + times.system
        seen[proc.pid] = (seen.get(proc.pid, (cpu, cpu))[0], cpu)

    def _backends(self) -> list[psutil.Process]:
        marker = f" {self.database} "
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            title = " ".join(proc.info["cmdline"] or ())
            if title.startswith("postgres:") and marker in title:
                found.append(proc)
        return found

    def _sample(self) -> None:
        total = count = 0
        procs = [p for root in self.roots for p in (root, *root.children(recursive=True))]
        for proc in procs:
            try:
                total += proc.memory_info().rss
                self._track(self._cpu, proc)
                count += 1
            except psutil.Error:
                continue
        pg = backends = 0
        if self.database:
            for proc in self._backends():
                try:
                    info = proc.memory_info()
                    pg += info.rss - info.shared
                    self._track(self._pg_cpu, proc)
                    backends += 1
                except psutil.Error:
                    continue
        if self._first:
            self.rest, self.pg_rest, self._first = total, pg, False
        if total + pg > self.peak + self.pg_peak:
            self.peak, self.processes, self.pg_peak, self.pg_backends = total, count, pg, backends

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds (user + system) the processes used while sampled."""
        return sum(last - first for first, last in self._cpu.values())

    @property
    def pg_cpu_seconds(self) -> float:
        """The same for the Postgres backends (a backend seen only once counts nothing)."""
        return sum(last - first for first, last in self._pg_cpu.values())

    def summary(self) -> dict[str, Any]:
        """The figures in KiB and seconds, for the results file and the memory table."""
        return {
            "rest_kib": self.rest // 1024,
            "peak_kib": self.peak // 1024,
            "processes": self.processes,
            "pg_rest_kib": self.pg_rest // 1024 if self.database else None,
            "pg_peak_kib": self.pg_peak // 1024 if self.database else None,
            "pg_backends": self.pg_backends if self.database else None,
            "cpu_seconds": round(self.cpu_seconds, 3),
            "pg_cpu_seconds": round(self.pg_cpu_seconds, 3) if self.database else None,
        }

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
