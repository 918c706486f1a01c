"""Append-only audit trail of every write: who, when, what, before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.middleware import current_request_id
from shared.models.infra import AuditLog

#: Fields never written to the audit log in clear.
REDACTED_FIELDS = frozenset({"password", "password_hash", "secret", "secret_hash", "client_secret"})


def _redact(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is None:
        return None
    return {k: ("***" if k in REDACTED_FIELDS else v) for k, v in data.items()}


def record(
    session: AsyncSession,
    *,
    service: str,
    principal: Principal | None,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to the current transaction: it commits or rolls back with the change."""
    session.add(
        AuditLog(
            service=service,
            actor_sub=principal.sub if principal else None,
            actor_role=principal.role.value if principal else None,
            request_id=current_request_id(),
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            before=_redact(before),
            after=_redact(after),
        )
    )
