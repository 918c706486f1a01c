"""Score entry: judges' marks per entry and aspect, submission, flags, sign-offs and locks.

Rules, each refusal naming its reason:
- a judge marks only the entries they are assigned, by blind code, and never one they are
  conflicted with (conflicts are checked again at every read and write, so a conflict declared
  after the assignment blocks);
- the marks of one judge for one entry are a sheet with a version (`ETag`); updating an
  existing sheet needs `If-Match` (428 without, 412 when stale);
- the first mark of a stage freezes its marking scheme; values follow the scheme (measurement:
  0..max_mark, from allowed_values when set; judgement: integer 0..3);
- every change appends a `score_history` row;
- a judge sees the panel's marks for an entry only after submitting their own;
- a judge's sign-off (re-authenticated with their password) locks their marks; when every
  assigned judge has signed off, or an organiser locks the panel, the stage is locked, the
  competitions service told, and `scores.locked` emitted. Locked marks refuse changes (409);
  `unlock_scores` (an upheld appeal) is the only way back.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import any_, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.conflicts.service import declared_conflicts, judge_relations, reasons_for
from services.judging.judges.service import judge_of
from services.judging.marking import service as marking
from services.judging.scoring import schemas
from services.judging.upstream import EntryFacts, StageInfo, Upstream
from shared import audit, outbox
from shared.auth.principal import Principal
from shared.concurrency import check_if_match, check_transition_if_match, etag
from shared.db import UnitOfWork
from shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    PreconditionRequired,
    RuleViolation,
)
from shared.models.judging import (
    AspectType,
    DeclaredConflict,
    Judge,
    JudgeAssignment,
    JudgeSignoff,
    MarkingAspect,
    MarkingScheme,
    Score,
    ScoreHistory,
    StageScoreLock,
)
from shared.pagination import Page, keyset_rows
from shared.request_id import current_request_id

SERVICE = "judging"
LOCKED = "locked; only an appeal can reopen it"
JUDGEMENT_MAX = Decimal(3)


class HistoryAction(StrEnum):
    """What a `score_history` row records (the fast path's SQL receives these as arguments)."""

    created = "created"
    changed = "changed"
    submitted = "submitted"
    locked = "locked"
    unlocked = "unlocked"


#: The audit actions and entity type of a judge's sheet (both paths).
UPSERT, SUBMIT, SHEET = "scores.upsert", "scores.submit", "score_sheet"


# --- helpers ---------------------------------------------------------------------------------


def _guard_key(stage_id: uuid.UUID) -> str:
    return f"scores:{stage_id}"


async def _guard_stage_exclusive(session: AsyncSession, stage_id: uuid.UUID) -> None:
    """Writers of marks hold this lock shared (taken in `_load`); the panel lock and sign-offs
    take it exclusively, so no mark can slip in while marks are being locked."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": _guard_key(stage_id)},
    )


async def _stage_lock(session: AsyncSession, stage_id: uuid.UUID) -> StageScoreLock | None:
    return await session.get(StageScoreLock, stage_id)


@dataclass(frozen=True)
class AspectInfo:
    id: uuid.UUID
    code: str
    type: AspectType
    max_mark: Decimal
    allowed: frozenset[Decimal] | None
    allowed_text: str | None


@dataclass(frozen=True)
class SchemeInfo:
    id: uuid.UUID
    version: int
    frozen: bool
    by_code: dict[str, AspectInfo]
    by_id: dict[uuid.UUID, AspectInfo]


#: Frozen schemes never change again: each process reads a stage's once.
_FROZEN: dict[uuid.UUID, SchemeInfo] = {}


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


async def _scheme(session: AsyncSession, stage_id: uuid.UUID) -> SchemeInfo:
    cached = _FROZEN.get(stage_id)
    if cached is not None:
        return cached
    scheme = await session.scalar(
        select(MarkingScheme)
        .where(MarkingScheme.stage_id == stage_id)
        .order_by(MarkingScheme.version.desc())
        .limit(1)
    )
    if scheme is None:
        raise Conflict(f"Stage {stage_id} has no marking scheme: marks cannot be given yet.")
    rows = await session.scalars(select(MarkingAspect).where(MarkingAspect.scheme_id == scheme.id))
    aspects = []
    for a in rows:
        allowed = (
            frozenset(Decimal(str(v)) for v in a.allowed_values)
            if a.allowed_values is not None
            else None
        )
        text_ = (
            ", ".join(_fmt(Decimal(str(v))) for v in a.allowed_values)
            if a.allowed_values is not None
            else None
        )
        aspects.append(AspectInfo(a.id, a.code, a.type, a.max_mark, allowed, text_))
    info = SchemeInfo(
        id=scheme.id,
        version=scheme.version,
        frozen=scheme.frozen_at is not None,
        by_code={a.code: a for a in aspects},
        by_id={a.id: a for a in aspects},
    )
    if info.frozen:
        _FROZEN[stage_id] = info
    return info


@dataclass
class Sheet:
    judge: Judge
    assignment: JudgeAssignment
    stage_locked: bool


async def _load(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    blind_code: str,
    principal: Principal,
    *,
    write: bool = False,
) -> Sheet:
    """The caller's assignment to the entry (403 if none) after checking conflicts again, in
    one query: the judge, the assignment (locked for update when `write`, with the stage's
    marks lock taken shared), whether the stage is locked and whether a declared conflict may
    touch the entry. A conflict declared (or a mentorship begun) after the assignment blocks."""
    declared_here = (
        select(DeclaredConflict.id)
        .where(
            DeclaredConflict.judge_id == Judge.id,
            (DeclaredConflict.entry_id == JudgeAssignment.entry_id)
            | (DeclaredConflict.worker_id == any_(JudgeAssignment.worker_ids)),
        )
        .exists()
    )
    columns: list[Any] = [
        JudgeAssignment,
        Judge,
        select(StageScoreLock.stage_id).where(StageScoreLock.stage_id == stage.id).exists(),
        declared_here,
    ]
    if write:
        columns.append(
            func.pg_advisory_xact_lock_shared(func.hashtextextended(_guard_key(stage.id), 0))
        )
    stmt = (
        select(*columns)
        .join(Judge, Judge.id == JudgeAssignment.judge_id)
        .where(
            Judge.account_sub == principal.sub,
            JudgeAssignment.stage_id == stage.id,
            JudgeAssignment.blind_code == blind_code,
        )
    )
    if write:
        stmt = stmt.with_for_update(of=JudgeAssignment)
    row = (await session.execute(stmt)).first()
    if row is None:
        await judge_of(session, principal)  # 404 when the account is no judge at all
        raise Forbidden(
            f"You are not assigned to entry {blind_code} of stage {stage.id}: judges see and "
            "mark only the entries assigned to them."
        )
    assignment, judge, stage_locked, has_declared = row[0], row[1], row[2], row[3]
    entry = EntryFacts(
        stage_entry_id=assignment.stage_entry_id,
        entry_id=assignment.entry_id,
        blind_code=assignment.blind_code,
        locality_code=assignment.locality_code,
        worker_ids=frozenset(assignment.worker_ids),
        enterprise_ids=frozenset(assignment.enterprise_ids),
    )
    relations = await judge_relations(upstream, judge)
    declared = (
        (await declared_conflicts(session, [judge.id])).get(judge.id, []) if has_declared else []
    )
    found = reasons_for(
        judge, [entry], stage, relations, declared, frozenset(upstream.local_conflict_levels)
    )
    if found:
        kinds = ", ".join(sorted({r.kind.value for r in found[entry.entry_id]}))
        raise Forbidden(
            f"You have a conflict of interest with entry {blind_code} ({kinds}): you may not "
            "see or mark it."
        )
    return Sheet(judge, assignment, bool(stage_locked))


def _validate(marks: Sequence[schemas.MarkIn], aspects: dict[str, AspectInfo]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, mark in enumerate(marks):
        path = f"marks[{i}]"
        aspect = aspects.get(mark.aspect_code)
        if mark.aspect_code in seen:
            errors.append(FieldError(field=f"{path}.aspect_code", message="given twice"))
            continue
        seen.add(mark.aspect_code)
        if aspect is None:
            errors.append(
                FieldError(
                    field=f"{path}.aspect_code",
                    message=f"{mark.aspect_code} is not an aspect of the stage's marking scheme",
                )
            )
            continue
        value = mark.value
        if aspect.type is AspectType.judgement:
            if value != value.to_integral_value() or value > JUDGEMENT_MAX:
                errors.append(
                    FieldError(
                        field=f"{path}.value",
                        message=f"{aspect.code} is a judgement aspect: an integer 0..3",
                    )
                )
        elif value > aspect.max_mark:
            errors.append(
                FieldError(
                    field=f"{path}.value",
                    message=f"{aspect.code} is marked 0..{_fmt(aspect.max_mark)}",
                )
            )
        elif aspect.allowed is not None and value not in aspect.allowed:
            errors.append(
                FieldError(
                    field=f"{path}.value",
                    message=f"{aspect.code} allows only {aspect.allowed_text}",
                )
            )
    return errors


def _history(
    score: Score,
    action: str,
    actor: str,
    *,
    old: Decimal | None,
    reason: str | None = None,
) -> ScoreHistory:
    return ScoreHistory(
        id=uuid.uuid4(),
        score_id=score.id,
        stage_id=score.stage_id,
        action=action,
        old_value=old,
        new_value=score.value,
        version=score.version,
        actor=actor,
        reason=reason,
        request_id=current_request_id(),
    )


async def _marks(
    session: AsyncSession, scheme: SchemeInfo, judge_id: uuid.UUID, stage_entry_id: uuid.UUID
) -> list[tuple[Score, AspectInfo]]:
    rows = await session.scalars(
        select(Score).where(Score.judge_id == judge_id, Score.stage_entry_id == stage_entry_id)
    )
    return sorted(((s, scheme.by_id[s.aspect_id]) for s in rows), key=lambda p: p[1].code)


def _mark(score: Score, aspect: AspectInfo) -> schemas.ScoreMark:
    return schemas.ScoreMark(
        aspect_code=aspect.code,
        aspect_type=aspect.type,
        value=score.value,
        version=score.version,
        submitted_at=score.submitted_at,
        locked_at=score.locked_at,
        updated_at=score.updated_at,
    )


def _sheet(
    assignment: JudgeAssignment, marks: list[tuple[Score, AspectInfo]]
) -> schemas.ScoreSheet:
    return schemas.ScoreSheet(
        stage_id=assignment.stage_id,
        blind_code=assignment.blind_code,
        judge_id=assignment.judge_id,
        version=assignment.sheet_version,
        submitted_at=assignment.submitted_at,
        locked=bool(marks) and all(s.locked_at is not None for s, _ in marks),
        marks=[_mark(s, a) for s, a in marks],
    )


# --- the fast path of a judge's writes ------------------------------------------------------
#
# `PUT .../scores/{code}` and `:submit` in the common case are one call of a SQL function
# (migration 0042) outside a transaction: one round trip instead of about eight. The function
# takes the same locks and checks the same rules as `put_sheet` and `submit_sheet` below; when
# anything is out of the ordinary (no frozen scheme cached yet, marks that do not validate, no
# such assignment, a conflict, locked marks, missing marks) it changes nothing and the general
# path answers, naming the reason.

#: {account_sub: the judge's worker id, None for an outside expert}, per process: whose
#: mentorships to ask the registry for before the call. The functions compare it with the
#: judge's row (in the same statement as everything else) and fall back when it differs, so a
#: stale entry costs one general-path request, never a wrong answer. A judge not known yet
#: costs nothing extra when an outside expert, one more call when a worker.
_WORKER_OF: dict[str, uuid.UUID | None] = {}

_PUT_SQL = (
    "SELECT * FROM judging_put_sheet($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
    "$14, $15, $16, $17, $18, $19, $20)"
)
_SUBMIT_SQL = (
    "SELECT * FROM judging_submit_sheet($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
    "$14)"
)
_ETAG = re.compile(r'"(0|[1-9][0-9]{0,8})"')


class Fallback(Exception):
    """The fast path declined: run the general one."""


def _if_match(if_match: str | None) -> tuple[bool, bool, list[int]]:
    """(given, any, versions) for `check_if_match`'s rule in SQL: absent or `*` passes, else
    the sheet's ETag must be one of the listed tags (weak or strong)."""
    if if_match is None:
        return False, False, []
    if if_match.strip() == "*":
        return True, True, []
    versions = []
    for tag in if_match.split(","):
        found = _ETAG.fullmatch(tag.strip().removeprefix("W/"))
        if found:
            versions.append(int(found.group(1)))
    return True, False, versions


async def _fast_call(
    uow: UnitOfWork,
    upstream: Upstream,
    stage: StageInfo,
    principal: Principal,
    blind_code: str,
    sql: str,
    *rest: Any,
) -> Any:
    """Run a sheet function for the caller (outside any transaction): its row, or `Fallback`
    when it declines. No connection is held while the registry is asked."""
    sub = principal.sub
    known = sub in _WORKER_OF
    worker_id = _WORKER_OF.get(sub)
    local = stage.level in upstream.local_conflict_levels
    row: Any = None
    for _ in range(2):
        related = list(await upstream.relations(worker_id)) if worker_id is not None else []
        params = (stage.id, sub, blind_code, worker_id, known, related, local, *rest)
        async with uow.connection() as conn:
            # Straight to asyncpg (its prepared statement, one round trip): SQLAlchemy's
            # statement and result layers cost more CPU here than the function call itself.
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            row = await driver.fetchrow(sql, *params)
        if row is None or row[0] != "worker":
            break
        # A worker judge this process did not know: their mentorships first, then again.
        worker_id, known = row[3], True
        _WORKER_OF[sub] = worker_id
    if row is None or row[0] in ("fallback", "worker"):
        _WORKER_OF.pop(sub, None)  # read again next time (the link may have changed)
        raise Fallback
    if not known:
        _WORKER_OF[sub] = None  # the call went through as an outside expert's
    return row


def _fast_sheet(
    row: Any, stage: StageInfo, blind_code: str, scheme: SchemeInfo
) -> schemas.ScoreSheet:
    _, version, _, judge_id, submitted_at, aspect_ids, values, versions, subm, locked, upd = row
    marks = []
    if aspect_ids:
        for i, aspect_id in enumerate(aspect_ids):
            aspect = scheme.by_id[aspect_id]
            marks.append(
                schemas.ScoreMark.model_construct(
                    aspect_code=aspect.code,
                    aspect_type=aspect.type,
                    value=values[i],
                    version=versions[i],
                    submitted_at=subm[i],
                    locked_at=locked[i],
                    updated_at=upd[i],
                )
            )
        marks.sort(key=lambda m: m.aspect_code)
    return schemas.ScoreSheet.model_construct(
        stage_id=stage.id,
        blind_code=blind_code,
        judge_id=judge_id,
        version=version,
        submitted_at=submitted_at,
        locked=bool(marks) and all(m.locked_at is not None for m in marks),
        marks=marks,
    )


def _check_outcome(row: Any, blind_code: str, if_match: str | None) -> None:
    """428 and 412 as the general path words them."""
    outcome, version = row[0], row[1]
    if outcome == "precondition_required":
        raise PreconditionRequired(
            f"Your marks for {blind_code} exist (version {version}): send "
            f"If-Match: {etag(version)} to change them.",
            current_etag=etag(version),
        )
    if outcome == "precondition_failed":
        check_if_match(if_match, version)  # the same rule: raises the 412
        raise Fallback  # unreachable unless the two disagree; nothing was written
    if outcome != "ok":
        raise Fallback


async def _scheme_fast(uow: UnitOfWork, stage_id: uuid.UUID) -> SchemeInfo:
    """The stage's scheme: from this process's frozen ones, else read (outside a
    transaction: `judging_put_sheet` checks it is still the current version when it freezes
    it)."""
    cached = _FROZEN.get(stage_id)
    if cached is not None:
        return cached
    async with uow.autocommit() as session:
        return await _scheme(session, stage_id)


async def put_sheet_fast(
    uow: UnitOfWork,
    upstream: Upstream,
    stage: StageInfo,
    blind_code: str,
    data: schemas.ScoreSheetUpdate,
    if_match: str | None,
    principal: Principal,
) -> schemas.ScoreSheet:
    try:
        scheme = await _scheme_fast(uow, stage.id)
    except Conflict:
        raise Fallback from None  # no scheme: the general path answers in order
    if _validate(data.marks, scheme.by_code):
        raise Fallback  # bad marks get their 422 after the checks that come first
    given, any_, versions = _if_match(if_match)
    row = await _fast_call(
        uow,
        upstream,
        stage,
        principal,
        blind_code,
        _PUT_SQL,
        given,
        any_,
        versions,
        scheme.id,
        not scheme.frozen,
        [scheme.by_code[m.aspect_code].id for m in data.marks],
        [m.value for m in data.marks],
        data.reason,
        current_request_id(),
        # The audit rows as `audit.entry` builds (and redacts) them; the function adds the
        # sheet's id and version and the marks before.
        json.dumps(
            audit.entry(
                service=SERVICE,
                principal=principal,
                action=UPSERT,
                entity_type=SHEET,
                entity_id=None,
                after={m.aspect_code: _fmt(m.value) for m in data.marks},
            )
        ),
        None
        if scheme.frozen
        else json.dumps(
            audit.entry(**marking.freeze_audit(scheme.id, scheme.version, principal)),
            default=str,
        ),
        HistoryAction.created.value,
        HistoryAction.changed.value,
    )
    _check_outcome(row, blind_code, if_match)
    if not scheme.frozen:
        scheme = replace(scheme, frozen=True)  # by this call or an earlier one
        _FROZEN[stage.id] = scheme
    return _fast_sheet(row, stage, blind_code, scheme)


async def submit_sheet_fast(
    uow: UnitOfWork,
    upstream: Upstream,
    stage: StageInfo,
    blind_code: str,
    if_match: str | None,
    principal: Principal,
) -> schemas.ScoreSheet:
    try:
        scheme = await _scheme_fast(uow, stage.id)
    except Conflict:
        raise Fallback from None
    if not scheme.frozen:
        raise Fallback  # nothing marked yet: the general path names what is missing
    given, any_, versions = _if_match(if_match)
    row = await _fast_call(
        uow,
        upstream,
        stage,
        principal,
        blind_code,
        _SUBMIT_SQL,
        given,
        any_,
        versions,
        list(scheme.by_id),
        current_request_id(),
        json.dumps(
            audit.entry(
                service=SERVICE,
                principal=principal,
                action=SUBMIT,
                entity_type=SHEET,
                entity_id=None,
                after={"blind_code": blind_code},
            )
        ),
        HistoryAction.submitted.value,
    )
    _check_outcome(row, blind_code, if_match)
    return _fast_sheet(row, stage, blind_code, scheme)


async def write_sheet(
    uow: UnitOfWork,
    upstream: Upstream,
    stage: StageInfo,
    blind_code: str,
    data: schemas.ScoreSheetUpdate,
    if_match: str | None,
    principal: Principal,
    *,
    fast_path: bool,
) -> schemas.ScoreSheet:
    """A judge's marks: by the fast path when it is on (setting SCORE_FAST_PATH) and applies,
    else by `put_sheet` in one transaction, committed before the answer."""
    if fast_path:
        try:
            return await put_sheet_fast(uow, upstream, stage, blind_code, data, if_match, principal)
        except Fallback:
            pass
    async with uow.transaction() as session:
        return await put_sheet(session, upstream, stage, blind_code, data, if_match, principal)


async def write_submission(
    uow: UnitOfWork,
    upstream: Upstream,
    stage: StageInfo,
    blind_code: str,
    if_match: str | None,
    principal: Principal,
    *,
    fast_path: bool,
) -> schemas.ScoreSheet:
    """A judge's submission: as `write_sheet`, by the fast path or by `submit_sheet`."""
    if fast_path:
        try:
            return await submit_sheet_fast(uow, upstream, stage, blind_code, if_match, principal)
        except Fallback:
            pass
    async with uow.transaction() as session:
        return await submit_sheet(session, upstream, stage, blind_code, if_match, principal)


# --- a judge's sheet -------------------------------------------------------------------------


async def get_sheet(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    blind_code: str,
    principal: Principal,
) -> schemas.ScoreSheet:
    sheet = await _load(session, upstream, stage, blind_code, principal)
    scheme = await _scheme(session, stage.id)
    a = sheet.assignment
    return _sheet(a, await _marks(session, scheme, sheet.judge.id, a.stage_entry_id))


async def put_sheet(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    blind_code: str,
    data: schemas.ScoreSheetUpdate,
    if_match: str | None,
    principal: Principal,
) -> schemas.ScoreSheet:
    sheet = await _load(session, upstream, stage, blind_code, principal, write=True)
    judge, assignment = sheet.judge, sheet.assignment
    scheme = await _scheme(session, stage.id)
    current = await _marks(session, scheme, judge.id, assignment.stage_entry_id)
    existing = {a.code: s for s, a in current}
    locked = [
        m.aspect_code for m in data.marks if (s := existing.get(m.aspect_code)) and s.locked_at
    ]
    if locked or (sheet.stage_locked and any(m.aspect_code not in existing for m in data.marks)):
        codes = ", ".join(locked) or "new aspects"
        raise Conflict(f"Marks of {blind_code} ({codes}) are {LOCKED}.")
    check_if_match(if_match, assignment.sheet_version)
    errors = _validate(data.marks, scheme.by_code)
    if errors:
        raise InvalidInput("Some marks do not fit the marking scheme.", errors=errors)
    if not scheme.frozen:
        await marking.freeze(session, stage, principal)
    now = datetime.now(UTC)
    changed = 0
    before = {code: _fmt(s.value) for code, s in existing.items()}
    for mark in data.marks:
        aspect = scheme.by_code[mark.aspect_code]
        score = existing.get(mark.aspect_code)
        if score is None:
            score = Score(
                id=uuid.uuid4(),
                stage_id=stage.id,
                stage_entry_id=assignment.stage_entry_id,
                entry_id=assignment.entry_id,
                blind_code=assignment.blind_code,
                judge_id=judge.id,
                aspect_id=aspect.id,
                scheme_id=scheme.id,
                value=mark.value,
                version=1,
                submitted_at=assignment.submitted_at,
                locked_at=None,
                created_at=now,
                updated_at=now,
            )
            session.add(score)
            session.add(
                _history(score, HistoryAction.created, principal.sub, old=None, reason=data.reason)
            )
            current.append((score, aspect))
            changed += 1
        elif score.value != mark.value:
            old = score.value
            score.value = mark.value
            score.version += 1
            score.updated_at = now
            session.add(
                _history(score, HistoryAction.changed, principal.sub, old=old, reason=data.reason)
            )
            changed += 1
    if changed:
        assignment.sheet_version += 1
        audit.record(
            session,
            service=SERVICE,
            principal=principal,
            action=UPSERT,
            entity_type=SHEET,
            entity_id=assignment.id,
            before=before or None,
            after={m.aspect_code: _fmt(m.value) for m in data.marks}
            | {"version": assignment.sheet_version},
        )
        await session.flush()
    return _sheet(assignment, sorted(current, key=lambda p: p[1].code))


async def submit_sheet(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    blind_code: str,
    if_match: str | None,
    principal: Principal,
) -> schemas.ScoreSheet:
    sheet = await _load(session, upstream, stage, blind_code, principal, write=True)
    judge, assignment = sheet.judge, sheet.assignment
    check_transition_if_match(if_match, assignment.sheet_version)
    scheme = await _scheme(session, stage.id)
    marks = await _marks(session, scheme, judge.id, assignment.stage_entry_id)
    if assignment.submitted_at is not None:
        return _sheet(assignment, marks)  # idempotent
    missing = sorted(set(scheme.by_code) - {a.code for _, a in marks})
    if missing:
        raise RuleViolation(
            f"Mark every aspect before submitting {blind_code}: {', '.join(missing)} missing.",
            errors=[FieldError(field="marks", message=f"{code} has no mark") for code in missing],
        )
    now = datetime.now(UTC)
    assignment.submitted_at = now
    assignment.sheet_version += 1
    for score, _ in marks:
        score.submitted_at = now
        score.updated_at = now
        session.add(_history(score, HistoryAction.submitted, principal.sub, old=score.value))
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action=SUBMIT,
        entity_type=SHEET,
        entity_id=assignment.id,
        after={"blind_code": blind_code, "version": assignment.sheet_version},
    )
    await session.flush()
    return _sheet(assignment, marks)


async def panel(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    blind_code: str,
    principal: Principal,
) -> schemas.PanelScores:
    own = await _load(session, upstream, stage, blind_code, principal)
    if own.assignment.submitted_at is None:
        raise Forbidden(
            f"Submit your own marks for {blind_code} first: a judge sees the other judges' "
            "marks only after submitting theirs."
        )
    scheme = await _scheme(session, stage.id)
    rows = await session.execute(
        select(JudgeAssignment, Judge)
        .join(Judge, Judge.id == JudgeAssignment.judge_id)
        .where(JudgeAssignment.stage_id == stage.id, JudgeAssignment.blind_code == blind_code)
        .order_by(Judge.name, Judge.id)
    )
    scores = await session.scalars(
        select(Score).where(Score.stage_id == stage.id, Score.blind_code == blind_code)
    )
    by_judge: dict[uuid.UUID, list[tuple[Score, AspectInfo]]] = {}
    for score in scores:
        by_judge.setdefault(score.judge_id, []).append((score, scheme.by_id[score.aspect_id]))
    out = []
    for assignment, other in rows:
        marks = sorted(by_judge.get(other.id, []), key=lambda p: p[1].code)
        out.append(
            schemas.PanelJudge(
                judge_id=other.id,
                name=other.name,
                submitted_at=assignment.submitted_at,
                marks=[_mark(s, a) for s, a in marks],
            )
        )
    return schemas.PanelScores(stage_id=stage.id, blind_code=blind_code, judges=out)


# --- organisers' views -------------------------------------------------------------------------


async def list_scores(
    session: AsyncSession,
    stage_id: uuid.UUID,
    *,
    judge_id: uuid.UUID | None,
    blind_code: str | None,
    aspect_code: str | None,
    reveal: bool,
    limit: int,
    cursor: str | None,
) -> Page[schemas.Score]:
    stmt = (
        select(Score, MarkingAspect.code)
        .join(MarkingAspect, MarkingAspect.id == Score.aspect_id)
        .where(Score.stage_id == stage_id)
    )
    if judge_id is not None:
        stmt = stmt.where(Score.judge_id == judge_id)
    if blind_code is not None:
        stmt = stmt.where(Score.blind_code == blind_code)
    if aspect_code is not None:
        stmt = stmt.where(MarkingAspect.code == aspect_code)
    order = [Score.blind_code, Score.judge_id, Score.aspect_id]
    rows, next_cursor = await keyset_rows(
        session,
        stmt,
        order_by=order,
        limit=limit,
        cursor=cursor,
        key=lambda r: (r[0].blind_code, r[0].judge_id, r[0].aspect_id),
    )
    items = [
        schemas.Score(
            id=s.id,
            stage_id=s.stage_id,
            stage_entry_id=s.stage_entry_id,
            entry_id=s.entry_id if reveal else None,
            blind_code=s.blind_code,
            judge_id=s.judge_id,
            aspect_id=s.aspect_id,
            aspect_code=code,
            scheme_id=s.scheme_id,
            value=s.value,
            version=s.version,
            submitted_at=s.submitted_at,
            locked_at=s.locked_at,
            updated_at=s.updated_at,
        )
        for s, code in rows
    ]
    return Page[schemas.Score](items=items, next_cursor=next_cursor)


async def flags(session: AsyncSession, stage_id: uuid.UUID) -> schemas.ScoreFlags:
    """Judgement aspects whose submitted marks for an entry are more than 1 apart (computed
    from the current marks, so a re-score that brings them within 1 clears the flag)."""
    spread = (
        select(
            Score.stage_entry_id,
            Score.aspect_id,
            (func.max(Score.value) - func.min(Score.value)).label("spread"),
        )
        .join(MarkingAspect, MarkingAspect.id == Score.aspect_id)
        .where(
            Score.stage_id == stage_id,
            Score.submitted_at.is_not(None),
            MarkingAspect.type == AspectType.judgement,
        )
        .group_by(Score.stage_entry_id, Score.aspect_id)
        .having(func.max(Score.value) - func.min(Score.value) > 1)
        .subquery()
    )
    rows = await session.execute(
        select(Score, MarkingAspect.code, spread.c.spread)
        .join(
            spread,
            (spread.c.stage_entry_id == Score.stage_entry_id)
            & (spread.c.aspect_id == Score.aspect_id),
        )
        .join(MarkingAspect, MarkingAspect.id == Score.aspect_id)
        .where(Score.stage_id == stage_id, Score.submitted_at.is_not(None))
        .order_by(Score.blind_code, MarkingAspect.code, Score.judge_id)
    )
    grouped: dict[tuple[uuid.UUID, uuid.UUID], schemas.ScoreFlag] = {}
    for score, code, gap in rows:
        flag = grouped.setdefault(
            (score.stage_entry_id, score.aspect_id),
            schemas.ScoreFlag(
                blind_code=score.blind_code,
                stage_entry_id=score.stage_entry_id,
                aspect_code=code,
                spread=gap,
                values=[],
            ),
        )
        flag.values.append(schemas.FlagValue(judge_id=score.judge_id, value=score.value))
    return schemas.ScoreFlags(stage_id=stage_id, flags=list(grouped.values()))


# --- sign-off and locks ------------------------------------------------------------------------


async def lock_marks(
    session: AsyncSession, stage_id: uuid.UUID, actor: str, *, judge_id: uuid.UUID | None
) -> int:
    """Lock the still-editable marks of the stage (of one judge if given), one history row
    each, in two statements whatever their number."""
    now = datetime.now(UTC)
    cond = [Score.stage_id == stage_id, Score.locked_at.is_(None)]
    if judge_id is not None:
        cond.append(Score.judge_id == judge_id)
    locked = (
        await session.execute(
            update(Score)
            .where(*cond)
            .values(locked_at=now)
            .returning(Score.id, Score.value, Score.version)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if locked:
        rid = current_request_id()
        await session.execute(
            insert(ScoreHistory),
            [
                {
                    "id": uuid.uuid4(),
                    "score_id": sid,
                    "stage_id": stage_id,
                    "action": HistoryAction.locked,
                    "old_value": value,
                    "new_value": value,
                    "version": version,
                    "actor": actor,
                    "request_id": rid,
                }
                for sid, value, version in locked
            ],
        )
    # Objects already loaded in this session must not keep a stale locked_at.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Score) and obj.stage_id == stage_id:
            session.expire(obj, ["locked_at"])
    return len(locked)


async def _unsubmitted(
    session: AsyncSession, stage_id: uuid.UUID, judge_id: uuid.UUID | None = None
) -> list[str]:
    stmt = select(JudgeAssignment.blind_code).where(
        JudgeAssignment.stage_id == stage_id, JudgeAssignment.submitted_at.is_(None)
    )
    if judge_id is not None:
        stmt = stmt.where(JudgeAssignment.judge_id == judge_id)
    return sorted(set(await session.scalars(stmt)))


async def _lock_stage(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    principal: Principal,
    reason: str,
) -> tuple[StageScoreLock, int]:
    lock = StageScoreLock(stage_id=stage.id, locked_by=principal.sub, reason=reason)
    session.add(lock)
    await session.flush()
    await session.refresh(lock)
    count = await lock_marks(session, stage.id, principal.sub, judge_id=None)
    total = int(
        await session.scalar(
            select(func.count()).select_from(Score).where(Score.stage_id == stage.id)
        )
        or 0
    )
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="scores.lock",
        entity_type="stage",
        entity_id=stage.id,
        after={"reason": reason, "scores": total},
    )
    outbox.emit(
        session,
        service=SERVICE,
        type="scores.locked",
        subject=f"stage:{stage.id}",
        data={
            **stage.scope(),
            "reason": reason,
            "scores": total,
            "locked_at": lock.locked_at.isoformat(),
        },
    )
    # Last: if the competitions service fails, this transaction rolls back whole (its lock is
    # idempotent, so a retry completes the job).
    await upstream.competitions.lock_stage(str(stage.id), token=await upstream.token())
    return lock, count


async def sign_off(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    data: schemas.SignoffCreate,
    principal: Principal,
    verify: Any,
) -> schemas.Signoff:
    """`verify(token)` checks an access token and returns its principal (the app's verifier)."""
    judge = await judge_of(session, principal)
    token = await upstream.registry.password_token(data.username, data.password)
    confirmed = await verify(token) if token else None
    if confirmed is None or confirmed.sub != principal.sub:
        raise Forbidden(
            "Re-authentication failed: the username and password must be those of your own account."
        )
    await _guard_stage_exclusive(session, stage.id)
    assigned = await session.scalar(
        select(func.count())
        .select_from(JudgeAssignment)
        .where(JudgeAssignment.stage_id == stage.id, JudgeAssignment.judge_id == judge.id)
    )
    if not assigned:
        raise Forbidden(f"You are not assigned to stage {stage.id}: there is nothing to sign.")
    pending = await _unsubmitted(session, stage.id, judge.id)
    if pending:
        raise Conflict(
            f"Submit your marks for every entry before signing off: {', '.join(pending)} "
            "not submitted."
        )
    row = JudgeSignoff(id=uuid.uuid4(), stage_id=stage.id, judge_id=judge.id, method="password")
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"You already signed off stage {stage.id}.") from exc
    await session.refresh(row)
    count = await lock_marks(session, stage.id, principal.sub, judge_id=judge.id)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="scores.signoff",
        entity_type="stage",
        entity_id=stage.id,
        after={"judge_id": str(judge.id), "scores_locked": count},
    )
    unsigned = await session.scalar(
        select(func.count(func.distinct(JudgeAssignment.judge_id))).where(
            JudgeAssignment.stage_id == stage.id,
            JudgeAssignment.judge_id.not_in(
                select(JudgeSignoff.judge_id).where(JudgeSignoff.stage_id == stage.id)
            ),
        )
    )
    stage_locked = False
    if not unsigned and await _stage_lock(session, stage.id) is None:
        await _lock_stage(session, upstream, stage, principal, "signoffs")
        stage_locked = True
    return schemas.Signoff(
        stage_id=stage.id,
        judge_id=judge.id,
        signed_at=row.signed_at,
        method=row.method,
        scores_locked=count,
        stage_locked=stage_locked,
    )


async def lock_panel(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    data: schemas.StageLockCreate,
    principal: Principal,
) -> schemas.StageLock:
    await _guard_stage_exclusive(session, stage.id)
    existing = await _stage_lock(session, stage.id)
    if existing is not None:
        raise Conflict(
            f"Stage {stage.id} was locked at {existing.locked_at.isoformat()}: {LOCKED}."
        )
    assigned = await session.scalar(
        select(func.count())
        .select_from(JudgeAssignment)
        .where(JudgeAssignment.stage_id == stage.id)
    )
    if not assigned:
        raise Conflict(f"Stage {stage.id} has no judge assignment: there is nothing to lock.")
    pending = await _unsubmitted(session, stage.id)
    if pending and not data.allow_unsubmitted:
        raise Conflict(
            f"{len(pending)} entries still have unsubmitted marks ({', '.join(pending[:20])}"
            f"{'...' if len(pending) > 20 else ''}); send allow_unsubmitted to lock anyway.",
            field="allow_unsubmitted",
        )
    lock, count = await _lock_stage(session, upstream, stage, principal, "organiser")
    return schemas.StageLock(
        stage_id=stage.id,
        locked_at=lock.locked_at,
        locked_by=lock.locked_by,
        reason=lock.reason,
        scores_locked=count,
    )


# --- appeals ---------------------------------------------------------------------------------


async def unlock_scores(
    session: AsyncSession,
    stage_id: uuid.UUID,
    score_ids: Sequence[uuid.UUID],
    actor: str,
    reason: str,
) -> list[Score]:
    """Make the named locked scores of the stage editable again (an upheld appeal), recording
    one history row each. Scores already editable are returned unchanged; an id that is not a
    score of the stage is refused (422 naming it) and nothing changes. The only unlock path."""
    wanted = list(dict.fromkeys(score_ids))
    rows = list(
        await session.scalars(
            select(Score)
            .where(Score.stage_id == stage_id, Score.id.in_(wanted))
            .order_by(Score.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    missing = set(wanted) - {r.id for r in rows}
    if missing:
        raise RuleViolation(
            f"Not scores of stage {stage_id}: {', '.join(sorted(map(str, missing)))}.",
            errors=[FieldError(field="score_ids", message="not scores of the stage")],
        )
    for row in rows:
        if row.locked_at is None:
            continue
        row.locked_at = None
        session.add(_history(row, HistoryAction.unlocked, actor, old=row.value, reason=reason))
    await session.flush()
    return rows
