"""Worker and talent-file endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from services.registry.talent import schemas as talent_schemas
from services.registry.talent.access import ManagedWorker, VisibleWorker, WorkerScopeDep
from services.registry.workers import schemas, service
from shared.auth.deps import (
    AdminOrganiserOrWorker,
    AdminOrOrganiser,
    AdminOrOrganiserOrService,
    FileReader,
    require,
)
from shared.auth.principal import Principal, Role
from shared.concurrency import IfMatchHeader, etag
from shared.crypto import PersonalDataCipher
from shared.db import AutocommitSessionDep, SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.registry import FileStatus, SkillGrade
from shared.pagination import CursorQuery, LimitQuery, Page
from shared.responses import model_response

router = APIRouter(prefix="/v1", tags=["workers"])

# Judging (machine client with scope `internal`), HR systems (`registry:write`) or an admin.
Promoter = Annotated[Principal, Depends(require(Role.admin, scopes=("internal", "registry:write")))]


SourceRef = Annotated[
    str,
    Path(
        min_length=3,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="The result's stable id (e.g. `result:<uuid>`): repeating it is harmless.",
    ),
]


def _cipher(request: Request) -> PersonalDataCipher:
    cipher: PersonalDataCipher = request.app.state.cipher
    return cipher


@router.post(
    "/workers",
    response_model=schemas.Worker,
    status_code=201,
    summary="Register a worker",
    responses=error_responses(401, 403, 409, 422),
)
async def create_worker(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    data: schemas.WorkerCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Register a worker and open their talent file (apprentice or technician file, by grade).

    The identity number is checked (GB 11643 check digit, real birth date); birth date and sex
    are taken from it, and any given must agree. Workers are at least 16, the legal working
    age (422 at `id_number` otherwise). One worker per identity number: a second
    registration is a 409 naming the existing worker's id. Identity and phone numbers are
    stored encrypted and shown masked except to admins and the worker."""
    cipher = _cipher(request)

    async def create() -> schemas.Worker:
        worker = await service.create(session, cipher, data, principal)
        return service.present(worker, cipher, principal)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda w: f"/v1/workers/{w.id}",
    )


@router.get(
    "/workers",
    response_model=Page[schemas.Worker],
    summary="List and search workers",
    responses=error_responses(401, 403, 422),
)
async def list_workers(
    request: Request,
    session: AutocommitSessionDep,
    principal: FileReader,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=30, description="Part of the name, e.g. `建国` or `王`."),
    ] = None,
    enterprise_id: uuid.UUID | None = None,
    locality_code: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="A city code includes its counties.")
    ] = None,
    grade: SkillGrade | None = None,
    min_grade: Annotated[SkillGrade | None, Query(description="This grade or higher.")] = None,
    occupation: Annotated[str | None, Query(max_length=100)] = None,
    file_status: FileStatus | None = None,
    honour: Annotated[
        str | None,
        Query(max_length=64, description="Holds this honour (code, e.g. `qilu_craftsman`)."),
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Response:
    """Workers in your scope (organisers: their locality or enterprise), in registration order;
    with `q`, exact name matches first, then names starting with it, then names ending in it
    (王建国 for 建国), then names containing it elsewhere; each group in name order (Unicode
    code point order, then id), names ending in it by the name read backwards (王建国 and
    李建国 by 王 and 李). A `next_cursor` continues the same listing: a search cursor only with
    the same `q`."""
    page = await service.list_workers(
        session,
        _cipher(request),
        principal,
        q=q,
        enterprise_id=enterprise_id,
        locality_code=locality_code,
        grade=grade,
        min_grade=min_grade,
        occupation=occupation,
        file_status=file_status,
        honour=honour,
        limit=limit,
        cursor=cursor,
    )
    return Response(schemas.WORKER_PAGE.dump_json(page), media_type="application/json")


@router.post(
    "/workers:batch-get",
    operation_id="batchGetWorkers",
    response_model=schemas.BatchGetResult,
    summary="Get many workers at once",
    responses=error_responses(401, 403, 422),
)
async def batch_get(
    session: AutocommitSessionDep,
    principal: FileReader,
    scope: WorkerScopeDep,
    data: schemas.BatchGet,
) -> Response:
    """Up to 1,000 workers by id in one call, with what eligibility checks need (grade, birth
    date, locality, enterprise, file status) and no personal numbers. For the competitions and
    judging services: never call once per worker. Workers you may not read are listed in
    `missing`, exactly like ids that do not exist."""
    return model_response(await service.batch_get(session, data.ids, scope))


@router.post(
    "/workers:lookup",
    operation_id="lookupWorkers",
    response_model=list[schemas.IdNumberMatch],
    summary="Find workers by identity number",
    responses=error_responses(401, 403, 422),
)
async def lookup(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiserOrService,
    scope: WorkerScopeDep,
    data: schemas.IdNumberLookup,
) -> list[schemas.IdNumberMatch]:
    """Worker ids for up to 1,000 identity numbers (sent in the body, never in a URL), in the
    order asked; null where no worker in your scope has the number. Used for bulk
    registration from enterprise spreadsheets."""
    return await service.lookup_by_id_numbers(session, _cipher(request), data.id_numbers, scope)


@router.post(
    "/workers:roster",
    operation_id="getWorkerRoster",
    response_model=schemas.RosterResult,
    summary="Workers as lists handed on show them",
    responses=error_responses(401, 403, 422),
)
async def roster(
    request: Request,
    session: AutocommitSessionDep,
    principal: FileReader,
    scope: WorkerScopeDep,
    data: schemas.Roster,
) -> Response:
    """Up to 1,000 workers by id, in the order asked, as recommendation lists and rosters show
    them: name, sex, identity number (masked unless you are an admin or the worker), occupation,
    grade, enterprise name and city. Services building such a list for a person call it with
    that person's token, so the person's scope and right to see numbers apply. Workers you may
    not read are `missing`, exactly like ids that do not exist."""
    return model_response(
        await service.roster(session, _cipher(request), principal, data.ids, scope)
    )


@router.get(
    "/workers/{worker_id}",
    response_model=schemas.WorkerFile,
    summary="Get a worker",
    responses=error_responses(401, 403, 404, 422),
)
async def get_worker(
    request: Request,
    session: SessionDep,
    principal: FileReader,
    worker: VisibleWorker,
    response: Response,
) -> schemas.WorkerFile:
    """One worker, with their competition path (`results_by_level`: enterprise 1st → city
    2nd → provincial 5th..., by year). The `ETag` header is the version to send as `If-Match`
    when updating."""
    response.headers["ETag"] = etag(worker.version)
    return await service.present_file(session, worker, _cipher(request), principal)


@router.patch(
    "/workers/{worker_id}",
    response_model=schemas.Worker,
    summary="Update a worker",
    responses=error_responses(401, 403, 404, 412, 422),
)
async def update_worker(
    request: Request,
    session: SessionDep,
    principal: AdminOrganiserOrWorker,
    visible: VisibleWorker,
    data: schemas.WorkerUpdate,
    response: Response,
    if_match: IfMatchHeader = None,
) -> schemas.Worker:
    """Correct the name, phone or occupation (organisers in scope and admins). A worker may
    change their own `phone` only: the name is the legal name on the identity card and the
    occupation the trade their grade certifies, so a worker sending either gets a 403 naming
    the field, and nothing changes. Identity number, sex and birth date never change; grades,
    employers and file status change through their own endpoints, which keep history. Every
    change is in the audit log with before and after (personal numbers masked)."""
    cipher = _cipher(request)
    worker = await service.update(session, cipher, visible, data, principal, if_match)
    response.headers["ETag"] = etag(worker.version)
    return service.present(worker, cipher, principal)


@router.post(
    "/workers/{worker_id}/grade-changes",
    operation_id="changeWorkerGrade",
    response_model=schemas.GradeChange,
    status_code=201,
    summary="Record a grade change",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def change_grade(
    session: SessionDep,
    principal: AdminOrOrganiser,
    worker: ManagedWorker,
    data: schemas.GradeChangeCreate,
) -> schemas.GradeChange:
    """A certification moves the worker **one** level up the ladder (certificate number and
    issuing body required); skipping a level is refused and the answer names the next one. An
    admin `correction` may set any grade, with a reason. The file type follows the grade."""
    change = await service.change_grade(session, worker, data, principal)
    return schemas.GradeChange.model_validate(change)


@router.get(
    "/workers/{worker_id}/grade-changes",
    operation_id="listGradeChanges",
    response_model=list[schemas.GradeChange],
    summary="Grade history",
    responses=error_responses(401, 403, 404, 422),
)
async def grade_history(
    session: SessionDep, principal: FileReader, worker: VisibleWorker
) -> list[schemas.GradeChange]:
    """Every grade the worker has held, oldest first, with certificates and sources."""
    changes = await service.grade_history(session, worker)
    return [schemas.GradeChange.model_validate(c) for c in changes]


@router.post(
    "/workers/{worker_id}/transfers",
    operation_id="transferWorker",
    response_model=schemas.Worker,
    summary="Move to another enterprise",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def transfer(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    managed: ManagedWorker,
    data: schemas.Transfer,
) -> schemas.Worker:
    """Close the current employment and start one at the new enterprise; the worker's locality
    becomes the enterprise's. The file records the move."""
    worker = await service.transfer(session, managed, data, principal)
    return service.present(worker, _cipher(request), principal)


@router.post(
    "/workers/{worker_id}/file-status",
    operation_id="setWorkerFileStatus",
    response_model=schemas.Worker,
    summary="Change the file status",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def set_file_status(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    managed: ManagedWorker,
    data: schemas.FileStatusChange,
) -> schemas.Worker:
    """Mark the talent file active, transferred (out of the province), left or retired."""
    worker = await service.set_file_status(session, managed, data, principal)
    return service.present(worker, _cipher(request), principal)


@router.get(
    "/workers/{worker_id}/timeline",
    operation_id="getWorkerTimeline",
    response_model=Page[talent_schemas.TimelineEntry],
    summary="Talent-file timeline",
    responses=error_responses(401, 403, 404, 422),
)
async def timeline(
    session: SessionDep,
    principal: FileReader,
    worker: VisibleWorker,
    kind: Annotated[str | None, Query(max_length=48, description="Only this kind.")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[talent_schemas.TimelineEntry]:
    """The file's history in order: registration, grade changes, moves, training, competition
    results, honours, mentoring. Append-only."""
    return await service.list_timeline(session, worker, kind=kind, limit=limit, cursor=cursor)


@router.put(
    "/internal/grade-promotions/{source_ref}",
    operation_id="putGradePromotion",
    response_model=schemas.GradeChange,
    summary="Promote for a competition result (idempotent)",
    responses={
        **error_responses(401, 403, 404, 409, 422),
        201: {"description": "Promotion recorded.", "model": schemas.GradeChange},
    },
    tags=["internal"],
)
async def promote_for_competition(
    session: SessionDep,
    principal: Promoter,
    source_ref: SourceRef,
    data: schemas.CompetitionPromotion,
) -> Response:
    """Called by the judging service when a result earns a grade promotion (one level above
    the current grade). Repeating the call with the same `source_ref` returns the promotion
    already made (200) instead of promoting twice."""
    change, created = await service.promote_for_competition(session, source_ref, data, principal)
    body = schemas.GradeChange.model_validate(change).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if created else 200)


@router.put(
    "/internal/competition-results/{source_ref}",
    operation_id="putCompetitionResult",
    response_model=talent_schemas.TimelineEntry,
    summary="Record a competition result in the file (idempotent)",
    responses={
        **error_responses(401, 403, 404, 422),
        201: {"description": "Result recorded.", "model": talent_schemas.TimelineEntry},
    },
    tags=["internal"],
)
async def record_competition_result(
    session: SessionDep,
    principal: Promoter,
    source_ref: SourceRef,
    data: schemas.CompetitionResult,
) -> Response:
    """Called by the judging service when results become final: the worker's talent file gets
    a `competition_result` entry. Repeating the call with the same `source_ref` returns the
    entry already made (200)."""
    entry, created = await service.record_competition_result(session, source_ref, data, principal)
    body = talent_schemas.TimelineEntry.model_validate(entry).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if created else 200)


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["workers"])


@webhooks.post("worker.created", summary="A worker was registered")
async def worker_created(event: schemas.WorkerEvent) -> None:
    """Sent for every new worker, whether registered one by one or by a bulk import."""


@webhooks.post("worker.grade_changed", summary="A worker's skill grade changed")
async def worker_grade_changed(event: schemas.WorkerEvent) -> None:
    """Sent on certification, competition promotion or correction (`data.source`)."""


@webhooks.post("worker.transferred", summary="A worker moved to another enterprise")
async def worker_transferred(event: schemas.WorkerEvent) -> None:
    """Sent when the worker's employer changes; `data.locality_code` is the new locality."""
