"""Registry tables for the craftsman reserve (百万工匠后备人才库) and its yearly targets.

A contract for the programme statistics (read these tables, or the public functions of
`services.registry.reserve.progress`):

- `reserve_members`: one row per nomination of a worker into the pool. `status` moves
  nominated -> confirmed -> left, or nominated -> declined; a worker has at most one open
  (nominated or confirmed) membership (partial unique index), and may be nominated again after
  leaving or being declined (a new row). A worker is *in the pool on day D* when
  `confirmed_on <= D` and (`left_on` is null or `left_on > D`), whatever the status now.
  The member's locality and enterprise are the worker's (`workers`), not copied here, so a
  member who moves is counted where they work now.
- The cultivation plan is kept on the member row (`mentor_id`, `mentorship_id`, `target_grade`,
  `target_competition_ids`, `review_on`, `plan_notes`) with its programmes in
  `reserve_plan_programmes`; progress is never stored, it is computed from grade changes,
  attendance, the timeline's competition results and honour grants.
- `reserve_targets`: per locality (the province or a city) and year, the numbers the province
  set: pool size at the end of the year, grade promotions and honours during it.

Competition ids are the competitions service's: stored as ids, without a foreign key.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk
from shared.models.registry.enums import SkillGrade
from shared.models.registry.people import Worker


class ReserveTrack(enum.StrEnum):
    """What the member is cultivated towards: the pool itself, or a skill-leader honour (the
    values of the three honours are their codes in the honours catalogue)."""

    craftsman_reserve = "craftsman_reserve"  # 百万工匠后备人才
    qilu_craftsman = "qilu_craftsman"  # 齐鲁工匠
    qilu_chief_technician = "qilu_chief_technician"  # 齐鲁首席技师
    technical_skills_master = "technical_skills_master"  # 技术技能大师


class ReserveStatus(enum.StrEnum):
    """nominated -> confirmed -> left; nominated -> declined."""

    nominated = "nominated"
    confirmed = "confirmed"
    declined = "declined"
    left = "left"


class NominatingBody(enum.StrEnum):
    """Who nominated: an enterprise, or a locality (a city, a county, the province)."""

    enterprise = "enterprise"
    locality = "locality"


class ReserveMember(Base):
    __tablename__ = "reserve_members"
    __table_args__ = (
        # One open membership per worker: nominated or confirmed.
        Index(
            "uq_reserve_members_open",
            "worker_id",
            unique=True,
            postgresql_where=text("status IN ('nominated', 'confirmed')"),
        ),
        Index("ix_reserve_members_created", "created_at", "id"),
        Index("ix_reserve_members_worker", "worker_id", "created_at", "id"),
        Index("ix_reserve_members_review", "review_on", "id"),
        CheckConstraint(
            "(nominating_body = 'enterprise') = (nominating_enterprise_id IS NOT NULL) "
            "AND (nominating_body = 'locality') = (nominating_locality_code IS NOT NULL)",
            name="nominating_body_named",
        ),
        CheckConstraint(
            "status NOT IN ('confirmed', 'left') OR confirmed_on IS NOT NULL", name="confirmed_on"
        ),
        CheckConstraint(
            "status <> 'declined' OR (decline_reason IS NOT NULL AND declined_on IS NOT NULL)",
            name="declined_with_reason",
        ),
        CheckConstraint(
            "status <> 'left' OR (leave_reason IS NOT NULL AND left_on IS NOT NULL)",
            name="left_with_reason",
        ),
        CheckConstraint("left_on IS NULL OR left_on >= confirmed_on", name="left_after_joining"),
        CheckConstraint("mentor_id IS NULL OR mentor_id <> worker_id", name="mentor_not_self"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"))
    track: Mapped[ReserveTrack] = mapped_column(str_enum(ReserveTrack))
    status: Mapped[ReserveStatus] = mapped_column(
        str_enum(ReserveStatus), server_default=text("'nominated'")
    )
    nomination_reason: Mapped[str] = mapped_column(Text)
    nominating_body: Mapped[NominatingBody] = mapped_column(str_enum(NominatingBody))
    nominating_enterprise_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enterprises.id"))
    nominating_locality_code: Mapped[str | None] = mapped_column(ForeignKey("localities.code"))
    #: The worker's grade when nominated: the baseline of the plan's grade progress.
    grade_at_nomination: Mapped[SkillGrade] = mapped_column(
        str_enum(SkillGrade, "grade_at_nomination")
    )
    nominated_on: Mapped[date] = mapped_column(Date)
    nominated_by: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    confirmed_on: Mapped[date | None] = mapped_column(Date)
    declined_on: Mapped[date | None] = mapped_column(Date)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    left_on: Mapped[date | None] = mapped_column(Date)
    leave_reason: Mapped[str | None] = mapped_column(Text)
    left_by: Mapped[str | None] = mapped_column(String(64))
    # The cultivation plan.
    mentor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("workers.id"))
    mentorship_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("mentorships.id"))
    target_grade: Mapped[SkillGrade | None] = mapped_column(str_enum(SkillGrade, "target_grade"))
    target_competition_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), server_default=text("'{}'::uuid[]")
    )
    review_on: Mapped[date | None] = mapped_column(Date)
    plan_notes: Mapped[str | None] = mapped_column(Text)
    plan_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    plan_updated_by: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    # Loaded explicitly (joinedload) by the service; lazy loading would fail under asyncio.
    worker: Mapped[Worker] = relationship(foreign_keys=[worker_id], lazy="raise")


class ReservePlanProgramme(Base):
    """A training programme in a member's cultivation plan."""

    __tablename__ = "reserve_plan_programmes"

    member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reserve_members.id", ondelete="CASCADE"), primary_key=True
    )
    programme_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("training_programmes.id"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(SmallInteger)


class ReserveTarget(Base):
    """What the province expects of a locality (itself or a city) in a year."""

    __tablename__ = "reserve_targets"
    __table_args__ = (
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range"),
        CheckConstraint(
            "reserve_size >= 0 AND grade_promotions >= 0 AND honours >= 0", name="not_negative"
        ),
        Index("ix_reserve_targets_year", "year", "locality_code"),
    )

    locality_code: Mapped[str] = mapped_column(ForeignKey("localities.code"), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    reserve_size: Mapped[int] = mapped_column(Integer)
    grade_promotions: Mapped[int] = mapped_column(Integer)
    honours: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
