"""Append-only audit trail of every write: who, when, what, before and after."""

from __future__ import annotations

from collections.abc import Callable
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


async def add_created(
    session: AsyncSession,
    row: Any,
    *,
    service: str,
    principal: Principal | None,
    action: str,
    entity_type: str,
    after: Callable[[], dict[str, Any] | None],
) -> None:
    """Insert `row`, load its server defaults, and audit its creation in the same transaction.

    `after` is called once the row is refreshed, so the snapshot shows what was stored.
    """
    session.add(row)
    await session.flush()
    await session.refresh(row)
    record(
        session,
        service=service,
        principal=principal,
        action=action,
        entity_type=entity_type,
        entity_id=row.id,
        after=after(),
    )
