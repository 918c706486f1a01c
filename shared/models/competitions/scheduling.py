"""Venues, workstations, sessions (time slots) of a stage, schedule slots and releases.

No exclusion constraints (no btree_gist in the embedded Postgres): a workstation is booked once
per session by a unique constraint on the discrete (session, workstation) pair, and the
scheduler keeps a worker out of overlapping sessions.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, uuid_pk


class Venue(Base):
    __tablename__ = "venues"

    id: Mapped[uuid.UUID] = uuid_pk()
    competition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competitions.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    locality_code: Mapped[str] = mapped_column(String(6))
    created_at: Mapped[datetime] = created_at()


class Workstation(Base):
    __tablename__ = "workstations"
    __table_args__ = (UniqueConstraint("venue_id", "code", name="uq_workstations_venue_code"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"))
    code: Mapped[str] = mapped_column(String(32))
    occupation: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = created_at()


class StageSession(Base):
    """A time slot of a stage at a venue (场次)."""

    __tablename__ = "stage_sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_stage_sessions_stage", "stage_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stages.id"))
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()


class ScheduleSlot(Base):
    """Where and when a stage entry competes."""

    __tablename__ = "schedule_slots"
    __table_args__ = (
        UniqueConstraint("session_id", "workstation_id", name="uq_schedule_slots_station"),
        UniqueConstraint("stage_entry_id", name="uq_schedule_slots_stage_entry"),
        Index("ix_schedule_slots_session", "session_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stage_entries.id"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stage_sessions.id"))
    workstation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workstations.id"))
    created_at: Mapped[datetime] = created_at()


class ScheduleRelease(Base):
    """A published, frozen copy of a stage's schedule; later edits make a new version."""

    __tablename__ = "schedule_releases"
    __table_args__ = (UniqueConstraint("stage_id", "version", name="uq_schedule_releases_version"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stages.id"))
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = created_at()
