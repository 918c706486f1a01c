"""`python -m services.run --demo` (what `make demo` runs) on the embedded Postgres, end to end.

No DATABASE_URL: the command must start pgserver itself, migrate, start the three services,
load the demo data, and stop everything on Ctrl-C leaving no process behind.
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import asyncpg
import httpx

from shared.config import PROJECT_ROOT


def _free_base_port() -> int:
    for base in range(23001, 40000, 10):
        ports = [base, base + 1, base + 2]
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError("no three consecutive free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _read_until(proc: subprocess.Popen[str], marker: str, timeout: float) -> str:
    """Collect the command's output until `marker` appears (a reader thread: no buffering traps)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    output = ""
    deadline = time.monotonic() + timeout
    while marker not in output:
        if time.monotonic() > deadline:
            raise AssertionError(f"{marker!r} not printed; output so far:\n{output}")
        try:
            output += lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                raise AssertionError(f"exited before {marker!r}:\n{output}") from None
    return output


async def _service_logins(socket: Path) -> set[str]:
    """The logins of the services' connections (application_name shandong-skills)."""
    conn = await asyncpg.connect(
        host=str(socket.parent),
        port=int(socket.name.rsplit(".", 1)[1]),
        user="postgres",
        database="shandong_skills",
    )
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT usename FROM pg_stat_activity "
            "WHERE application_name = 'shandong-skills' AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return {r["usename"] for r in rows}


def test_run_demo_on_embedded_postgres_then_ctrl_c(tmp_path: Path) -> None:
    base = _free_base_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(KEY_DIR=str(tmp_path / "keys"), LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.run",
            "--demo",
            "--base-port",
            str(base),
            "--data-dir",
            str(tmp_path / "pgdata"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = _read_until(proc, "Press Ctrl-C", timeout=180)
        assert "Embedded Postgres running" in output
        urls = {
            s: f"http://127.0.0.1:{base + i}"
            for i, s in enumerate(("registry", "competitions", "judging"))
        }
        for url in urls.values():
            assert f"{url}/docs" in output
            assert httpx.get(url + "/docs", timeout=5).status_code == 200
        password = re.search(r"demo\.admin\s+(\S+)", output)
        assert password, output
        token = httpx.post(
            urls["registry"] + "/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "demo.admin",
                "password": password.group(1),
            },
            timeout=10,
        ).json()["access_token"]
        listed = httpx.get(
            urls["competitions"] + "/v1/competitions",
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        assert any("数字化转型" in c["name"] for c in listed["items"])
        auth = {"authorization": f"Bearer {token}"}
        found = httpx.get(
            urls["registry"] + "/v1/workers", params={"q": "王建国"}, headers=auth, timeout=10
        ).json()["items"]
        assert len(found) == 1
        jinan = next(c for c in listed["items"] if "数控车工" in c["name"])
        assert jinan["status"] == "registration_open"
        [event] = httpx.get(
            f"{urls['competitions']}/v1/competitions/{jinan['id']}/events", headers=auth, timeout=10
        ).json()["items"]
        # Six CNC turners applied: one is above the maximum grade, four fit, one waits.
        assert (event["places_taken"], event["waitlisted"]) == (4, 1)
        organiser = re.search(r"jinan\.organiser\s+(\S+)", output)
        assert organiser, output
        # The services are connected with their own login, never as the owner (postgres).
        assert "Services connect as database login 'skills_app'" in output
        sockets = (tmp_path / "pgdata").rglob(".s.PGSQL.*")
        [socket] = [p for p in sockets if not p.name.endswith(".lock")]
        assert asyncio.run(_service_logins(socket)) == {"skills_app"}
        assert (tmp_path / "keys" / "db-app-password").is_file()
        # Every view is printed (each is signed in with in tests/test_demo.py).
        for username in ("shandong.organiser", "erjichuang.organiser", "zhang.wei", "judge.wang"):
            assert re.search(rf"{re.escape(username)}\s+Demo-", output), output
        client = re.search(r"client_id\s+(\S+)\s+client_secret\s+(\S+)", output)
        assert client, output
        machine = httpx.post(
            urls["registry"] + "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client.group(1),
                "client_secret": client.group(2),
            },
            timeout=10,
        )
        assert machine.status_code == 200, machine.text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0
    for port in (base, base + 1, base + 2):
        assert not _listening(port), (
            f"port {port} still answers after Ctrl-C: a service was orphaned"
        )
