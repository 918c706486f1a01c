"""Client for the competitions service."""

from __future__ import annotations

from typing import Any

from shared.clients.base import ServiceClient


class CompetitionsClient(ServiceClient):
    service = "competitions"

    async def get_competition(
        self, competition_id: str, *, token: str | None
    ) -> dict[str, Any] | None:
        return await self.get_or_none(f"/v1/competitions/{competition_id}", token=token)
