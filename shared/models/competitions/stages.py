"""Stages (rounds) of an event, the entries taking part in each, and advancement records."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk
from shared.models.competitions.enums import AdvancementRule, StageEntryStatus, StageStatus


class Stage(Base):
    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("event_id", "seq", name="uq_stages_event_seq"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    competition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competitions.id"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competition_events.id"))
    seq: Mapped[int] = mapped_column(SmallInteger)
    name: Mapped[str] = mapped_column(String(100))
    #: [{"component": "theory", "weight": 30}, {"component": "practical", "weight": 70}]
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    advancement_rule: Mapped[AdvancementRule | None] = mapped_column(str_enum(AdvancementRule))
    #: N for top_n and top_n_per_locality, a percentage for top_percent, a score for min_score.
    advancement_value: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[StageStatus] = mapped_column(
        str_enum(StageStatus), server_default=text("'planned'")
    )
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class StageEntry(Base):
    """An entry taking part in a stage, known to judges only by its blind code."""

    __tablename__ = "stage_entries"
    __table_args__ = (
        UniqueConstraint("stage_id", "entry_id", name="uq_stage_entries_stage_entry"),
        UniqueConstraint("stage_id", "blind_code", name="uq_stage_entries_stage_code"),
        UniqueConstraint("stage_id", "workstation_no", name="uq_stage_entries_stage_station"),
        Index("ix_stage_entries_stage", "stage_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stages.id"))
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entries.id"), index=True)
    blind_code: Mapped[str | None] = mapped_column(String(16))
    workstation_no: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[StageEntryStatus] = mapped_column(
        str_enum(StageEntryStatus), server_default=text("'active'")
    )
    #: Qualified by an organiser's override rather than by the rule, and why.
    by_override: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    override_reason: Mapped[str | None] = mapped_column(Text)
    rank: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    created_at: Mapped[datetime] = created_at()


class Advancement(Base):
    """One application of a stage's advancement rule (idempotent by `stage_id`)."""

    __tablename__ = "advancements"

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stages.id"), unique=True)
    next_stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stages.id"))
    request_hash: Mapped[str] = mapped_column(String(64))
    #: The ranked results received and who qualified (by rule or override).
    ranking: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    qualified: Mapped[list[str]] = mapped_column(JSONB)
    applied_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class AdvancementOverride(Base):
    """An organiser's decision to add (or exclude) an entry regardless of the rule."""

    __tablename__ = "advancement_overrides"
    __table_args__ = (
        UniqueConstraint("stage_id", "entry_id", name="uq_adv_overrides_stage_entry"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    stage_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stages.id"))
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entries.id"))
    include: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
