"""Stages of an event: their rules, entries, blind codes and the advancement between them."""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.competitions.access import check_organiser_scope, organiser_covers
from services.competitions.stages import schemas
from shared import audit, outbox
from shared.auth.principal import Principal, Role
from shared.concurrency import check_if_match
from shared.db import get_or_404
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound, RuleViolation
from shared.models.competitions import (
    Advancement,
    AdvancementOverride,
    AdvancementRule,
    Competition,
    Entry,
    EntryStatus,
    Event,
    Stage,
    StageComponent,
    StageEntry,
    StageEntryStatus,
    StageStatus,
)
from shared.pagination import Page, paginate, paginate_rows

SERVICE = "competitions"
#: No 0/O, 1/I, 2/Z, 5/S, 6/G, 8/B: codes are read aloud and copied by hand.
BLIND_ALPHABET = "ACDEFHJKLMNPRTUVWXY3479"
BLIND_CODE_LENGTH = 6
#: Entries of the event that take part in its first stage.
SEEDED_STATUSES = (EntryStatus.approved, EntryStatus.checked_in)
REVEALED = (StageStatus.judged, StageStatus.advanced)


# --- loading and authorisation ------------------------------------------------------------


async def get_stage(session: AsyncSession, stage_id: uuid.UUID, *, lock: bool = False) -> Stage:
    return await get_or_404(session, Stage, stage_id, "stage", for_update=lock)


async def _competition(session: AsyncSession, competition_id: uuid.UUID) -> Competition:
    return await get_or_404(session, Competition, competition_id, "competition")


async def check_manager(
    session: AsyncSession, principal: Principal, competition_id: uuid.UUID
) -> None:
    """Admins, organisers whose scope covers the competition, and machine clients that passed
    the endpoint's scope check (judging, with `internal`) may manage a competition's stages."""
    if principal.role in (Role.admin, Role.integration):
        return
    competition = await _competition(session, competition_id)
    check_organiser_scope(principal, competition)


async def check_reader(session: AsyncSession, principal: Principal, stage: Stage) -> None:
    """Stage entries are read by admins, organisers in scope, judges and machine clients."""
    if principal.role in (Role.admin, Role.judge, Role.integration):
        return
    if principal.role is Role.organiser:
        competition = await _competition(session, stage.competition_id)
        check_organiser_scope(principal, competition)
        return
    raise Forbidden(f"Role {principal.role.value} may not read the entries of a stage.")


# --- stages -------------------------------------------------------------------------------


def _check_rule(rule: AdvancementRule | None, value: Decimal | None) -> None:
    def bad(field: str, message: str) -> InvalidInput:
        return InvalidInput(
            f"{field}: {message}", errors=[FieldError(field=field, message=message)]
        )

    if rule is None:
        if value is not None:
            raise bad("advancement_value", "only meaningful with an advancement_rule")
        return
    if value is None:
        raise bad("advancement_value", f"required with advancement_rule {rule.value}")
    if rule in (AdvancementRule.top_n, AdvancementRule.top_n_per_locality):
        if value != value.to_integral_value() or value < 1:
            raise bad("advancement_value", f"{rule.value} needs a whole number N >= 1")
    elif rule is AdvancementRule.top_percent:
        if not 0 < value <= 100:
            raise bad("advancement_value", "top_percent needs a percentage 0 < p <= 100")
    elif value < 0:
        raise bad("advancement_value", "min_score needs a score >= 0")


async def _check_order(
    session: AsyncSession,
    event_id: uuid.UUID,
    stage_id: uuid.UUID | None,
    seq: int,
    rule: AdvancementRule | None,
) -> None:
    """Seq is unique in the event; every stage but the last has an advancement rule."""
    others = (
        await session.scalars(select(Stage).where(Stage.event_id == event_id, Stage.id != stage_id))
    ).all()
    clash = next((s for s in others if s.seq == seq), None)
    if clash is not None:
        raise Conflict(
            f"Stage seq {seq} is taken in this event by stage '{clash.name}' ({clash.id}).",
            rule="stage_seq_unique",
        )
    later = [s for s in others if s.seq > seq]
    if rule is None and later:
        raise InvalidInput(
            f"advancement_rule is required: stage '{later[0].name}' follows this one.",
            errors=[FieldError(field="advancement_rule", message="required unless last stage")],
        )
    earlier_open = [s for s in others if s.seq < seq and s.advancement_rule is None]
    if earlier_open:
        s = earlier_open[0]
        raise Conflict(
            f"Stage '{s.name}' (seq {s.seq}) has no advancement rule; set one before placing a "
            "stage after it.",
            rule="advancement_rule_required",
        )


def _check_dates(stage_like: Any) -> None:
    if stage_like.starts_on and stage_like.ends_on and stage_like.ends_on < stage_like.starts_on:
        raise InvalidInput(
            "ends_on is before starts_on.",
            errors=[FieldError(field="ends_on", message="must not be before starts_on")],
        )


def _snapshot(stage: Stage) -> dict[str, Any]:
    return schemas.Stage.model_validate(stage).model_dump(mode="json")


async def create_stage(
    session: AsyncSession, event_id: uuid.UUID, data: schemas.StageCreate, principal: Principal
) -> Stage:
    # The event row lock serialises stage creation per event (seq and rule checks).
    event = await get_or_404(session, Event, event_id, "event", for_update=True)
    await check_manager(session, principal, event.competition_id)
    _check_rule(data.advancement_rule, data.advancement_value)
    _check_dates(data)
    await _check_order(session, event.id, None, data.seq, data.advancement_rule)
    values = data.model_dump()
    values["components"] = [c.model_dump(mode="json") for c in data.components]
    stage = Stage(**values, competition_id=event.competition_id, event_id=event.id)
    await audit.add_created(
        session,
        stage,
        service=SERVICE,
        principal=principal,
        action="stage.create",
        entity_type="stage",
        after=lambda: _snapshot(stage),
    )
    return stage


async def list_stages(
    session: AsyncSession, event_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[schemas.Stage]:
    await get_or_404(session, Event, event_id, "event")
    return await paginate(
        session,
        select(Stage).where(Stage.event_id == event_id),
        order_by=[Stage.seq, Stage.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.Stage.model_validate,
    )


#: Fields fixed once the stage has been advanced: the result was computed with them.
RULE_FIELDS = ("advancement_rule", "advancement_value", "seq", "components")


async def update_stage(
    session: AsyncSession,
    stage_id: uuid.UUID,
    data: schemas.StageUpdate,
    if_match: str | None,
    principal: Principal,
) -> Stage:
    stage = await get_stage(session, stage_id, lock=True)
    await check_manager(session, principal, stage.competition_id)
    check_if_match(if_match, stage.version)
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "seq", "components"):
        if required in changes and changes[required] is None:
            raise InvalidInput(
                f"{required} cannot be null.",
                errors=[FieldError(field=required, message="cannot be null")],
            )
    if "components" in changes:
        changes["components"] = [c.model_dump(mode="json") for c in data.components or []]
    changed = {k: v for k, v in changes.items() if getattr(stage, k) != v}
    if stage.status is StageStatus.advanced:
        fixed = [k for k in RULE_FIELDS if k in changed]
        if fixed:
            raise Conflict(
                f"The stage has been advanced; {', '.join(fixed)} can no longer change.",
                rule="stage_advanced",
            )
    before = _snapshot(stage)
    rule = changes.get("advancement_rule", stage.advancement_rule)
    value = changes.get("advancement_value", stage.advancement_value)
    if "advancement_rule" in changes and changes["advancement_rule"] is None:
        value = changes.get("advancement_value")  # clearing the rule clears its value
        changes["advancement_value"] = value
    _check_rule(rule, value)
    for key, new in changes.items():
        setattr(stage, key, new)
    _check_dates(stage)
    await _check_order(session, stage.event_id, stage.id, stage.seq, stage.advancement_rule)
    if changed:
        stage.version += 1
        await session.flush()
        await session.refresh(stage)
        audit.record(
            session,
            service=SERVICE,
            principal=principal,
            action="stage.update",
            entity_type="stage",
            entity_id=stage.id,
            before=before,
            after=_snapshot(stage),
        )
    return stage


async def _count_entries(session: AsyncSession, stage_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(StageEntry).where(StageEntry.stage_id == stage_id)
        )
        or 0
    )


async def seed_entries(
    session: AsyncSession, stage_id: uuid.UUID, principal: Principal
) -> schemas.SeedResult:
    stage = await get_stage(session, stage_id, lock=True)
    await check_manager(session, principal, stage.competition_id)
    first = await session.scalar(
        select(func.min(Stage.seq)).where(Stage.event_id == stage.event_id)
    )
    if stage.seq != first:
        raise Conflict(
            "Only the first stage of an event is seeded from its entries; later stages receive "
            "theirs by advancement.",
            rule="seed_first_stage_only",
        )
    if stage.status in REVEALED:
        raise Conflict(f"The stage is {stage.status.value}; it takes no new entries.")
    entry_ids = (
        await session.scalars(
            select(Entry.id)
            .where(Entry.event_id == stage.event_id, Entry.status.in_(SEEDED_STATUSES))
            .order_by(Entry.created_at, Entry.id)
        )
    ).all()
    added: list[uuid.UUID] = []
    if entry_ids:
        added = list(
            (
                await session.scalars(
                    insert(StageEntry)
                    .values([{"stage_id": stage.id, "entry_id": e} for e in entry_ids])
                    .on_conflict_do_nothing(constraint="uq_stage_entries_stage_entry")
                    .returning(StageEntry.entry_id)
                )
            ).all()
        )
    total = await _count_entries(session, stage.id)
    if added:
        audit.record(
            session,
            service=SERVICE,
            principal=principal,
            action="stage.seed_entries",
            entity_type="stage",
            entity_id=stage.id,
            after={"added_entry_ids": [str(e) for e in added], "total": total},
        )
    return schemas.SeedResult(stage_id=stage.id, added=len(added), total=total)


# --- advancement --------------------------------------------------------------------------


async def create_override(
    session: AsyncSession, stage_id: uuid.UUID, data: schemas.OverrideCreate, principal: Principal
) -> AdvancementOverride:
    stage = await get_stage(session, stage_id, lock=True)
    await check_manager(session, principal, stage.competition_id)
    if stage.status is StageStatus.advanced:
        raise Conflict(
            "The stage has been advanced; overrides can no longer change the result.",
            rule="stage_advanced",
        )
    in_stage = await session.scalar(
        select(StageEntry.id).where(
            StageEntry.stage_id == stage.id, StageEntry.entry_id == data.entry_id
        )
    )
    if in_stage is None:
        raise RuleViolation(
            f"Entry {data.entry_id} does not take part in this stage.",
            errors=[FieldError(field="entry_id", message="not an entry of this stage")],
        )
    override = await session.scalar(
        select(AdvancementOverride).where(
            AdvancementOverride.stage_id == stage.id,
            AdvancementOverride.entry_id == data.entry_id,
        )
    )
    before = None
    if override is None:
        override = AdvancementOverride(
            stage_id=stage.id,
            entry_id=data.entry_id,
            include=data.include,
            reason=data.reason,
            decided_by=principal.sub,
        )
        session.add(override)
    else:  # a later decision about the same entry replaces the earlier one
        before = schemas.Override.model_validate(override).model_dump(mode="json")
        override.include = data.include
        override.reason = data.reason
        override.decided_by = principal.sub
    await session.flush()
    await session.refresh(override)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="stage.advancement_override",
        entity_type="advancement_override",
        entity_id=override.id,
        before=before,
        after=schemas.Override.model_validate(override).model_dump(mode="json"),
    )
    return override


async def list_overrides(session: AsyncSession, stage_id: uuid.UUID) -> list[AdvancementOverride]:
    await get_stage(session, stage_id)
    return list(
        (
            await session.scalars(
                select(AdvancementOverride)
                .where(AdvancementOverride.stage_id == stage_id)
                .order_by(AdvancementOverride.created_at, AdvancementOverride.id)
            )
        ).all()
    )


def _request_hash(data: schemas.AdvancementApply) -> str:
    ranking = sorted(
        (str(r.entry_id), r.rank, str(r.score.quantize(Decimal("0.001")))) for r in data.ranking
    )
    raw = json.dumps({"next_stage_id": str(data.next_stage_id), "ranking": ranking})
    return hashlib.sha256(raw.encode()).hexdigest()


def qualify_by_rule(
    rule: AdvancementRule,
    value: Decimal,
    ranking: list[schemas.RankedEntry],
    localities: dict[uuid.UUID, str],
) -> set[uuid.UUID]:
    """The entries a rule qualifies; ties at a boundary rank all qualify."""
    if rule is AdvancementRule.top_n:
        return {r.entry_id for r in ranking if r.rank <= value}
    if rule is AdvancementRule.top_percent:
        places = math.ceil(value * len(ranking) / 100)
        return {r.entry_id for r in ranking if r.rank <= places}
    if rule is AdvancementRule.min_score:
        return {r.entry_id for r in ranking if r.score >= value}
    # top_n_per_locality: the rank within the entry's locality (a regional quota of N).
    by_locality: dict[str, list[schemas.RankedEntry]] = defaultdict(list)
    for r in ranking:
        by_locality[localities[r.entry_id]].append(r)
    qualified: set[uuid.UUID] = set()
    for group in by_locality.values():
        for r in group:
            local_rank = 1 + sum(1 for other in group if other.rank < r.rank)
            if local_rank <= value:
                qualified.add(r.entry_id)
    return qualified


async def _advancement_view(
    session: AsyncSession, stage: Stage, advancement: Advancement
) -> schemas.Advancement:
    overrides = await list_overrides(session, stage.id)
    # Fixed once advanced (update_stage refuses to change them).
    assert stage.advancement_rule is not None
    assert stage.advancement_value is not None
    return schemas.Advancement(
        id=advancement.id,
        stage_id=stage.id,
        next_stage_id=advancement.next_stage_id,
        advancement_rule=stage.advancement_rule,
        advancement_value=stage.advancement_value,
        ranking=[schemas.RankedEntry.model_validate(r) for r in advancement.ranking],
        qualified_entry_ids=[uuid.UUID(e) for e in advancement.qualified],
        included_by_override=[o.entry_id for o in overrides if o.include],
        excluded_by_override=[o.entry_id for o in overrides if not o.include],
        applied_by=advancement.applied_by,
        created_at=advancement.created_at,
    )


async def apply_advancement(
    session: AsyncSession,
    stage_id: uuid.UUID,
    data: schemas.AdvancementApply,
    principal: Principal,
) -> tuple[schemas.Advancement, bool]:
    """Apply the stage's rule and overrides to a ranking; returns (record, created)."""
    stage = await get_stage(session, stage_id, lock=True)
    await check_manager(session, principal, stage.competition_id)
    request_hash = _request_hash(data)
    existing = await session.scalar(select(Advancement).where(Advancement.stage_id == stage.id))
    if existing is not None:
        if existing.request_hash != request_hash:
            raise Conflict(
                "This stage was already advanced with a different ranking or next stage; "
                "an advancement is final.",
                rule="advancement_final",
                advancement_id=str(existing.id),
            )
        return await _advancement_view(session, stage, existing), False

    seen: set[uuid.UUID] = set()
    for i, r in enumerate(data.ranking):
        if r.entry_id in seen:
            raise InvalidInput(
                f"Entry {r.entry_id} is ranked twice.",
                errors=[FieldError(field=f"ranking[{i}].entry_id", message="ranked twice")],
            )
        seen.add(r.entry_id)
    if stage.advancement_rule is None or stage.advancement_value is None:
        raise Conflict(
            f"Stage '{stage.name}' has no advancement rule (it is the last stage).",
            rule="advancement_rule_required",
        )
    next_stage = await session.get(Stage, data.next_stage_id)
    if next_stage is None or next_stage.event_id != stage.event_id or next_stage.seq <= stage.seq:
        raise RuleViolation(
            "The next stage must be a stage of the same event with a higher seq.",
            errors=[
                FieldError(field="next_stage_id", message="not a later stage of this stage's event")
            ],
        )

    rows = (
        await session.execute(
            select(StageEntry, Entry.locality_code)
            .join(Entry, Entry.id == StageEntry.entry_id)
            .where(StageEntry.stage_id == stage.id)
            .with_for_update(of=StageEntry)
        )
    ).all()
    active = {se.entry_id: se for se, _ in rows if se.status is StageEntryStatus.active}
    localities = {se.entry_id: code for se, code in rows}
    unknown = [(i, r.entry_id) for i, r in enumerate(data.ranking) if r.entry_id not in active]
    if unknown:
        raise RuleViolation(
            f"{len(unknown)} ranked entr{'y is' if len(unknown) == 1 else 'ies are'} not active "
            "in this stage: " + ", ".join(str(e) for _, e in unknown[:20]),
            errors=[
                FieldError(field=f"ranking[{i}].entry_id", message="not an active entry of stage")
                for i, _ in unknown
            ],
            unknown_entry_ids=[str(e) for _, e in unknown],
        )

    qualified = qualify_by_rule(
        stage.advancement_rule, stage.advancement_value, data.ranking, localities
    )
    overrides = {o.entry_id: o for o in await list_overrides(session, stage.id)}
    for entry_id, o in overrides.items():
        if o.include:
            qualified.add(entry_id)
        else:
            qualified.discard(entry_id)
    qualified &= set(active)  # an override about an entry no longer active has no effect

    ranked = {r.entry_id: r for r in data.ranking}
    for entry_id, se in active.items():
        result = ranked.get(entry_id)
        se.rank = result.rank if result else None
        se.score = result.score if result else None
        se.status = (
            StageEntryStatus.advanced if entry_id in qualified else StageEntryStatus.eliminated
        )
        decision = overrides.get(entry_id)
        if decision is not None:
            se.by_override = decision.include
            se.override_reason = decision.reason
    order = sorted(
        qualified,
        key=lambda e: (ranked[e].rank if e in ranked else math.inf, str(e)),
    )
    if order:
        await session.execute(
            insert(StageEntry)
            .values(
                [
                    {
                        "stage_id": next_stage.id,
                        "entry_id": e,
                        "by_override": e in overrides and overrides[e].include,
                        "override_reason": overrides[e].reason
                        if e in overrides and overrides[e].include
                        else None,
                    }
                    for e in order
                ]
            )
            .on_conflict_do_nothing(constraint="uq_stage_entries_stage_entry")
        )
    advancement = Advancement(
        stage_id=stage.id,
        next_stage_id=next_stage.id,
        request_hash=request_hash,
        ranking=[r.model_dump(mode="json") for r in data.ranking],
        qualified=[str(e) for e in order],
        applied_by=principal.sub,
    )
    session.add(advancement)
    stage.status = StageStatus.advanced
    stage.version += 1
    await session.flush()
    await session.refresh(advancement)
    view = await _advancement_view(session, stage, advancement)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="stage.advance",
        entity_type="stage",
        entity_id=stage.id,
        after=view.model_dump(mode="json", exclude={"ranking"}),
    )
    outbox.emit(
        session,
        service=SERVICE,
        type="stage.advanced",
        subject=f"stage:{stage.id}",
        data=schemas.StageAdvancedData(
            stage_id=stage.id,
            next_stage_id=next_stage.id,
            event_id=stage.event_id,
            competition_id=stage.competition_id,
            organiser_locality_code=await _organiser_locality(session, stage.competition_id),
            qualified_count=len(order),
        ).model_dump(mode="json"),
    )
    return view, True


async def _organiser_locality(session: AsyncSession, competition_id: uuid.UUID) -> str:
    """For webhook payloads: subscriptions filtered by locality match the organiser's."""
    code: str = (
        await session.execute(
            select(Competition.organiser_locality_code).where(Competition.id == competition_id)
        )
    ).scalar_one()
    return code


async def get_advancement(session: AsyncSession, stage_id: uuid.UUID) -> schemas.Advancement:
    stage = await get_stage(session, stage_id)
    advancement = await session.scalar(select(Advancement).where(Advancement.stage_id == stage.id))
    if advancement is None:
        raise NotFound(f"Stage {stage_id} has not been advanced yet.")
    return await _advancement_view(session, stage, advancement)


async def lock_stage(session: AsyncSession, stage_id: uuid.UUID, principal: Principal) -> Stage:
    """Judging locked the scores: the blind-code mapping may now be revealed."""
    stage = await get_stage(session, stage_id, lock=True)
    if stage.status in REVEALED:
        return stage  # idempotent: judging may retry
    before = _snapshot(stage)
    stage.status = StageStatus.judged
    stage.version += 1
    await session.flush()
    await session.refresh(stage)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="stage.lock",
        entity_type="stage",
        entity_id=stage.id,
        before=before,
        after=_snapshot(stage),
    )
    return stage


# --- blind codes --------------------------------------------------------------------------


def _new_code(taken: set[str]) -> str:
    while True:  # 23^6 ≈ 148 million codes: a collision is rare, so just draw again
        code = "".join(secrets.choice(BLIND_ALPHABET) for _ in range(BLIND_CODE_LENGTH))
        if code not in taken:
            taken.add(code)
            return code


async def assign_blind_codes(
    session: AsyncSession, stage_id: uuid.UUID, principal: Principal
) -> schemas.BlindCodeResult:
    stage = await get_stage(session, stage_id, lock=True)
    await check_manager(session, principal, stage.competition_id)
    if stage.status in REVEALED:
        raise Conflict(
            f"The stage is {stage.status.value}; blind codes can no longer change.",
            rule="stage_judged",
        )
    entries = (
        await session.scalars(
            select(StageEntry).where(StageEntry.stage_id == stage.id).with_for_update()
        )
    ).all()
    practical = any(c["component"] == StageComponent.practical for c in stage.components)
    taken = {e.blind_code for e in entries if e.blind_code}
    rng = secrets.SystemRandom()
    free = sorted(set(range(1, len(entries) + 1)) - {e.workstation_no for e in entries})
    rng.shuffle(free)
    assigned = 0
    for se in rng.sample(list(entries), len(entries)):
        if se.blind_code is None:
            se.blind_code = _new_code(taken)
            assigned += 1
        if practical and se.workstation_no is None:
            se.workstation_no = free.pop()
    if assigned:
        await session.flush()
        audit.record(
            session,
            service=SERVICE,
            principal=principal,
            action="stage.assign_blind_codes",
            entity_type="stage",
            entity_id=stage.id,
            # The mapping itself is not copied into the log: the audit log is widely readable.
            after={"assigned": assigned, "total": len(entries), "workstations": practical},
        )
    return schemas.BlindCodeResult(
        stage_id=stage.id, assigned=assigned, total=len(entries), workstations=practical
    )


async def list_stage_entries(
    session: AsyncSession,
    stage: Stage,
    principal: Principal,
    *,
    status: StageEntryStatus | None,
    limit: int,
    cursor: str | None,
) -> Page[schemas.StageEntry]:
    await check_reader(session, principal, stage)
    # Our own services (the judging service computing conflicts of interest) need the entries
    # behind the codes; people other than admins see codes only until the stage is judged.
    internal = principal.role is Role.integration and principal.has_scope("internal")
    reveal = principal.role is Role.admin or internal or stage.status in REVEALED
    # Judges get blind codes only: a workstation number next to a code would let anyone at
    # the venue match the code to the person at that workstation.
    blind = principal.role is Role.judge
    stmt = (
        select(StageEntry, Entry.worker_id)
        .join(Entry, Entry.id == StageEntry.entry_id)
        .where(StageEntry.stage_id == stage.id)
    )
    if status is not None:
        stmt = stmt.where(StageEntry.status == status)

    def view(row: Any) -> schemas.StageEntry:
        se, worker_id = row
        return schemas.StageEntry(
            id=se.id,
            stage_id=se.stage_id,
            blind_code=se.blind_code,
            workstation_no=None if blind else se.workstation_no,
            status=se.status,
            rank=se.rank,
            score=se.score,
            by_override=se.by_override,
            entry_id=se.entry_id if reveal else None,
            worker_id=worker_id if reveal else None,
        )

    # Rows seeded together share created_at, so within a seeding the order is the random id.
    return await paginate_rows(
        session,
        stmt,
        order_by=[StageEntry.created_at, StageEntry.id],
        limit=limit,
        cursor=cursor,
        key=lambda row: (row[0].created_at, row[0].id),
        transform=view,
    )


async def blind_code_mapping(
    session: AsyncSession, stage_id: uuid.UUID, principal: Principal
) -> list[schemas.BlindCodeMapping]:
    stage = await get_stage(session, stage_id)
    if principal.role is not Role.admin:
        competition = await _competition(session, stage.competition_id)
        if not (stage.status in REVEALED and organiser_covers(principal, competition)):
            raise Forbidden(
                "The blind-code mapping is for admins; organisers of the competition see it once "
                "judging has locked the stage."
            )
    rows = (
        await session.execute(
            select(StageEntry, Entry)
            .join(Entry, Entry.id == StageEntry.entry_id)
            .where(StageEntry.stage_id == stage.id, StageEntry.blind_code.is_not(None))
            .order_by(StageEntry.blind_code)
        )
    ).all()
    return [
        schemas.BlindCodeMapping(
            blind_code=se.blind_code,
            workstation_no=se.workstation_no,
            stage_entry_id=se.id,
            entry_id=entry.id,
            worker_id=entry.worker_id,
            team_name=entry.team_name,
            locality_code=entry.locality_code,
        )
        for se, entry in rows
    ]
