"""Append-only audit trail of every write: who, when, what, before and after."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.crypto import mask_id_number, mask_phone
from shared.models.infra import AuditLog
from shared.request_id import current_request_id

#: Fields never written to the audit log in clear.
REDACTED_FIELDS = frozenset(
    {
        "password",
        "password_hash",
        "secret",
        "secret_hash",
        "client_secret",
        "refresh_token",
        "access_token",
    }
)
#: Personal fields written masked, whatever the caller passed (defence in depth: the services
#: already snapshot masked values).
MASKED_FIELDS: dict[str, Callable[[str], str]] = {
    "id_number": mask_id_number,
    "phone": mask_phone,
}


def _clean(key: str, value: Any) -> Any:
    if key in REDACTED_FIELDS:
        return "***"
    if key in MASKED_FIELDS and isinstance(value, str) and "*" not in value:
        return MASKED_FIELDS[key](value)
    if isinstance(value, dict):
        return {k: _clean(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(key, v) for v in value]
    return value


def redact(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """A snapshot as the audit log stores it: secrets replaced, personal numbers masked. Also
    for audit rows written in SQL (`take_entry_places`): one redaction for every writer."""
    if data is None:
        return None
    return {k: _clean(k, v) for k, v in data.items()}


def entry(
    *,
    service: str,
    principal: Principal | None,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An audit row's columns, redacted: the one place every audit row is built, whether the
    ORM adds it (`record`) or a SQL fast path inserts it as given (as jsonb, see migration
    0058's `judging_audit`). `entity_id` None: the SQL fills it in."""
    return {
        "service": service,
        "actor_sub": principal.sub if principal else None,
        "actor_role": principal.role.value if principal else None,
        "request_id": current_request_id(),
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id) if entity_id is not None else None,
        "before": redact(before),
        "after": redact(after),
    }


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
            **entry(
                service=service,
                principal=principal,
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                before=before,
                after=after,
            )
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
