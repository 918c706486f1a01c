"""Client for the registry service."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.clients.base import ServiceClient
from shared.clients.coalesce import Coalescer
from shared.errors import DownstreamError


class RegistryClient(ServiceClient):
    service = "registry"

    def __init__(self, http: httpx.AsyncClient, base_url: str, *, retries: int = 2) -> None:
        super().__init__(http, base_url, retries=retries)
        self._workers: Coalescer[uuid.UUID, dict[str, Any]] = Coalescer(self._fetch_workers)

    async def get_locality(self, code: str, *, token: str | None) -> dict[str, Any] | None:
        """The locality with this GB/T 2260 code, or None when the registry does not know it."""
        return await self.get_or_none(f"/v1/localities/{code}", token=token)

    async def get_achievement(
        self, achievement_id: uuid.UUID, *, token: str
    ) -> dict[str, Any] | None:
        return await self.get_or_none(f"/v1/achievements/{achievement_id}", token=token)

    async def _post_read(self, path: str, body: dict[str, Any], token: str) -> Any:
        # A read with a body: safe to retry, so it carries an idempotency key.
        response = await self.request(
            "POST", path, json=body, token=token, idempotency_key=f"read-{uuid.uuid4().hex}"
        )
        if response.status_code != 200:
            raise DownstreamError(
                f"The registry refused {path} ({response.status_code}).",
                status=502,
                service=self.service,
            )
        return self.json_or_502(response, self.service)

    async def batch_get_workers(
        self, ids: list[uuid.UUID], *, token: str
    ) -> tuple[dict[uuid.UUID, dict[str, Any]], list[uuid.UUID]]:
        """Eligibility facts of many workers: (found by id, missing ids). Concurrent calls with
        the same token are coalesced into one `workers:batch-get` (shared/clients/coalesce.py)."""
        unique = list(dict.fromkeys(ids))
        found = await self._workers.get(token, unique)
        return found, [i for i in unique if i not in found]

    async def _fetch_workers(
        self, token: str, ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, dict[str, Any]]:
        found: dict[uuid.UUID, dict[str, Any]] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            body = await self._post_read(
                "/v1/workers:batch-get", {"ids": [str(i) for i in chunk]}, token
            )
            found.update({uuid.UUID(w["id"]): w for w in body["items"]})
        return found

    async def roster(self, ids: list[uuid.UUID], *, token: str) -> dict[uuid.UUID, dict[str, Any]]:
        """Workers as lists handed on show them (`workers:roster`), by id. Call it with the
        token of the person the list is for: the registry applies their scope and decides
        whether they see identity numbers in clear."""
        found: dict[uuid.UUID, dict[str, Any]] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            body = await self._post_read(
                "/v1/workers:roster", {"ids": [str(i) for i in chunk]}, token
            )
            found.update({uuid.UUID(w["id"]): w for w in body["items"]})
        return found

    async def password_token(self, username: str, password: str) -> str | None:
        """Re-authenticate a person (OAuth2 password grant): their access token, or None when
        the registry refuses the credentials (wrong password, locked or disabled account).
        Not retried: each try counts towards the account's lockout."""
        response = await self.request(
            "POST",
            "/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": password},
        )
        if response.status_code in (400, 401, 403, 422):
            return None
        if response.status_code != 200:
            raise DownstreamError(
                f"The registry refused POST /v1/auth/token ({response.status_code}).",
                status=502,
                service=self.service,
            )
        token: str = self.json_or_502(response, self.service)["access_token"]
        return token

    async def list_mentorships(
        self,
        *,
        token: str,
        mentor_id: uuid.UUID | None = None,
        apprentice_id: uuid.UUID | None = None,
    ) -> list[dict[str, Any]]:
        """Every mentorship of a mentor or an apprentice (all statuses, all pages)."""
        params: dict[str, Any] = {}
        if mentor_id:
            params["mentor_id"] = str(mentor_id)
        if apprentice_id:
            params["apprentice_id"] = str(apprentice_id)
        return await self.get_all_pages("/v1/mentorships", token=token, params=params)

    async def lookup_id_numbers(self, numbers: list[str], *, token: str) -> list[uuid.UUID | None]:
        """Worker ids for identity numbers (in order; None where unknown)."""
        out: list[uuid.UUID | None] = []
        for start in range(0, len(numbers), 1000):
            body = await self._post_read(
                "/v1/workers:lookup", {"id_numbers": numbers[start : start + 1000]}, token
            )
            out += [uuid.UUID(m["worker_id"]) if m["worker_id"] else None for m in body]
        return out

    # --- awards (idempotent per source_ref, so every call here is safe to retry) -------------

    async def send_award(
        self,
        method: str,
        path: str,
        body: dict[str, Any],
        *,
        token: str,
        idempotency_key: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Deliver one award: a grade promotion (`PUT /v1/internal/grade-promotions/{ref}`), a
        competition result (`PUT /v1/internal/competition-results/{ref}`) or an honour grant
        (`POST /v1/honours/{code}/grants` carrying `source_ref`). The registry records each
        once per source_ref, so a repeat answers 200 with the first record.

        Returns (status, body) for 200/201 and for refusals (4xx: the registry's problem, the
        award cannot go through as planned); raises DownstreamError when the registry is down
        or broken (503/504/502), so the caller can retry later.
        """
        response = await self.request(
            method,
            path,
            json=body,
            token=token,
            # A POST is made retryable by its (deterministic) idempotency key; PUTs are by nature.
            idempotency_key=idempotency_key if method.upper() == "POST" else None,
        )
        data = self.json_or_502(response, self.service)
        if not isinstance(data, dict):
            raise DownstreamError(
                f"The registry answered {path} with something that is not an object.",
                status=502,
                service=self.service,
            )
        return response.status_code, data
