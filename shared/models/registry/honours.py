"""Registry tables for skill leaders: the honours catalogue, honour grants, innovation achievements.

Grants are never deleted: a revoked grant keeps `revoked_at`, `revoked_by` and the reason, and a
worker may be granted the same honour again once the earlier grant is revoked (a partial unique
index allows one unrevoked grant per worker and honour). A report from judging or an HR system
is idempotent by (honour, worker, source, source_ref).

Innovation achievements (职工创新成果) have an ordered team of workers (one lead) and links to
competition entries, which the competitions service owns: stored as ids, without a foreign key.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk


class HonourLevel(enum.StrEnum):
    national = "national"
    provincial = "provincial"
    city = "city"
    enterprise = "enterprise"


class HonourSource(enum.StrEnum):
    competition_result = "competition_result"  # reported by judging (source_ref: result id)
    nomination = "nomination"  # recommended and approved outside a competition


class TechnologyArea(enum.StrEnum):
    """The Digital Transformation and Innovation Competition's tracks, and other."""

    big_data = "big_data"
    ai = "ai"
    five_g = "five_g"
    blockchain = "blockchain"
    other = "other"


class AchievementStage(enum.StrEnum):
    """Forward only, in list order: idea -> prototype -> applied -> incubated."""

    idea = "idea"
    prototype = "prototype"
    applied = "applied"
    incubated = "incubated"

    @property
    def rank(self) -> int:
        return list(AchievementStage).index(self)


class TeamRole(enum.StrEnum):
    lead = "lead"
    member = "member"


class Honour(Base):
    """An honour in the catalogue (the province's are seeded, `is_system`; admins add others)."""

    __tablename__ = "honours"
    __table_args__ = (Index("ix_honours_level", "level", "code"),)

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(200))
    level: Mapped[HonourLevel] = mapped_column(str_enum(HonourLevel))
    awarding_body: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    is_system: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class HonourGrant(Base):
    """An honour granted to a worker; revoked grants stay, with who, when and why."""

    __tablename__ = "honour_grants"
    __table_args__ = (
        # A worker holds an honour at most once at a time; revoked grants do not count.
        Index(
            "uq_honour_grants_active",
            "honour_code",
            "worker_id",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
        # The same report (a competition result, a nomination file) grants once.
        UniqueConstraint(
            "honour_code", "worker_id", "source", "source_ref", name="uq_honour_grants_report"
        ),
        CheckConstraint(
            "source <> 'competition_result' OR source_ref IS NOT NULL", name="source_ref_required"
        ),
        CheckConstraint(
            "(revoked_at IS NULL) = (revoke_reason IS NULL)", name="revocation_complete"
        ),
        Index("ix_honour_grants_worker", "worker_id", "created_at", "id"),
        Index("ix_honour_grants_honour", "honour_code", "created_at", "id"),
        Index("ix_honour_grants_created", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    honour_code: Mapped[str] = mapped_column(ForeignKey("honours.code"))
    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"))
    granted_on: Mapped[date] = mapped_column(Date)
    source: Mapped[HonourSource] = mapped_column(str_enum(HonourSource))
    source_ref: Mapped[str | None] = mapped_column(String(128))
    citation: Mapped[str | None] = mapped_column(Text)
    #: The competition the grant comes from, as judging reports it (no foreign key: the
    #: registry does not read the competitions service's tables); carried by its events.
    competition_id: Mapped[uuid.UUID | None] = mapped_column()
    granted_by: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class InnovationAchievement(Base):
    """An innovation achievement (职工创新成果) of a team of workers at an enterprise."""

    __tablename__ = "innovation_achievements"
    __table_args__ = (
        Index("ix_innovation_achievements_created", "created_at", "id"),
        Index("ix_innovation_achievements_enterprise", "enterprise_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    enterprise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enterprises.id"))
    technology_area: Mapped[TechnologyArea] = mapped_column(str_enum(TechnologyArea))
    stage: Mapped[AchievementStage] = mapped_column(str_enum(AchievementStage))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class AchievementMember(Base):
    """One worker of an achievement's team, in team order; exactly one lead per team."""

    __tablename__ = "achievement_members"
    __table_args__ = (
        UniqueConstraint("achievement_id", "position", name="uq_achievement_members_position"),
        Index(
            "uq_achievement_members_lead",
            "achievement_id",
            unique=True,
            postgresql_where=text("role = 'lead'"),
        ),
        Index("ix_achievement_members_worker", "worker_id"),
    )

    achievement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("innovation_achievements.id", ondelete="CASCADE"), primary_key=True
    )
    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"), primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    role: Mapped[TeamRole] = mapped_column(str_enum(TeamRole))


class AchievementEntryLink(Base):
    """A competition entry the achievement was presented in (the id of the competitions
    service's entry: no foreign key across service boundaries)."""

    __tablename__ = "achievement_entry_links"

    achievement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("innovation_achievements.id", ondelete="CASCADE"), primary_key=True
    )
    entry_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    linked_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
