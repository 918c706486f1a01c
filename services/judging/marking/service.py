"""Marking schemes of a stage: validated, versioned (each save a new version), frozen once
scoring starts.

The rules, each refusal naming the field: the components and weights are the stage's (read from
the competitions service); every aspect belongs to one of them; a measurement aspect has a max
mark and optionally the allowed marks (the highest being the max mark); a judgement aspect is
scored 0-3 and needs a written descriptor for each of the four levels; a criterion's or
sub-criterion's declared max mark equals its aspects' sum; each component's aspects total its
weight; the whole scheme totals exactly 100.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.marking import schemas
from services.judging.upstream import StageInfo
from shared import audit
from shared.auth.principal import Principal
from shared.concurrency import check_if_match
from shared.errors import Conflict, FieldError, NotFound, RuleViolation
from shared.models.competitions import StageStatus
from shared.models.judging import AspectType, MarkingAspect, MarkingScheme
from shared.pagination import Page, paginate

SERVICE = "judging"
TOTAL = Decimal(100)
JUDGEMENT_LEVELS = 4  # 0, 1, 2, 3


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}"


def validate(data: schemas.MarkingSchemeCreate, stage: StageInfo) -> list[FieldError]:
    """Every rule the scheme breaks, each naming its path (empty when the scheme is valid)."""
    errors: list[FieldError] = []

    def bad(field: str, message: str) -> None:
        errors.append(FieldError(field=field, message=message))

    declared = {c.component.value: c.weight for c in data.components}
    expected = {c["component"]: int(c["weight"]) for c in stage.components}
    want = ", ".join(f"{k} {v}" for k, v in expected.items())
    seen: set[str] = set()
    for i, c in enumerate(data.components):
        name = c.component.value
        if name in seen:
            bad(f"components[{i}].component", f"{name} is given twice")
        elif name not in expected:
            bad(f"components[{i}].component", f"not a component of the stage ({want})")
        elif c.weight != expected[name]:
            bad(f"components[{i}].weight", f"the stage weighs {name} {expected[name]}")
        seen.add(name)
    for name in expected:
        if name not in seen:
            bad("components", f"{name} is missing: give the stage's components ({want})")

    per_component: dict[str, Decimal] = dict.fromkeys(declared, Decimal(0))
    criterion_totals: list[tuple[str, Decimal]] = []
    #: Per criterion, the marks of its aspects by component (a component may span criteria).
    shares: list[dict[str, Decimal]] = []
    for ci, criterion in enumerate(data.criteria):
        cpath = f"criteria[{ci}]"
        ctotal = Decimal(0)
        share: dict[str, Decimal] = {}
        shares.append(share)
        for si, sub in enumerate(criterion.sub_criteria):
            spath = f"{cpath}.sub_criteria[{si}]"
            stotal = Decimal(0)
            for ai, aspect in enumerate(sub.aspects):
                apath = f"{spath}.aspects[{ai}]"
                stotal += aspect.max_mark
                component = aspect.component.value
                if component not in declared:
                    bad(f"{apath}.component", f"{component} is not a component of the scheme")
                else:
                    per_component[component] += aspect.max_mark
                    share[component] = share.get(component, Decimal(0)) + aspect.max_mark
                if aspect.type is AspectType.measurement:
                    if aspect.descriptors is not None:
                        bad(f"{apath}.descriptors", "only judgement aspects have descriptors")
                    values = aspect.allowed_values
                    if values is not None:
                        if len(set(values)) != len(values):
                            bad(f"{apath}.allowed_values", "values must be distinct")
                        if any(v < 0 or v > aspect.max_mark for v in values):
                            bad(
                                f"{apath}.allowed_values",
                                f"every value must lie between 0 and max_mark "
                                f"{_fmt(aspect.max_mark)}",
                            )
                        elif max(values) != aspect.max_mark:
                            bad(
                                f"{apath}.allowed_values",
                                f"the highest allowed value must be max_mark "
                                f"{_fmt(aspect.max_mark)}",
                            )
                else:
                    if aspect.allowed_values is not None:
                        bad(
                            f"{apath}.allowed_values",
                            "a judgement aspect is scored on the 0-3 scale, not allowed values",
                        )
                    descriptors = aspect.descriptors
                    if descriptors is None:
                        bad(
                            f"{apath}.descriptors",
                            "required: a written descriptor for each of the levels 0, 1, 2 and 3",
                        )
                    elif len(descriptors) != JUDGEMENT_LEVELS:
                        bad(
                            f"{apath}.descriptors",
                            f"exactly 4 descriptors (levels 0-3), not {len(descriptors)}",
                        )
                    else:
                        for level, descriptor in enumerate(descriptors):
                            if not descriptor.strip():
                                bad(f"{apath}.descriptors[{level}]", "must not be blank")
            if sub.max_mark is not None and sub.max_mark != stotal:
                bad(
                    f"{spath}.max_mark",
                    f"{_fmt(sub.max_mark)} declared, but its aspects total {_fmt(stotal)}",
                )
            ctotal += stotal
        if criterion.max_mark is not None and criterion.max_mark != ctotal:
            bad(
                f"{cpath}.max_mark",
                f"{_fmt(criterion.max_mark)} declared, but its aspects total {_fmt(ctotal)}",
            )
        criterion_totals.append((f"{cpath} {criterion.name}", ctotal))

    # A component whose aspects do not add up to its weight is named where its aspects are:
    # every criterion holding some of them, with its share (the README promises paths).
    # Against the stage's weight: a wrong declared weight is already named at `components`.
    mismatched = False
    checked: set[str] = set()
    for i, c in enumerate(data.components):
        component = c.component.value
        if component in checked or component not in expected:
            continue
        checked.add(component)
        weight = expected[component]
        marks = per_component.get(component, Decimal(0))
        if marks == weight:
            continue
        mismatched = True
        holders = [ci for ci, share in enumerate(shares) if component in share]
        if not holders:
            bad(f"components[{i}]", f"{component} (weight {weight}) has no aspect")
        for ci in holders:
            bad(
                f"criteria[{ci}]",
                f"its {component} aspects total {_fmt(shares[ci][component])}; all the "
                f"{component} aspects total {_fmt(marks)}, but the {component} weight is "
                f"{weight}",
            )
    total = sum((t for _, t in criterion_totals), Decimal(0))
    if total != TOTAL and not mismatched:
        # Only when the weights themselves are off (reported at `components`) or an aspect
        # names no component of the scheme (reported at that aspect).
        parts = "; ".join(f"{path}: {_fmt(t)}" for path, t in criterion_totals)
        bad("criteria", f"the aspects' max marks total {_fmt(total)}, not 100 ({parts})")
    return errors


def _code(index: int) -> str:
    return chr(ord("A") + index)


def _tree(
    data: schemas.MarkingSchemeCreate, scheme_id: uuid.UUID
) -> tuple[list[dict[str, Any]], list[MarkingAspect]]:
    """The stored tree (codes A, A1, A1.1 and aspect ids) and the aspect rows."""
    criteria: list[dict[str, Any]] = []
    rows: list[MarkingAspect] = []
    for ci, criterion in enumerate(data.criteria):
        ccode = _code(ci)
        subs = []
        for si, sub in enumerate(criterion.sub_criteria):
            scode = f"{ccode}{si + 1}"
            aspects = []
            for ai, a in enumerate(sub.aspects):
                row = MarkingAspect(
                    id=uuid.uuid4(),
                    scheme_id=scheme_id,
                    code=f"{scode}.{ai + 1}",
                    component=a.component.value,
                    type=a.type,
                    description=a.description,
                    max_mark=a.max_mark,
                    allowed_values=[float(v) for v in a.allowed_values]
                    if a.allowed_values is not None
                    else None,
                    descriptors=a.descriptors,
                )
                rows.append(row)
                aspects.append(
                    schemas.Aspect(
                        id=row.id,
                        code=row.code,
                        description=a.description,
                        component=a.component,
                        type=a.type,
                        max_mark=a.max_mark,
                        allowed_values=a.allowed_values,
                        descriptors=a.descriptors,
                    ).model_dump(mode="json")
                )
            subs.append(
                {
                    "code": scode,
                    "name": sub.name,
                    "max_mark": float(sum(a.max_mark for a in sub.aspects)),
                    "aspects": aspects,
                }
            )
        criteria.append(
            {
                "code": ccode,
                "name": criterion.name,
                "max_mark": float(
                    sum(a.max_mark for s in criterion.sub_criteria for a in s.aspects)
                ),
                "sub_criteria": subs,
            }
        )
    return criteria, rows


def present(scheme: MarkingScheme) -> schemas.MarkingScheme:
    marks: dict[str, Decimal] = {c["component"]: Decimal(0) for c in scheme.components}
    for criterion in scheme.criteria:
        for sub in criterion["sub_criteria"]:
            for aspect in sub["aspects"]:
                marks[aspect["component"]] += Decimal(str(aspect["max_mark"]))
    return schemas.MarkingScheme(
        **summary(scheme).model_dump(),
        components=[schemas.ComponentWeight.model_validate(c) for c in scheme.components],
        component_marks=marks,
        criteria=[schemas.Criterion.model_validate(c) for c in scheme.criteria],
    )


def outline(scheme: MarkingScheme) -> schemas.MarkingSchemeOutline:
    """The scheme as competitors may see it (codes, names, max marks)."""
    return schemas.MarkingSchemeOutline.model_validate(
        {
            "stage_id": scheme.stage_id,
            "version": scheme.version,
            "title": scheme.title,
            "criteria": scheme.criteria,
        }
    )


async def by_id(session: AsyncSession, scheme_id: uuid.UUID) -> MarkingScheme:
    found = await session.get(MarkingScheme, scheme_id)
    if found is None:  # pragma: no cover - results always point at a saved version
        raise NotFound(f"No marking scheme {scheme_id}.")
    return found


def summary(scheme: MarkingScheme) -> schemas.MarkingSchemeSummary:
    return schemas.MarkingSchemeSummary(
        id=scheme.id,
        stage_id=scheme.stage_id,
        version=scheme.version,
        title=scheme.title,
        total=scheme.total,
        frozen=scheme.frozen_at is not None,
        frozen_at=scheme.frozen_at,
        created_by=scheme.created_by,
        created_at=scheme.created_at,
    )


async def _lock_stage(session: AsyncSession, stage_id: uuid.UUID) -> None:
    """Serialise saves and freezes of one stage's scheme (there may be no row to lock yet)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"marking-scheme:{stage_id}"},
    )


async def _latest(session: AsyncSession, stage_id: uuid.UUID) -> MarkingScheme | None:
    return await session.scalar(
        select(MarkingScheme)
        .where(MarkingScheme.stage_id == stage_id)
        .order_by(MarkingScheme.version.desc())
        .limit(1)
    )


async def save_scheme(
    session: AsyncSession,
    stage: StageInfo,
    data: schemas.MarkingSchemeCreate,
    if_match: str | None,
    principal: Principal,
) -> MarkingScheme:
    await _lock_stage(session, stage.id)
    latest = await _latest(session, stage.id)
    if latest is not None and latest.frozen_at is not None:
        raise Conflict(
            f"The marking scheme of stage {stage.id} was frozen at version {latest.version} "
            "when scoring started: no new version can be saved."
        )
    if stage.status in (StageStatus.judged, StageStatus.advanced):
        raise Conflict(f"Stage {stage.id} is {stage.status.value}: its scheme is final.")
    check_if_match(if_match, latest.version if latest else 0)
    errors = validate(data, stage)
    if errors:
        summary_ = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        raise RuleViolation(
            f"The marking scheme breaks {len(errors)} rule(s): {summary_}", errors=errors
        )
    scheme_id = uuid.uuid4()
    criteria, aspects = _tree(data, scheme_id)
    scheme = MarkingScheme(
        id=scheme_id,
        stage_id=stage.id,
        version=(latest.version if latest else 0) + 1,
        title=data.title,
        components=[c.model_dump(mode="json") for c in data.components],
        criteria=criteria,
        total=TOTAL,
        created_by=principal.sub,
    )
    session.add(scheme)
    await session.flush()
    session.add_all(aspects)
    await session.flush()
    await session.refresh(scheme)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="marking_scheme.save",
        entity_type="marking_scheme",
        entity_id=scheme.id,
        before={"version": latest.version} if latest else None,
        after={
            "stage_id": str(stage.id),
            "version": scheme.version,
            "title": scheme.title,
            "components": scheme.components,
            "criteria": scheme.criteria,
        },
    )
    return scheme


async def current(session: AsyncSession, stage_id: uuid.UUID) -> MarkingScheme:
    latest = await _latest(session, stage_id)
    if latest is None:
        raise NotFound(f"Stage {stage_id} has no marking scheme yet.")
    return latest


async def version(session: AsyncSession, stage_id: uuid.UUID, number: int) -> MarkingScheme:
    found = await session.scalar(
        select(MarkingScheme).where(
            MarkingScheme.stage_id == stage_id, MarkingScheme.version == number
        )
    )
    if found is None:
        raise NotFound(f"Stage {stage_id} has no marking scheme version {number}.")
    return found


async def list_versions(
    session: AsyncSession, stage_id: uuid.UUID, *, limit: int, cursor: str | None
) -> Page[schemas.MarkingSchemeSummary]:
    return await paginate(
        session,
        select(MarkingScheme).where(MarkingScheme.stage_id == stage_id),
        order_by=[MarkingScheme.version],
        limit=limit,
        cursor=cursor,
        transform=summary,
    )


async def freeze(session: AsyncSession, stage: StageInfo, principal: Principal) -> MarkingScheme:
    """Freeze the current version (idempotent: a frozen scheme is answered as it is)."""
    await _lock_stage(session, stage.id)
    latest = await _latest(session, stage.id)
    if latest is None:
        raise Conflict(f"Stage {stage.id} has no marking scheme to freeze.")
    if latest.frozen_at is not None:
        return latest
    latest.frozen_at = datetime.now(UTC)
    latest.frozen_by = principal.sub
    await session.flush()
    audit.record(session, **freeze_audit(latest.id, latest.version, principal))
    return latest


def freeze_audit(scheme_id: uuid.UUID, version: int, principal: Principal) -> dict[str, Any]:
    """The audit of a scheme's freeze, as `audit.record` and `audit.entry` take it (the score
    writes' fast path freezes in SQL and inserts the row `audit.entry` builds from this)."""
    return {
        "service": SERVICE,
        "principal": principal,
        "action": "marking_scheme.freeze",
        "entity_type": "marking_scheme",
        "entity_id": scheme_id,
        "before": {"version": version, "frozen": False},
        "after": {"version": version, "frozen": True},
    }
