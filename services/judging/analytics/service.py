"""Judge analytics from the submitted scores of a stage.

Severity and agreement use the judgement aspects (the 0-3 levels several judges give the same
entry); the plot shows every submitted mark as a percentage of its aspect's maximum, so that
measurement and judgement marks share one axis.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import krippendorff
import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.analytics import schemas
from shared.models.judging import AspectType, Judge, MarkingAspect, Score
from shared.stats import render

TENDENCY_THRESHOLD = 0.25
JUDGEMENT_MAX = Decimal(3)


@dataclass(frozen=True)
class Mark:
    judge_id: uuid.UUID
    stage_entry_id: uuid.UUID
    aspect_id: uuid.UUID
    value: float
    percent: float
    judgement: bool


async def load_marks(
    session: AsyncSession, stage_id: uuid.UUID
) -> tuple[list[Mark], dict[uuid.UUID, str], dict[uuid.UUID, MarkingAspect]]:
    """Submitted marks of the stage, the judges' names and the aspects marked (plain column
    rows, not ORM objects: a large stage has hundreds of thousands of marks)."""
    aspect_ids = select(Score.aspect_id).where(Score.stage_id == stage_id).distinct()
    aspects = {
        a.id: a
        for a in await session.scalars(
            select(MarkingAspect).where(MarkingAspect.id.in_(aspect_ids))
        )
    }
    rows = await session.execute(
        select(Score.judge_id, Score.stage_entry_id, Score.aspect_id, Score.value).where(
            Score.stage_id == stage_id, Score.submitted_at.is_not(None)
        )
    )
    tops = {
        a.id: (
            a.type is AspectType.judgement,
            float(JUDGEMENT_MAX if a.type is AspectType.judgement else a.max_mark),
        )
        for a in aspects.values()
    }
    marks: list[Mark] = []
    for judge_id, stage_entry_id, aspect_id, value in rows:
        judgement, top = tops[aspect_id]
        marks.append(
            Mark(
                judge_id=judge_id,
                stage_entry_id=stage_entry_id,
                aspect_id=aspect_id,
                value=float(value),
                percent=float(value) / top * 100 if top else 0.0,
                judgement=judgement,
            )
        )
    judge_ids = {m.judge_id for m in marks}
    names: dict[uuid.UUID, str] = {}
    if judge_ids:
        for judge_id, name in (
            await session.execute(select(Judge.id, Judge.name).where(Judge.id.in_(judge_ids)))
        ).all():
            names[judge_id] = name
    return marks, names, aspects


def severity(marks: list[Mark], names: dict[uuid.UUID, str]) -> list[schemas.JudgeSeverity]:
    """Each judge's mean deviation from the panel mean on the same entry and aspect."""
    cells: dict[tuple[uuid.UUID, uuid.UUID], list[Mark]] = defaultdict(list)
    for m in marks:
        if m.judgement:
            cells[(m.stage_entry_id, m.aspect_id)].append(m)
    deviations: dict[uuid.UUID, list[float]] = defaultdict(list)
    for cell in cells.values():
        if len(cell) < 2:
            continue
        panel = sum(m.value for m in cell) / len(cell)
        for m in cell:
            deviations[m.judge_id].append(m.value - panel)
    counts: dict[uuid.UUID, int] = defaultdict(int)
    for m in marks:
        counts[m.judge_id] += 1
    out = []
    for judge_id in sorted(counts, key=lambda j: (names.get(j, ""), str(j))):
        devs = deviations.get(judge_id, [])
        mean = sum(devs) / len(devs) if devs else None
        if mean is None:
            tendency = "unknown"
        elif mean < -TENDENCY_THRESHOLD:
            tendency = "severe"
        elif mean > TENDENCY_THRESHOLD:
            tendency = "lenient"
        else:
            tendency = "in_line"
        out.append(
            schemas.JudgeSeverity(
                judge_id=judge_id,
                name=names.get(judge_id, ""),
                mean_deviation=round(mean, 4) if mean is not None else None,
                count=len(devs),
                tendency=tendency,
                marks=counts[judge_id],
            )
        )
    return out


def agreement(
    marks: list[Mark], aspects: dict[uuid.UUID, MarkingAspect], level: str
) -> list[schemas.AspectAgreement]:
    """Krippendorff's alpha per judgement aspect: judges x entries, missing marks as NaN."""
    by_aspect: dict[uuid.UUID, list[Mark]] = defaultdict(list)
    for m in marks:
        if m.judgement:
            by_aspect[m.aspect_id].append(m)
    out = []
    for aspect_id, items in sorted(by_aspect.items(), key=lambda kv: aspects[kv[0]].code):
        judges = sorted({m.judge_id for m in items})
        entries = sorted({m.stage_entry_id for m in items})
        matrix = np.full((len(judges), len(entries)), np.nan)
        jx = {j: i for i, j in enumerate(judges)}
        ex = {e: i for i, e in enumerate(entries)}
        for m in items:
            matrix[jx[m.judge_id], ex[m.stage_entry_id]] = m.value
        pairable = int((np.sum(~np.isnan(matrix), axis=0) >= 2).sum())
        alpha: float | None = None
        values = matrix[~np.isnan(matrix)]
        if pairable >= 1 and len(judges) >= 2 and len(np.unique(values)) >= 2:
            with np.errstate(divide="ignore", invalid="ignore"):
                computed = float(
                    krippendorff.alpha(
                        reliability_data=matrix,
                        level_of_measurement=level,  # type: ignore[arg-type]  # checked by the API
                        value_domain=[0, 1, 2, 3] if level == "ordinal" else None,
                    )
                )
            alpha = round(computed, 6) if np.isfinite(computed) else None
        aspect = aspects[aspect_id]
        out.append(
            schemas.AspectAgreement(
                aspect_id=aspect_id,
                code=aspect.code,
                description=aspect.description,
                alpha=alpha,
                judges=len(judges),
                entries=pairable,
            )
        )
    return out


async def judge_analytics(
    session: AsyncSession, stage_id: uuid.UUID, level: str
) -> schemas.JudgeAnalytics:
    marks, names, aspects = await load_marks(session, stage_id)
    # CPU work (about 0.4 s for 100,000 marks on the 2-core machine): off the event loop.
    judges = await asyncio.to_thread(severity, marks, names)
    agreements = await asyncio.to_thread(agreement, marks, aspects, level)
    return schemas.JudgeAnalytics(
        stage_id=stage_id, level_of_measurement=level, judges=judges, aspects=agreements
    )


def box_plot(marks: list[Mark], names: dict[uuid.UUID, str]) -> bytes:
    """PNG: one box per judge of their marks (% of each aspect's maximum). CPU work: run it in a
    thread. The Figure API (no pyplot) keeps no global state and needs no display."""
    per_judge: dict[uuid.UUID, list[float]] = defaultdict(list)
    for m in marks:
        per_judge[m.judge_id].append(m.percent)
    order = sorted(per_judge, key=lambda j: (names.get(j, ""), str(j)))
    # matplotlib on first use (the chart module's): every worker would otherwise carry ~35 MiB.
    figure = render.new_figure(figsize=(max(6.0, 0.9 * len(order) + 2), 4.5), dpi=100)
    axes = figure.add_subplot()
    if order:
        axes.boxplot([per_judge[j] for j in order], showmeans=True)
        # Names are Chinese; a Latin label (initial of the id) keeps the plot font-independent.
        axes.set_xticks(
            range(1, len(order) + 1), [f"J{i + 1}\n{str(j)[:8]}" for i, j in enumerate(order)]
        )
    else:
        axes.text(0.5, 0.5, "no submitted marks", ha="center", va="center")
    axes.set_ylabel("mark, % of the aspect's maximum")
    axes.set_ylim(-5, 105)
    axes.set_title("Score distribution per judge")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
