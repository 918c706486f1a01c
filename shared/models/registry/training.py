"""Registry tables for training: programmes, their sessions, enrolments and attendance.

A programme's `enrolled_count` is kept under a row lock on the programme (enrol and withdraw
lock it first), so the capacity check cannot be passed by two concurrent enrolments. Hours are
`numeric`: a session credits e.g. 3.5 hours and the sums must be exact.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk


class ProgrammeKind(enum.StrEnum):
    order_based = "order_based"  # 订单式培训 (ordered by an enterprise)
    master_heritage_hall = "master_heritage_hall"  # 大师传承讲堂
    expert_talent_hall = "expert_talent_hall"  # 专家人才讲堂
    team_hall = "team_hall"  # 班组讲堂
    post_training = "post_training"  # 岗位培训


class ProgrammeStatus(enum.StrEnum):
    planned = "planned"
    open = "open"  # taking enrolments
    in_progress = "in_progress"
    completed = "completed"  # hours credited; final
    cancelled = "cancelled"  # final


class EnrolmentStatus(enum.StrEnum):
    enrolled = "enrolled"
    withdrawn = "withdrawn"


class TrainingProgramme(Base):
    __tablename__ = "training_programmes"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("enrolled_count >= 0 AND enrolled_count <= capacity", name="within_cap"),
        CheckConstraint("ends_on >= starts_on", name="dates_ordered"),
        CheckConstraint(
            "(kind = 'order_based') = (ordering_enterprise_id IS NOT NULL)",
            name="ordering_enterprise",
        ),
        Index("ix_training_programmes_created", "created_at", "id"),
        Index("ix_training_programmes_locality", "locality_code", "created_at", "id"),
        Index("ix_training_programmes_status", "status", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[ProgrammeKind] = mapped_column(str_enum(ProgrammeKind))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    locality_code: Mapped[str] = mapped_column(ForeignKey("localities.code"))
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("enterprises.id"), index=True
    )
    ordering_enterprise_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("enterprises.id"), index=True
    )
    occupation: Mapped[str | None] = mapped_column(String(100))
    capacity: Mapped[int] = mapped_column(Integer)
    enrolled_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    status: Mapped[ProgrammeStatus] = mapped_column(
        str_enum(ProgrammeStatus), server_default=text("'planned'")
    )
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class TrainingSession(Base):
    __tablename__ = "training_sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="times_ordered"),
        CheckConstraint("hours > 0", name="hours_positive"),
        Index("ix_training_sessions_programme", "programme_id", "starts_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training_programmes.id"))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hours: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    venue: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at()


class TrainingEnrolment(Base):
    """A worker in a programme; withdrawing keeps the row (re-enrolling reuses it)."""

    __tablename__ = "training_enrolments"
    __table_args__ = (
        UniqueConstraint("programme_id", "worker_id", name="uq_training_enrolments_worker"),
        Index("ix_training_enrolments_programme", "programme_id", "created_at", "id"),
        Index("ix_training_enrolments_worker", "worker_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    programme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("training_programmes.id"))
    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"))
    status: Mapped[EnrolmentStatus] = mapped_column(
        str_enum(EnrolmentStatus), server_default=text("'enrolled'")
    )
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hours_credited: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    programme: Mapped[TrainingProgramme] = relationship(lazy="raise")


class TrainingAttendance(Base):
    """Whether an enrolled worker attended a session (one row per session and worker)."""

    __tablename__ = "training_attendance"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_sessions.id"), primary_key=True
    )
    worker_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workers.id"), primary_key=True, index=True
    )
    present: Mapped[bool] = mapped_column(Boolean)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
