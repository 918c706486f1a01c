"""Pairwise judging endpoints: the next pair and votes (judges), the ranking (organisers)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from services.judging.access import check_stage_manager
from services.judging.judges.service import judge_of
from services.judging.pairwise import schemas, service
from services.judging.upstream import UpstreamDep
from shared.auth.deps import AdminOrOrganiser, require
from shared.auth.principal import Principal, Role
from shared.db import SessionDep
from shared.errors import error_responses

router = APIRouter(prefix="/v1/stages/{stage_id}/pairwise", tags=["pairwise judging"])

JudgeSelf = Annotated[Principal, Depends(require(Role.judge))]


@router.get(
    "/next-pair",
    operation_id="getNextPair",
    response_model=schemas.Pair,
    summary="The next pair for me to compare",
    responses=error_responses(401, 403, 404, 422),
)
async def next_pair(session: SessionDep, principal: JudgeSelf, stage_id: uuid.UUID) -> schemas.Pair:
    """Two of your assigned entries (by blind code) that you have not compared yet, chosen
    where your vote is expected to teach the ranking most (CrowdBT's expected information
    gain). 404 once you have compared every pair; 403 without entries in the stage."""
    judge = await judge_of(session, principal)
    return await service.next_pair(session, stage_id, judge)


@router.post(
    "/votes",
    operation_id="castPairwiseVote",
    response_model=schemas.Vote,
    status_code=201,
    summary="Vote which of two entries is better",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def vote(
    session: SessionDep, principal: JudgeSelf, stage_id: uuid.UUID, data: schemas.VoteCreate
) -> schemas.Vote:
    """Say which of two of your entries is better. Both qualities and your reliability are
    updated (Bayesian, under row locks); each pair once per judge (409 for a repeat); only
    entries assigned to you (403 naming the field), so a conflicted judge never compares an
    entry."""
    judge = await judge_of(session, principal)
    return await service.vote(session, stage_id, judge, data, principal)


@router.get(
    "/ranking",
    operation_id="getPairwiseRanking",
    response_model=schemas.Ranking,
    summary="The pairwise ranking of a stage",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def ranking(
    session: SessionDep, upstream: UpstreamDep, principal: AdminOrOrganiser, stage_id: uuid.UUID
) -> schemas.Ranking:
    """Entries by estimated quality (mu, highest first) with its uncertainty and number of
    comparisons. Organisers of the stage only."""
    check_stage_manager(principal, await upstream.stage(stage_id))
    return await service.ranking(session, stage_id)
