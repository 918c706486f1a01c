"""The recommendation list for national contests, from a provincial event's final results.

The event's final stage is its last (highest `seq`); its final result version gives the ranking.
The top `top` places are recommended (shared ranks count as in the results: ranks 1, 2, 3, 3
with three places list four entries, the two thirds `tied_at_boundary`, for the organisers to
choose). Each member of a team entry is listed. People are shown as the registry's roster shows
them to the caller (read with the caller's own token): identity numbers in clear only for those
the registry allows (admins), and nobody outside the caller's scope.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.access import EventInfo
from services.judging.awards.results import final_results
from services.judging.awards.service import members_of
from services.judging.recommendations import schemas
from services.judging.upstream import Upstream
from shared.auth.principal import Principal
from shared.errors import Conflict, PreconditionFailed
from shared.models.competitions import CompetitionLevel


async def final_stage_id(upstream: Upstream, event: EventInfo) -> uuid.UUID:
    stages = await upstream.competitions.list_event_stages(
        str(event.id), token=await upstream.token()
    )
    if not stages:
        raise PreconditionFailed(f"Event {event.id} has no stages, so no final results yet.")
    return uuid.UUID(str(max(stages, key=lambda s: s["seq"])["id"]))


async def recommendations(
    session: AsyncSession,
    upstream: Upstream,
    event: EventInfo,
    principal: Principal,
    *,
    top: int,
) -> schemas.NationalRecommendations:
    """409 for an event below the provincial level; 412 while its final stage's results are
    not final."""
    if event.level is not CompetitionLevel.provincial:
        raise Conflict(
            f"Event {event.id} belongs to a {event.level.value} competition: national "
            "recommendations come from provincial events (lower levels nominate upwards).",
            level=event.level.value,
        )
    stage_id = await final_stage_id(upstream, event)
    results = await final_results(session, stage_id)
    chosen = [r for r in results if r.rank <= top]
    per_rank = Counter(r.rank for r in chosen)
    boundary = max(per_rank) if per_rank else None
    ties_at_boundary = len(chosen) > top
    entries = await upstream.entries([r.entry_id for r in chosen]) if chosen else {}
    members = {r.entry_id: members_of(entries.get(str(r.entry_id), {})) for r in chosen}
    worker_ids = list(dict.fromkeys(w for ws in members.values() for w in ws))
    # The caller's own token: the registry applies the caller's scope and masking.
    token = principal.token or await upstream.token()
    roster: dict[uuid.UUID, dict[str, Any]] = (
        await upstream.registry.roster(worker_ids, token=token) if worker_ids else {}
    )
    items = []
    hidden = 0
    for result in chosen:
        for worker_id in members[result.entry_id]:
            line = roster.get(worker_id)
            if line is None:
                hidden += 1
                continue
            items.append(
                schemas.RecommendedWorker(
                    rank=result.rank,
                    tied=per_rank[result.rank] > 1,
                    tied_at_boundary=ties_at_boundary and result.rank == boundary,
                    entry_id=result.entry_id,
                    worker_id=worker_id,
                    name=line["name"],
                    sex=line["sex"],
                    id_number=line["id_number"],
                    enterprise_name=line.get("enterprise_name"),
                    city_code=line.get("city_code"),
                    city_name=line.get("city_name"),
                    grade=line["grade"],
                    score=float(result.score) if result.score is not None else None,
                    prize=result.prize,
                )
            )
    return schemas.NationalRecommendations(
        title=f"{event.competition_name} 全国竞赛推荐人选名单",
        competition_id=event.competition_id,
        competition_name=event.competition_name,
        event_id=event.id,
        event_name=event.name,
        occupation=event.occupation,
        year=event.year,
        stage_id=stage_id,
        top=top,
        ties_at_boundary=ties_at_boundary,
        hidden=hidden,
        items=items,
    )
