"""Entries (registrations) to events, and the members of team and innovation entries."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk
from shared.models.competitions.enums import EntryStatus

#: Statuses that hold a place; a worker has at most one such entry per event.
ACTIVE_ENTRY = "status IN ('pending', 'approved', 'waitlisted', 'checked_in')"


class Entry(Base):
    __tablename__ = "entries"
    __table_args__ = (
        Index("ix_entries_event_status", "event_id", "status", "created_at", "id"),
        Index("ix_entries_competition", "competition_id", "created_at", "id"),
        # One live entry per worker per event (individual events); teams use entry_members.
        Index(
            "uq_entries_event_worker",
            "event_id",
            "worker_id",
            unique=True,
            postgresql_where=text(f"worker_id IS NOT NULL AND {ACTIVE_ENTRY}"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    competition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competitions.id"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competition_events.id"))
    #: The competitor (individual events) or the team leader (team and innovation events).
    worker_id: Mapped[uuid.UUID | None] = mapped_column()
    team_name: Mapped[str | None] = mapped_column(String(200))
    achievement_id: Mapped[uuid.UUID | None] = mapped_column()
    # Snapshots from the registry at registration (quotas and regional rules use them).
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    locality_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[EntryStatus] = mapped_column(str_enum(EntryStatus))
    status_reason: Mapped[str | None] = mapped_column(Text)
    #: The status a place gives the entry, as its registration implied: approved (registered
    #: by the competition's organisers) or pending. A waitlisted entry gets it when promoted.
    approved_when_placed: Mapped[bool] = mapped_column(server_default=text("false"))
    registered_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class EntryMember(Base):
    """A worker in a team or innovation entry (the leader included)."""

    __tablename__ = "entry_members"
    __table_args__ = (
        # A worker is in at most one live entry of an event.
        Index(
            "uq_entry_members_event_worker",
            "event_id",
            "worker_id",
            unique=True,
            postgresql_where=text("active"),
        ),
    )

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entries.id"), primary_key=True)
    worker_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competition_events.id"))
    role: Mapped[str] = mapped_column(String(16))  # leader | member
    active: Mapped[bool] = mapped_column(server_default=text("true"))
