"""The nomination flows that read other services: a qualifier's final results from judging,
the nominees' eligibility facts from the registry.

- `suggestions`: the ranking of the qualifier's final results, placed within the quota
  (`ranking.place`), each worker who may not be nominated skipped with the reasons;
- `confirm`: the qualifier's organisers nominate suggested workers (or reserves tied at the
  boundary), within the quota, as drafts;
- `substitute`: a nominee declines or is unavailable: marked declined with the reason, and the
  next in rank of the same quota group is nominated in their place (submitted at once when the
  declined nomination had been);
- `accept`: the higher event's organisers accept a submitted nomination: an entry of the higher
  event is made with its eligibility rules checked again (a 422 naming each failed rule, and
  nothing written).

Remote reads come first, our writes after them, in the request's one transaction: a judging or
registry failure leaves nothing behind. The qualifier row is locked (by the route's loader), so
two organisers nominating from one qualifier at once are serialised; the unique index
`uq_nominations_competition_worker` keeps a worker to one live nomination per competition
whatever path races.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.competitions.competitions.service import SERVICE
from services.competitions.entries.service import Candidate, admit, evaluate, fetch_facts
from services.competitions.events.service import load_event
from services.competitions.nominations import ranking, schemas
from services.competitions.nominations.service import (
    NominationContext,
    change,
    emit,
    require_side,
)
from services.competitions.pathways.service import (
    STARTED,
    QualifierContext,
    check_nominations_open,
    group_key,
    load_pathway,
    qualified_elsewhere,
)
from shared import audit
from shared.auth.principal import Principal
from shared.clients import JudgingClient, RegistryClient
from shared.errors import Conflict, FieldError, RuleViolation
from shared.models.competitions import (
    Entry,
    EntryStatus,
    Nomination,
    NominationStatus,
    Stage,
)
from shared.models.competitions.pathways import LIVE_NOMINATIONS

#: Earlier nominations that keep a worker from being nominated again by the same qualifier.
FINAL_REFUSALS = (NominationStatus.declined, NominationStatus.returned)
#: Entries still in the qualifier's results (a disqualified or withdrawn one is not nominated).
COMPETING = (EntryStatus.approved, EntryStatus.checked_in)


async def _results_stage(session: AsyncSession, ctx: QualifierContext) -> uuid.UUID:
    if ctx.qualifier.qualifier_stage_id is not None:
        return ctx.qualifier.qualifier_stage_id
    last = await session.scalar(
        select(Stage.id)
        .where(Stage.event_id == ctx.qualifier.qualifier_event_id)
        .order_by(Stage.seq.desc())
        .limit(1)
    )
    if last is None:
        raise Conflict("The qualifier event has no stage yet: there are no results to rank.")
    return last


async def _final_board(
    session: AsyncSession, judging: JudgingClient, token: str, ctx: QualifierContext
) -> tuple[uuid.UUID, dict[str, Any]]:
    stage_id = await _results_stage(session, ctx)
    board = await judging.get_leaderboard(stage_id, token=token)
    if board is None:
        raise Conflict(
            f"The qualifier's results (stage {stage_id}) are not published yet.",
            stage_id=str(stage_id),
        )
    if board["status"] != "final":
        raise Conflict(
            f"The qualifier's results (stage {stage_id}) are {board['status']}: nominations "
            "wait until they are final (appeals closed).",
            stage_id=str(stage_id),
            results_status=board["status"],
        )
    return stage_id, board


async def _placings(
    session: AsyncSession,
    judging: JudgingClient,
    registry: RegistryClient,
    token: str,
    ctx: QualifierContext,
) -> tuple[uuid.UUID, int, list[ranking.Placing], dict[uuid.UUID, Nomination]]:
    """The qualifier's final ranking placed within the quota, and the qualifier's
    nominations by worker (the latest of each)."""
    stage_id, board = await _final_board(session, judging, token, ctx)
    ranks = {
        uuid.UUID(e["entry_id"]): (e["rank"], e.get("score"))
        for e in board["entries"]
        if e.get("entry_id")
    }
    entries = {
        e.id: e
        for e in await session.scalars(select(Entry).where(Entry.id.in_(list(ranks))))
        if e.worker_id is not None and e.event_id == ctx.qualifier.qualifier_event_id
    }
    ranked = [
        ranking.Ranked(
            entry_id=e.id,
            worker_id=e.worker_id,
            enterprise_id=e.enterprise_id,
            locality_code=e.locality_code,
            rank=int(ranks[e.id][0]),
            score=Decimal(str(ranks[e.id][1])) if ranks[e.id][1] is not None else None,
        )
        for e in entries.values()
        if e.worker_id is not None
    ]
    workers = [r.worker_id for r in ranked]
    own: dict[uuid.UUID, Nomination] = {}
    for n in await session.scalars(
        select(Nomination)
        .where(Nomination.qualifier_id == ctx.qualifier.id)
        .order_by(Nomination.created_at, Nomination.id)
    ):
        own[n.worker_id] = n  # the latest wins
    held = {w for w, n in own.items() if n.status in LIVE_NOMINATIONS}
    skipped: dict[uuid.UUID, list[ranking.Skip]] = {}

    def skip(worker_id: uuid.UUID, rule: str, message: str) -> None:
        skipped.setdefault(worker_id, []).append(ranking.Skip(rule, message))

    for worker_id, n in own.items():
        # A declined or returned nominee is not put forward again; a withdrawal was the
        # qualifier's own decision, which it may reverse.
        if worker_id not in held and n.status in FINAL_REFUSALS:
            skip(worker_id, "earlier_nomination", f"nomination {n.status.value}: {n.reason}")
    for r in ranked:
        if entries[r.entry_id].status not in COMPETING and r.worker_id not in held:
            skip(r.worker_id, "entry_status", f"entry {entries[r.entry_id].status.value}")
    elsewhere = await qualified_elsewhere(session, ctx.competition.id, workers)
    for worker_id, why in elsewhere.items():
        if worker_id not in held:
            skip(worker_id, "already_qualified", why)
    # The higher event's rules, on the registry's facts (our own token: the qualifier's
    # organisers may not read every competitor's file, and nothing here is shown beyond them).
    candidates = [Candidate(members=[w]) for w in workers if w not in held]
    if candidates:
        facts, missing = await fetch_facts(registry, token, candidates)
        for candidate in candidates:
            evaluate(ctx.event, ctx.competition, candidate, facts, missing)
            for failure in candidate.failures:
                skip(candidate.leader, failure.rule, failure.message)
    basis = ctx.qualifier.quota_basis
    placings = ranking.place(
        ranked,
        quota=ctx.qualifier.quota,
        group_of=lambda r: group_key(basis, r.locality_code, r.enterprise_id),
        held=held,
        skipped=skipped,
    )
    return stage_id, int(board["version"]), placings, own


async def suggestions(
    session: AsyncSession,
    judging: JudgingClient,
    registry: RegistryClient,
    token: str,
    ctx: QualifierContext,
) -> schemas.Suggestions:
    stage_id, version, placings, own = await _placings(session, judging, registry, token, ctx)
    items = []
    for p in placings:
        n = own.get(p.ranked.worker_id)
        items.append(
            schemas.Suggestion(
                rank=p.ranked.rank,
                entry_id=p.ranked.entry_id,
                worker_id=p.ranked.worker_id,
                enterprise_id=p.ranked.enterprise_id,
                locality_code=p.ranked.locality_code,
                score=p.ranked.score,
                quota_group=p.group,
                outcome=p.outcome,
                skipped_because=[
                    schemas.SkipReason(rule=s.rule, message=s.message) for s in p.skips
                ],
                boundary_tie=p.boundary_tie,
                nomination_id=n.id if n else None,
                nomination_status=n.status if n else None,
            )
        )
    return schemas.Suggestions(
        qualifier_id=ctx.qualifier.id,
        event_id=ctx.event.id,
        stage_id=stage_id,
        results_version=version,
        quota=ctx.qualifier.quota,
        quota_basis=ctx.qualifier.quota_basis,
        boundary_ties=any(p.boundary_tie for p in placings),
        items=items,
    )


def _check_writable(ctx: QualifierContext | NominationContext) -> None:
    if ctx.competition.status in STARTED:
        raise Conflict(
            f"The higher competition is {ctx.competition.status.value}: nominations are closed."
        )


async def _insert(
    session: AsyncSession,
    ctx: QualifierContext,
    placing: ranking.Placing,
    status: NominationStatus,
    principal: Principal,
    *,
    substitute_for: Nomination | None = None,
    field: str = "entry_ids",
) -> Nomination:
    r = placing.ranked
    nomination = Nomination(
        competition_id=ctx.competition.id,
        event_id=ctx.event.id,
        qualifier_id=ctx.qualifier.id,
        qualifier_competition_id=ctx.qualifier_competition.id,
        qualifier_event_id=ctx.qualifier_event.id,
        source_entry_id=r.entry_id,
        worker_id=r.worker_id,
        enterprise_id=r.enterprise_id,
        locality_code=r.locality_code,
        rank=r.rank,
        score=r.score,
        boundary_tie=placing.boundary_tie,
        status=status,
        submitted_at=datetime.now(UTC) if status is NominationStatus.submitted else None,
        substitute_for_id=substitute_for.id if substitute_for else None,
        created_by=principal.sub,
    )
    try:
        async with session.begin_nested():
            session.add(nomination)
            await session.flush()
    except IntegrityError as exc:
        # Another qualifier nominated the worker into this competition meanwhile.
        raise Conflict(
            "The worker is already nominated into this competition (a worker is nominated into "
            "one of its events once).",
            errors=[FieldError(field=field, message="already nominated into this competition")],
        ) from exc
    await session.refresh(nomination)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="nomination.create",
        entity_type="nomination",
        entity_id=nomination.id,
        after=schemas.Nomination.model_validate(nomination).model_dump(mode="json"),
    )
    if status is NominationStatus.submitted:
        emit(
            session, "nomination.submitted", nomination, ctx.competition, ctx.qualifier_competition
        )
    return nomination


async def confirm(
    session: AsyncSession,
    judging: JudgingClient,
    registry: RegistryClient,
    token: str,
    ctx: QualifierContext,
    data: schemas.NominationCreate,
    principal: Principal,
) -> list[Nomination]:
    """Nominate the given entries as drafts (`ctx` locked and checked by the route)."""
    _check_writable(ctx)
    check_nominations_open(await load_pathway(session, ctx.event.id), "nominating is")
    _, _, placings, _ = await _placings(session, judging, registry, token, ctx)
    by_entry = {p.ranked.entry_id: p for p in placings}
    errors: list[FieldError] = []
    chosen: list[ranking.Placing] = []
    for i, entry_id in enumerate(data.entry_ids):
        p = by_entry.get(entry_id)
        field = f"entry_ids[{i}]"
        if entry_id in data.entry_ids[:i]:
            errors.append(FieldError(field=field, message="given twice"))
        elif p is None:
            errors.append(FieldError(field=field, message="not in the qualifier's final results"))
        elif p.outcome == "nominated":
            errors.append(FieldError(field=field, message="already nominated"))
        elif p.outcome == "skipped":
            errors.append(
                FieldError(
                    field=field,
                    message="; ".join(f"{s.rule}: {s.message}" for s in p.skips),
                )
            )
        elif p.outcome == "reserve" and not p.boundary_tie:
            errors.append(
                FieldError(field=field, message=f"rank {p.ranked.rank} is outside the quota")
            )
        else:
            chosen.append(p)
    if not errors:
        used: dict[str, int] = {}
        for p in placings:
            if p.outcome == "nominated":
                used[p.group] = used.get(p.group, 0) + 1
        for p in chosen:
            used[p.group] = used.get(p.group, 0) + 1
        over = sorted(g for g, n in used.items() if n > ctx.qualifier.quota)
        if over:
            errors.append(
                FieldError(
                    field="entry_ids",
                    message=f"more than the quota of {ctx.qualifier.quota} in "
                    f"{', '.join(over)} (settle the tie: nominate one of the tied)",
                )
            )
    if errors:
        raise RuleViolation(
            "These entries cannot be nominated: "
            + "; ".join(f"{e.field}: {e.message}" for e in errors),
            errors=errors,
        )
    return [
        await _insert(session, ctx, p, NominationStatus.draft, principal, field=f"entry_ids[{i}]")
        for i, p in enumerate(chosen)
    ]


async def substitute(
    session: AsyncSession,
    judging: JudgingClient,
    registry: RegistryClient,
    token: str,
    nctx: NominationContext,
    qctx: QualifierContext,
    data: schemas.Substitution,
    principal: Principal,
) -> Nomination:
    """The nominee declined or is unavailable: their nomination is declined with the reason,
    and the next in rank of the same quota group is nominated instead (`qctx` locked)."""
    require_side(principal, nctx, "qualifier")
    _check_writable(nctx)
    old = nctx.nomination
    replaceable = (NominationStatus.draft, NominationStatus.submitted, NominationStatus.returned)
    if old.status not in replaceable:
        raise Conflict(
            f"A nomination that is {old.status.value} cannot be substituted.",
            current_status=old.status.value,
        )
    if old.status is NominationStatus.draft:
        check_nominations_open(await load_pathway(session, qctx.event.id), "nominating is")
    submitted = old.status is not NominationStatus.draft
    reason = f"{data.kind}: {data.reason}"
    if old.status is not NominationStatus.returned:
        await change(
            session,
            old,
            nctx.competition,
            nctx.qualifier_competition,
            NominationStatus.declined,
            principal,
            reason=reason,
            event_type="nomination.declined",
        )
    group = group_key(qctx.qualifier.quota_basis, old.locality_code, old.enterprise_id)
    _, _, placings, _ = await _placings(session, judging, registry, token, qctx)
    nxt = next((p for p in placings if p.group == group and p.outcome == "suggested"), None)
    if nxt is None:
        raise Conflict(
            "Nobody is left in rank to take the place (everyone else is nominated, skipped or "
            "outside the quota group): withdraw the nomination instead.",
        )
    status = NominationStatus.submitted if submitted else NominationStatus.draft
    return await _insert(session, qctx, nxt, status, principal, substitute_for=old)


async def accept(
    session: AsyncSession,
    registry: RegistryClient,
    token: str,
    nctx: NominationContext,
    principal: Principal,
) -> Nomination:
    """An entry of the higher event for the nominee, its rules checked again (422 naming each
    failed rule; nothing is written then)."""
    require_side(principal, nctx, "higher")
    _check_writable(nctx)
    nomination = nctx.nomination
    if nomination.status is not NominationStatus.submitted:
        raise Conflict(
            f"A nomination that is {nomination.status.value} cannot be accepted.",
            current_status=nomination.status.value,
        )
    higher_event = await load_event(session, nomination.event_id)
    entry = await admit(
        session, registry, token, higher_event, nctx.competition, nomination.worker_id, principal
    )
    nomination.entry_id = entry.id
    return await change(
        session,
        nomination,
        nctx.competition,
        nctx.qualifier_competition,
        NominationStatus.accepted,
        principal,
        reason=None,
        event_type="nomination.accepted",
    )
