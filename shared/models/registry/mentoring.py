"""Registry tables for mentoring: "master and apprentice" pairs (师带徒) and "help in pairs"
(结对帮扶) between two workers.

The limits (one active mentor per apprentice, a mentor's capacity) are enforced by the
mentorships service under row locks on the workers; the partial unique index on the apprentice
is a last line of defence for the first of them.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk
from shared.models.registry.people import Worker


class MentorshipKind(enum.StrEnum):
    master_apprentice = "master_apprentice"  # 师带徒
    pair_assistance = "pair_assistance"  # 结对帮扶


class MentorshipStatus(enum.StrEnum):
    """proposed -> active -> completed; proposed or active -> terminated."""

    proposed = "proposed"
    active = "active"
    completed = "completed"
    terminated = "terminated"


class MentorshipRating(enum.StrEnum):
    """The final evaluation recorded when a mentorship is completed."""

    excellent = "excellent"  # 优秀
    good = "good"  # 良好
    pass_ = "pass"  # noqa: S105 - a rating (合格), not a password
    fail = "fail"  # 不合格


class Mentorship(Base):
    __tablename__ = "mentorships"
    __table_args__ = (
        CheckConstraint("mentor_id <> apprentice_id", name="distinct_parties"),
        CheckConstraint("planned_end_date >= planned_start_date", name="planned_dates"),
        Index("ix_mentorships_created", "created_at", "id"),
        Index("ix_mentorships_mentor", "mentor_id", "status"),
        Index("ix_mentorships_apprentice", "apprentice_id", "status"),
        # An apprentice has at most one active mentor.
        Index(
            "uq_mentorships_active_apprentice",
            "apprentice_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    mentor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"))
    apprentice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"))
    kind: Mapped[MentorshipKind] = mapped_column(str_enum(MentorshipKind))
    goals: Mapped[str] = mapped_column(Text)
    planned_start_date: Mapped[date] = mapped_column(Date)
    planned_end_date: Mapped[date] = mapped_column(Date)
    actual_start_date: Mapped[date | None] = mapped_column(Date)
    actual_end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[MentorshipStatus] = mapped_column(
        str_enum(MentorshipStatus), server_default=text("'proposed'")
    )
    evaluation_rating: Mapped[MentorshipRating | None] = mapped_column(str_enum(MentorshipRating))
    evaluation_comment: Mapped[str | None] = mapped_column(Text)
    termination_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    # Loaded explicitly (joinedload) by the service; lazy loading would fail under asyncio.
    mentor: Mapped[Worker] = relationship(foreign_keys=[mentor_id], lazy="raise")
    apprentice: Mapped[Worker] = relationship(foreign_keys=[apprentice_id], lazy="raise")
