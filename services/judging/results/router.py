"""Result endpoints: rules, completion times, the results lifecycle, the public leaderboard and
its live stream (appeals are in services/judging/appeals/)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.judging.access import ManagedStage, check_stage_manager
from services.judging.awards import flows as award_flows
from services.judging.results import leaderboard, schemas, service
from services.judging.upstream import StageInfo, UpstreamDep
from shared.auth.deps import AdminOrOrganiser, CurrentPrincipal
from shared.concurrency import IfMatchHeader, etag
from shared.db import SessionDep, UnitOfWorkDep
from shared.errors import Forbidden, NotFound, error_responses
from shared.models.judging import ResultStatus
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(tags=["results"])

#: How often a live stream re-checks the board (it is served from the cache, so cheap).
STREAM_POLL_SECONDS = 1.0
STREAM_HEARTBEAT_SECONDS = 15.0

Version = Annotated[int, Path(ge=1, le=1_000_000)]


def _invalidate(request: Request, session: AsyncSession, stage_id: uuid.UUID) -> None:
    """Drop the stage's cached board as the transaction commits, before the response is sent:
    the publisher's next request on this replica sees the new version (a background task ran
    after the response, and a request sent right after it could still get the old board)."""
    leaderboard.cache_of(request.app.state).invalidate_on_commit(session, stage_id)


# -- rules and completion times ---------------------------------------------------------------


@router.get(
    "/v1/stages/{stage_id}/result-rules",
    operation_id="getResultRules",
    response_model=schemas.ResultRules,
    summary="Get the stage's result rules",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def get_rules(
    session: SessionDep, stage: ManagedStage, response: Response
) -> schemas.ResultRules:
    """Aggregation, standardisation, tie-breaks, prize bands, medals, appeal window and
    arbitration panel, with the stage's component weights. A stage never configured answers the
    defaults (version 0: mean, no standardisation, no tie-break, window 120 minutes). The `ETag`
    is the version to send as `If-Match`."""
    rules = await service.get_rules(session, stage)
    response.headers["ETag"] = etag(rules.version)
    return rules


@router.put(
    "/v1/stages/{stage_id}/result-rules",
    operation_id="putResultRules",
    response_model=schemas.ResultRules,
    summary="Set the stage's result rules",
    responses=error_responses(401, 403, 404, 412, 422, 502, 503, 504),
)
async def put_rules(
    session: SessionDep,
    stage: ManagedStage,
    principal: AdminOrOrganiser,
    data: schemas.ResultRulesUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> schemas.ResultRules:
    """How the final mark is formed, in order:

    1. **Standardisation** (`none`, `zscore`, `robust`), per judge and aspect over every entry
       the judge scored on it: z = (x - judge mean) / judge sd (population), or z = (x - judge
       median) / (1.4826 x judge MAD); z = 0 when the spread is 0; each value becomes
       700 + 100 z.
    2. **Aggregation** per entry and aspect over its judges: `mean`, `trimmed_mean` (the highest
       and the lowest dropped when at least 5 judges scored it, else the mean), `median`.
    3. **Aspect marks**: without standardisation, judgement = aggregated level / 3 x max mark and
       measurement = the aggregated mark; a component score is the sum of its aspect marks over
       the sum of their max marks x 100. With standardisation, a component score is the mean of
       its aspects' aggregated 700-scale values weighted by their max marks.
    4. **Stage score** = sum of component score x weight / 100 (the stage's weights, e.g.
       theory 30, practical 70), rounded to 3 decimals: 0-100, or centred on 700 with
       standardisation.
    5. **Ranking**: higher score first, then the `tie_breaks` in order (`component:<name>`
       higher wins, `completion_time` lower wins, missing last), then a shared rank (1, 2, 2, 4).
    6. **Prize bands** by count or percent (rounded up) fill rank positions in order, ties at a
       boundary taking the better band; **medals**: a medal's cut-off is the score at its last
       position, and every entry within `tie_band` points below it shares it.

    A tie-break naming a component the stage does not have is a 422. Send the `ETag` as
    `If-Match` (428 without it once rules were saved, 412 when stale). Changes apply to the next
    computation; computed versions keep the rules they were computed with."""
    rules = await service.put_rules(session, stage, data, if_match, principal)
    response.headers["ETag"] = etag(rules.version)
    return rules


@router.put(
    "/v1/stages/{stage_id}/completion-times",
    response_model=schemas.CompletionTimesResult,
    summary="Record completion times by blind code",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def put_completion_times(
    session: SessionDep,
    upstream: UpstreamDep,
    stage: ManagedStage,
    principal: AdminOrOrganiser,
    data: schemas.CompletionTimes,
) -> schemas.CompletionTimesResult:
    """The time each entry took, in seconds, keyed by blind code (the tie-break
    `completion_time`: lower wins). Upserts: a code recorded again takes the new time. An unknown
    or repeated code is a 422 naming it, and nothing is stored; refused (409) once the results
    are final."""
    return await service.put_completion_times(session, stage, upstream, data, principal)


# -- lifecycle ----------------------------------------------------------------------------------


@router.post(
    "/v1/stages/{stage_id}/results:compute",
    response_model=schemas.StageResultSummary,
    status_code=201,
    summary="Compute a draft version of the results",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def compute_results(
    session: SessionDep,
    stage: ManagedStage,
    principal: AdminOrOrganiser,
    response: Response,
) -> schemas.StageResultSummary:
    """Computes a new version (`draft`, seen by organisers only) from the stage's locked scores
    with the current result rules; older drafts become `superseded`. The version stores the
    digest of its inputs (scores, completion times, rules, scheme, weights) so it can be verified
    later. 409 while any score of the stage is not locked (before the panel lock, or after an
    upheld appeal until re-scored and locked again), and once the results are final."""
    result = await service.compute_results(session, stage, principal)
    response.headers["Location"] = f"/v1/stages/{stage.id}/results/{result.version}"
    return service.summary(result)


@router.post(
    "/v1/stages/{stage_id}/results:publish-provisional",
    operation_id="publishProvisionalResults",
    response_model=schemas.StageResultSummary,
    summary="Publish the latest draft as provisional results",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def publish_provisional(
    request: Request,
    session: SessionDep,
    upstream: UpstreamDep,
    stage: ManagedStage,
    principal: AdminOrOrganiser,
) -> schemas.StageResultSummary:
    """The latest draft becomes `provisional`: public on the leaderboard, blind codes decoded
    (the competitions service reveals the mapping now the stage is locked), and the appeal
    window opens for `appeal_window_minutes`; an earlier provisional version becomes
    `superseded`. Emits `results.provisional`. The ranking is **not** sent to competitions for
    advancement yet: an appeal may still change it, and an advancement is final there, so it is
    sent once, at finalisation. 409 without a draft, or if a score was reopened since."""
    result = await service.publish_provisional(session, stage, upstream, principal)
    _invalidate(request, session, stage.id)
    return service.summary(result)


@router.post(
    "/v1/stages/{stage_id}/results:finalise",
    operation_id="finaliseResults",
    response_model=schemas.StageResultSummary,
    summary="Finalise the provisional results",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def finalise(
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    uow: UnitOfWorkDep,
    upstream: UpstreamDep,
    stage: ManagedStage,
    principal: AdminOrOrganiser,
) -> schemas.StageResultSummary:
    """Freezes the provisional version as `final` once its appeal window has closed (409 naming
    the deadline before), no appeal is pending and no appeal was upheld since it was published
    (409: re-score, recompute and publish first). When the stage has an advancement rule and a
    later stage, the ranked list (entry, rank, score) is sent to the competitions service's
    `PUT /v1/stages/{id}/advancement` (idempotent, and sent before our commit so a retry
    completes the job). Emits `results.final`. Finalising final results answers them unchanged.
    Once committed, the stage's award rules are applied and the awards sent to the registry;
    the job is recorded with the final version, so if this process dies first or the registry
    is down, a sweeper completes it (and so does `POST /v1/stages/{id}/awards:send`)."""
    result = await service.finalise(session, stage, upstream, principal)
    _invalidate(request, session, stage.id)
    background.add_task(
        award_flows.award_final_results,
        uow,
        upstream,
        stage,
        principal,
        retry_seconds=request.app.state.settings.award_retry_seconds,
    )
    return service.summary(result)


# -- reading results ------------------------------------------------------------------------


async def _reader_stage(
    upstream: UpstreamDep, principal: CurrentPrincipal, stage_id: uuid.UUID
) -> tuple[StageInfo, bool]:
    """The stage and whether the caller manages it (and may see drafts)."""
    stage = await upstream.stage(stage_id)
    try:
        check_stage_manager(principal, stage, service=True)
    except Forbidden:
        return stage, False
    return stage, True


ReaderStage = Annotated[tuple[StageInfo, bool], Depends(_reader_stage)]


@router.get(
    "/v1/stages/{stage_id}/results",
    operation_id="listResultVersions",
    response_model=Page[schemas.StageResultSummary],
    summary="List the result versions of a stage",
    responses=error_responses(401, 404, 422, 502, 503, 504),
)
async def list_versions(
    session: SessionDep,
    reader: ReaderStage,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.StageResultSummary]:
    """Every version, oldest first: all of them for the stage's organisers, provisional and
    final ones for everyone else signed in."""
    stage, manager = reader
    return await service.list_versions(
        session, stage.id, public_only=not manager, limit=limit, cursor=cursor
    )


@router.get(
    "/v1/stages/{stage_id}/results/{version}",
    operation_id="getResultVersion",
    response_model=schemas.StageResult,
    summary="Get a result version with its ranked entries",
    responses=error_responses(401, 404, 422, 502, 503, 504),
)
async def get_version(
    session: SessionDep,
    reader: ReaderStage,
    version: Version,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> schemas.StageResult:
    """The version's rules, digest and entries in rank order (`offset`/`limit` pages them).
    Drafts and superseded versions are for the stage's organisers (404 for others)."""
    stage, manager = reader
    result = await service.get_version(session, stage.id, version)
    if not manager and result.status not in service.PUBLIC:
        raise NotFound(f"Stage {stage.id} has no result version {version}.")
    return await service.version_with_entries(session, result, offset=offset, limit=limit)


@router.get(
    "/v1/stages/{stage_id}/results/{version}/verification",
    operation_id="verifyResultVersion",
    response_model=schemas.Reproduction,
    summary="Recompute a result version and compare",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def verify(
    session: SessionDep, stage: ManagedStage, version: Version
) -> schemas.Reproduction:
    """Recomputes the version from the stored scores with the rules stored in the version and
    compares: `digest_matches` says the inputs are unchanged, `results_match` that every score,
    rank, prize and medal comes out the same. Organisers of the stage."""
    return await service.verify(session, stage, version)


# -- public leaderboard -----------------------------------------------------------------------


@router.get(
    "/v1/stages/{stage_id}/leaderboard",
    response_model=schemas.Leaderboard,
    summary="The public leaderboard of a stage",
    responses={
        304: {"description": "Not modified: your `If-None-Match` is the current ETag."},
        **error_responses(404, 422),
    },
)
async def get_leaderboard(
    request: Request,
    uow: UnitOfWorkDep,
    stage_id: uuid.UUID,
    offset: Annotated[int, Query(ge=0, le=leaderboard.MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=leaderboard.MAX_LIMIT)] = leaderboard.DEFAULT_LIMIT,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """No sign-in needed. The latest provisional or final results (404 before publication;
    drafts are never shown), blind codes decoded, in rank order (`offset`/`limit`). Served from
    an in-process cache keyed by the results version: each process re-checks the version in the
    background, so a new version shows within LEADERBOARD_FRESHNESS_SECONDS (1 s by default) on
    every replica and at once on the one that published it. Send the `ETag` back as
    `If-None-Match` for a 304. Final boards may be cached for an hour, provisional ones for a
    second."""
    # Cached and fresh boards are answered before routing (leaderboard.LeaderboardFastPath);
    # this reads the version and builds the board when they are not.
    board = await leaderboard.cache_of(request.app.state).get(
        uow, stage_id, offset=offset, limit=limit
    )
    if leaderboard.etag_matches(if_none_match, board.etag):
        return Response(status_code=304, headers=board.headers)
    return Response(content=board.body, media_type="application/json", headers=board.headers)


@router.get(
    "/v1/stages/{stage_id}/leaderboard:stream",
    summary="Live leaderboard (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`text/event-stream`: an `event: leaderboard` with the board as JSON "
            "on connect and whenever it changes; the stream ends after the final board.",
            "content": {
                "text/event-stream": {
                    "example": 'event: leaderboard\nid: "1-..."\n'
                    'data: {"stage_id": "...", "entries": []}\n\n'
                }
            },
        },
        **error_responses(404, 422),
    },
)
async def stream_leaderboard(
    request: Request,
    uow: UnitOfWorkDep,
    stage_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> StreamingResponse:
    """No sign-in needed: for screens in the hall. Sends the board on connect and each time it
    changes (checked every second against the cached version), a comment line every 15 s to
    keep proxies from closing the connection, and ends once the results are final. 404 before
    the results are published."""
    cache = leaderboard.cache_of(request.app.state)
    first = await cache.get(uow, stage_id, offset=0, limit=limit)

    async def events() -> AsyncIterator[bytes]:
        board = first
        sent: str | None = None
        quiet = 0.0
        while True:
            if board.etag != sent:
                sent = board.etag
                quiet = 0.0
                yield (
                    b"event: leaderboard\nid: "
                    + board.etag.encode()
                    + b"\ndata: "
                    + board.body
                    + b"\n\n"
                )
                if board.status == ResultStatus.final.value:
                    return
            elif quiet >= STREAM_HEARTBEAT_SECONDS:
                quiet = 0.0
                yield b": keep-alive\n\n"
            if await request.is_disconnected():
                return
            await asyncio.sleep(STREAM_POLL_SECONDS)
            quiet += STREAM_POLL_SECONDS
            board = await cache.get(uow, stage_id, offset=0, limit=limit)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["results"])


@webhooks.post("results.provisional", summary="Provisional results were published")
async def results_provisional(event: schemas.ResultsEvent) -> None:
    """A new provisional version: its appeal window closes at `data.appeal_deadline`."""


@webhooks.post("results.final", summary="Results were finalised")
async def results_final(event: schemas.ResultsEvent) -> None:
    """The provisional version became final (`data.advanced`: its ranking went to the
    competitions service for advancement)."""
