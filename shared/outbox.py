"""Record events for outside systems in the transaction of the change (transactional outbox).

Payloads follow the Standard Webhooks shape `{type, timestamp, data}`; `data` carries ids and
changed fields, never identity numbers in clear.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.models.infra import OutboxEvent


def emit(
    session: AsyncSession, *, service: str, type: str, subject: str, data: dict[str, Any]
) -> OutboxEvent:
    """Add an event; it is committed or rolled back together with the caller's change."""
    event = OutboxEvent(
        id=uuid.uuid4(),
        service=service,
        type=type,
        subject=subject,
        payload={"type": type, "timestamp": datetime.now(UTC).isoformat(), "data": data},
    )
    session.add(event)
    return event
