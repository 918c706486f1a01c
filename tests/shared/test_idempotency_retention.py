"""Stored idempotent answers are deleted after IDEMPOTENCY_RETENTION_HOURS, by each service for
its own rows, from the app's lifespan; several replicas purging at once never collide."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.config import Settings
from shared.db import make_engine, make_sessionmaker
from shared.idempotency import purge_expired
from tests.conftest import bearer, create_account, get_token, running_services
from tests.factories import credit_code

_INSERT = text(
    "INSERT INTO idempotency_keys (service, principal_sub, key, request_hash, method, path, "
    "status_code, response_body, created_at) "
    "SELECT :service, 'sub', :prefix || n, 'h', 'POST', '/v1/x', 201, '{}'::jsonb, "
    "now() - make_interval(hours => :age) FROM generate_series(1, :count) n"
)


async def _stage(
    sessionmaker: async_sessionmaker[AsyncSession], service: str, age: float, count: int
) -> str:
    prefix = f"{service}-{age}-{uuid.uuid4().hex[:6]}-"
    async with sessionmaker() as session, session.begin():
        await session.execute(
            _INSERT, {"service": service, "prefix": prefix, "age": age, "count": count}
        )
    return prefix


async def _count(sessionmaker: async_sessionmaker[AsyncSession], prefix: str) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                text("SELECT count(*) FROM idempotency_keys WHERE key LIKE :p || '%'"),
                {"p": prefix},
            )
            or 0
        )


async def test_each_service_purges_its_expired_answers_from_its_lifespan(
    settings: Settings,
) -> None:
    engine = make_engine(settings, pool_size=2)
    sessionmaker = make_sessionmaker(engine)
    try:
        old = {s: await _stage(sessionmaker, s, 100, 3) for s in ("registry", "judging")}
        fresh = await _stage(sessionmaker, "registry", 1, 2)
        kept_by_retention = await _stage(sessionmaker, "competitions", 50, 2)
        settings = settings.model_copy(update={"idempotency_retention_hours": 72.0})
        async with running_services(settings) as services:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while any([await _count(sessionmaker, p) for p in old.values()]):
                assert loop.time() < deadline, "the services did not purge at start"
                await asyncio.sleep(0.1)
            assert await _count(sessionmaker, fresh) == 2
            assert await _count(sessionmaker, kept_by_retention) == 2

            # A key used through the API replays until it expires, then counts as new.
            await create_account(services, "admin", "admin")
            headers = {**bearer(await get_token(services, "admin")), "Idempotency-Key": "k-1234567"}
            body = {
                "credit_code": credit_code(),
                "name": "济南二机床集团有限公司",
                "locality_code": "370100",
                "industry": "high_end_equipment",
                "size": "large",
            }
            first = await services.registry.post("/v1/enterprises", json=body, headers=headers)
            assert first.status_code == 201, first.text
            again = await services.registry.post("/v1/enterprises", json=body, headers=headers)
            assert again.headers.get("idempotent-replayed") == "true"
            async with sessionmaker() as session, session.begin():
                await session.execute(
                    text(
                        "UPDATE idempotency_keys SET created_at = now() - interval '73 hours' "
                        "WHERE key = 'k-1234567'"
                    )
                )
            assert await purge_expired(sessionmaker, "registry", 72 * 3600) == 1
            expired = await services.registry.post("/v1/enterprises", json=body, headers=headers)
            # Not a replay any more: the create runs again (and finds the enterprise exists).
            assert expired.status_code == 409, expired.text
            assert "idempotent-replayed" not in expired.headers
    finally:
        await engine.dispose()


async def test_replicas_purging_at_once_delete_each_row_once(settings: Settings) -> None:
    engines = [make_engine(settings, pool_size=2) for _ in range(3)]
    makers = [make_sessionmaker(e) for e in engines]
    try:
        prefix = await _stage(makers[0], "registry", 80, 1200)
        counts = await asyncio.gather(
            *(purge_expired(m, "registry", 72 * 3600, batch=100) for m in makers)
        )
        assert sum(counts) == 1200
        assert await _count(makers[0], prefix) == 0
    finally:
        for e in engines:
            await e.dispose()
