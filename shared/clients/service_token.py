"""The calling service's own token (client credentials), for calls made on its own behalf.

Eligibility checks, advancement and awards are done by a service, not by the person who
triggered them (a worker may register without being allowed to read other workers), so those
calls carry a token of the service's machine client (scope `internal`), fetched from the
registry and cached until shortly before it expires.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from shared.errors import DownstreamError


class ServiceToken:
    def __init__(
        self,
        http: httpx.AsyncClient,
        registry_url: str,
        client_id: str | None,
        client_secret: str | None,
    ) -> None:
        self.http = http
        self.url = registry_url.rstrip("/") + "/v1/auth/token"
        self.client_id = client_id
        self.client_secret = client_secret
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.client_id and self.client_secret)

    async def get(self) -> str:
        if self._token and time.monotonic() < self._expires:
            return self._token
        if not self.configured:
            raise DownstreamError(
                "This service has no machine credentials for the registry: set "
                "SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET (`make run` provisions them).",
                status=503,
                service="registry",
            )
        async with self._lock:
            if self._token and time.monotonic() < self._expires:
                return self._token
            try:
                response = await self.http.post(
                    self.url,
                    data={"grant_type": "client_credentials", "scope": "internal"},
                    auth=(self.client_id or "", self.client_secret or ""),
                )
            except httpx.TimeoutException as exc:
                raise DownstreamError(
                    "The registry did not issue a service token in time.",
                    status=504,
                    service="registry",
                ) from exc
            except httpx.TransportError as exc:
                raise DownstreamError(
                    "The registry is unreachable for a service token.",
                    status=503,
                    service="registry",
                ) from exc
            if response.status_code != 200:
                raise DownstreamError(
                    f"The registry refused this service's credentials ({response.status_code}).",
                    status=502,
                    service="registry",
                )
            body = response.json()
            self._token = str(body["access_token"])
            # Renew a minute early so a token never expires in flight.
            self._expires = time.monotonic() + max(30, int(body.get("expires_in", 300)) - 60)
            return self._token
