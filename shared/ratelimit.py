"""Request rate limits kept in the database, so that they hold across replicas (DESIGN.md
section 8: limits in the database).

A limit allows `hits` requests per client key (the client address) in each fixed window of
`window_seconds`, windows aligned on the database clock (so replicas with drifting clocks agree).
One statement counts a request and reads the count (`INSERT ... ON CONFLICT DO UPDATE ...
RETURNING`): two replicas counting at once serialise on the counter's row, and no replica keeps
a count of its own. It runs on its own autocommit connection, so a request that then fails (a
wrong password) is still counted. Over the limit: 429 problem+json with `Retry-After`, the
seconds until the window ends.

Keys are stored as SHA-256 digests: no address or username is kept in clear. Old windows are
deleted now and then by the requests themselves (no job to run).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.errors import TooManyRequests

#: One request in this many also deletes its bucket's expired windows.
CLEANUP_ONE_IN = 200

_COUNT = text(
    """
    INSERT INTO rate_limit_counters AS c (bucket, key_hash, window_start, hits)
    VALUES (
        :bucket,
        :key_hash,
        to_timestamp(floor(extract(epoch FROM clock_timestamp()) / CAST(:window AS integer))
            * CAST(:window AS integer)),
        1
    )
    ON CONFLICT (bucket, key_hash, window_start) DO UPDATE SET hits = c.hits + 1
    RETURNING hits,
        extract(
            epoch FROM window_start + make_interval(secs => CAST(:window AS integer))
            - clock_timestamp()
        )
    """
)
_CLEANUP = text(
    "DELETE FROM rate_limit_counters WHERE bucket = :bucket "
    "AND window_start < clock_timestamp() - make_interval(secs => CAST(:keep AS integer))"
)


@dataclass(frozen=True)
class Limit:
    #: Names the counted thing (`auth.token`, `certificates.verify`).
    bucket: str
    hits: int
    window_seconds: int


class RateLimited(TooManyRequests):
    def __init__(self, limit: Limit, retry_after: int) -> None:
        super().__init__(
            f"More than {limit.hits} requests from your address in {limit.window_seconds} s; "
            f"try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )


def key_hash(bucket: str, key: str) -> str:
    return hashlib.sha256(f"{bucket}\0{key}".encode()).hexdigest()


async def hit(engine: AsyncEngine, limit: Limit, key: str) -> None:
    """Count one request of `key`; raise `RateLimited` (429) once it is over the limit."""
    params = {
        "bucket": limit.bucket,
        "key_hash": key_hash(limit.bucket, key),
        "window": limit.window_seconds,
    }
    async with engine.connect() as conn:
        hits, remaining = (await conn.execute(_COUNT, params)).one()
        if random.random() < 1 / CLEANUP_ONE_IN:  # noqa: S311 - not security
            await conn.execute(_CLEANUP, {"bucket": limit.bucket, "keep": 2 * limit.window_seconds})
        await conn.commit()
    if hits > limit.hits:
        raise RateLimited(limit, max(1, math.ceil(float(remaining))))


def client_address(request: Request) -> str:
    """The caller's address as the server sees it (behind a load balancer, run uvicorn with
    `--proxy-headers` and `--forwarded-allow-ips` so that this is the client, not the proxy)."""
    return request.client.host if request.client else "unknown"


def per_client(
    bucket: str, hits: Callable[[Request], int], window: Callable[[Request], int]
) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency limiting each client address to `hits(request)` requests per
    `window(request)` seconds (read from the app's settings at request time)."""

    async def dependency(request: Request) -> None:
        limit = Limit(bucket, hits(request), window(request))
        await hit(request.app.state.autocommit_engine, limit, client_address(request))

    return dependency
