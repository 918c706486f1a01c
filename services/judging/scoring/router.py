"""Score endpoints: a judge's marks by blind code, submission, the panel's marks, organisers'
lists and flags, sign-offs and the panel lock."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.judging.access import check_stage_manager, reveal
from services.judging.scoring import schemas, service
from services.judging.upstream import UpstreamDep
from shared.auth.deps import AdminOrOrganiser, AdminOrOrganiserOrService, require
from shared.auth.principal import Principal, Role
from shared.concurrency import IfMatchHeader, TransitionIfMatchHeader, etag
from shared.db import SessionDep, UnitOfWorkDep
from shared.errors import error_responses
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1/stages/{stage_id}", tags=["scores"])

#: Judges' reads and writes of marks use a stage read at most this long ago (they need only its
#: level and occupation, which do not change while it is judged; locks are our own tables).
STAGE_MAX_AGE = 60.0

JudgeSelf = Annotated[Principal, Depends(require(Role.judge))]
BlindCode = Annotated[
    str,
    Path(
        min_length=1,
        max_length=16,
        pattern=r"^[A-Z0-9]+$",
        description="The entry's blind code.",
        examples=["K7MXRA"],
    ),
]


def _answer(response: Response, sheet: schemas.ScoreSheet) -> schemas.ScoreSheet:
    response.headers["ETag"] = etag(sheet.version)
    return sheet


def _json(sheet: schemas.ScoreSheet) -> Response:
    """The sheet serialised once, by its model, with its `ETag` (the hot writes skip FastAPI's
    second validation of an answer built from the database)."""
    return Response(
        sheet.model_dump_json(),
        media_type="application/json",
        headers={"ETag": etag(sheet.version)},
    )


@router.get(
    "/scores/{blind_code}",
    operation_id="getScoreSheet",
    response_model=schemas.ScoreSheet,
    summary="My marks for an entry",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def get_sheet(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: JudgeSelf,
    stage_id: uuid.UUID,
    blind_code: BlindCode,
    response: Response,
) -> schemas.ScoreSheet:
    """The calling judge's marks for the entry (empty before the first), with the sheet's
    `ETag`. 403 when the judge is not assigned to the entry or is conflicted with it."""
    stage = await upstream.stage(stage_id, max_age=STAGE_MAX_AGE)
    return _answer(
        response, await service.get_sheet(session, upstream, stage, blind_code, principal)
    )


@router.put(
    "/scores/{blind_code}",
    operation_id="putScoreSheet",
    response_model=schemas.ScoreSheet,
    summary="Enter or change my marks for an entry",
    responses=error_responses(401, 403, 404, 409, 412, 422, 428, 502, 503, 504),
)
async def put_sheet(
    request: Request,
    uow: UnitOfWorkDep,
    upstream: UpstreamDep,
    principal: JudgeSelf,
    stage_id: uuid.UUID,
    blind_code: BlindCode,
    data: schemas.ScoreSheetUpdate,
    if_match: IfMatchHeader = None,
) -> Response:
    """Upsert marks by aspect code (others are left as they are). Values follow the stage's
    marking scheme: measurement 0..max_mark (one of `allowed_values` when set), judgement an
    integer 0..3 (422 naming each bad mark). The first mark of the stage freezes its scheme.

    The sheet has a version: the first save needs no `If-Match`, every later one does (428
    without, 412 when stale). 403 when the judge is not assigned to the entry or has a
    conflict of interest with it (checked again now: a conflict declared after the assignment
    blocks). 409 once the marks are locked by sign-off or the panel lock: only an appeal can
    reopen them. Every change is kept in the score history."""
    stage = await upstream.stage(stage_id, max_age=STAGE_MAX_AGE)
    sheet = await service.write_sheet(
        uow,
        upstream,
        stage,
        blind_code,
        data,
        if_match,
        principal,
        fast_path=request.app.state.settings.score_fast_path,
    )
    return _json(sheet)


@router.post(
    "/scores/{blind_code}:submit",
    operation_id="submitScoreSheet",
    response_model=schemas.ScoreSheet,
    summary="Submit my marks for an entry",
    responses=error_responses(401, 403, 404, 412, 422, 502, 503, 504),
)
async def submit_sheet(
    request: Request,
    uow: UnitOfWorkDep,
    upstream: UpstreamDep,
    principal: JudgeSelf,
    stage_id: uuid.UUID,
    blind_code: BlindCode,
    if_match: TransitionIfMatchHeader = None,
) -> Response:
    """Mark the sheet submitted (every aspect must have a mark: 422 listing the missing ones).
    From then on the judge may see the other judges' marks for the entry, and their judgement
    marks count for disagreement flags. Submitting again answers the sheet unchanged. Marks can
    still be corrected until they are locked."""
    stage = await upstream.stage(stage_id, max_age=STAGE_MAX_AGE)
    sheet = await service.write_submission(
        uow,
        upstream,
        stage,
        blind_code,
        if_match,
        principal,
        fast_path=request.app.state.settings.score_fast_path,
    )
    return _json(sheet)


@router.get(
    "/scores/{blind_code}/panel",
    operation_id="getScorePanel",
    response_model=schemas.PanelScores,
    summary="Every judge's marks for an entry",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def panel(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: JudgeSelf,
    stage_id: uuid.UUID,
    blind_code: BlindCode,
) -> schemas.PanelScores:
    """The marks of every judge assigned to the entry, for a judge of the entry who has
    submitted their own (403 naming why before that)."""
    stage = await upstream.stage(stage_id, max_age=STAGE_MAX_AGE)
    return await service.panel(session, upstream, stage, blind_code, principal)


@router.get(
    "/scores",
    response_model=Page[schemas.Score],
    summary="List the stage's marks",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def list_scores(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiserOrService,
    stage_id: uuid.UUID,
    judge_id: Annotated[uuid.UUID | None, Query(description="Only this judge's marks.")] = None,
    blind_code: Annotated[
        str | None, Query(max_length=16, description="Only this entry.", examples=["K7MXRA"])
    ] = None,
    aspect_code: Annotated[
        str | None, Query(max_length=16, description="Only this aspect.", examples=["A1.1"])
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Score]:
    """Every mark by blind code, judge and aspect, drafts included. `entry_id` for admins and
    our services (and everyone once the stage is judged). Organisers of the stage's
    competition, admins and our services."""
    stage = await upstream.stage(stage_id)
    check_stage_manager(principal, stage, service=True)
    return await service.list_scores(
        session,
        stage.id,
        judge_id=judge_id,
        blind_code=blind_code,
        aspect_code=aspect_code,
        reveal=reveal(principal, stage),
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/score-flags",
    operation_id="listScoreFlags",
    response_model=schemas.ScoreFlags,
    summary="Judgement marks more than 1 apart",
    responses=error_responses(401, 403, 404, 422, 502, 503, 504),
)
async def score_flags(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiserOrService,
    stage_id: uuid.UUID,
) -> schemas.ScoreFlags:
    """For each entry and judgement aspect whose submitted marks differ by more than 1: the
    blind code, the aspect, the spread and every judge's mark, for the panel to discuss and
    re-score. A re-score that brings the marks within 1 clears the flag."""
    stage = await upstream.stage(stage_id)
    check_stage_manager(principal, stage, service=True)
    return await service.flags(session, stage.id)


@router.post(
    "/signoffs",
    operation_id="signOffScores",
    response_model=schemas.Signoff,
    status_code=201,
    summary="Sign off my marks of the stage",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def sign_off(
    request: Request,
    session: SessionDep,
    upstream: UpstreamDep,
    principal: JudgeSelf,
    stage_id: uuid.UUID,
    data: schemas.SignoffCreate,
) -> schemas.Signoff:
    """The judge confirms their marks by re-entering their account's username and password
    (checked by the registry, whose lockout applies; 403 when they are not the caller's own):
    every mark of theirs in the stage is locked. Every entry must be submitted first (409
    listing those that are not); signing off twice is a 409. The last assigned judge's
    sign-off locks the stage: the competitions service marks it judged and `scores.locked` is
    sent."""
    stage = await upstream.stage(stage_id)
    return await service.sign_off(
        session, upstream, stage, data, principal, request.app.state.token_verifier.verify
    )


@router.post(
    "/scores:lock",
    operation_id="lockScores",
    response_model=schemas.StageLock,
    summary="Lock the panel's marks of the stage",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def lock_panel(
    session: SessionDep,
    upstream: UpstreamDep,
    principal: AdminOrOrganiser,
    stage_id: uuid.UUID,
    data: schemas.StageLockCreate,
) -> schemas.StageLock:
    """Lock every mark of the stage without waiting for sign-offs (for example when a judge
    cannot sign): refused (409) while marks are unsubmitted unless `allow_unsubmitted`, and
    once the stage is locked. The competitions service marks the stage judged (its blind codes
    may then be revealed) and `scores.locked` is sent. After that any change of a mark is 409:
    only an appeal can reopen named marks. Organisers of the stage's competition and admins."""
    stage = await upstream.stage(stage_id)
    check_stage_manager(principal, stage)
    return await service.lock_panel(session, upstream, stage, data, principal)


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["scores"])


@webhooks.post("scores.locked", summary="A stage's marks were locked")
async def scores_locked(event: schemas.ScoresLockedEvent) -> None:
    """Sent once when the stage's marks are locked, by the last judge's sign-off or by an
    organiser: results can now be computed and the blind codes revealed. Signed per Standard
    Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""
