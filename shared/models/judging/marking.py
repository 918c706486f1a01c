"""Marking schemes: one row per saved version of a stage's scheme, and its aspects.

The criteria tree (criteria -> sub-criteria -> aspects, with descriptors) is kept whole in
JSONB as it was saved; every aspect also gets a row so that scores can reference it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, uuid_pk
from shared.models.judging.enums import AspectType


class MarkingScheme(Base):
    __tablename__ = "marking_schemes"
    __table_args__ = (UniqueConstraint("stage_id", "version", name="uq_marking_schemes_version"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    #: The competitions service's stage (read over HTTP, so no foreign key).
    stage_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    #: [{"component": "theory", "weight": 30}, ...] as the stage had them when saved.
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    total: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    #: Set when scoring starts; no version of the stage may be saved after.
    frozen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    frozen_by: Mapped[str | None] = mapped_column(String(64))


class MarkingAspect(Base):
    __tablename__ = "marking_aspects"
    __table_args__ = (UniqueConstraint("scheme_id", "code", name="uq_marking_aspects_code"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    scheme_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("marking_schemes.id"), index=True)
    #: Position in the tree: criterion letter, sub-criterion number, aspect number (A1.2).
    code: Mapped[str] = mapped_column(String(16))
    component: Mapped[str] = mapped_column(String(16))
    type: Mapped[AspectType] = mapped_column(str_enum(AspectType))
    description: Mapped[str] = mapped_column(Text)
    max_mark: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    allowed_values: Mapped[list[float] | None] = mapped_column(JSONB)
    descriptors: Mapped[list[str] | None] = mapped_column(JSONB)
