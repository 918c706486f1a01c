"""`timeline.record_change`: one call writes a registry change's timeline entries, audit row and
outbox event in the caller's transaction (the flows using it are tested through the API)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from services.registry.talent import timeline
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.models.infra import AuditLog
from shared.models.registry import TimelineKind

ADMIN = Principal(sub="admin-1", kind=PrincipalKind.account, role=Role.admin, name="省管理员")


class Session:
    """Collects what is added, as the change's transaction would."""

    def __init__(self) -> None:
        self.added: list[Any] = []

    def add(self, row: Any) -> None:
        self.added.append(row)


def test_a_change_is_written_to_the_timeline_the_audit_log_and_the_outbox() -> None:
    session = Session()
    one, two = uuid.uuid4(), uuid.uuid4()
    entries = timeline.record_change(
        session,  # type: ignore[arg-type]
        ADMIN,
        notes=[
            timeline.Note(worker_id=w, kind=TimelineKind.status_changed, summary=s)
            for w, s in ((one, "一"), (two, "二"))
        ],
        action="worker.file_status",
        entity_type="worker",
        entity_id=one,
        before={"file_status": "active"},
        after={"file_status": "left"},
        event="worker.left",
        event_data={"worker_id": str(one)},
    )
    kinds = [type(row).__name__ for row in session.added]
    assert kinds == ["TimelineEntry", "TimelineEntry", "AuditLog", "OutboxEvent"]
    assert entries == session.added[:2]
    assert [(e.worker_id, e.summary, e.recorded_by) for e in entries] == [
        (one, "一", "admin-1"),
        (two, "二", "admin-1"),
    ]
    audit_row = session.added[2]
    assert isinstance(audit_row, AuditLog)
    assert (audit_row.service, audit_row.action, audit_row.entity_id) == (
        "registry",
        "worker.file_status",
        str(one),
    )
    event = session.added[3]
    assert (event.service, event.type, event.subject) == (
        "registry",
        "worker.left",
        f"worker:{one}",
    )
    assert event.payload["data"] == {"worker_id": str(one)}


def test_no_event_no_outbox_row_and_an_event_without_a_worker_needs_its_subject() -> None:
    session = Session()
    timeline.record_change(
        session,  # type: ignore[arg-type]
        ADMIN,
        action="reserve.plan",
        entity_type="reserve_member",
        entity_id=uuid.uuid4(),
    )
    assert [type(row).__name__ for row in session.added] == ["AuditLog"]
    with pytest.raises(ValueError, match="subject"):
        timeline.record_change(
            session,  # type: ignore[arg-type]
            ADMIN,
            action="reserve.nominate",
            entity_type="reserve_member",
            entity_id=uuid.uuid4(),
            event="reserve.nominated",
        )
