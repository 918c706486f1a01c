"""Awards of a stage (rules, and each outcome's delivery to the registry) and certificates.

An award rule says what a final result earns (an honour for the top N, a grade promotion for the
first prize, a competition-result entry in every competitor's file); an award is one such
outcome for one competitor, with a deterministic `source_ref` so that sending it to the registry
any number of times records it there once. A certificate is the printable proof of an award,
checked by anyone through its verification code.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk
from shared.models.competitions.enums import CompetitionLevel
from shared.models.judging.enums import AwardKind, DeliveryState


class AwardRule(Base):
    __tablename__ = "award_rules"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'honour') = (honour_code IS NOT NULL)", name="honour_code_for_honours"
        ),
        CheckConstraint("kind = 'grade_promotion' OR to_grade IS NULL", name="grade_for_grades"),
        CheckConstraint("top_n IS NULL OR top_n >= 1", name="top_n_positive"),
        # A rule belongs to one stage, or stands for every final stage of one level.
        CheckConstraint("(stage_id IS NULL) <> (level IS NULL)", name="stage_or_level"),
        CheckConstraint(
            "NOT requires_confirmation OR kind <> 'competition_result'",
            name="confirmation_for_honours_and_grades",
        ),
        Index("ix_award_rules_level", "level", postgresql_where=text("level IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    #: The competitions service's stage (read over HTTP, so no foreign key); null for a
    #: standing rule of a level.
    stage_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    #: A standing rule: applies to the last stage of every event of competitions at this level
    #: (e.g. provincial first prizes recommended for 山东省技术能手).
    level: Mapped[CompetitionLevel | None] = mapped_column(str_enum(CompetitionLevel))
    #: Its awards wait (`awaiting_confirmation`) until an organiser confirms or declines each.
    requires_confirmation: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    kind: Mapped[AwardKind] = mapped_column(str_enum(AwardKind))
    #: The registry's honour code, for `honour` rules.
    honour_code: Mapped[str | None] = mapped_column(String(64))
    #: For `grade_promotion`: the named grade (null: one level above the worker's grade).
    to_grade: Mapped[str | None] = mapped_column(String(32))
    #: Who qualifies: rank at most top_n and/or a prize among `prizes` (neither: every ranked
    #: entry).
    top_n: Mapped[int | None] = mapped_column(Integer)
    prizes: Mapped[list[str] | None] = mapped_column(ARRAY(String(16)))
    citation: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class Award(Base):
    __tablename__ = "awards"
    __table_args__ = (
        UniqueConstraint("rule_id", "entry_id", "worker_id", name="uq_awards_rule_entry_worker"),
        Index("ix_awards_stage_state", "stage_id", "state"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("award_rules.id"), index=True)
    kind: Mapped[AwardKind] = mapped_column(str_enum(AwardKind))
    entry_id: Mapped[uuid.UUID] = mapped_column()
    worker_id: Mapped[uuid.UUID] = mapped_column(index=True)
    rank: Mapped[int] = mapped_column(Integer)
    prize: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[Decimal | None] = mapped_column(Numeric(9, 3))
    #: Deterministic (`award:{kind}:{digest of stage, entry, worker}`), so the registry records the
    #: outcome once however often it is sent; two honour rules share it (the registry keys
    #: honour reports by honour code and source_ref).
    source_ref: Mapped[str] = mapped_column(String(128), index=True)
    #: The registry call: {"path": ..., "method": ..., "body": {...}}, fixed when planned.
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    state: Mapped[DeliveryState] = mapped_column(
        str_enum(DeliveryState), server_default=DeliveryState.pending.value
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    #: What the registry answered with: the grant, grade change or timeline entry id.
    registry_ref: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: An organiser's confirmation or refusal of an award awaiting it: who, when, why.
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class AwardJob(Base):
    """A finalised stage whose awards are not all settled with the registry yet: written in the
    finalise transaction, so that awards are planned and sent even if the process dies right
    after the commit. The sweeper (`services/judging/awards/sweeper.py`) leases due jobs with
    `FOR UPDATE SKIP LOCKED`, runs them, and deletes a job once nothing is left to retry."""

    __tablename__ = "award_jobs"

    stage_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    #: When a sweeper may take it next (a lease while one works on it, backoff after a failure).
    due_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("stage_id", "entry_id", "worker_id", name="uq_certificates_holder"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    #: Unguessable (80 bits from an alphabet without look-alike characters).
    code: Mapped[str] = mapped_column(String(32), unique=True)
    stage_id: Mapped[uuid.UUID] = mapped_column(index=True)
    entry_id: Mapped[uuid.UUID] = mapped_column()
    worker_id: Mapped[uuid.UUID] = mapped_column(index=True)
    worker_name: Mapped[str] = mapped_column(String(100))
    competition_id: Mapped[uuid.UUID] = mapped_column()
    competition_name: Mapped[str] = mapped_column(String(200))
    event_name: Mapped[str] = mapped_column(String(200))
    stage_name: Mapped[str] = mapped_column(String(100))
    #: What is certified, in Chinese (一等奖, 第4名, 山东省技术能手...).
    award_title: Mapped[str] = mapped_column(String(300))
    rank: Mapped[int] = mapped_column(Integer)
    prize: Mapped[str | None] = mapped_column(String(16))
    issued_on: Mapped[date] = mapped_column(Date)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()
