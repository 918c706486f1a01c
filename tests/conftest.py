"""Fixtures: a real Postgres (never SQLite), a migrated template, and the three apps in-process.

In-process tests route every service-to-service call through `ServiceRouter`, an httpx
transport that hands each request to the real ASGI app of the target service: the apps talk
HTTP to each other exactly as deployed, only without sockets. End-to-end tests with real
processes live in tests/e2e/.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.competitions.main import create_app as create_competitions
from services.judging.main import create_app as create_judging
from services.registry.accounts import schemas as account_schemas
from services.registry.accounts import service as account_service
from services.registry.main import create_app as create_registry
from shared.auth import passwords
from shared.config import Settings
from shared.db import make_engine, make_sessionmaker
from shared.dblogin import ensure_app_login, with_login
from shared.migrate import upgrade_head
from tests.dbutil import DatabasePool, PgServer, choose_server

ADMIN_PASSWORD = "Admin-Passw0rd!"
SERVICE_SECRET = "internal-services-test-secret"
#: The apps under test connect as this login, a member of app_writer only, as deployed (the
#: fixtures' own URLs stay the owner's, for setting up and inspecting).
APP_LOGIN = "skills_app_test"
APP_LOGIN_PASSWORD = "skills-app-test-password"


def app_database_url(owner_url: str) -> str:
    """The URL the services use: the same database through the restricted login."""
    return with_login(owner_url, APP_LOGIN, APP_LOGIN_PASSWORD)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = choose_server()
    yield server
    server.close()


@pytest.fixture(scope="session")
async def template_db(pg_server: PgServer) -> AsyncIterator[str]:
    """Migrated once per run with Alembic (the migration path is what is tested)."""
    name = await pg_server.create_database()
    url = pg_server.url_for(name)
    upgrade_head(url)
    await ensure_app_login(url, app_database_url(url))
    # Every test database is a copy: each has the internal machine client with a known secret
    # (hashed cheaply, like every password in the tests).
    passwords.configure(time_cost=1, memory_kib=1024)
    engine = make_engine(Settings(database_url=url), pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await account_service.ensure_service_client(session, SERVICE_SECRET)
    finally:
        await engine.dispose()
    yield name
    await pg_server.drop_database(name)


@pytest.fixture(scope="session")
def database_pool(pg_server: PgServer, template_db: str) -> Iterator[DatabasePool]:
    pool = DatabasePool(pg_server, template_db)
    yield pool
    pool.close()


@pytest.fixture
def database_url(pg_server: PgServer, database_pool: DatabasePool) -> Iterator[str]:
    """A fresh copy of the migrated template for each test (full isolation), made ahead of
    time and dropped after the test, both in the background (`DatabasePool`)."""
    name = database_pool.take()
    yield pg_server.url_for(name)
    database_pool.give_back(name)


@asynccontextmanager
async def owner_sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions as the schema owner (no SET ROLE): for what a test stages that the services'
    login may not do (triggers, catalogs)."""
    engine = make_engine(
        Settings(database_url=database_url, db_role=""), pool_size=1, max_overflow=0
    )
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


def make_settings(database_url: str, key_dir: Path, **overrides: Any) -> Settings:
    """Settings of the apps under test on the owner's `database_url`: they connect with the
    restricted login."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": app_database_url(database_url),
        "key_dir": key_dir,
        "registry_url": "http://registry",
        "competitions_url": "http://competitions",
        "judging_url": "http://judging",
        "public_registry_url": "http://localhost:8001",
        "http_retries": 0,
        "db_pool_size": 5,
        # Cheap hashes keep the suite fast; production keeps the secure defaults.
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "service_client_id": account_service.SERVICE_CLIENT_ID,
        "service_client_secret": SERVICE_SECRET,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str, key_dir: Path) -> Settings:
    return make_settings(database_url, key_dir)


class ServiceRouter(httpx.AsyncBaseTransport):
    """Sends each request to the in-process app registered for its host."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}

    def register(self, host: str, app: FastAPI) -> None:
        self.apps[host] = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.apps.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no service at {request.url.host}", request=request)
        return await transport.handle_async_request(request)


@dataclass
class Services:
    registry: httpx.AsyncClient
    competitions: httpx.AsyncClient
    judging: httpx.AsyncClient
    apps: dict[str, FastAPI]
    router: ServiceRouter

    def client(self, name: str) -> httpx.AsyncClient:
        client: httpx.AsyncClient = getattr(self, name)
        return client


def from_address(services: Services, name: str, address: str) -> httpx.AsyncClient:
    """A client of one in-process app whose requests come from `address`: tests that count
    per-address limits use their own address, apart from the services' own calls (their
    machine-token warm-up comes from the default test address at start)."""
    transport = httpx.ASGITransport(app=services.apps[name], client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=f"http://{name}")


@asynccontextmanager
async def running_services(settings: Settings) -> AsyncIterator[Services]:
    """The three apps with their lifespans running, talking HTTP to each other in-process."""
    router = ServiceRouter()
    apps = {
        "registry": create_registry(settings, transport=router),
        "competitions": create_competitions(settings, transport=router),
        "judging": create_judging(settings, transport=router),
    }
    async with AsyncExitStack() as stack:
        clients = {}
        for name, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            router.register(name, app)
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=router, base_url=f"http://{name}")
            )
        yield Services(**clients, apps=apps, router=router)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with running_services(settings) as running:
        yield running


async def create_account(
    services: Services, username: str, role: str, password: str = ADMIN_PASSWORD, **extra: object
) -> uuid.UUID:
    """Create an account straight through the registry's service layer (as the CLI does)."""
    app = services.apps["registry"]
    async with app.state.sessionmaker() as session, session.begin():
        data = account_schemas.AccountCreate(
            username=username, display_name=username, password=password, role=role, **extra
        )
        account = await account_service.create_account(session, data, None)
        return account.id


async def get_token(services: Services, username: str, password: str = ADMIN_PASSWORD) -> str:
    response = await services.registry.post(
        "/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def admin_headers(services: Services) -> dict[str, str]:
    await create_account(services, "admin", "admin")
    return bearer(await get_token(services, "admin"))


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"]
    assert body["title"]
    assert body["detail"]
    return body


async def matching(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> dict[str, str]:
    """`headers` plus If-Match with the ETag a GET of `url` answers now: what a client sends
    to change a contested record (428 without it, 412 when stale)."""
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return {**headers, "if-match": response.headers["etag"]}
