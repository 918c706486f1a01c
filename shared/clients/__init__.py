"""Typed HTTP clients for calling our own services (DESIGN.md section 2)."""

from shared.clients.base import ServiceClient
from shared.clients.competitions import CompetitionsClient
from shared.clients.judging import JudgingClient
from shared.clients.registry import RegistryClient

__all__ = ["CompetitionsClient", "JudgingClient", "RegistryClient", "ServiceClient"]
