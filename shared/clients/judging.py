"""Client for the judging service."""

from __future__ import annotations

from shared.clients.base import ServiceClient


class JudgingClient(ServiceClient):
    service = "judging"
