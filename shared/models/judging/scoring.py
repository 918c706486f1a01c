"""Judge assignments, scores and their history, sign-offs and stage score locks (issue 5).

A judge's marks for one entry form a *score sheet*: the assignment row carries the sheet's
version (the ETag of `PUT /v1/stages/{id}/scores/{blind_code}`) and its submission time, and
every aspect's mark is one `scores` row with its own version. Every change of a mark appends
one `score_history` row; nothing there is ever updated or deleted.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, updated_at, uuid_pk


class JudgeAssignmentRun(Base):
    """One solve of a stage's assignment (stored or dry run): its parameters and outcome."""

    __tablename__ = "judge_assignment_runs"
    __table_args__ = (Index("ix_judge_assignment_runs_stage", "stage_id", "created_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    k: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(Integer)
    judges: Mapped[int] = mapped_column(Integer)
    load_min: Mapped[int | None] = mapped_column(Integer)
    load_max: Mapped[int | None] = mapped_column(Integer)
    #: OR-Tools status name (OPTIMAL, INFEASIBLE...) or our own (NOT_ENOUGH_JUDGES).
    solver_status: Mapped[str] = mapped_column(String(32))
    cost: Mapped[int | None] = mapped_column(Integer)
    solve_ms: Mapped[int] = mapped_column(Integer)
    dry_run: Mapped[bool] = mapped_column(server_default=text("false"))
    #: The request's parameters (judge pool, stage date) as given.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class JudgeAssignment(Base):
    """A judge assigned to mark one entry of a stage; also the judge's score sheet for it."""

    __tablename__ = "judge_assignments"
    __table_args__ = (
        UniqueConstraint(
            "stage_id", "stage_entry_id", "judge_id", name="uq_judge_assignments_stage_entry_judge"
        ),
        UniqueConstraint(
            "stage_id", "blind_code", "judge_id", name="uq_judge_assignments_stage_code_judge"
        ),
        Index("ix_judge_assignments_judge", "judge_id", "stage_id", "blind_code"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    #: The competitions service's stage, stage entry and entry (read over HTTP: no foreign keys).
    stage_id: Mapped[uuid.UUID] = mapped_column()
    stage_entry_id: Mapped[uuid.UUID] = mapped_column()
    entry_id: Mapped[uuid.UUID] = mapped_column()
    blind_code: Mapped[str] = mapped_column(String(16))
    judge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("judges.id"))
    #: The entry's facts as conflict checks need them, kept so that scoring can re-check
    #: conflicts (declared later, new mentorships) without reading the whole stage again.
    locality_code: Mapped[str] = mapped_column(String(6))
    worker_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    enterprise_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("judge_assignment_runs.id"))
    #: The score sheet's version (ETag of the judge's marks for this entry); 0 before any mark.
    sheet_version: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    #: When the judge submitted the sheet (null: draft).
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()


class Score(Base):
    """One judge's mark for one aspect of one entry."""

    __tablename__ = "scores"
    __table_args__ = (
        UniqueConstraint(
            "judge_id", "stage_entry_id", "aspect_id", name="uq_scores_judge_entry_aspect"
        ),
        CheckConstraint("value >= 0", name="value_non_negative"),
        Index("ix_scores_stage", "stage_id", "stage_entry_id", "aspect_id"),
        Index("ix_scores_stage_judge", "stage_id", "judge_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    stage_entry_id: Mapped[uuid.UUID] = mapped_column()
    #: Denormalised from the assignment, so results can be computed from this table alone.
    entry_id: Mapped[uuid.UUID] = mapped_column()
    blind_code: Mapped[str] = mapped_column(String(16))
    judge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("judges.id"))
    aspect_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("marking_aspects.id"), index=True)
    scheme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("marking_schemes.id"))
    #: The mark for a measurement aspect; 0..3 for a judgement aspect.
    value: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    #: Null: draft.
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Null: editable. Set by sign-off or the panel lock; cleared only by an upheld appeal.
    locked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class ScoreHistory(Base):
    """Append-only: every change of a score (created, changed, submitted, locked, unlocked)."""

    __tablename__ = "score_history"
    __table_args__ = (Index("ix_score_history_score", "score_id", "at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    score_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("scores.id"))
    stage_id: Mapped[uuid.UUID] = mapped_column(index=True)
    #: created | changed | submitted | locked | unlocked
    action: Mapped[str] = mapped_column(String(16))
    old_value: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    new_value: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = created_at()


class JudgeSignoff(Base):
    """A judge's sign-off of all their scores of a stage (after re-authenticating)."""

    __tablename__ = "judge_signoffs"
    __table_args__ = (
        UniqueConstraint("stage_id", "judge_id", name="uq_judge_signoffs_stage_judge"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    judge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("judges.id"))
    signed_at: Mapped[datetime] = created_at()
    #: How the judge re-authenticated (password).
    method: Mapped[str] = mapped_column(String(16))


class StageScoreLock(Base):
    """The panel lock of a stage: every score locked; only an appeal reopens named scores."""

    __tablename__ = "stage_score_locks"

    stage_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    locked_at: Mapped[datetime] = created_at()
    locked_by: Mapped[str] = mapped_column(String(64))
    #: signoffs (every assigned judge signed off) | organiser
    reason: Mapped[str] = mapped_column(String(16))
