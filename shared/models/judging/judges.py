"""Judges (workers of the registry or outside experts) and their declared conflicts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk
from shared.models.judging.enums import JudgeKind, QualificationLevel


class Judge(Base):
    __tablename__ = "judges"
    __table_args__ = (
        # A worker judge points at the registry; an expert carries a name and an employer.
        CheckConstraint(
            "(kind = 'worker' AND worker_id IS NOT NULL) OR "
            "(kind = 'expert' AND worker_id IS NULL AND employer_name IS NOT NULL)",
            name="kind_fields",
        ),
        Index("ix_judges_created", "created_at", "id"),
        Index("ix_judges_occupations", "occupations", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[JudgeKind] = mapped_column(str_enum(JudgeKind))
    #: The registry's worker (not a foreign key: the registry's tables are read over HTTP).
    worker_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(100))
    employer_name: Mapped[str | None] = mapped_column(String(200))
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    locality_code: Mapped[str] = mapped_column(String(6), index=True)
    occupations: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    qualification: Mapped[QualificationLevel] = mapped_column(str_enum(QualificationLevel))
    #: [{"from": "2026-10-01", "to": "2026-10-15"}], inclusive date ranges.
    availability: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    #: The registry account (its `sub`) of the person, so a judge-role token maps to this judge.
    account_sub: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class DeclaredConflict(Base):
    """A relation the judge declared or an organiser added: with a worker or with an entry."""

    __tablename__ = "judge_declared_conflicts"
    __table_args__ = (
        CheckConstraint("(worker_id IS NULL) <> (entry_id IS NULL)", name="one_target"),
        CheckConstraint("(blind_code IS NULL) = (stage_id IS NULL)", name="code_in_stage"),
        UniqueConstraint("judge_id", "worker_id", name="uq_judge_declared_conflicts_worker"),
        UniqueConstraint("judge_id", "entry_id", name="uq_judge_declared_conflicts_entry"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    judge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("judges.id"), index=True)
    worker_id: Mapped[uuid.UUID | None] = mapped_column()
    entry_id: Mapped[uuid.UUID | None] = mapped_column()
    #: Declared by blind code (judges know entries only so): the stage and the code, kept to
    #: show the judge what they declared; `entry_id` is the entry behind the code.
    stage_id: Mapped[uuid.UUID | None] = mapped_column()
    blind_code: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    declared_by: Mapped[str] = mapped_column(String(64))
    declared_by_role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at()
