"""Pairwise judging (CrowdBT): each entry's quality belief, each judge's reliability belief, and
every vote (append-only, so the beliefs can be replayed from the votes)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, updated_at, uuid_pk


class PairwiseItem(Base):
    __tablename__ = "pairwise_items"

    stage_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    stage_entry_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column()
    blind_code: Mapped[str] = mapped_column(String(16))
    mu: Mapped[float] = mapped_column(Float, server_default=text("0"))
    sigma_sq: Mapped[float] = mapped_column(Float, server_default=text("1"))
    comparisons: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated_at: Mapped[datetime] = updated_at()


class PairwiseJudge(Base):
    __tablename__ = "pairwise_judges"

    stage_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    judge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("judges.id"), primary_key=True)
    alpha: Mapped[float] = mapped_column(Float, server_default=text("10"))
    beta: Mapped[float] = mapped_column(Float, server_default=text("1"))
    votes: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    updated_at: Mapped[datetime] = updated_at()


class PairwiseVote(Base):
    __tablename__ = "pairwise_votes"
    __table_args__ = (
        CheckConstraint("winner_stage_entry_id <> loser_stage_entry_id", name="two_entries"),
        Index("ix_pairwise_votes_judge", "stage_id", "judge_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column()
    judge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("judges.id"))
    winner_stage_entry_id: Mapped[uuid.UUID] = mapped_column()
    loser_stage_entry_id: Mapped[uuid.UUID] = mapped_column()
    #: The model's probability of this vote before it was made (a low one flags a surprise).
    probability: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = created_at()
