"""Client for the judging service."""

from __future__ import annotations

import uuid
from typing import Any

from shared.clients.base import ServiceClient
from shared.errors import DownstreamError

#: The leaderboard's largest page.
BOARD_PAGE = 1000


class JudgingClient(ServiceClient):
    service = "judging"

    async def get_leaderboard(
        self, stage_id: uuid.UUID | str, *, token: str | None = None
    ) -> dict[str, Any] | None:
        """The stage's published results, every entry in rank order (all pages): `status`
        (`provisional` or `final`), `version` and `entries` (rank, entry id, score, prize...).
        None while nothing is published (judging answers 404 before publication). Judging
        serves final boards unchanged for ever, so a nomination read from one stays right."""
        path = f"/v1/stages/{stage_id}/leaderboard"
        entries: list[dict[str, Any]] = []
        offset = 0
        while True:
            response = await self.request(
                "GET", path, token=token, params={"offset": offset, "limit": BOARD_PAGE}
            )
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise DownstreamError(
                    f"The judging service refused GET {path} ({response.status_code}).",
                    status=502,
                    service=self.service,
                )
            board: dict[str, Any] = self.json_or_502(response, self.service)
            entries += board["entries"]
            offset += len(board["entries"])
            if not board["entries"] or offset >= board["total"]:
                board["entries"] = entries
                return board
