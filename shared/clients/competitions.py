"""Client for the competitions service."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.clients.base import ServiceClient
from shared.errors import Conflict, DownstreamError, RuleViolation


class CompetitionsClient(ServiceClient):
    service = "competitions"

    async def get_competition(
        self, competition_id: str, *, token: str | None
    ) -> dict[str, Any] | None:
        return await self.get_or_none(f"/v1/competitions/{competition_id}", token=token)

    async def get_stage(self, stage_id: str, *, token: str | None) -> dict[str, Any] | None:
        return await self.get_or_none(f"/v1/stages/{stage_id}", token=token)

    async def get_event(self, event_id: str, *, token: str | None) -> dict[str, Any] | None:
        return await self.get_or_none(f"/v1/events/{event_id}", token=token)

    async def list_event_stages(self, event_id: str, *, token: str) -> list[dict[str, Any]]:
        """Every stage of an event (all pages), in seq order."""
        return await self.get_all_pages(f"/v1/events/{event_id}/stages", token=token)

    async def list_stage_entries(self, stage_id: str, *, token: str) -> list[dict[str, Any]]:
        """Every stage entry of a stage, all pages (entry ids are shown to admins and to our
        own services' `internal` token)."""
        return await self.get_all_pages(f"/v1/stages/{stage_id}/stage-entries", token=token)

    async def batch_get_entries(self, ids: list[str], *, token: str) -> dict[str, dict[str, Any]]:
        """Entries (members, enterprise, locality) by id, 1,000 per call."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), 1000):
            chunk = unique[start : start + 1000]
            # A read with a body: safe to retry, so it carries an idempotency key.
            response = await self.request(
                "POST",
                "/v1/entries:batch-get",
                json={"ids": chunk},
                token=token,
                idempotency_key=f"read-{uuid.uuid4().hex}",
            )
            if response.status_code != 200:
                raise DownstreamError(
                    f"The competitions service refused POST /v1/entries:batch-get "
                    f"({response.status_code}).",
                    status=502,
                    service=self.service,
                )
            found.update({e["id"]: e for e in self.json_or_502(response, self.service)})
        return found

    async def apply_advancement(
        self,
        stage_id: str,
        *,
        next_stage_id: str,
        ranking: list[dict[str, Any]],
        token: str | None,
    ) -> dict[str, Any]:
        """PUT the ranked results (idempotent, so retried); the advancement record.

        A refusal keeps its meaning for the caller: 409 (already advanced differently, no rule)
        becomes a Conflict, 422 (unknown entries, wrong next stage) a RuleViolation, both with
        the competitions service's detail.
        """
        response = await self.request(
            "PUT",
            f"/v1/stages/{stage_id}/advancement",
            json={"next_stage_id": next_stage_id, "ranking": ranking},
            token=token,
        )
        return self._result(response, f"PUT /v1/stages/{stage_id}/advancement")

    async def lock_stage(self, stage_id: str, *, token: str | None) -> dict[str, Any]:
        """Mark the stage judged once its scores are locked (reveals the blind-code mapping)."""
        response = await self.request("POST", f"/v1/stages/{stage_id}/lock", token=token)
        return self._result(response, f"POST /v1/stages/{stage_id}/lock")

    def _result(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if response.status_code in (200, 201):
            data: dict[str, Any] = self.json_or_502(response, self.service)
            return data
        detail = str(self.json_or_502(response, self.service).get("detail", ""))
        if response.status_code == 409:
            raise Conflict(f"The competitions service refused {what}: {detail}")
        if response.status_code == 422:
            raise RuleViolation(f"The competitions service refused {what}: {detail}")
        raise DownstreamError(
            f"The competitions service refused {what} ({response.status_code}).",
            status=502,
            service=self.service,
        )
