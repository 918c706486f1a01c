"""The one HTTP client behaviour every service-to-service call shares.

- connect and read timeouts from settings;
- retries with exponential backoff and jitter, only for idempotent calls (GET/HEAD/PUT/DELETE,
  or a POST carrying an Idempotency-Key);
- the caller's request id and bearer token forwarded;
- failures mapped to problems: unreachable 503, too slow 504, 5xx or garbage 502.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

import httpx

from shared.config import Settings
from shared.errors import DownstreamError
from shared.request_id import REQUEST_ID_HEADER, current_request_id

log = logging.getLogger("shared.clients")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})


def make_http_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            settings.http_read_timeout,
            connect=settings.http_connect_timeout,
            pool=settings.http_connect_timeout,
        ),
        # Keep every connection: with fewer kept than used at once (a registration burst runs
        # 32 calls per worker), each call beyond them opens and closes a TCP connection.
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
        transport=transport,
        headers={"user-agent": "shandong-skills-service"},
    )


class ServiceClient:
    service: str = "service"

    def __init__(self, http: httpx.AsyncClient, base_url: str, *, retries: int = 2) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.retries = retries

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        method = method.upper()
        headers: dict[str, str] = {}
        rid = current_request_id()
        if rid:
            headers[REQUEST_ID_HEADER] = rid
        if token:
            headers["authorization"] = f"Bearer {token}"
        if idempotency_key:
            headers["idempotency-key"] = idempotency_key
        retryable = method in IDEMPOTENT_METHODS or idempotency_key is not None
        attempts = 1 + (self.retries if retryable else 0)
        url = self.base_url + path
        for attempt in range(1, attempts + 1):
            try:
                response = await self.http.request(
                    method, url, json=json, data=data, params=params, headers=headers
                )
            except httpx.TimeoutException as exc:
                failure = DownstreamError(
                    f"The {self.service} service did not answer in time.",
                    status=504,
                    service=self.service,
                )
                cause: Exception = exc
            except httpx.TransportError as exc:
                failure = DownstreamError(
                    f"The {self.service} service is unreachable.", status=503, service=self.service
                )
                cause = exc
            else:
                if response.status_code not in RETRY_STATUSES and response.status_code < 500:
                    return response
                failure = DownstreamError(
                    f"The {self.service} service failed with status {response.status_code}.",
                    status=503 if response.status_code == 503 else 502,
                    service=self.service,
                )
                cause = httpx.HTTPStatusError(
                    "downstream", request=response.request, response=response
                )
            log.warning(
                "downstream call failed",
                extra={
                    "downstream": self.service,
                    "method": method,
                    "path": path,
                    "attempt": attempt,
                    "error": type(cause).__name__,
                },
            )
            if attempt < attempts:
                await asyncio.sleep(min(2.0, 0.1 * 2 ** (attempt - 1)) * (0.5 + random.random()))  # noqa: S311
                continue
            raise failure from cause
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_or_none(self, path: str, *, token: str | None) -> dict[str, Any] | None:
        """GET a resource: its JSON, None on 404, a 502 problem on any other refusal."""
        response = await self.request("GET", path, token=token)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DownstreamError(
                f"The {self.service} service refused GET {path} ({response.status_code}).",
                status=502,
                service=self.service,
            )
        data: dict[str, Any] = self.json_or_502(response, self.service)
        return data

    async def get_all_pages(
        self, path: str, *, token: str | None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """GET every page of a cursor-paginated list (200 a page): all items, in order; a 502
        problem on any refusal."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query: dict[str, Any] = {**(params or {}), "limit": 200}
            if cursor:
                query["cursor"] = cursor
            response = await self.request("GET", path, token=token, params=query)
            if response.status_code != 200:
                raise DownstreamError(
                    f"The {self.service} service refused GET {path} ({response.status_code}).",
                    status=502,
                    service=self.service,
                )
            page = self.json_or_502(response, self.service)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    @staticmethod
    def json_or_502(response: httpx.Response, service: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise DownstreamError(
                f"The {service} service answered with something that is not JSON.",
                status=502,
                service=service,
            ) from exc
