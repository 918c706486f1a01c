"""Competitions at every level: how a higher event is filled (its pathway), the quotas of its
qualifiers with their history, direct places, and nominations (推荐) from qualifiers' results.

A higher event (a provincial or city competition's event) declares its pathway: qualifier events
at a lower level with a quota each (per qualifier, per city or per enterprise of the nominees),
direct places, and whether open registration is allowed. A qualifier's organiser turns its
final results into nominations; the higher event's organiser accepts (an entry is made) or
returns them.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    DateTime,
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
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, updated_at, uuid_pk


class QuotaBasis(enum.StrEnum):
    """What a qualifier's quota counts: its nominees in all, or per city / per enterprise of
    the nominees (e.g. a provincial preliminary sending its best two of each city)."""

    qualifier = "qualifier"
    city = "city"
    enterprise = "enterprise"


class DirectPlaceReason(enum.StrEnum):
    previous_result = "previous_result"  # e.g. last year's provincial top three
    honour = "honour"  # holders of a named honour (checked against the registry)
    other = "other"


class NominationStatus(enum.StrEnum):
    draft = "draft"  # confirmed by the qualifier's organiser, not yet submitted
    submitted = "submitted"
    accepted = "accepted"  # an entry of the higher event exists
    returned = "returned"  # refused by the higher event's organiser, with a reason
    withdrawn = "withdrawn"  # taken back by the qualifier's organiser
    declined = "declined"  # the nominee declined or is unavailable: replaced by the next


#: A worker has at most one nomination in these statuses per competition (a DB constraint).
LIVE_NOMINATIONS = (NominationStatus.draft, NominationStatus.submitted, NominationStatus.accepted)
LIVE_NOMINATION = "status IN ({})".format(", ".join(f"'{s.value}'" for s in LIVE_NOMINATIONS))


class EventPathway(Base):
    """The pathway settings of a higher event (one row per event that declares one)."""

    __tablename__ = "event_pathways"
    __table_args__ = (CheckConstraint("direct_places >= 0", name="direct_places_not_negative"),)

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("competition_events.id"), primary_key=True
    )
    competition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competitions.id"), index=True)
    #: Workers may also register themselves (the event's rules allow it).
    open_registration: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    #: Nominations are submitted, and quotas changed, until then.
    nominations_close_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: How many direct places the event gives (last year's top three, a named honour...).
    direct_places: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    #: Occupations of qualifier events accepted besides the event's own (an occupation mapping).
    occupations: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default=text("'{}'"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class PathwayQualifier(Base):
    """A lower-level event feeding a higher event, with its quota."""

    __tablename__ = "pathway_qualifiers"
    __table_args__ = (
        UniqueConstraint("event_id", "qualifier_event_id", name="uq_pathway_qualifiers_pair"),
        CheckConstraint("event_id <> qualifier_event_id", name="not_itself"),
        CheckConstraint("quota >= 0", name="quota_not_negative"),
        Index("ix_pathway_qualifiers_qualifier", "qualifier_event_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    #: The higher event and its competition.
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competition_events.id"))
    competition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competitions.id"))
    qualifier_event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competition_events.id"))
    qualifier_competition_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("competitions.id"), index=True
    )
    #: The stage whose final results rank the nominees (null: the event's last stage).
    qualifier_stage_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stages.id"))
    quota: Mapped[int] = mapped_column(SmallInteger)
    quota_basis: Mapped[QuotaBasis] = mapped_column(
        str_enum(QuotaBasis), server_default=text("'qualifier'")
    )
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class QuotaChange(Base):
    """One change of a qualifier's quota (append-only: the services' login may not update or
    delete these rows)."""

    __tablename__ = "pathway_quota_changes"
    __table_args__ = (Index("ix_pathway_quota_changes_qualifier", "qualifier_id", "changed_at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    qualifier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pathway_qualifiers.id"))
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = created_at()
    old_quota: Mapped[int | None] = mapped_column(SmallInteger)
    new_quota: Mapped[int] = mapped_column(SmallInteger)
    old_basis: Mapped[QuotaBasis | None] = mapped_column(str_enum(QuotaBasis, "old_basis"))
    new_basis: Mapped[QuotaBasis] = mapped_column(str_enum(QuotaBasis, "new_basis"))
    reason: Mapped[str] = mapped_column(Text)


class DirectPlace(Base):
    """A worker given a place in a higher event without qualifying, and why."""

    __tablename__ = "direct_places"
    __table_args__ = (
        UniqueConstraint("competition_id", "worker_id", name="uq_direct_places_competition_worker"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competition_events.id"), index=True)
    competition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competitions.id"))
    worker_id: Mapped[uuid.UUID] = mapped_column()
    reason_kind: Mapped[DirectPlaceReason] = mapped_column(str_enum(DirectPlaceReason))
    reason: Mapped[str] = mapped_column(Text)
    #: For `honour`: the honour the registry confirmed the worker holds.
    honour_code: Mapped[str | None] = mapped_column(String(64))
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entries.id"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


class Nomination(Base):
    """A qualifier's nominee for a higher event (推荐)."""

    __tablename__ = "nominations"
    __table_args__ = (
        # A worker is nominated into one event of a competition once (while the nomination
        # lives: a returned, withdrawn or declined one no longer counts).
        Index(
            "uq_nominations_competition_worker",
            "competition_id",
            "worker_id",
            unique=True,
            postgresql_where=text(LIVE_NOMINATION),
        ),
        Index("ix_nominations_event", "event_id", "created_at", "id"),
        Index("ix_nominations_qualifier", "qualifier_id", "rank"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    #: The higher competition and event nominated into.
    competition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competitions.id"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competition_events.id"))
    qualifier_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pathway_qualifiers.id"))
    qualifier_competition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competitions.id"))
    qualifier_event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("competition_events.id"))
    #: The nominee's entry in the qualifier, and their result there.
    source_entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entries.id"))
    worker_id: Mapped[uuid.UUID] = mapped_column()
    enterprise_id: Mapped[uuid.UUID | None] = mapped_column()
    locality_code: Mapped[str] = mapped_column(String(6))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    #: Tied with someone left outside the quota: the organisers decide (flagged, not hidden).
    boundary_tie: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    status: Mapped[NominationStatus] = mapped_column(str_enum(NominationStatus))
    reason: Mapped[str | None] = mapped_column(Text)
    #: The nomination this one replaces (the nominee declined or was unavailable).
    substitute_for_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("nominations.id"))
    #: The entry in the higher event, once accepted.
    entry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("entries.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
