"""Appending to a talent file's timeline: the one way every registry area records history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal
from shared.models.registry import TimelineEntry, TimelineKind


def record(
    session: AsyncSession,
    *,
    worker_id: uuid.UUID,
    kind: TimelineKind,
    summary: str,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
    source_type: str | None = None,
    source_id: object | None = None,
    principal: Principal | None = None,
) -> TimelineEntry:
    """Add a timeline entry in the caller's transaction (entries are never updated)."""
    entry = TimelineEntry(
        worker_id=worker_id,
        occurred_at=occurred_at or datetime.now(UTC),
        kind=kind.value,
        summary=summary,
        data=data or {},
        source_type=source_type,
        source_id=str(source_id) if source_id is not None else None,
        recorded_by=principal.sub if principal else None,
    )
    session.add(entry)
    return entry
