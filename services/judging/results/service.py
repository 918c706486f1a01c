"""Results of a stage: rules, completion times, computation into versions, publication and
finalisation (the lifecycle draft -> provisional -> final), reproducibility checks.

Scores are loaded with one SQL aggregation that returns each column as one bytea of
fixed-width values, read whole into NumPy: no per-row Python objects. The
arithmetic lives in `compute.py`; the ranked entries are written back with one `COPY`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Uuid, exists, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.awards import jobs as award_jobs
from services.judging.results import compute, schemas
from services.judging.statistics import facts as statistics
from services.judging.upstream import StageInfo, Upstream
from shared import audit, outbox
from shared.auth.principal import Principal
from shared.concurrency import check_if_match
from shared.errors import Conflict, FieldError, NotFound, RuleViolation
from shared.models.competitions import StageStatus
from shared.models.judging import (
    Appeal,
    AppealStatus,
    AspectType,
    CompletionTime,
    MarkingAspect,
    MarkingScheme,
    ResultEntry,
    ResultRules,
    ResultStatus,
    Score,
    StageResult,
    StageScoreLock,
)
from shared.pagination import Page, paginate

SERVICE = "judging"
#: Statement timeout of a computation's transaction (5 million scores stream in ~10-20 s here).
COMPUTE_TIMEOUT_MS = 300_000
PUBLIC = (ResultStatus.provisional, ResultStatus.final)


#: The stage's scores in one aggregation, each column as one bytea of fixed-width big-endian
#: values (`uuid_send`, `int4send`) that NumPy reads whole: the entry's and the judge's id, the
#: aspect's index in `$2` (the scheme's aspects by code; scores of other aspects are ignored)
#: and the value x 100. The aggregates read the rows in the same order, so position i of each
#: belongs to the same score. No per-row Python object.
_SCORES_SQL = """
SELECT string_agg(uuid_send(stage_entry_id), ''::bytea),
    string_agg(uuid_send({judge}), ''::bytea),
    string_agg(int4send(array_position($2::uuid[], aspect_id) - 1), ''::bytea),
    string_agg(int4send((value * 100)::int4), ''::bytea)
FROM scores WHERE stage_id = $1 AND aspect_id = ANY ($2::uuid[])
"""


async def lock_stage_results(session: AsyncSession, stage_id: uuid.UUID) -> None:
    """Serialise the lifecycle steps of one stage's results."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"results:{stage_id}"},
    )


# -- rules ------------------------------------------------------------------------------------


def _rules_view(stage: StageInfo, row: ResultRules | None) -> schemas.ResultRules:
    base = (
        schemas.ResultRulesUpdate()
        if row is None
        else schemas.ResultRulesUpdate(
            aggregation=row.aggregation,
            standardisation=row.standardisation,
            tie_breaks=row.tie_breaks,
            prize_bands=row.prize_bands,
            medals=row.medals,
            appeal_window_minutes=row.appeal_window_minutes,
            arbiters=row.arbiters,
        )
    )
    return schemas.ResultRules(
        **base.model_dump(),
        stage_id=stage.id,
        components=stage.components,
        version=row.version if row else 0,
        updated_at=row.updated_at if row else None,
    )


async def get_rules(session: AsyncSession, stage: StageInfo) -> schemas.ResultRules:
    return _rules_view(stage, await session.get(ResultRules, stage.id))


async def put_rules(
    session: AsyncSession,
    stage: StageInfo,
    data: schemas.ResultRulesUpdate,
    if_match: str | None,
    principal: Principal,
) -> schemas.ResultRules:
    await lock_stage_results(session, stage.id)
    names = [c["component"] for c in stage.components]
    errors = [
        FieldError(
            field=f"tie_breaks[{i}]",
            message=f"{tb.removeprefix('component:')} is not a component of the stage "
            f"({', '.join(names)})",
        )
        for i, tb in enumerate(data.tie_breaks)
        if tb.startswith("component:") and tb.removeprefix("component:") not in names
    ]
    if errors:
        raise RuleViolation(errors[0].message, errors=errors)
    row = await session.get(ResultRules, stage.id, with_for_update=True, populate_existing=True)
    check_if_match(if_match, row.version if row else 0)
    before = _rules_view(stage, row).model_dump(mode="json") if row else None
    values: dict[str, Any] = data.model_dump(mode="json")
    if row is None:
        row = ResultRules(stage_id=stage.id, version=1, updated_by=principal.sub, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.version += 1
        row.updated_by = principal.sub
    await session.flush()
    await session.refresh(row)
    view = _rules_view(stage, row)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="result_rules.put",
        entity_type="result_rules",
        entity_id=stage.id,
        before=before,
        after=view.model_dump(mode="json"),
    )
    return view


# -- completion times -------------------------------------------------------------------------


async def put_completion_times(
    session: AsyncSession,
    stage: StageInfo,
    upstream: Upstream,
    data: schemas.CompletionTimes,
    principal: Principal,
) -> schemas.CompletionTimesResult:
    """Upsert completion times by blind code (unknown codes: 422 naming each, nothing stored)."""
    await lock_stage_results(session, stage.id)
    if await latest_result(session, stage.id, (ResultStatus.final,)) is not None:
        raise Conflict(f"The results of stage {stage.id} are final; times can no longer change.")
    codes = {e.blind_code: e.stage_entry_id for e in await upstream.stage_entries(stage.id)}
    errors = [
        FieldError(field=f"times[{i}].blind_code", message=f"{t.blind_code} is not in the stage")
        for i, t in enumerate(data.times)
        if t.blind_code not in codes
    ]
    seen: set[str] = set()
    for i, t in enumerate(data.times):
        if t.blind_code in seen:
            errors.append(FieldError(field=f"times[{i}].blind_code", message="given twice"))
        seen.add(t.blind_code)
    if errors:
        raise RuleViolation(
            f"{len(errors)} completion time(s) refused: {errors[0].message}.", errors=errors
        )
    existing = {
        c.stage_entry_id: c
        for c in await session.scalars(
            select(CompletionTime).where(CompletionTime.stage_id == stage.id)
        )
    }
    for t in data.times:
        entry_id = codes[t.blind_code]
        row = existing.get(entry_id)
        if row is None:
            session.add(
                CompletionTime(
                    stage_id=stage.id,
                    stage_entry_id=entry_id,
                    blind_code=t.blind_code,
                    seconds=t.seconds,
                    recorded_by=principal.sub,
                )
            )
        else:
            row.seconds = t.seconds
            row.recorded_by = principal.sub
    await session.flush()
    total = await session.scalar(
        select(func.count()).select_from(CompletionTime).where(CompletionTime.stage_id == stage.id)
    )
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="completion_times.put",
        entity_type="stage",
        entity_id=stage.id,
        after={"times": [t.model_dump(mode="json") for t in data.times]},
    )
    return schemas.CompletionTimesResult(
        stage_id=stage.id, recorded=len(data.times), total=int(total or 0)
    )


# -- loading and computing --------------------------------------------------------------------


@dataclass
class Loaded:
    """A stage's inputs as arrays, with the ids behind the indices."""

    entry: npt.NDArray[np.int64]
    judge: npt.NDArray[np.int64]
    aspect: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    entry_ids: list[uuid.UUID]
    completion: npt.NDArray[np.float64]
    aspects: compute.AspectSpec
    scheme: MarkingScheme
    aspect_rows: list[MarkingAspect]
    fingerprint: str
    completion_list: list[list[str]]


def _index(
    ids: bytes | None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Dense indices of ids given as 16 bytes each, and the distinct ids' high and low 64-bit
    halves (sorted, so in the database's uuid order), plus each row's halves.

    The high half alone identifies a random UUID among a stage's ids (checked; a collision
    falls back to sorting both halves)."""
    pairs = np.frombuffer(ids or b"", dtype=">u8").reshape(-1, 2).astype(np.uint64)
    hi, lo = pairs[:, 0], pairs[:, 1]
    uniq, first, inverse = np.unique(hi, return_index=True, return_inverse=True)
    if np.array_equal(lo, lo[first][inverse]):
        return inverse.astype(np.int64), uniq, lo[first]
    uniq2, inverse2 = np.unique(pairs, axis=0, return_inverse=True)
    return inverse2.reshape(-1).astype(np.int64), uniq2[:, 0].copy(), uniq2[:, 1].copy()


def _uuid(hi: int, lo: int) -> uuid.UUID:
    return uuid.UUID(int=(hi << 64) | lo)


async def latest_scheme(session: AsyncSession, stage_id: uuid.UUID) -> MarkingScheme:
    scheme = await session.scalar(
        select(MarkingScheme)
        .where(MarkingScheme.stage_id == stage_id)
        .order_by(MarkingScheme.version.desc())
        .limit(1)
    )
    if scheme is None:
        raise Conflict(f"Stage {stage_id} has no marking scheme.")
    return scheme


async def load(
    session: AsyncSession,
    stage_id: uuid.UUID,
    components: list[dict[str, Any]],
    *,
    with_judges: bool = True,
) -> Loaded:
    """The stage's scores (one statement, see `_SCORES_SQL`), aspects and completion times as
    arrays. Scores of aspects outside the stage's current scheme are ignored."""
    scheme = await latest_scheme(session, stage_id)
    aspect_rows = list(
        await session.scalars(
            select(MarkingAspect)
            .where(MarkingAspect.scheme_id == scheme.id)
            .order_by(MarkingAspect.code)
        )
    )
    names = [c["component"] for c in components]
    spec = compute.AspectSpec(
        max_mark=np.array([float(a.max_mark) for a in aspect_rows]),
        judgement=np.array([a.type is AspectType.judgement for a in aspect_rows]),
        component=np.array([names.index(a.component) for a in aspect_rows], dtype=np.int64),
    )
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    query = _SCORES_SQL.format(judge="judge_id" if with_judges else "NULL::uuid")
    row = await driver.fetchrow(query, stage_id, [a.id for a in aspect_rows])
    entry, ehi_u, elo_u = _index(row[0])
    aspect = np.frombuffer(row[2] or b"", dtype=">i4").astype(np.int64)
    centi = np.frombuffer(row[3] or b"", dtype=">i4").astype(np.int64)
    if with_judges:
        judge, jhi_u, jlo_u = _index(row[1])
        judge_key = compute._mix(jhi_u[judge]) ^ jlo_u[judge]
    else:
        judge = np.zeros(len(entry), dtype=np.int64)
        judge_key = np.zeros(len(entry), dtype=np.uint64)
    entry_ids = [_uuid(h, lo) for h, lo in zip(ehi_u.tolist(), elo_u.tolist(), strict=True)]
    position = {e: i for i, e in enumerate(entry_ids)}
    completion = np.full(len(entry_ids), np.nan)
    completion_list: list[list[str]] = []
    for stage_entry_id, seconds in await session.execute(
        select(CompletionTime.stage_entry_id, CompletionTime.seconds)
        .where(CompletionTime.stage_id == stage_id)
        .order_by(CompletionTime.stage_entry_id)
    ):
        completion_list.append([str(stage_entry_id), str(seconds)])
        if stage_entry_id in position:
            completion[position[stage_entry_id]] = float(seconds)
    fingerprint = compute.scores_fingerprint(
        ehi_u[entry],
        elo_u[entry],
        judge_key,
        aspect.astype(np.uint64),
        centi,
    )
    return Loaded(
        entry=entry,
        judge=judge,
        aspect=aspect,
        value=centi.astype(np.float64) / 100.0,
        entry_ids=entry_ids,
        completion=completion,
        aspects=spec,
        scheme=scheme,
        aspect_rows=aspect_rows,
        fingerprint=fingerprint,
        completion_list=completion_list,
    )


def rules_snapshot(rules: schemas.ResultRules, scheme: MarkingScheme) -> dict[str, Any]:
    """Everything besides the scores that forms a result (stored with each version)."""
    return {
        "aggregation": rules.aggregation.value,
        "standardisation": rules.standardisation.value,
        "tie_breaks": list(rules.tie_breaks),
        "prize_bands": rules.prize_bands.model_dump(mode="json") if rules.prize_bands else None,
        "medals": rules.medals.model_dump(mode="json") if rules.medals else None,
        "components": [
            {"component": c.component.value, "weight": c.weight} for c in rules.components
        ],
        "scheme_id": str(scheme.id),
        "scheme_version": scheme.version,
        "appeal_window_minutes": rules.appeal_window_minutes,
    }


def _compute_rules(snapshot: dict[str, Any]) -> compute.Rules:
    return compute.Rules(
        aggregation=compute.Rule(snapshot["aggregation"]),
        standardisation=compute.Scale(snapshot["standardisation"]),
        components=tuple(c["component"] for c in snapshot["components"]),
        weights=tuple(float(c["weight"]) for c in snapshot["components"]),
        tie_breaks=tuple(snapshot["tie_breaks"]),
        prize_bands=snapshot["prize_bands"],
        medals=snapshot["medals"],
    )


def _digest(snapshot: dict[str, Any], loaded: Loaded) -> str:
    return compute.digest(
        {
            "rules": {k: v for k, v in snapshot.items() if k != "appeal_window_minutes"},
            "aspects": [
                [str(a.id), str(a.max_mark), a.type.value, a.component] for a in loaded.aspect_rows
            ],
            "scores": loaded.fingerprint,
            "completion_times": loaded.completion_list,
        }
    )


def run(loaded: Loaded, snapshot: dict[str, Any]) -> compute.Computed:
    return compute.compute(
        loaded.entry,
        loaded.judge,
        loaded.aspect,
        loaded.value,
        n_entries=len(loaded.entry_ids),
        aspects=loaded.aspects,
        completion=loaded.completion,
        rules=_compute_rules(snapshot),
    )


async def scores_locked(session: AsyncSession, stage_id: uuid.UUID) -> bool:
    """The panel lock is in place, the stage has scores, and none is open.

    Once the panel lock exists every mark is locked (the lock locks them all and no new mark can
    be added), and the only way back to editable is `unlock_scores` for an upheld appeal, whose
    appeal records the scores it reopened: so only those need checking, not the millions of a
    large stage."""
    reopened = (
        select(func.jsonb_array_elements_text(Appeal.unlocked_score_ids).cast(Uuid))
        .where(Appeal.stage_id == stage_id, Appeal.status == AppealStatus.upheld)
        .scalar_subquery()
    )
    locked = await session.scalar(
        select(
            exists().where(StageScoreLock.stage_id == stage_id)
            & exists().where(Score.stage_id == stage_id)
            & ~exists().where(Score.id.in_(reopened), Score.locked_at.is_(None))
        )
    )
    return bool(locked)


async def latest_result(
    session: AsyncSession, stage_id: uuid.UUID, statuses: tuple[ResultStatus, ...] | None = None
) -> StageResult | None:
    stmt = select(StageResult).where(StageResult.stage_id == stage_id)
    if statuses:
        stmt = stmt.where(StageResult.status.in_(statuses))
    result: StageResult | None = await session.scalar(
        stmt.order_by(StageResult.version.desc()).limit(1)
    )
    return result


async def published_scheme_id(session: AsyncSession, stage_id: uuid.UUID) -> uuid.UUID | None:
    """The marking scheme version the stage's published results (provisional or final) were
    computed with; None before any publication."""
    latest = await latest_result(session, stage_id, (ResultStatus.provisional, ResultStatus.final))
    return uuid.UUID(latest.inputs["scheme_id"]) if latest is not None else None


async def write_entries(
    session: AsyncSession, result_id: uuid.UUID, loaded: Loaded, computed: compute.Computed
) -> None:
    """The ranked entries of a version, with one COPY."""
    order = computed.order.tolist()
    scores = computed.score.tolist()
    comps = computed.component_scores.tolist()
    ranks = computed.rank.tolist()
    times = loaded.completion.tolist()
    records = [
        (
            result_id,
            loaded.entry_ids[i],
            ranks[i],
            scores[i],
            comps[i],
            None if times[i] != times[i] else times[i],
            computed.prize[i],
            computed.medal[i],
        )
        for i in order
    ]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(
        "result_entries",
        records=records,
        columns=[
            "result_id",
            "stage_entry_id",
            "rank",
            "score",
            "component_scores",
            "completion_seconds",
            "prize",
            "medal",
        ],
    )


async def compute_results(
    session: AsyncSession, stage: StageInfo, principal: Principal
) -> StageResult:
    """A new draft version from the locked scores (409 while any score is open)."""
    await lock_stage_results(session, stage.id)
    # A large stage's scores take longer to stream than the per-request statement timeout
    # (DB_STATEMENT_TIMEOUT_MS) allows; this transaction alone gets longer.
    await session.execute(text(f"SET LOCAL statement_timeout = {COMPUTE_TIMEOUT_MS}"))
    if not await scores_locked(session, stage.id):
        raise Conflict(
            f"The scores of stage {stage.id} are not locked: results are computed only once "
            "every judge has signed off and the panel is locked (and again after re-scoring).",
            rule="scores_not_locked",
        )
    latest = await latest_result(session, stage.id)
    if latest is not None and latest.status is ResultStatus.final:
        raise Conflict(f"The results of stage {stage.id} are final (version {latest.version}).")
    rules = await get_rules(session, stage)
    loaded = await load(
        session,
        stage.id,
        stage.components,
        with_judges=rules.standardisation.value != "none",
    )
    snapshot = rules_snapshot(rules, loaded.scheme)
    computed = run(loaded, snapshot)
    await session.execute(
        update(StageResult)
        .where(StageResult.stage_id == stage.id, StageResult.status == ResultStatus.draft)
        .values(status=ResultStatus.superseded)
    )
    result = StageResult(
        stage_id=stage.id,
        version=(latest.version if latest else 0) + 1,
        status=ResultStatus.draft,
        digest=_digest(snapshot, loaded),
        inputs=snapshot,
        entry_count=len(loaded.entry_ids),
        score_count=len(loaded.entry),
        computed_by=principal.sub,
    )
    session.add(result)
    await session.flush()
    await write_entries(session, result.id, loaded, computed)
    await session.refresh(result)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="results.compute",
        entity_type="stage_result",
        entity_id=result.id,
        after={"stage_id": str(stage.id), "version": result.version, "digest": result.digest},
    )
    return result


async def verify(session: AsyncSession, stage: StageInfo, version: int) -> schemas.Reproduction:
    """Recompute a stored version from today's scores and its own stored rules; compare."""
    result = await get_version(session, stage.id, version)
    await session.execute(text(f"SET LOCAL statement_timeout = {COMPUTE_TIMEOUT_MS}"))
    loaded = await load(
        session,
        stage.id,
        result.inputs["components"],
        with_judges=result.inputs["standardisation"] != "none",
    )
    computed = run(loaded, result.inputs)
    digest = _digest(result.inputs, loaded)
    stored = {
        r.stage_entry_id: (r.rank, r.score, r.prize, r.medal)
        for r in await session.scalars(
            select(ResultEntry).where(ResultEntry.result_id == result.id)
        )
    }
    fresh = {
        loaded.entry_ids[i]: (
            int(computed.rank[i]),
            float(computed.score[i]),
            computed.prize[i],
            computed.medal[i],
        )
        for i in range(len(loaded.entry_ids))
    }
    differences = sum(1 for k in stored.keys() | fresh.keys() if stored.get(k) != fresh.get(k))
    return schemas.Reproduction(
        version=version,
        stored_digest=result.digest,
        recomputed_digest=digest,
        digest_matches=digest == result.digest,
        results_match=differences == 0,
        differences=differences,
    )


# -- lifecycle --------------------------------------------------------------------------------


async def publish_provisional(
    session: AsyncSession, stage: StageInfo, upstream: Upstream, principal: Principal
) -> StageResult:
    """Publish the latest draft: blind codes decoded, appeal window opened."""
    await lock_stage_results(session, stage.id)
    latest = await latest_result(session, stage.id)
    if latest is None or latest.status is not ResultStatus.draft:
        raise Conflict(
            f"Stage {stage.id} has no draft to publish: compute the results first"
            + (f" (version {latest.version} is {latest.status.value})." if latest else "."),
            rule="no_draft",
        )
    if not await scores_locked(session, stage.id):
        raise Conflict(
            f"A score of stage {stage.id} was reopened since version {latest.version} was "
            "computed: recompute once it is locked again.",
            rule="scores_not_locked",
        )
    if stage.status not in (StageStatus.judged, StageStatus.advanced):
        raise Conflict(
            f"The competitions service has stage {stage.id} as {stage.status.value}, not judged: "
            "its blind codes cannot be revealed yet (the panel lock marks it judged).",
            rule="stage_not_judged",
        )
    await _decode(session, latest, upstream)
    rules = await session.get(ResultRules, stage.id)
    window = rules.appeal_window_minutes if rules else 120
    now = datetime.now(UTC)
    await session.execute(
        update(StageResult)
        .where(StageResult.stage_id == stage.id, StageResult.status == ResultStatus.provisional)
        .values(status=ResultStatus.superseded)
    )
    latest.status = ResultStatus.provisional
    latest.published_at = now
    latest.published_by = principal.sub
    latest.appeal_deadline = now + timedelta(minutes=window)
    await session.flush()
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="results.publish_provisional",
        entity_type="stage_result",
        entity_id=latest.id,
        before={"status": "draft"},
        after={"status": "provisional", "appeal_deadline": latest.appeal_deadline.isoformat()},
    )
    outbox.emit(
        session,
        service=SERVICE,
        type="results.provisional",
        subject=str(stage.id),
        data={
            **stage.scope(),
            "result_id": str(latest.id),
            "version": latest.version,
            "entry_count": latest.entry_count,
            "appeal_deadline": latest.appeal_deadline.isoformat(),
        },
    )
    return latest


async def _decode(session: AsyncSession, result: StageResult, upstream: Upstream) -> None:
    """Fill in blind codes and entries from the competitions service (the stage is locked, so
    the mapping may be revealed): two batched reads, one UPDATE."""
    if result.status is not ResultStatus.draft:
        return
    stage_id = result.stage_id
    token = await upstream.token()
    rows = await upstream.competitions.list_stage_entries(str(stage_id), token=token)
    ids = [r["entry_id"] for r in rows if r.get("entry_id")]
    entries = await upstream.competitions.batch_get_entries(ids, token=token) if ids else {}
    columns: dict[str, list[Any]] = {
        k: [] for k in ("se", "code", "entry", "worker", "team", "loc")
    }
    for r in rows:
        entry = entries.get(r.get("entry_id") or "", {})
        columns["se"].append(uuid.UUID(r["id"]))
        columns["code"].append(r.get("blind_code"))
        columns["entry"].append(uuid.UUID(r["entry_id"]) if r.get("entry_id") else None)
        worker = entry.get("worker_id") or r.get("worker_id")
        columns["worker"].append(uuid.UUID(worker) if worker else None)
        columns["team"].append(entry.get("team_name"))
        columns["loc"].append(entry.get("locality_code"))
    await session.execute(
        text(
            "UPDATE result_entries r SET blind_code = d.code, entry_id = d.entry, "
            "worker_id = d.worker, team_name = d.team, locality_code = d.loc "
            "FROM unnest(CAST(:se AS uuid[]), CAST(:code AS text[]), CAST(:entry AS uuid[]), "
            "CAST(:worker AS uuid[]), CAST(:team AS text[]), CAST(:loc AS text[])) "
            "AS d(se, code, entry, worker, team, loc) "
            "WHERE r.result_id = :result AND r.stage_entry_id = d.se"
        ),
        {**columns, "result": result.id},
    )


async def _pending_appeals(session: AsyncSession, stage_id: uuid.UUID) -> int:
    """Appeals of the stage still to be decided (finalising waits for them). Read here rather
    than asked of the appeals area, which builds on this one (services/judging/appeals/)."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Appeal)
            .where(Appeal.stage_id == stage_id, Appeal.status == AppealStatus.pending)
        )
        or 0
    )


async def _appeal_upheld_since(session: AsyncSession, stage_id: uuid.UUID, since: datetime) -> bool:
    found = await session.scalar(
        select(Appeal.id)
        .where(
            Appeal.stage_id == stage_id,
            Appeal.status == AppealStatus.upheld,
            Appeal.decided_at >= since,
        )
        .limit(1)
    )
    return found is not None


async def finalise(
    session: AsyncSession,
    stage: StageInfo,
    upstream: Upstream,
    principal: Principal,
    *,
    now: datetime | None = None,
) -> StageResult:
    """Freeze the provisional version once its appeal window has closed with no appeal pending,
    and send the ranking to competitions for advancement (when the stage has a next stage)."""
    await lock_stage_results(session, stage.id)
    now = now or datetime.now(UTC)
    latest = await latest_result(session, stage.id)
    if latest is not None and latest.status is ResultStatus.final:
        # Finalising again also sends whatever awards are still unsent.
        await award_jobs.schedule(session, stage.id)
        return latest
    public = await latest_result(session, stage.id, (ResultStatus.provisional,))
    if public is None:
        raise Conflict(f"Stage {stage.id} has no provisional results to finalise.")
    if latest is not None and latest.version != public.version:
        raise Conflict(
            f"Version {latest.version} ({latest.status.value}) is newer than the provisional "
            f"version {public.version}: publish or recompute before finalising.",
            rule="newer_version",
        )
    assert public.appeal_deadline is not None
    assert public.published_at is not None
    if now < public.appeal_deadline:
        raise Conflict(
            f"The appeal window of version {public.version} is open until "
            f"{public.appeal_deadline.isoformat()}; finalise after it closes.",
            rule="appeal_window_open",
            appeal_deadline=public.appeal_deadline.isoformat(),
        )
    pending = await _pending_appeals(session, stage.id)
    if pending:
        raise Conflict(
            f"{pending} appeal(s) of stage {stage.id} are pending: decide them first.",
            rule="appeals_pending",
        )
    if await _appeal_upheld_since(session, stage.id, public.published_at):
        raise Conflict(
            f"An appeal was upheld after version {public.version} was published: re-score, "
            "lock, recompute and publish again before finalising.",
            rule="appeal_upheld",
        )
    public.advancement = await _advance(session, stage, upstream, public)
    # Before the status changes: the statistics trigger of stage_results reads these facts.
    await statistics.record_stage(session, stage)
    public.status = ResultStatus.final
    public.finalised_at = now
    public.finalised_by = principal.sub
    await session.flush()
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="results.finalise",
        entity_type="stage_result",
        entity_id=public.id,
        before={"status": "provisional"},
        after={"status": "final", "advancement": public.advancement},
    )
    outbox.emit(
        session,
        service=SERVICE,
        type="results.final",
        subject=str(stage.id),
        data={
            **stage.scope(),
            "result_id": str(public.id),
            "version": public.version,
            "entry_count": public.entry_count,
            "advanced": public.advancement is not None,
        },
    )
    # Committed with the final version: the awards are sent even if this process dies next.
    await award_jobs.schedule(session, stage.id)
    return public


async def _advance(
    session: AsyncSession, stage: StageInfo, upstream: Upstream, result: StageResult
) -> dict[str, Any] | None:
    """PUT the ranking to competitions when the stage has an advancement rule and a later stage.

    The PUT is idempotent (the same ranking answers the same record), and our transaction
    commits after it: if the commit failed, finalising again completes the job."""
    token = await upstream.token()
    raw = await upstream.competitions.get_stage(str(stage.id), token=token)
    if raw is None or raw.get("advancement_rule") is None:
        return None
    stages = await upstream.competitions.list_event_stages(str(stage.event_id), token=token)
    later = sorted((s for s in stages if s["seq"] > raw["seq"]), key=lambda s: s["seq"])
    if not later:
        return None
    ranking = [
        {"entry_id": str(entry_id), "rank": rank, "score": round(score, 3)}
        for entry_id, rank, score in await session.execute(
            select(ResultEntry.entry_id, ResultEntry.rank, ResultEntry.score)
            .where(ResultEntry.result_id == result.id, ResultEntry.entry_id.is_not(None))
            .order_by(ResultEntry.rank, ResultEntry.stage_entry_id)
        )
    ]
    record = await upstream.competitions.apply_advancement(
        str(stage.id), next_stage_id=later[0]["id"], ranking=ranking, token=token
    )
    return {
        "next_stage_id": later[0]["id"],
        "advancement_id": record.get("id"),
        "qualified": len(record.get("qualified_entry_ids", [])),
    }


# -- reading ----------------------------------------------------------------------------------


async def get_version(session: AsyncSession, stage_id: uuid.UUID, version: int) -> StageResult:
    found = await session.scalar(
        select(StageResult).where(StageResult.stage_id == stage_id, StageResult.version == version)
    )
    if found is None:
        raise NotFound(f"Stage {stage_id} has no result version {version}.")
    return found


def summary(result: StageResult) -> schemas.StageResultSummary:
    return schemas.StageResultSummary(
        id=result.id,
        stage_id=result.stage_id,
        version=result.version,
        status=result.status,
        digest=result.digest,
        entry_count=result.entry_count,
        score_count=result.score_count,
        computed_by=result.computed_by,
        computed_at=result.computed_at,
        published_at=result.published_at,
        appeal_deadline=result.appeal_deadline,
        finalised_at=result.finalised_at,
        rules=result.inputs,
    )


async def list_versions(
    session: AsyncSession, stage_id: uuid.UUID, *, public_only: bool, limit: int, cursor: str | None
) -> Page[schemas.StageResultSummary]:
    stmt = select(StageResult).where(StageResult.stage_id == stage_id)
    if public_only:
        stmt = stmt.where(StageResult.status.in_(PUBLIC))
    return await paginate(
        session,
        stmt,
        order_by=[StageResult.version],
        limit=limit,
        cursor=cursor,
        transform=summary,
    )


def entry_view(row: ResultEntry, components: list[str]) -> schemas.ResultEntry:
    return schemas.ResultEntry(
        rank=row.rank,
        stage_entry_id=row.stage_entry_id,
        blind_code=row.blind_code,
        entry_id=row.entry_id,
        team_name=row.team_name,
        locality_code=row.locality_code,
        score=row.score,
        component_scores=dict(zip(components, row.component_scores, strict=True)),
        completion_seconds=row.completion_seconds,
        prize=row.prize,
        medal=row.medal,
    )


async def version_with_entries(
    session: AsyncSession, result: StageResult, *, offset: int, limit: int
) -> schemas.StageResult:
    components = [c["component"] for c in result.inputs["components"]]
    rows = list(
        await session.scalars(
            select(ResultEntry)
            .where(ResultEntry.result_id == result.id)
            .order_by(ResultEntry.rank, ResultEntry.stage_entry_id)
            .offset(offset)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    return schemas.StageResult(
        **summary(result).model_dump(),
        entries=[entry_view(r, components) for r in rows[:limit]],
        next_offset=offset + limit if more else None,
    )
