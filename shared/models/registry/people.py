"""Registry tables for people and employers: enterprises, workers, their talent files.

Identity and phone numbers are personal data: stored encrypted (AES-GCM, `shared.crypto`) with
a keyed hash for exact lookup and a masked copy for display; the clear value is never stored.
Names are searched through `name_tokens`, a generated array of the name's characters and
character bigrams with a GIN index (see migration 0002: core Postgres only, no pg_trgm).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk
from shared.models.registry.enums import (
    EnterpriseSize,
    FileStatus,
    FileType,
    GradeSource,
    Industry,
    Sex,
    SkillGrade,
)

NAME_TOKENS = "name_tokens(name)"


class Enterprise(Base):
    __tablename__ = "enterprises"
    __table_args__ = (
        Index("ix_enterprises_name_tokens", "name_tokens", postgresql_using="gin"),
        Index("ix_enterprises_locality_created", "locality_code", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_tokens: Mapped[list[str]] = mapped_column(
        ARRAY(Text), Computed(NAME_TOKENS, persisted=True)
    )
    locality_code: Mapped[str] = mapped_column(ForeignKey("localities.code"))
    industry: Mapped[Industry] = mapped_column(str_enum(Industry))
    size: Mapped[EnterpriseSize] = mapped_column(str_enum(EnterpriseSize))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Worker(Base):
    __tablename__ = "workers"
    __table_args__ = (
        Index("ix_workers_name_tokens", "name_tokens", postgresql_using="gin"),
        Index("ix_workers_created", "created_at", "id"),
        Index("ix_workers_enterprise", "enterprise_id", "created_at", "id"),
        Index("ix_workers_locality", "locality_code", "created_at", "id"),
        Index("ix_workers_grade", "grade", "created_at", "id"),
        # Name search in index order (services/registry/search.py). Migration 0057 builds it
        # on `lower(name) COLLATE "C"`; reflection does not report an index's collation, so
        # the model names the expression without it (alembic check compares the two).
        Index("ix_workers_name_key", text("lower(name)"), "id"),
        Index("ix_workers_name_suffix", text("reverse(lower(name))"), "id"),  # 0059, "C" too
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(64))
    name_tokens: Mapped[list[str]] = mapped_column(
        ARRAY(Text), Computed(NAME_TOKENS, persisted=True)
    )
    id_number_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    id_number_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    sex: Mapped[Sex] = mapped_column(str_enum(Sex))
    birth_date: Mapped[date] = mapped_column(Date)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    occupation: Mapped[str] = mapped_column(String(100), index=True)
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("enterprises.id"))
    locality_code: Mapped[str] = mapped_column(ForeignKey("localities.code"))
    grade: Mapped[SkillGrade] = mapped_column(str_enum(SkillGrade))
    file_type: Mapped[FileType] = mapped_column(str_enum(FileType))
    file_status: Mapped[FileStatus] = mapped_column(
        str_enum(FileStatus), server_default=text("'active'")
    )
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class GradeChange(Base):
    """The history of a worker's skill grade (the current grade is on `workers`)."""

    __tablename__ = "grade_changes"
    __table_args__ = (
        # A competition result or certificate promotes once, however often it is reported.
        UniqueConstraint("source", "source_ref", name="uq_grade_changes_source_ref"),
        Index("ix_grade_changes_worker", "worker_id", "effective_date", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"))
    from_grade: Mapped[SkillGrade | None] = mapped_column(str_enum(SkillGrade, "from_grade"))
    to_grade: Mapped[SkillGrade] = mapped_column(str_enum(SkillGrade, "to_grade"))
    effective_date: Mapped[date] = mapped_column(Date)
    certificate_no: Mapped[str | None] = mapped_column(String(64))
    issuing_body: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[GradeSource] = mapped_column(str_enum(GradeSource))
    source_ref: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class Employment(Base):
    """Which enterprise a worker worked for, and when (moves between enterprises)."""

    __tablename__ = "employments"
    __table_args__ = (Index("ix_employments_worker", "worker_id", "started_on"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"))
    enterprise_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("enterprises.id"), index=True)
    started_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = created_at()


class TimelineEntry(Base):
    """One entry of a talent file's append-only timeline."""

    __tablename__ = "talent_file_events"
    __table_args__ = (Index("ix_talent_file_events_worker", "worker_id", "occurred_at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    worker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workers.id"))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(48))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    source_type: Mapped[str | None] = mapped_column(String(48))
    source_id: Mapped[str | None] = mapped_column(String(128))
    recorded_by: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
