"""Tables owned by the competitions service."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Index, Integer, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk


class CompetitionKind(enum.StrEnum):
    post_training = "post_training"
    technical_contest = "technical_contest"
    skill_competition = "skill_competition"
    innovation_competition = "innovation_competition"


class CompetitionLevel(enum.StrEnum):
    enterprise = "enterprise"
    county = "county"
    city = "city"
    provincial = "provincial"


class CompetitionStatus(enum.StrEnum):
    draft = "draft"
    registration_open = "registration_open"
    registration_closed = "registration_closed"
    in_progress = "in_progress"
    results_published = "results_published"
    archived = "archived"


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
    status: Mapped[CompetitionStatus] = mapped_column(
        str_enum(CompetitionStatus), server_default=text("'draft'")
    )
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
