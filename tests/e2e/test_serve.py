"""`python -m shared.serve`: the workers of one service each accept their own connections
(SO_REUSEPORT), a worker that dies is replaced, SIGTERM stops them all, and a port someone
else holds fails at once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from shared.config import PROJECT_ROOT
from tests.e2e.conftest import free_port, service_env

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT is Linux and BSD only"
)


#: judging alone, answering /healthz: the other services are never called
NOWHERE = {s: "http://127.0.0.1:1" for s in ("registry", "competitions", "judging")}


def serve(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        cmd = [sys.executable, "-m", "shared.serve", "judging", "--port", str(port)]
        return subprocess.Popen(
            [*cmd, "--workers", str(workers)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def healthz(port: int, sock: socket.socket | None = None) -> bytes:
    """GET /healthz on a (kept-alive) connection: the status line."""
    conn = sock or socket.create_connection(("127.0.0.1", port), timeout=30)
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = conn.recv(4096)
        if not chunk:
            break
        reply += chunk
    return reply.split(b"\r\n", 1)[0]


def wait_for_workers(proc: subprocess.Popen[bytes], port: int, n: int) -> list[psutil.Process]:
    """The parent's worker processes, once `n` of them listen on the port."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "shared.serve exited"
        listening = [c for c in psutil.Process(proc.pid).children() if _listens(c, port)]
        if len(listening) == n:
            return listening
        time.sleep(0.2)
    raise AssertionError(f"{n} workers never listened on {port}")


def _listens(child: psutil.Process, port: int) -> bool:
    try:
        return any(
            conn.status == psutil.CONN_LISTEN and conn.laddr.port == port
            for conn in child.net_connections("tcp")
        )
    except psutil.Error:  # gone, or a zombie not reaped yet
        return False


def established(proc: psutil.Process, port: int) -> int:
    return sum(
        1
        for conn in proc.net_connections("tcp")
        if conn.status == psutil.CONN_ESTABLISHED and conn.laddr.port == port
    )


async def test_workers_share_connections_restart_and_stop(
    e2e_database: str, key_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(e2e_database, key_dir, NOWHERE)
    proc = serve(env, port, 2, tmp_path / "serve.log")
    try:
        workers = await asyncio.to_thread(wait_for_workers, proc, port, 2)
        # 32 kept-alive connections opened at once: each worker gets some (with one shared
        # socket, one worker used to take them all). The chance that the kernel's hash puts
        # all 32 on one worker by luck is 2**-31.
        conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(32)]
        try:
            assert all(healthz(port, c).endswith(b"200 OK") for c in conns)
            counts = [established(w, port) for w in workers]
            assert sum(counts) == 32, counts
            assert min(counts) > 0, f"one worker got every connection: {counts}"
        finally:
            for c in conns:
                c.close()

        # a worker that dies is replaced, and the service keeps answering meanwhile
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(10)
        # (a connection caught in the dead worker's queue at the moment it died is reset;
        # the ones after that reach the survivor)
        assert all(healthz(port).endswith(b"200 OK") for _ in range(10))
        replaced = await asyncio.to_thread(wait_for_workers, proc, port, 2)
        assert workers[0].pid not in {w.pid for w in replaced}
        assert healthz(port).endswith(b"200 OK")

        # SIGTERM stops every worker and the parent, cleanly
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
        assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in replaced)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "restarting" in log


async def test_a_port_taken_by_another_program_fails_at_once(
    e2e_database: str, key_dir: Path, tmp_path: Path
) -> None:
    with socket.socket() as other:  # a plain listener, without SO_REUSEPORT
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        proc = serve(service_env(e2e_database, key_dir, NOWHERE), port, 2, tmp_path / "serve.log")
        assert await asyncio.to_thread(proc.wait, 30) == 1
    assert f"cannot bind 127.0.0.1:{port}" in (tmp_path / "serve.log").read_text()


async def test_workers_stop_when_the_parent_is_killed(
    e2e_database: str, key_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    proc = serve(service_env(e2e_database, key_dir, NOWHERE), port, 2, tmp_path / "serve.log")
    try:
        workers = await asyncio.to_thread(wait_for_workers, proc, port, 2)
        proc.kill()  # SIGKILL: the parent cannot pass anything on
        proc.wait()
        _, alive = await asyncio.to_thread(psutil.wait_procs, workers, 30)
        assert not alive, f"workers outlived their parent: {[w.pid for w in alive]}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
