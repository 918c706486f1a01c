"""End-to-end harness: the three services as real uvicorn processes on free ports.

One stack per test session against its own database cloned from the migrated template; the
first admin is created with the real CLI. Tests drive it over HTTP only.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from services.registry.accounts.service import SERVICE_CLIENT_ID
from shared.config import PROJECT_ROOT, SERVICE_PORTS
from shared.processes import start_services, stop_services, wait_ready
from tests.conftest import SERVICE_SECRET, app_database_url
from tests.dbutil import PgServer

ADMIN = "e2e.admin"
ADMIN_PASSWORD = "E2e-Admin-Passw0rd!"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Stack:
    urls: dict[str, str]
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def logs(self) -> str:
        return tail_logs(self.log_dir, 1_000_000)


def tail_logs(log_dir: Path, size: int = 3000) -> str:
    return "\n".join(p.read_text(errors="replace")[-size:] for p in sorted(log_dir.glob("*.log")))


def service_env(
    database_url: str, key_dir: Path, urls: dict[str, str], **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        # The services' restricted login (a member of app_writer only), as deployed.
        DATABASE_URL=app_database_url(database_url),
        KEY_DIR=str(key_dir),
        REGISTRY_URL=urls["registry"],
        COMPETITIONS_URL=urls["competitions"],
        JUDGING_URL=urls["judging"],
        ENVIRONMENT="test",
        HTTP_READ_TIMEOUT="2",
        HTTP_CONNECT_TIMEOUT="1",
        HTTP_RETRIES="1",
        SERVICE_CLIENT_ID=SERVICE_CLIENT_ID,
        SERVICE_CLIENT_SECRET=SERVICE_SECRET,
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_KIB="1024",
        # The tests' webhook receivers listen on loopback, which the SSRF guard refuses otherwise.
        WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        PYTHONPATH=str(PROJECT_ROOT),
    )
    env.update(extra)
    return env


async def launch(
    env: dict[str, str], ports: dict[str, int], log_dir: Path
) -> dict[str, subprocess.Popen[bytes]]:
    procs = start_services(env, "127.0.0.1", ports, log_dir=log_dir)
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    try:
        await asyncio.to_thread(wait_ready, urls, procs, 60)
    except RuntimeError:
        stop_services(procs)
        raise RuntimeError(
            "services did not start:\n" + await asyncio.to_thread(tail_logs, log_dir)
        ) from None
    return procs


def create_admin(
    env: dict[str, str], username: str = ADMIN, password: str = ADMIN_PASSWORD
) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.registry.cli",
            "create-admin",
            "--username",
            username,
            "--password-stdin",
        ],
        input=password + "\n",
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
async def e2e_database(pg_server: PgServer, template_db: str) -> AsyncIterator[str]:
    name = await pg_server.create_database(template=template_db)
    yield pg_server.url_for(name)
    await pg_server.drop_database(name)


@pytest.fixture(scope="session")
async def stack(
    e2e_database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    ports = {s: free_port() for s in SERVICE_PORTS}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    log_dir = tmp_path_factory.mktemp("e2e-logs")
    env = service_env(e2e_database, tmp_path_factory.mktemp("e2e-keys"), urls)
    procs = await launch(env, ports, log_dir)
    create_admin(env)
    try:
        yield Stack(urls=urls, env=env, log_dir=log_dir, procs=procs)
    finally:
        stop_services(procs)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def token(
    http: httpx.AsyncClient,
    registry_url: str,
    username: str = ADMIN,
    password: str = ADMIN_PASSWORD,
) -> str:
    response = await http.post(
        registry_url + "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert response.status_code == 200, response.text
    value: str = response.json()["access_token"]
    return value
