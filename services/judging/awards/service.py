"""Award rules of a stage, and planning: which competitor earns what from the final results.

Planning is idempotent: an award is one (rule, entry, worker), inserted once however often the
stage is planned, with its registry call fixed at that moment (the target grade, the date), so
that every later send repeats the same call with the same `source_ref`.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.awards import schemas
from services.judging.awards.results import FinalResult
from services.judging.upstream import StageInfo, Upstream
from shared import audit, clock, outbox
from shared.auth.principal import Principal
from shared.errors import Conflict, FieldError, InvalidInput, NotFound
from shared.models.competitions import CompetitionLevel
from shared.models.judging import Award, AwardKind, AwardRule, Certificate, DeliveryState
from shared.models.registry.enums import SkillGrade

SERVICE = "judging"
PRIZE_TITLES = {"first": "一等奖", "second": "二等奖", "third": "三等奖", "merit": "优秀奖"}
KIND_SUFFIX = {
    AwardKind.honour: "honour",
    AwardKind.grade_promotion: "grade",
    AwardKind.competition_result: "result",
}
#: Certificate codes: no 0/O, 1/I/L look-alikes; 16 characters carry 80 bits.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 16


def source_ref(
    stage_id: uuid.UUID, entry_id: uuid.UUID, worker_id: uuid.UUID, kind: AwardKind
) -> str:
    """The same outcome always gets the same reference: `award:{kind}:{digest}`, the digest of
    stage, entry and competitor (61 characters: the registry keeps 64 in the talent file)."""
    digest = hashlib.sha256(f"{stage_id}:{entry_id}:{worker_id}".encode()).hexdigest()[:48]
    return f"award:{KIND_SUFFIX[kind]}:{digest}"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """Accept the code as printed (groups of four with hyphens or spaces), any case."""
    return "".join(c for c in code.upper() if c.isalnum())


# --- rules ------------------------------------------------------------------------------------


def _check_rule(data: schemas.AwardRuleCreate) -> None:
    errors: list[FieldError] = []
    if data.kind is AwardKind.honour and not data.honour_code:
        errors.append(FieldError(field="honour_code", message="required for an honour rule"))
    if data.kind is not AwardKind.honour and data.honour_code:
        errors.append(FieldError(field="honour_code", message="only for an honour rule"))
    if data.kind is not AwardKind.grade_promotion and data.to_grade:
        errors.append(FieldError(field="to_grade", message="only for a grade_promotion rule"))
    if data.kind is not AwardKind.competition_result and not (data.top_n or data.prizes):
        errors.append(
            FieldError(field="top_n", message="an honour or promotion rule needs top_n or prizes")
        )
    if data.kind is AwardKind.competition_result and data.requires_confirmation:
        errors.append(
            FieldError(
                field="requires_confirmation",
                message="only honours and promotions wait for confirmation",
            )
        )
    if errors:
        raise InvalidInput("The award rule is incomplete or mixes kinds.", errors=errors)


def rule_snapshot(rule: AwardRule) -> dict[str, Any]:
    return schemas.AwardRule.model_validate(rule).model_dump(mode="json")


async def create_rule(
    session: AsyncSession, stage: StageInfo, data: schemas.AwardRuleCreate, principal: Principal
) -> AwardRule:
    """One rule per kind per stage (per honour for honours): 409 for a second one."""
    _check_rule(data)
    # Serialise rule creation per stage so two concurrent creates cannot both pass the check.
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext(f"award-rules:{stage.id}")))
    )
    clash = await session.scalar(
        select(AwardRule).where(
            AwardRule.stage_id == stage.id,
            AwardRule.kind == data.kind,
            AwardRule.honour_code.is_not_distinct_from(data.honour_code),
        )
    )
    if clash is not None:
        what = f"honour {data.honour_code}" if data.honour_code else data.kind.value
        raise Conflict(
            f"Stage {stage.id} already has a rule for {what} ({clash.id}); delete it first.",
            existing_rule_id=str(clash.id),
        )
    rule = _new_rule(data, principal, stage_id=stage.id)
    await audit.add_created(
        session,
        rule,
        service=SERVICE,
        principal=principal,
        action="award_rule.created",
        entity_type="award_rule",
        after=lambda: rule_snapshot(rule),
    )
    return rule


def _new_rule(
    data: schemas.AwardRuleCreate,
    principal: Principal,
    *,
    stage_id: uuid.UUID | None = None,
    level: CompetitionLevel | None = None,
) -> AwardRule:
    return AwardRule(
        id=uuid.uuid4(),
        stage_id=stage_id,
        level=level,
        requires_confirmation=data.requires_confirmation,
        kind=data.kind,
        honour_code=data.honour_code,
        to_grade=data.to_grade.value if data.to_grade else None,
        top_n=data.top_n,
        prizes=list(data.prizes) if data.prizes else None,
        citation=data.citation,
        created_by=principal.sub,
    )


async def create_standing_rule(
    session: AsyncSession, data: schemas.StandingAwardRuleCreate, principal: Principal
) -> AwardRule:
    """A rule for the final stage of every competition at `data.level` (the province's
    policy, e.g. provincial first prizes recommended for 山东省技术能手): one per kind per
    level (per honour for honours), 409 for a second."""
    _check_rule(data)
    level = CompetitionLevel(data.level)
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext(f"award-rules:{level.value}")))
    )
    clash = await session.scalar(
        select(AwardRule).where(
            AwardRule.level == level,
            AwardRule.kind == data.kind,
            AwardRule.honour_code.is_not_distinct_from(data.honour_code),
        )
    )
    if clash is not None:
        what = f"honour {data.honour_code}" if data.honour_code else data.kind.value
        raise Conflict(
            f"The {level.value} level already has a standing rule for {what} ({clash.id}); "
            "delete it first.",
            existing_rule_id=str(clash.id),
        )
    rule = _new_rule(data, principal, level=level)
    await audit.add_created(
        session,
        rule,
        service=SERVICE,
        principal=principal,
        action="award_rule.created",
        entity_type="award_rule",
        after=lambda: rule_snapshot(rule),
    )
    return rule


async def list_standing_rules(
    session: AsyncSession, level: CompetitionLevel | None
) -> list[AwardRule]:
    stmt = select(AwardRule).where(AwardRule.level.is_not(None))
    if level is not None:
        stmt = stmt.where(AwardRule.level == level)
    return list(await session.scalars(stmt.order_by(AwardRule.created_at, AwardRule.id)))


async def applicable_rules(
    session: AsyncSession, upstream: Upstream, stage: StageInfo
) -> list[AwardRule]:
    """The stage's own rules, and the standing rules of its level when it is the last stage of
    its event (the final: earlier rounds do not win what the level's rules give)."""
    rules = await list_rules(session, stage.id)
    standing = await list_standing_rules(session, stage.level)
    if standing:
        stages = await upstream.competitions.list_event_stages(
            str(stage.event_id), token=await upstream.token()
        )
        last = max(stages, key=lambda s: s["seq"], default=None)
        if last is not None and uuid.UUID(str(last["id"])) == stage.id:
            rules += standing
    return rules


async def list_rules(session: AsyncSession, stage_id: uuid.UUID) -> list[AwardRule]:
    rows = await session.scalars(
        select(AwardRule)
        .where(AwardRule.stage_id == stage_id)
        .order_by(AwardRule.created_at, AwardRule.id)
    )
    return list(rows)


async def get_rule(
    session: AsyncSession, rule_id: uuid.UUID, *, for_update: bool = False
) -> AwardRule:
    rule = await session.get(AwardRule, rule_id, with_for_update=for_update or None)
    if rule is None:
        raise NotFound(f"No award rule with id {rule_id}.")
    return rule


async def delete_rule(session: AsyncSession, rule: AwardRule, principal: Principal) -> None:
    """Only while none of its awards exist: a planned award may already be in the registry."""
    planned = await session.scalar(select(func.count()).where(Award.rule_id == rule.id))
    if planned:
        raise Conflict(
            f"Award rule {rule.id} has {planned} planned award(s); it is part of the record.",
            awards=int(planned),
        )
    before = rule_snapshot(rule)
    await session.delete(rule)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="award_rule.deleted",
        entity_type="award_rule",
        entity_id=rule.id,
        before=before,
    )


# --- planning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageNames:
    competition_name: str
    event_name: str


async def stage_names(upstream: Upstream, stage: StageInfo) -> StageNames:
    token = await upstream.token()
    competition = await upstream.competitions.get_competition(
        str(stage.competition_id), token=token
    )
    event = await upstream.competitions.get_event(str(stage.event_id), token=token)
    return StageNames(
        competition_name=(competition or {}).get("name", ""),
        event_name=(event or {}).get("name", ""),
    )


def qualifies(rule: AwardRule, result: FinalResult) -> bool:
    if rule.top_n is not None and result.rank > rule.top_n:
        return False
    return rule.prizes is None or result.prize in rule.prizes


def _title(result: FinalResult) -> str:
    return PRIZE_TITLES.get(result.prize or "", f"第{result.rank}名")


def _request(
    rule: AwardRule,
    ref: str,
    stage: StageInfo,
    names: StageNames,
    result: FinalResult,
    worker: dict[str, Any],
    today: str,
) -> tuple[dict[str, Any] | None, str | None]:
    """The registry call for this award, or (None, why) when there is nothing to send."""
    worker_id = str(worker["id"])
    reason = (
        rule.citation
        or f"{names.competition_name} {names.event_name} {stage.name} {_title(result)}"
    )
    if rule.kind is AwardKind.honour:
        return {
            "method": "POST",
            "path": f"/v1/honours/{rule.honour_code}/grants",
            "body": {
                "worker_id": worker_id,
                "granted_on": today,
                "source": "competition_result",
                "source_ref": ref,
                "citation": reason,
                "competition_id": str(stage.competition_id),
            },
        }, None
    if rule.kind is AwardKind.grade_promotion:
        current = SkillGrade(worker["grade"])
        ladder = list(SkillGrade)
        if rule.to_grade:
            target = SkillGrade(rule.to_grade)
        elif current.rank + 1 < len(ladder):
            target = ladder[current.rank + 1]
        else:
            return None, f"already holds {current.value}, the top of the ladder"
        if target.rank <= current.rank:
            return None, f"already holds {current.value}, at or above {target.value}"
        return {
            "method": "PUT",
            "path": f"/v1/internal/grade-promotions/{ref}",
            "body": {
                "worker_id": worker_id,
                "to_grade": target.value,
                "effective_date": today,
                "competition_id": str(stage.competition_id),
                "reason": reason,
            },
        }, None
    return {
        "method": "PUT",
        "path": f"/v1/internal/competition-results/{ref}",
        "body": {
            "worker_id": worker_id,
            "competition_id": str(stage.competition_id),
            "competition_name": names.competition_name or "-",
            "stage_name": stage.name,
            # The file shows the worker's path by level and year.
            "event_name": names.event_name or None,
            "level": stage.level.value,
            "year": stage.year,
            "rank": result.rank,
            "prize": result.prize,
            "score": float(result.score) if result.score is not None else None,
            "published_at": result.published_at.isoformat(),
        },
    }, None


def members_of(entry: dict[str, Any]) -> list[uuid.UUID]:
    """The competitor, or every member of a team (leader first)."""
    ids = [uuid.UUID(m["worker_id"]) for m in entry.get("members") or []]
    if entry.get("worker_id"):
        lead = uuid.UUID(entry["worker_id"])
        ids = [lead, *[i for i in ids if i != lead]]
    return list(dict.fromkeys(ids))


@dataclass
class Plan:
    created: int
    skipped: list[schemas.Skipped]


async def plan_awards(
    session: AsyncSession,
    upstream: Upstream,
    stage: StageInfo,
    results: list[FinalResult],
    principal: Principal | None,
) -> Plan:
    """Create the stage's missing awards and certificates from its final results (idempotent:
    existing ones are kept as they are). The results finalise path may call this directly."""
    rules = await applicable_rules(session, upstream, stage)
    plan = Plan(created=0, skipped=[])
    chosen = [(rule, r) for r in results for rule in rules if qualifies(rule, r)]
    if not chosen:
        return plan
    names = await stage_names(upstream, stage)
    entries = await upstream.entries(list({r.entry_id for _, r in chosen}))
    members = {uuid.UUID(k): members_of(v) for k, v in entries.items()}
    workers = await upstream.workers(sorted({w for ws in members.values() for w in ws}))
    today = clock.today().isoformat()
    honoured: dict[tuple[uuid.UUID, uuid.UUID], FinalResult] = {}
    for rule, result in chosen:
        for worker_id in members.get(result.entry_id, []):
            worker = workers.get(worker_id)
            if worker is None:
                plan.skipped.append(
                    schemas.Skipped(
                        entry_id=result.entry_id,
                        worker_id=worker_id,
                        rule_id=rule.id,
                        reason="the registry no longer has this worker",
                    )
                )
                continue
            ref = source_ref(stage.id, result.entry_id, worker_id, rule.kind)
            request, why = _request(rule, ref, stage, names, result, worker, today)
            if request is None:
                plan.skipped.append(
                    schemas.Skipped(
                        entry_id=result.entry_id,
                        worker_id=worker_id,
                        rule_id=rule.id,
                        reason=why or "nothing to send",
                    )
                )
                continue
            inserted = await session.scalar(
                insert(Award)
                .values(
                    id=uuid.uuid4(),
                    stage_id=stage.id,
                    rule_id=rule.id,
                    kind=rule.kind,
                    entry_id=result.entry_id,
                    worker_id=worker_id,
                    rank=result.rank,
                    prize=result.prize,
                    score=result.score,
                    source_ref=ref,
                    request=request,
                    state=DeliveryState.awaiting_confirmation
                    if rule.requires_confirmation
                    else DeliveryState.pending,
                )
                .on_conflict_do_nothing(constraint="uq_awards_rule_entry_worker")
                .returning(Award.id)
            )
            if inserted is not None:
                plan.created += 1
                if rule.requires_confirmation:
                    outbox.emit(
                        session,
                        service=SERVICE,
                        type="award.awaiting_confirmation",
                        subject=f"award:{inserted}",
                        data={
                            "award_id": str(inserted),
                            **stage.scope(),
                            "entry_id": str(result.entry_id),
                            "worker_id": str(worker_id),
                            "kind": rule.kind.value,
                            "honour_code": rule.honour_code,
                            "to_grade": request["body"].get("to_grade"),
                            "rank": result.rank,
                            "prize": result.prize,
                            "source_ref": ref,
                            "registry_ref": None,
                            "state": DeliveryState.awaiting_confirmation.value,
                        },
                    )
            # A certificate for prizes, honours and promotions (a plain file entry is no award).
            if result.prize or rule.kind is not AwardKind.competition_result:
                honoured[(result.entry_id, worker_id)] = result
    for (entry_id, worker_id), result in honoured.items():
        await session.execute(
            insert(Certificate)
            .values(
                id=uuid.uuid4(),
                code=new_code(),
                stage_id=stage.id,
                entry_id=entry_id,
                worker_id=worker_id,
                worker_name=workers[worker_id]["name"],
                competition_id=stage.competition_id,
                competition_name=names.competition_name,
                event_name=names.event_name,
                stage_name=stage.name,
                award_title=_title(result),
                rank=result.rank,
                prize=result.prize,
                issued_on=clock.today(),
            )
            .on_conflict_do_nothing(constraint="uq_certificates_holder")
        )
    if plan.created:
        audit.record(
            session,
            service=SERVICE,
            principal=principal,
            action="awards.planned",
            entity_type="stage",
            entity_id=stage.id,
            after={"created": plan.created, "skipped": len(plan.skipped)},
        )
    return plan


async def totals(session: AsyncSession, stage_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(Award.state, func.count()).where(Award.stage_id == stage_id).group_by(Award.state)
    )
    out = {s.value: 0 for s in DeliveryState}
    out.update({state.value: int(n) for state, n in rows})
    return out
