"""Appending to a talent file's timeline: the one way every registry area records history.

`record_change` records a change in the three places a registry change is written (timeline,
audit log, outbox) with one call; `record` is the timeline entry alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared import audit, outbox
from shared.auth.principal import Principal
from shared.models.registry import TimelineEntry, TimelineKind

#: The service every registry change is recorded for (audit rows and outbox events).
SERVICE = "registry"


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


@dataclass(frozen=True)
class Note:
    """One timeline entry of a change (a change may write to several workers' files)."""

    worker_id: uuid.UUID
    kind: TimelineKind
    summary: str
    data: dict[str, Any] | None = None
    occurred_at: datetime | None = None
    source_type: str | None = None
    source_id: object | None = None


def record_change(
    session: AsyncSession,
    principal: Principal | None,
    *,
    action: str,
    entity_type: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    notes: Sequence[Note] = (),
    event: str | None = None,
    subject: str | None = None,
    event_data: dict[str, Any] | None = None,
) -> list[TimelineEntry]:
    """Record one registry change in the caller's transaction, in all three places at once:
    the talent files' timeline (`notes`, one entry each), the audit row (`action` on
    `entity_type` `entity_id`, `before` -> `after`) and, when others must hear of it, the
    outbox event (`event` with `event_data`, `subject` by default the first note's worker).
    Returns the timeline entries, in the order of `notes`."""
    entries = [
        record(
            session,
            worker_id=note.worker_id,
            kind=note.kind,
            summary=note.summary,
            data=note.data,
            occurred_at=note.occurred_at,
            source_type=note.source_type,
            source_id=note.source_id,
            principal=principal,
        )
        for note in notes
    ]
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
    )
    if event is not None:
        if subject is None:
            if not notes:
                raise ValueError(f"{event}: give the subject of an event with no timeline entry")
            subject = f"worker:{notes[0].worker_id}"
        outbox.emit(session, service=SERVICE, type=event, subject=subject, data=event_data or {})
    return entries
