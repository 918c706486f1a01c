"""Competitions and their events (contest items) with eligibility rules."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk
from shared.models.competitions.enums import (
    CompetitionKind,
    CompetitionLevel,
    CompetitionStatus,
    EventMode,
)
from shared.models.registry.enums import Industry, SkillGrade


class Competition(Base):
    __tablename__ = "competitions"
    __table_args__ = (Index("ix_competitions_year_created", "year", "created_at", "id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[CompetitionKind] = mapped_column(str_enum(CompetitionKind))
    level: Mapped[CompetitionLevel] = mapped_column(str_enum(CompetitionLevel))
    year: Mapped[int] = mapped_column(SmallInteger)
    # A locality code known to the registry (checked through its API: no cross-service FK).
    organiser_locality_code: Mapped[str] = mapped_column(String(6), index=True)
    organiser_enterprise_id: Mapped[uuid.UUID | None] = mapped_column()
    industry: Mapped[Industry | None] = mapped_column(str_enum(Industry))
    #: Innovation contests' tracks (big_data, ai, five_g, blockchain, other).
    tracks: Mapped[list[str]] = mapped_column(ARRAY(String(32)), server_default=text("'{}'"))
    description: Mapped[str | None] = mapped_column(Text)
    #: [{"title": ..., "url": ...}]: rules, notices, technical documents.
    documents: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'"))
    registration_opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    registration_closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The competition date: ages are computed on it.
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[CompetitionStatus] = mapped_column(
        str_enum(CompetitionStatus), server_default=text("'draft'")
    )
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Event(Base):
    """A contest item (竞赛项目) of a competition, with its eligibility rules."""

    __tablename__ = "competition_events"
    __table_args__ = (
        Index("ix_competition_events_competition", "competition_id", "created_at", "id"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint(
            "mode <> 'team' OR (team_min >= 2 AND team_max >= team_min)", name="team_sizes"
        ),
        CheckConstraint("min_age IS NULL OR max_age IS NULL OR min_age <= max_age", name="ages"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    competition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competitions.id"))
    name: Mapped[str] = mapped_column(String(200))
    occupation: Mapped[str] = mapped_column(String(100))
    mode: Mapped[EventMode] = mapped_column(str_enum(EventMode))
    team_min: Mapped[int | None] = mapped_column(SmallInteger)
    team_max: Mapped[int | None] = mapped_column(SmallInteger)
    capacity: Mapped[int] = mapped_column(Integer)
    # Eligibility, evaluated against registry data on the competition's start date.
    min_age: Mapped[int | None] = mapped_column(SmallInteger)
    max_age: Mapped[int | None] = mapped_column(SmallInteger)
    min_grade: Mapped[SkillGrade | None] = mapped_column(str_enum(SkillGrade, "min_grade"))
    max_grade: Mapped[SkillGrade | None] = mapped_column(str_enum(SkillGrade, "max_grade"))
    allowed_locality_codes: Mapped[list[str]] = mapped_column(
        ARRAY(String(6)), server_default=text("'{}'")
    )
    enterprise_quota: Mapped[int | None] = mapped_column(SmallInteger)
    exclude_national_winners: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
