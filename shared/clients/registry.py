"""Client for the registry service."""

from __future__ import annotations

from typing import Any

from shared.clients.base import ServiceClient


class RegistryClient(ServiceClient):
    service = "registry"

    async def get_locality(self, code: str, *, token: str | None) -> dict[str, Any] | None:
        """The locality with this GB/T 2260 code, or None when the registry does not know it."""
        return await self.get_or_none(f"/v1/localities/{code}", token=token)
