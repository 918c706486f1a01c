"""Pairwise judging of a stage: a judge compares two of their assigned entries (so conflicts are
excluded by the assignment), the CrowdBT beliefs are updated under row locks, and the ranking
orders the entries by estimated quality."""

from __future__ import annotations

import itertools
import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.pairwise import crowd_bt, schemas
from shared import audit
from shared.auth.principal import Principal
from shared.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from shared.models.judging import (
    Judge,
    JudgeAssignment,
    PairwiseItem,
    PairwiseJudge,
    PairwiseVote,
)

SERVICE = "judging"


async def _my_items(session: AsyncSession, stage_id: uuid.UUID, judge: Judge) -> list[PairwiseItem]:
    """The judge's assigned entries of the stage as items (created with the priors on first
    use)."""
    assignments = list(
        await session.scalars(
            select(JudgeAssignment).where(
                JudgeAssignment.stage_id == stage_id, JudgeAssignment.judge_id == judge.id
            )
        )
    )
    if not assignments:
        raise Forbidden(f"You have no entries of stage {stage_id} to compare.")
    await session.execute(
        insert(PairwiseItem)
        .values(
            [
                {
                    "stage_id": stage_id,
                    "stage_entry_id": a.stage_entry_id,
                    "entry_id": a.entry_id,
                    "blind_code": a.blind_code,
                }
                for a in assignments
            ]
        )
        .on_conflict_do_nothing()
    )
    await session.execute(
        insert(PairwiseJudge).values(stage_id=stage_id, judge_id=judge.id).on_conflict_do_nothing()
    )
    ids = [a.stage_entry_id for a in assignments]
    return list(
        await session.scalars(
            select(PairwiseItem).where(
                PairwiseItem.stage_id == stage_id, PairwiseItem.stage_entry_id.in_(ids)
            )
        )
    )


async def _compared(
    session: AsyncSession, stage_id: uuid.UUID, judge: Judge
) -> set[frozenset[uuid.UUID]]:
    rows = await session.execute(
        select(PairwiseVote.winner_stage_entry_id, PairwiseVote.loser_stage_entry_id).where(
            PairwiseVote.stage_id == stage_id, PairwiseVote.judge_id == judge.id
        )
    )
    return {frozenset(r) for r in rows}


def _belief(item: PairwiseItem) -> crowd_bt.Belief:
    return crowd_bt.Belief(mu=item.mu, sigma_sq=item.sigma_sq)


async def next_pair(session: AsyncSession, stage_id: uuid.UUID, judge: Judge) -> schemas.Pair:
    """The pair of the judge's entries, not yet compared by them, whose vote teaches most."""
    items = await _my_items(session, stage_id, judge)
    reliability = await session.get(PairwiseJudge, (stage_id, judge.id))
    assert reliability is not None
    me = crowd_bt.Reliability(alpha=reliability.alpha, beta=reliability.beta)
    done = await _compared(session, stage_id, judge)
    open_pairs = [
        (a, b)
        for a, b in itertools.combinations(sorted(items, key=lambda i: i.blind_code), 2)
        if frozenset((a.stage_entry_id, b.stage_entry_id)) not in done
    ]
    if not open_pairs:
        raise NotFound("You have compared every pair of your entries in this stage.")
    gain, a, b = max(
        ((crowd_bt.information_gain(me, _belief(a), _belief(b)), a, b) for a, b in open_pairs),
        key=lambda t: t[0],
    )
    return schemas.Pair(
        a=a.blind_code, b=b.blind_code, information_gain=gain, remaining=len(open_pairs)
    )


def _standing(item: PairwiseItem, rank: int = 0) -> schemas.Standing:
    return schemas.Standing(
        rank=rank,
        stage_entry_id=item.stage_entry_id,
        entry_id=item.entry_id,
        blind_code=item.blind_code,
        mu=item.mu,
        sigma_sq=item.sigma_sq,
        comparisons=item.comparisons,
    )


async def vote(
    session: AsyncSession,
    stage_id: uuid.UUID,
    judge: Judge,
    data: schemas.VoteCreate,
    principal: Principal,
) -> schemas.Vote:
    if data.winner == data.loser:
        raise InvalidInput(
            "Compare two different entries.",
            errors=[FieldError(field="loser", message="must differ from winner")],
        )
    items = {i.blind_code: i for i in await _my_items(session, stage_id, judge)}
    missing = [
        FieldError(field=f, message="not one of your entries in this stage")
        for f, code in (("winner", data.winner), ("loser", data.loser))
        if code not in items
    ]
    if missing:
        raise Forbidden("You may compare only entries assigned to you.", errors=missing)
    winner, loser = items[data.winner], items[data.loser]
    # Lock in a fixed order (by stage entry id) so that concurrent votes cannot deadlock.
    locked = {
        i.stage_entry_id: i
        for i in await session.scalars(
            select(PairwiseItem)
            .where(
                PairwiseItem.stage_id == stage_id,
                PairwiseItem.stage_entry_id.in_([winner.stage_entry_id, loser.stage_entry_id]),
            )
            .order_by(PairwiseItem.stage_entry_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    winner, loser = locked[winner.stage_entry_id], locked[loser.stage_entry_id]
    reliability = await session.get(
        PairwiseJudge, (stage_id, judge.id), with_for_update=True, populate_existing=True
    )
    assert reliability is not None
    if frozenset((winner.stage_entry_id, loser.stage_entry_id)) in await _compared(
        session, stage_id, judge
    ):
        raise Conflict(f"You already compared {data.winner} and {data.loser}.")
    outcome = crowd_bt.update(
        crowd_bt.Reliability(alpha=reliability.alpha, beta=reliability.beta),
        _belief(winner),
        _belief(loser),
    )
    winner.mu, winner.sigma_sq = outcome.winner.mu, outcome.winner.sigma_sq
    loser.mu, loser.sigma_sq = outcome.loser.mu, outcome.loser.sigma_sq
    winner.comparisons += 1
    loser.comparisons += 1
    reliability.alpha, reliability.beta = outcome.judge.alpha, outcome.judge.beta
    reliability.votes += 1
    row = PairwiseVote(
        id=uuid.uuid4(),
        stage_id=stage_id,
        judge_id=judge.id,
        winner_stage_entry_id=winner.stage_entry_id,
        loser_stage_entry_id=loser.stage_entry_id,
        probability=outcome.probability,
    )
    session.add(row)
    audit.record(
        session,
        service=SERVICE,
        principal=principal,
        action="pairwise.voted",
        entity_type="pairwise_vote",
        entity_id=row.id,
        after={"winner": data.winner, "loser": data.loser, "probability": outcome.probability},
    )
    await session.flush()
    return schemas.Vote(
        winner=_standing(winner),
        loser=_standing(loser),
        probability=outcome.probability,
        judge_reliability=outcome.judge.alpha / (outcome.judge.alpha + outcome.judge.beta),
    )


async def ranking(session: AsyncSession, stage_id: uuid.UUID) -> schemas.Ranking:
    items = list(
        await session.scalars(
            select(PairwiseItem)
            .where(PairwiseItem.stage_id == stage_id)
            .order_by(PairwiseItem.mu.desc(), PairwiseItem.blind_code)
        )
    )
    votes = await session.scalar(
        select(func.count()).select_from(PairwiseVote).where(PairwiseVote.stage_id == stage_id)
    )
    return schemas.Ranking(
        stage_id=stage_id,
        votes=int(votes or 0),
        items=[_standing(item, rank) for rank, item in enumerate(items, start=1)],
    )
