"""Who is calling: the roles of the system and the principal a verified token describes."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

# The roles are stored on accounts, so they are a registry vocabulary; auth uses them from there.
from shared.models.registry.enums import Role

__all__ = ["INTEGRATION_SCOPES", "Principal", "PrincipalKind", "Role"]


class PrincipalKind(enum.StrEnum):
    account = "account"
    client = "client"


#: Scopes a machine client (role `integration`) may be granted.
INTEGRATION_SCOPES: dict[str, str] = {
    "registry:read": "Read workers, enterprises, talent files and honours.",
    "registry:write": "Record grades and honours (government HR systems).",
    "competitions:read": "Read competitions, events and entries.",
    "results:read": "Read published results and awards.",
    "statistics:read": "Read programme statistics (aggregates only, province-wide).",
    "webhooks:manage": "Manage the client's own webhook subscriptions.",
    "internal": "Service-to-service calls between our own services.",
}


@dataclass(frozen=True)
class Principal:
    sub: str
    kind: PrincipalKind
    role: Role
    name: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    locality_code: str | None = None
    enterprise_id: uuid.UUID | None = None
    worker_id: uuid.UUID | None = None
    token: str | None = field(default=None, repr=False, compare=False)
    #: The token's `iat` (seconds since the epoch), checked against `access_revocations`.
    issued_at: int | None = field(default=None, compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
