"""The app factory all three services share: docs, health, errors, auth, clients, database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from shared import clock
from shared.audit_router import router as audit_router
from shared.auth.deps import CurrentPrincipal
from shared.auth.revocations import AccessRevocations
from shared.auth.tokens import JwksVerifier, TokenVerifier
from shared.clients import CompetitionsClient, JudgingClient, RegistryClient
from shared.clients.base import make_http_client
from shared.clients.service_token import ServiceToken
from shared.config import ServiceName, Settings
from shared.db import UnitOfWork, autocommit_engine, make_engine, make_sessionmaker, ping
from shared.docs import apply_conventions, install_docs, operation_id
from shared.errors import (
    ProblemResponse,
    document_problems,
    error_responses,
    install_error_handlers,
    problem,
)
from shared.examples import add_request_examples, add_response_examples, for_day
from shared.idempotency import purge_expired
from shared.logging import configure_logging
from shared.middleware import BodyLimitMiddleware, RequestContextMiddleware
from shared.migrate import current_revision, head_revision
from shared.pagination import configure_cursors, load_cursor_key

log = logging.getLogger("shared.app")


@dataclass
class Clients:
    registry: RegistryClient
    competitions: CompetitionsClient
    judging: JudgingClient


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    service: str = Field(examples=["registry"])


class Readiness(Health):
    database: str = Field(examples=["ok"])
    migration: str | None = Field(None, examples=["0001"])


class Me(BaseModel):
    sub: str = Field(description="Account or machine-client id.")
    kind: str = Field(examples=["account"])
    role: str = Field(examples=["organiser"])
    name: str = Field(examples=["济南市总工会 赛事组"])
    scopes: list[str] = Field(default_factory=list)
    locality_code: str | None = Field(None, examples=["370100"])
    enterprise_id: str | None = None
    worker_id: str | None = None


def _me_router() -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["auth"])

    @router.get(
        "/me",
        operation_id="getMe",
        response_model=Me,
        summary="Who am I",
        responses=error_responses(401, 503),
    )
    async def me(principal: CurrentPrincipal) -> Me:
        """The identity this service reads from your bearer token: use it to check a token works
        here (every service verifies the registry's tokens with its published keys)."""
        return Me(
            sub=principal.sub,
            kind=principal.kind.value,
            role=principal.role.value,
            name=principal.name,
            scopes=sorted(principal.scopes),
            locality_code=principal.locality_code,
            enterprise_id=str(principal.enterprise_id) if principal.enterprise_id else None,
            worker_id=str(principal.worker_id) if principal.worker_id else None,
        )

    return router


def _health_router(service: str) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=Health, summary="Liveness", operation_id="getHealth")
    async def healthz() -> Health:
        """The process is up and serving requests. Does not touch the database."""
        return Health(status="ok", service=service)

    @router.get(
        "/readyz",
        operation_id="getReadiness",
        response_model=Readiness,
        summary="Readiness",
        responses=error_responses(503),
    )
    async def readyz(request: Request) -> Readiness | ProblemResponse:
        """Ready to take traffic: the database answers and its schema is at the migration head."""
        try:
            await ping(request.app.state.engine)
            revision = await current_revision(request.app.state.engine)
        except Exception:  # any database failure means "not ready", never a 500
            return problem(503, "The database is unreachable.", slug="not-ready", request=request)
        expected = request.app.state.migration_head
        if revision != expected:
            return problem(
                503,
                f"The database schema is at {revision or 'nothing'}, expected {expected}: run "
                "`alembic upgrade head`.",
                slug="not-ready",
                request=request,
            )
        return Readiness(status="ok", service=service, database="ok", migration=revision)

    return router


async def _warm_up(app: FastAPI) -> None:
    """Best effort, right after start: fetch the registry's signing keys and this service's
    machine token, so the first burst of requests after a (re)start does not wait for them
    (every worker process of every service would otherwise fetch both while requests queue).
    A failure (the registry not up yet) is harmless: the first request fetches them."""
    for delay in (0.2, 2.0, 10.0):
        try:  # wait `delay`, or stop at once when the service stops
            await asyncio.wait_for(app.state.stopping.wait(), delay)
            return
        except TimeoutError:
            pass
        try:
            verifier = app.state.token_verifier
            if isinstance(verifier, JwksVerifier):
                await verifier.warm()
            if app.state.service_token.configured:
                await app.state.service_token.get()
        except Exception as exc:  # the registry may still be starting
            log.debug("warm-up failed, will retry", extra={"error": type(exc).__name__})
            continue
        return


#: How often each service deletes its expired idempotent answers (at most; sooner when the
#: retention is short).
IDEMPOTENCY_PURGE_SECONDS = 3600.0


async def _purge_idempotency_keys(app: FastAPI) -> None:
    """Each service deletes its own stored answers older than IDEMPOTENCY_RETENTION_HOURS: at
    start, then hourly. Several replicas may run it at once (`purge_expired` says why)."""
    settings: Settings = app.state.settings
    retention = settings.idempotency_retention_hours * 3600
    interval = min(IDEMPOTENCY_PURGE_SECONDS, retention / 2)
    stopping: asyncio.Event = app.state.stopping
    while not stopping.is_set():
        try:
            deleted = await purge_expired(app.state.sessionmaker, app.state.service, retention)
            if deleted:
                log.info("expired idempotency keys deleted", extra={"deleted": deleted})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be down: try again next round
            log.warning("idempotency purge failed", extra={"error": type(exc).__name__})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval)


def create_service_app(
    *,
    service: ServiceName,
    title: str,
    description: str,
    settings: Settings,
    routers: Sequence[APIRouter],
    openapi_tags: list[dict[str, Any]],
    token_verifier: Callable[[httpx.AsyncClient], TokenVerifier] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    webhooks: Sequence[APIRouter] = (),
    background: Sequence[Callable[[FastAPI], Coroutine[Any, Any, None]]] = (),
    fast_paths: Sequence[type[Any]] = (),
) -> FastAPI:
    """Build a service. `transport` lets tests route outbound calls to in-process apps.
    `fast_paths`: ASGI middleware classes that answer some requests before routing; they run
    inside the request id, security headers and CORS, outside the body checks."""
    configure_logging(service, settings.log_level, settings.log_json, settings.environment)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        http = make_http_client(settings, transport)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.autocommit_engine = autocommit_engine(engine)
        app.state.autocommit_sessionmaker = make_sessionmaker(app.state.autocommit_engine)
        app.state.uow = UnitOfWork(
            app.state.sessionmaker, app.state.autocommit_sessionmaker, app.state.autocommit_engine
        )
        app.state.http = http
        app.state.clients = Clients(
            registry=RegistryClient(http, settings.registry_url, retries=settings.http_retries),
            competitions=CompetitionsClient(
                http, settings.competitions_url, retries=settings.http_retries
            ),
            judging=JudgingClient(http, settings.judging_url, retries=settings.http_retries),
        )
        app.state.service_token = ServiceToken(
            http, settings.registry_url, settings.service_client_id, settings.service_client_secret
        )
        app.state.token_verifier = (
            token_verifier(http) if token_verifier else JwksVerifier(settings, http)
        )
        app.state.access_revocations = AccessRevocations(
            app.state.autocommit_sessionmaker, settings.access_revocation_cache_seconds
        )
        # Long-running loops of the service (job runners). At shutdown they are asked to stop
        # (`app.state.stopping`) and given time to finish their step, then cancelled.
        app.state.stopping = asyncio.Event()
        tasks = [
            asyncio.create_task(loop(app))
            for loop in (*background, _warm_up, _purge_idempotency_keys)
        ]
        try:
            yield
        finally:
            app.state.stopping.set()
            if tasks:
                await asyncio.wait(tasks, timeout=10)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await http.aclose()
            await engine.dispose()

    configure_cursors(load_cursor_key(settings.cursor_key, settings.key_dir))

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_tags=[
            *openapi_tags,
            {"name": "auth", "description": "Tokens and identity."},
            {"name": "health", "description": "Liveness and readiness probes."},
            {"name": "audit", "description": "The append-only audit log (admins)."},
        ],
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url="/docs/oauth2-redirect",
        separate_input_output_schemas=False,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.migration_head = head_revision()

    install_error_handlers(app)
    install_docs(app)
    app.add_middleware(
        BodyLimitMiddleware,
        json_limit=settings.max_body_bytes,
        upload_limit=settings.import_max_bytes,
    )
    for fast_path in reversed(fast_paths):
        app.add_middleware(fast_path)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["ETag", "Location", "X-Request-ID"],
        allow_credentials=False,
    )
    # Outermost: the request id exists before anything logs, and nothing escapes as a bare 500.
    app.add_middleware(RequestContextMiddleware)

    app.include_router(_health_router(service))
    for router in routers:
        app.include_router(router)
    app.include_router(_me_router())
    app.include_router(audit_router)
    for events in webhooks:  # the OpenAPI `webhooks` section: events outside systems receive
        app.webhooks.routes.extend(events.routes)

    built: dict[str, Any] = {}  # the document as built, on the day the examples were written

    def custom_openapi() -> dict[str, Any]:
        # Built once; served with its dated examples written for today (`examples.for_day`),
        # rewritten when the day (Asia/Shanghai) changes under a running service.
        today = clock.today()
        if app.openapi_schema and built.get("day") == today:
            return app.openapi_schema
        if "document" not in built:
            built["document"] = build_openapi()
        app.openapi_schema = for_day(built["document"], today)
        built["day"] = today
        return app.openapi_schema

    def build_openapi() -> dict[str, Any]:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
            webhooks=app.webhooks.routes,
            separate_input_output_schemas=False,
        )
        # The Authorize button must reach the registry's token endpoint from any service's docs.
        token_url = settings.browser_registry_url + "/v1/auth/token"
        for scheme in schema.get("components", {}).get("securitySchemes", {}).values():
            for flow in scheme.get("flows", {}).values():
                if "tokenUrl" in flow:
                    flow["tokenUrl"] = token_url
        document_problems(schema)
        apply_conventions(schema)
        add_request_examples(schema)
        add_response_examples(schema)
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]  # FastAPI's documented override
    return app
