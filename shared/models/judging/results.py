"""Results of a stage: the rules that form them, completion times, computed versions with their
ranked entries, and appeals against a provisional version (issue 5, results part).

A result version is immutable once computed except for its lifecycle fields (status, publication,
decoding of blind codes at publication): the digest of its inputs lets anyone recompute and
compare it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
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


class Aggregation(enum.StrEnum):
    mean = "mean"
    trimmed_mean = "trimmed_mean"  # drop highest and lowest per aspect with >= 5 judges
    median = "median"


class Standardisation(enum.StrEnum):
    none = "none"
    zscore = "zscore"  # per judge and aspect: (x - mean) / sd
    robust = "robust"  # per judge and aspect: (x - median) / (1.4826 * MAD)


class ResultStatus(enum.StrEnum):
    draft = "draft"  # organisers only
    provisional = "provisional"  # public, appeal window open until its deadline
    final = "final"  # frozen, sent to competitions for advancement
    superseded = "superseded"  # an older version replaced by a newer computation


class AppealStatus(enum.StrEnum):
    pending = "pending"
    upheld = "upheld"
    rejected = "rejected"


class ResultRules(Base):
    """How a stage's results are formed (one row per stage, versioned for If-Match)."""

    __tablename__ = "result_rules"

    stage_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    aggregation: Mapped[Aggregation] = mapped_column(str_enum(Aggregation))
    standardisation: Mapped[Standardisation] = mapped_column(str_enum(Standardisation))
    #: ["component:practical", "component:theory", "completion_time"]
    tie_breaks: Mapped[list[str]] = mapped_column(JSONB)
    #: {"basis": "count", "first": 1, "second": 2, "third": 3, "merit": 4} or null
    prize_bands: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    #: {"basis": "count", "gold": 1, "silver": 1, "bronze": 1, "tie_band": 0.5} or null
    medals: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    appeal_window_minutes: Mapped[int] = mapped_column(Integer, server_default=text("120"))
    #: Registry account subs of the organisers who sit on the stage's arbitration panel.
    arbiters: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    updated_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class CompletionTime(Base):
    """The time an entry took to complete the stage's task (a tie-break: lower wins)."""

    __tablename__ = "completion_times"
    __table_args__ = (
        UniqueConstraint("stage_id", "stage_entry_id", name="uq_completion_times_entry"),
        CheckConstraint("seconds >= 0", name="seconds_non_negative"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column(index=True)
    stage_entry_id: Mapped[uuid.UUID] = mapped_column()
    blind_code: Mapped[str] = mapped_column(String(16))
    seconds: Mapped[Decimal] = mapped_column(Numeric(10, 3))
    recorded_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = updated_at()


class StageResult(Base):
    """One computed version of a stage's results."""

    __tablename__ = "stage_results"
    __table_args__ = (
        UniqueConstraint("stage_id", "version", name="uq_stage_results_version"),
        Index("ix_stage_results_public", "stage_id", "status", "version"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[ResultStatus] = mapped_column(str_enum(ResultStatus))
    #: sha256 of the scores, completion times, rules, scheme and weights that formed it.
    digest: Mapped[str] = mapped_column(String(64))
    #: The rules, components and weights and the scheme version used (for recomputation).
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONB)
    entry_count: Mapped[int] = mapped_column(Integer)
    score_count: Mapped[int] = mapped_column(Integer)
    computed_by: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = created_at()
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(64))
    appeal_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finalised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finalised_by: Mapped[str | None] = mapped_column(String(64))
    #: What competitions answered to the advancement PUT (null for a last stage).
    advancement: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class ResultEntry(Base):
    """One ranked entry of a result version (blind until published, then decoded)."""

    __tablename__ = "result_entries"
    __table_args__ = (Index("ix_result_entries_rank", "result_id", "rank"),)

    result_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("stage_results.id", ondelete="CASCADE"), primary_key=True
    )
    stage_entry_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    #: In the order of `stage_results.inputs["components"]`.
    component_scores: Mapped[list[float]] = mapped_column(ARRAY(Float))
    completion_seconds: Mapped[float | None] = mapped_column(Float)
    prize: Mapped[str | None] = mapped_column(String(16))
    medal: Mapped[str | None] = mapped_column(String(16))
    #: Decoded from the competitions service's mapping at publication.
    blind_code: Mapped[str | None] = mapped_column(String(16))
    entry_id: Mapped[uuid.UUID | None] = mapped_column()
    worker_id: Mapped[uuid.UUID | None] = mapped_column()
    team_name: Mapped[str | None] = mapped_column(String(200))
    locality_code: Mapped[str | None] = mapped_column(String(6))


class Appeal(Base):
    """A competitor's (or team leader's) appeal against a provisional result."""

    __tablename__ = "appeals"
    __table_args__ = (Index("ix_appeals_stage", "stage_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    result_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stage_results.id"))
    stage_entry_id: Mapped[uuid.UUID] = mapped_column()
    entry_id: Mapped[uuid.UUID] = mapped_column()
    aspect_ids: Mapped[list[str]] = mapped_column(JSONB)
    #: The same aspects by code (A1.1), as the competitor named them (or the codes of the ids).
    aspect_codes: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[AppealStatus] = mapped_column(str_enum(AppealStatus))
    filed_by: Mapped[str] = mapped_column(String(64))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: The scores an upheld appeal unlocked for re-scoring.
    unlocked_score_ids: Mapped[list[str] | None] = mapped_column(JSONB)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
