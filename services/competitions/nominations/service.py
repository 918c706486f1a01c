"""Nominations (推荐): who sees and decides them, their plain transitions (submit, return,
withdraw), their webhooks. The multi-step flows that read results and the registry (suggest,
confirm, substitute, accept) are in `flows.py`.

Two organisers act on a nomination: the qualifier's (it nominates, substitutes, submits,
withdraws) and the higher event's (it accepts or returns). Others see nothing of it: a
nomination the caller may not see is a 404, like one that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.competitions.access import organiser_covers
from services.competitions.competitions.service import SERVICE
from services.competitions.nominations import schemas
from services.competitions.pathways.service import (
    QualifierContext,
    check_nominations_open,
    decides,
    live_counts,
    load_pathway,
    nominates,
)
from shared import audit, outbox
from shared.auth.principal import Principal, Role
from shared.errors import Conflict, FieldError, Forbidden, NotFound
from shared.models.competitions import (
    Competition,
    Nomination,
    NominationStatus,
)
from shared.pagination import Page, paginate
from shared.scope import scope_clause


@dataclass(frozen=True)
class NominationContext:
    nomination: Nomination
    competition: Competition  # the higher one
    qualifier_competition: Competition


def may_see(principal: Principal, ctx: NominationContext) -> bool:
    own = principal.role is Role.worker and principal.worker_id == ctx.nomination.worker_id
    service = principal.role is Role.integration and principal.has_scope("internal")
    return own or service or nominates(principal, ctx) or decides(principal, ctx)


async def load(
    session: AsyncSession, nomination_id: uuid.UUID, *, for_update: bool = False
) -> NominationContext:
    lower = aliased(Competition)
    stmt = (
        select(Nomination, Competition, lower)
        .join(Competition, Competition.id == Nomination.competition_id)
        .join(lower, lower.id == Nomination.qualifier_competition_id)
        .where(Nomination.id == nomination_id)
    )
    if for_update:
        stmt = stmt.execution_options(populate_existing=True).with_for_update(of=Nomination)
    found = (await session.execute(stmt)).first()
    if found is None:
        raise NotFound(f"No nomination with id {nomination_id}.")
    return NominationContext(*found)


def visible_or_404(principal: Principal, ctx: NominationContext) -> NominationContext:
    if not may_see(principal, ctx):
        raise NotFound(f"No nomination with id {ctx.nomination.id}.")
    return ctx


def require_side(principal: Principal, ctx: NominationContext, side: str) -> None:
    allowed = nominates(principal, ctx) if side == "qualifier" else decides(principal, ctx)
    if not allowed:
        who = "qualifier's" if side == "qualifier" else "higher event's"
        raise Forbidden(f"Only the {who} organisers may do this with a nomination.")


def present(nomination: Nomination) -> schemas.Nomination:
    return schemas.Nomination.model_validate(nomination)


def event_data(
    nomination: Nomination, ctx_competition: Competition, lower: Competition
) -> dict[str, Any]:
    """A `nomination.*` webhook's data: the higher competition's identifiers (as for its
    entries), the qualifier's (`qualifier_competition_id`, `qualifier_organiser_locality_code`:
    subscriptions of either competition or either organiser's locality match), the nominee's
    locality."""
    return {
        "nomination_id": str(nomination.id),
        **outbox.competition_scope(
            competition_id=ctx_competition.id,
            organiser_locality_code=ctx_competition.organiser_locality_code,
            event_id=nomination.event_id,
        ),
        "qualifier_competition_id": str(lower.id),
        "qualifier_event_id": str(nomination.qualifier_event_id),
        "qualifier_organiser_locality_code": lower.organiser_locality_code,
        "locality_code": nomination.locality_code,
        "worker_id": str(nomination.worker_id),
        "rank": nomination.rank,
        "status": nomination.status.value,
        "reason": nomination.reason,
        "entry_id": str(nomination.entry_id) if nomination.entry_id else None,
    }


def emit(
    session: AsyncSession,
    event_type: str,
    nomination: Nomination,
    competition: Competition,
    lower: Competition,
) -> None:
    outbox.emit(
        session,
        service=SERVICE,
        type=event_type,
        subject=f"nomination:{nomination.id}",
        data=event_data(nomination, competition, lower),
    )


async def change(
    session: AsyncSession,
    nomination: Nomination,
    competition: Competition,
    lower: Competition,
    to: NominationStatus,
    principal: Principal,
    *,
    reason: str | None,
    event_type: str | None,
) -> Nomination:
    """Move a (locked) nomination to `to`, with its audit row and webhook."""
    before = nomination.status
    nomination.status = to
    nomination.reason = reason
    nomination.version += 1
    now = datetime.now(UTC)
    if to is NominationStatus.submitted:
        nomination.submitted_at = now
    if to in (NominationStatus.accepted, NominationStatus.returned):
        nomination.decided_at, nomination.decided_by = now, principal.sub
    await session.flush()
    await session.refresh(nomination)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action=f"nomination.{to.value}",
        entity_type="nomination",
        entity_id=nomination.id,
        before={"status": before.value},
        after={
            "status": to.value,
            "reason": reason,
            "entry_id": nomination.entry_id and str(nomination.entry_id),
        },
    )
    if event_type:
        emit(session, event_type, nomination, competition, lower)
    return nomination


def _expect(nomination: Nomination, allowed: tuple[NominationStatus, ...], what: str) -> None:
    if nomination.status not in allowed:
        raise Conflict(
            f"A nomination that is {nomination.status.value} cannot be {what}.",
            current_status=nomination.status.value,
        )


async def submit(
    session: AsyncSession, ctx: QualifierContext, principal: Principal
) -> list[Nomination]:
    """Submit the qualifier's draft nominations before the deadline (`ctx` locked and checked
    by the route)."""
    check_nominations_open(await load_pathway(session, ctx.event.id), "submitting is")
    drafts = list(
        await session.scalars(
            select(Nomination)
            .where(
                Nomination.qualifier_id == ctx.qualifier.id,
                Nomination.status == NominationStatus.draft,
            )
            .order_by(Nomination.rank, Nomination.id)
            .with_for_update()
        )
    )
    if not drafts:
        raise Conflict("There is no draft nomination to submit: confirm nominees first.")
    counts = await live_counts(session, ctx.qualifier, ctx.qualifier.quota_basis)
    over = {g: n for g, n in counts.items() if n > ctx.qualifier.quota}
    if over:
        raise Conflict(
            f"More nominations than the quota ({ctx.qualifier.quota}) in "
            f"{', '.join(sorted(over))}: withdraw some first.",
            errors=[FieldError(field="quota", message=f"at most {ctx.qualifier.quota}")],
        )
    out = []
    for nomination in drafts:
        out.append(
            await change(
                session,
                nomination,
                ctx.competition,
                ctx.qualifier_competition,
                NominationStatus.submitted,
                principal,
                reason=None,
                event_type="nomination.submitted",
            )
        )
    return out


async def return_nomination(
    session: AsyncSession, ctx: NominationContext, reason: str, principal: Principal
) -> Nomination:
    require_side(principal, ctx, "higher")
    _expect(ctx.nomination, (NominationStatus.submitted,), "returned")
    return await change(
        session,
        ctx.nomination,
        ctx.competition,
        ctx.qualifier_competition,
        NominationStatus.returned,
        principal,
        reason=reason,
        event_type="nomination.returned",
    )


async def withdraw(
    session: AsyncSession, ctx: NominationContext, reason: str, principal: Principal
) -> Nomination:
    require_side(principal, ctx, "qualifier")
    _expect(ctx.nomination, (NominationStatus.draft, NominationStatus.submitted), "withdrawn")
    return await change(
        session,
        ctx.nomination,
        ctx.competition,
        ctx.qualifier_competition,
        NominationStatus.withdrawn,
        principal,
        reason=reason,
        event_type="nomination.withdrawn",
    )


def visible_clause(principal: Principal, competition: Competition) -> ColumnElement[bool]:
    """The nominations of a higher event the caller sees: all for its organisers, those of
    the qualifiers it organises for a qualifier's organisers, their own for a worker."""
    if organiser_covers(principal, competition) or (
        principal.role is Role.integration and principal.has_scope("internal")
    ):
        return true()
    if principal.role is Role.worker:
        return Nomination.worker_id == principal.worker_id
    lower = aliased(Competition)
    return Nomination.qualifier_competition_id.in_(
        select(lower.id).where(
            scope_clause(principal, lower.organiser_locality_code, lower.organiser_enterprise_id)
        )
    )


async def list_nominations(
    session: AsyncSession,
    event_id: uuid.UUID,
    competition: Competition,
    principal: Principal,
    *,
    status: NominationStatus | None,
    qualifier_id: uuid.UUID | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Nomination]:
    stmt = select(Nomination).where(
        Nomination.event_id == event_id, visible_clause(principal, competition)
    )
    if status is not None:
        stmt = stmt.where(Nomination.status == status)
    if qualifier_id is not None:
        stmt = stmt.where(Nomination.qualifier_id == qualifier_id)
    return await paginate(
        session,
        stmt,
        order_by=[Nomination.created_at, Nomination.id],
        limit=limit,
        cursor=cursor,
        transform=present,
    )
