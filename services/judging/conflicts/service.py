"""Conflicts of interest between judges and the entries of a stage.

Automatic: the judge is a competitor, works for a competitor's enterprise, comes from a
competitor's city at the levels in `JUDGE_LOCAL_CONFLICT_LEVELS`, or is (or was) a competitor's
mentor or apprentice (active or completed mentorships in the registry). Declared: relations the
judge or an organiser recorded, with a worker or with an entry.

`conflicted_entries` is the one function assignment and scoring call: a conflicted judge can
never see or score that entry.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.access import (
    check_judge_reader,
    check_stage_manager,
    is_internal,
    is_own,
)
from services.judging.conflicts import schemas
from services.judging.upstream import EntryFacts, StageInfo, Upstream
from shared import audit
from shared.auth.principal import Principal, Role
from shared.db import get_or_404
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, RuleViolation
from shared.models.judging import ConflictKind, DeclaredConflict, Judge, JudgeAssignment

SERVICE = "judging"
Reasons = dict[uuid.UUID, list[schemas.ConflictReason]]
Relations = dict[uuid.UUID, tuple[str, str]]


def _city(code: str | None) -> str | None:
    """The prefecture-level part of a GB/T 2260 code (None for the province itself)."""
    if not code or code.endswith("0000"):
        return None
    return code[:4]


@dataclass
class EntryIndex:
    """The entries of a stage indexed by what conflicts look at, built once per stage, so that
    each judge costs only the entries they touch (20,000 entries x 600 judges in well under a
    second instead of 12 million comparisons)."""

    entries: list[EntryFacts]
    position: dict[uuid.UUID, int]
    by_worker: dict[uuid.UUID, list[int]]
    by_enterprise: dict[uuid.UUID, list[int]]
    by_city: dict[str, list[int]]

    @classmethod
    def build(cls, entries: Iterable[EntryFacts]) -> EntryIndex:
        listed = list(entries)
        by_worker: dict[uuid.UUID, list[int]] = defaultdict(list)
        by_enterprise: dict[uuid.UUID, list[int]] = defaultdict(list)
        by_city: dict[str, list[int]] = defaultdict(list)
        for i, entry in enumerate(listed):
            for w in entry.worker_ids:
                by_worker[w].append(i)
            for e in entry.enterprise_ids:
                by_enterprise[e].append(i)
            if city := _city(entry.locality_code):
                by_city[city].append(i)
        return cls(
            listed, {e.entry_id: i for i, e in enumerate(listed)}, by_worker, by_enterprise, by_city
        )


def reasons_for(
    judge: Judge,
    entries: Iterable[EntryFacts] | EntryIndex,
    stage: StageInfo,
    relations: Relations,
    declared: Iterable[DeclaredConflict],
    local_levels: frozenset[str],
) -> Reasons:
    """Pure: the conflicts of one judge with each entry, entries without any left out (in the
    entries' order)."""
    index = entries if isinstance(entries, EntryIndex) else EntryIndex.build(entries)
    declared_workers = {d.worker_id: d for d in declared if d.worker_id}
    declared_entries = {d.entry_id: d for d in declared if d.entry_id}
    found: dict[int, list[schemas.ConflictReason]] = defaultdict(list)

    def add(positions: Iterable[int], kind: ConflictKind, detail: str) -> None:
        # One reason shared by every entry it applies to: a judge's city alone may conflict
        # with a thousand entries.
        reason = schemas.ConflictReason(kind=kind, detail=detail)
        for i in positions:
            found[i].append(reason)

    if judge.worker_id:
        add(
            index.by_worker.get(judge.worker_id, ()),
            ConflictKind.competitor,
            "the judge is a competitor of this entry",
        )
    if judge.enterprise_id:
        add(
            index.by_enterprise.get(judge.enterprise_id, ()),
            ConflictKind.same_enterprise,
            "the judge works for the same enterprise as a competitor",
        )
    city = _city(judge.locality_code)
    if stage.level in local_levels and city:
        add(
            index.by_city.get(city, ()),
            ConflictKind.same_locality,
            f"the judge comes from the competitor's city ({city}00) at a "
            f"{stage.level.value} competition",
        )
    # Per entry, relations in worker order: mentorships first, then declared ones.
    related: dict[int, list[tuple[uuid.UUID, str, str]]] = defaultdict(list)
    for worker_id, (role, status) in relations.items():
        for i in index.by_worker.get(worker_id, ()):
            related[i].append((worker_id, role, status))
    for i in sorted(related):
        for _, role, status in sorted(related[i]):
            if role == "mentor":
                add([i], ConflictKind.mentor, f"the judge is a competitor's mentor ({status})")
            else:
                add(
                    [i],
                    ConflictKind.apprentice,
                    f"the judge is a competitor's apprentice ({status})",
                )
    declared_at: dict[int, list[uuid.UUID]] = defaultdict(list)
    for worker_id in declared_workers:
        for i in index.by_worker.get(worker_id, ()):
            declared_at[i].append(worker_id)
    for i in sorted(declared_at):
        for worker_id in sorted(declared_at[i]):
            add(
                [i],
                ConflictKind.declared,
                f"declared relation with a competitor: {declared_workers[worker_id].reason}",
            )
    for entry_id, d in declared_entries.items():
        if entry_id is not None and (at := index.position.get(entry_id)) is not None:
            add([at], ConflictKind.declared, f"declared conflict with the entry: {d.reason}")
    return {index.entries[i].entry_id: found[i] for i in sorted(found)}


async def declared_conflicts(
    session: AsyncSession, judge_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[DeclaredConflict]]:
    rows = await session.scalars(
        select(DeclaredConflict).where(DeclaredConflict.judge_id.in_(judge_ids))
    )
    out: dict[uuid.UUID, list[DeclaredConflict]] = defaultdict(list)
    for row in rows:
        out[row.judge_id].append(row)
    return out


async def judge_relations(upstream: Upstream, judge: Judge) -> Relations:
    return await upstream.relations(judge.worker_id) if judge.worker_id else {}


async def conflicted_entries(
    session: AsyncSession,
    upstream: Upstream,
    stage_id: uuid.UUID,
    judge: Judge,
    *,
    stage: StageInfo | None = None,
    entries: list[EntryFacts] | None = None,
) -> Reasons:
    """{entry_id: reasons} for every entry of the stage the judge may not see or score.

    `stage` and `entries` may be passed by callers that already read them (assignment)."""
    stage = stage or await upstream.stage(stage_id)
    entries = entries if entries is not None else await upstream.stage_entries(stage_id)
    relations = await judge_relations(upstream, judge)
    declared = (await declared_conflicts(session, [judge.id])).get(judge.id, [])
    return reasons_for(
        judge, entries, stage, relations, declared, frozenset(upstream.local_conflict_levels)
    )


async def judge_conflicts(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    judge: Judge,
    *,
    reveal: bool,
) -> schemas.JudgeConflicts:
    entries = await upstream.stage_entries(stage.id)
    found = await conflicted_entries(
        session, upstream, stage.id, judge, stage=stage, entries=entries
    )
    return schemas.JudgeConflicts(
        judge_id=judge.id,
        stage_id=stage.id,
        entries_checked=len(entries),
        conflicts=[
            schemas.EntryConflict(
                stage_entry_id=e.stage_entry_id,
                blind_code=e.blind_code,
                entry_id=e.entry_id if reveal else None,
                reasons=found[e.entry_id],
            )
            for e in entries
            if e.entry_id in found
        ],
    )


async def conflicts_of_judges(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    judges: list[Judge],
    entries: list[EntryFacts],
) -> dict[uuid.UUID, Reasons]:
    """{judge_id: {entry_id: reasons}} for many judges at once: the entries indexed once, the
    declared conflicts in one query, the mentorships of worker judges a few calls in parallel
    (never one call per entry)."""
    declared = await declared_conflicts(session, [j.id for j in judges])
    limit = asyncio.Semaphore(8)

    async def relations_of(judge: Judge) -> Relations:
        async with limit:
            return await judge_relations(upstream, judge)

    relations = await asyncio.gather(*(relations_of(j) for j in judges))
    levels = frozenset(upstream.local_conflict_levels)
    index = EntryIndex.build(entries)
    return {
        judge.id: reasons_for(judge, index, stage, rel, declared.get(judge.id, []), levels)
        for judge, rel in zip(judges, relations, strict=True)
    }


async def stage_conflicts(
    session: AsyncSession, upstream: Upstream, stage: StageInfo, *, reveal: bool
) -> schemas.StageConflicts:
    """Every conflict between the judges of the stage's occupation and its entries."""
    judges = list(
        await session.scalars(
            select(Judge)
            .where(Judge.occupations.contains([stage.occupation]))
            .order_by(Judge.created_at, Judge.id)
        )
    )
    entries = await upstream.stage_entries(stage.id)
    by_judge = await conflicts_of_judges(session, upstream, stage, judges, entries)
    out: list[schemas.StageConflict] = []
    by_id = {e.entry_id: e for e in entries}
    for judge in judges:
        found = by_judge[judge.id]
        for entry_id, reasons in found.items():
            entry = by_id[entry_id]
            out.append(
                schemas.StageConflict(
                    judge_id=judge.id,
                    judge_name=judge.name,
                    stage_entry_id=entry.stage_entry_id,
                    blind_code=entry.blind_code,
                    entry_id=entry_id if reveal else None,
                    reasons=reasons,
                )
            )
    return schemas.StageConflicts(
        stage_id=stage.id,
        occupation=stage.occupation,
        judges_checked=len(judges),
        entries_checked=len(entries),
        conflicts=out,
    )


def _target(data: schemas.DeclaredConflictCreate) -> str:
    """Which target the declaration names: exactly one of a worker, an entry, a blind code."""
    given = [
        name
        for name, value in (
            ("worker_id", data.worker_id),
            ("entry_id", data.entry_id),
            ("blind_code", data.blind_code),
        )
        if value is not None
    ]
    errors = []
    if len(given) != 1:
        # None given: name the field the request was closest to (a stage wants its code).
        fields = given or ["blind_code" if data.stage_id is not None else "worker_id"]
        errors = [
            FieldError(field=name, message="give exactly one of worker_id, entry_id, blind_code")
            for name in fields
        ]
    elif (data.blind_code is None) != (data.stage_id is None):
        field = "stage_id" if data.blind_code is not None else "blind_code"
        errors = [FieldError(field=field, message="blind_code and stage_id go together")]
    if errors:
        raise InvalidInput(
            "Name one target: a worker, an entry, or a blind code with its stage.", errors=errors
        )
    return given[0]


async def _entry_behind_code(
    session: AsyncSession,
    upstream: Upstream,
    judge: Judge,
    stage_id: uuid.UUID,
    code: str,
    principal: Principal,
) -> uuid.UUID:
    """The entry behind a blind code of a stage the caller may name codes in: a judge one they
    are assigned to or whose occupation they judge; anyone else a stage they manage."""
    stage = await upstream.stage(stage_id)
    if is_own(principal, judge):
        assigned = await session.scalar(
            select(JudgeAssignment.id)
            .where(JudgeAssignment.judge_id == judge.id, JudgeAssignment.stage_id == stage.id)
            .limit(1)
        )
        if assigned is None and stage.occupation not in judge.occupations:
            raise Forbidden(
                f"You judge neither in stage {stage.id} nor its occupation ({stage.occupation})."
            )
    else:
        check_stage_manager(principal, stage)
    entry_id = await upstream.entry_by_blind_code(stage.id, code)
    if entry_id is None:
        raise RuleViolation(
            f"No entry of stage {stage.id} has the blind code {code}.",
            errors=[FieldError(field="blind_code", message="not a blind code of the stage")],
        )
    return entry_id


async def declare_conflict(
    session: AsyncSession,
    upstream: Upstream,
    judge_id: uuid.UUID,
    data: schemas.DeclaredConflictCreate,
    principal: Principal,
) -> DeclaredConflict:
    judge = await get_or_404(session, Judge, judge_id, "judge")
    check_judge_reader(principal, judge)  # the judge themselves, or a manager of the judge
    target = _target(data)
    entry_id = data.entry_id
    if data.worker_id is not None:
        if data.worker_id not in await upstream.workers([data.worker_id]):
            raise RuleViolation(
                f"The registry has no worker {data.worker_id}.",
                errors=[FieldError(field="worker_id", message="no such worker")],
            )
        if data.worker_id == judge.worker_id:
            raise RuleViolation(
                "A judge cannot declare a conflict with themselves.",
                errors=[FieldError(field="worker_id", message="this is the judge")],
            )
    if data.entry_id is not None and str(data.entry_id) not in await upstream.entries(
        [data.entry_id]
    ):
        raise RuleViolation(
            f"The competitions service has no entry {data.entry_id}.",
            errors=[FieldError(field="entry_id", message="no such entry")],
        )
    if data.blind_code is not None:
        assert data.stage_id is not None  # _target checked they go together
        entry_id = await _entry_behind_code(
            session, upstream, judge, data.stage_id, data.blind_code, principal
        )
    row = DeclaredConflict(
        id=uuid.uuid4(),
        judge_id=judge.id,
        worker_id=data.worker_id,
        entry_id=entry_id,
        stage_id=data.stage_id if data.blind_code is not None else None,
        blind_code=data.blind_code,
        reason=data.reason,
        declared_by=principal.sub,
        declared_by_role="judge" if is_own(principal, judge) else principal.role.value,
    )
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as exc:
        # By code, the same entry may already be declared by id (or the other way round):
        # the message must not say which entry.
        raise Conflict("This conflict is already declared for the judge.", field=target) from exc
    await session.refresh(row)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="judge.conflict.declare",
        entity_type="judge",
        entity_id=judge.id,
        after=schemas.DeclaredConflict.model_validate(row).model_dump(mode="json"),
    )
    return row


def present_declared(row: DeclaredConflict, principal: Principal) -> schemas.DeclaredConflict:
    """A declared conflict as the caller may see it. The entry behind a blind code is hidden
    except from admins and our services (as conflicts are listed); an entry an organiser
    declared by id is hidden from the judge (an entry id leads to the competitor), shown to
    the judge's managers."""
    out = schemas.DeclaredConflict.model_validate(row)
    if principal.role is Role.admin or is_internal(principal):
        return out
    if row.blind_code is not None or principal.role is not Role.organiser:
        out.entry_id = None
    return out


async def list_declared(
    session: AsyncSession, judge_id: uuid.UUID, principal: Principal
) -> list[DeclaredConflict]:
    judge = await get_or_404(session, Judge, judge_id, "judge")
    check_judge_reader(principal, judge)
    rows = await session.scalars(
        select(DeclaredConflict)
        .where(DeclaredConflict.judge_id == judge_id)
        .order_by(DeclaredConflict.created_at, DeclaredConflict.id)
    )
    return list(rows)
