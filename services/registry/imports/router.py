"""Bulk import endpoints."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from services.registry.imports import schemas, service
from shared.auth.deps import AdminOrOrganiser
from shared.db import SessionDep
from shared.errors import DomainError, error_responses
from shared.models.registry import ImportKind
from shared.pagination import CursorQuery, LimitQuery, Page
from shared.responses import file_download
from shared.tabular import TableLimits

router = APIRouter(prefix="/v1/imports", tags=["imports"])

CHUNK = 1024 * 1024


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "File too large"


async def _read_limited(upload: UploadFile, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The file is larger than the limit of {limit} bytes; split it.")
        parts.append(chunk)
    return b"".join(parts)


async def _upload(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    kind: ImportKind,
    file: UploadFile,
) -> schemas.ImportJob:
    content = await _read_limited(file, request.app.state.settings.import_max_bytes)
    state = request.app.state
    job = await service.create_job(
        session,
        kind,
        file.filename or "upload",
        content,
        principal,
        state.cipher,
        TableLimits.from_settings(state.settings),
    )
    # Wake the runner once this request's transaction has committed.
    request.app.state.import_wakeup.set()
    return schemas.ImportJob.model_validate(job)


@router.post(
    "/workers",
    response_model=schemas.ImportJob,
    status_code=202,
    summary="Import workers from CSV or XLSX",
    responses=error_responses(401, 403, 413, 422),
)
async def import_workers(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    file: Annotated[
        UploadFile, File(description="CSV (UTF-8 or GB18030) or XLSX, header row first.")
    ],
) -> schemas.ImportJob:
    """Start importing workers. Columns (English or Chinese titles): `name`/姓名,
    `id_number`/身份证号, `phone`/手机号, `occupation`/职业（工种）,
    `enterprise_credit_code`/统一社会信用代码, `locality_code`/行政区划代码, `grade`/技能等级
    (e.g. 高级工 or `senior`). Answers 202 with a job: follow its progress at
    `/v1/imports/{id}`. Every worker must be at least 16, the legal working age (a younger
    one's row is refused at `id_number`). Valid rows are committed in batches; invalid ones and
    identity numbers already registered (or repeated in the file) are reported per row and
    never inserted, so importing the same file again adds nothing."""
    return await _upload(request, session, principal, ImportKind.workers, file)


@router.post(
    "/enterprises",
    response_model=schemas.ImportJob,
    status_code=202,
    summary="Import enterprises from CSV or XLSX",
    responses=error_responses(401, 403, 413, 422),
)
async def import_enterprises(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    file: Annotated[
        UploadFile, File(description="CSV (UTF-8 or GB18030) or XLSX, header row first.")
    ],
) -> schemas.ImportJob:
    """Start importing enterprises. Columns: `credit_code`/统一社会信用代码, `name`/企业名称,
    `locality_code`/行政区划代码, `industry`/所属产业 (e.g. 高端装备), `size`/企业规模 (大型...)."""
    return await _upload(request, session, principal, ImportKind.enterprises, file)


@router.get(
    "",
    operation_id="listImportJobs",
    response_model=Page[schemas.ImportJob],
    summary="List import jobs",
    responses=error_responses(401, 403, 422),
)
async def list_jobs(
    session: SessionDep,
    principal: AdminOrOrganiser,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.ImportJob]:
    """Your import jobs (admins: everyone's), oldest first."""
    return await service.list_jobs(session, principal, limit=limit, cursor=cursor)


@router.get(
    "/templates/{kind}.csv",
    operation_id="getImportTemplate",
    summary="Download an import template",
    response_class=Response,
    responses={
        **file_download(
            "text/csv", "CSV template (UTF-8): the column titles and one example row.", binary=False
        ),
        **error_responses(401, 403, 422),
    },
)
async def template(_: AdminOrOrganiser, kind: ImportKind) -> Response:
    """A CSV with the expected column titles and one example row, ready to fill in Excel."""
    return Response(
        service.template_csv(kind),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind.value}-template.csv"'},
    )


@router.get(
    "/{job_id}",
    operation_id="getImportJob",
    response_model=schemas.ImportJob,
    summary="Follow an import job",
    responses=error_responses(401, 403, 404, 422),
)
async def get_job(
    session: SessionDep, principal: AdminOrOrganiser, job_id: uuid.UUID
) -> schemas.ImportJob:
    """Status and progress: `processed_rows` of `total_rows`, inserted, duplicates, errors."""
    return schemas.ImportJob.model_validate(await service.get_job(session, job_id, principal))


@router.get(
    "/{job_id}/errors",
    operation_id="listImportErrors",
    response_model=Page[schemas.ImportRowError],
    summary="Row errors of an import",
    responses=error_responses(401, 403, 404, 422),
)
async def list_errors(
    session: SessionDep,
    principal: AdminOrOrganiser,
    job_id: uuid.UUID,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.ImportRowError]:
    """Each refused row with its row number, the field and the reason, in file order."""
    return await service.list_errors(session, job_id, principal, limit=limit, cursor=cursor)


@router.get(
    "/{job_id}/errors.csv",
    operation_id="getImportErrorsCsv",
    summary="Download the error report",
    response_class=Response,
    responses={
        **file_download(
            "text/csv", "CSV (UTF-8 with BOM): row_number, field, reason.", binary=False
        ),
        **error_responses(401, 403, 404, 422),
    },
)
async def errors_csv(
    session: SessionDep, principal: AdminOrOrganiser, job_id: uuid.UUID
) -> Response:
    """The row errors as CSV (cells that could be read as spreadsheet formulas are escaped)."""
    body = await service.errors_csv(session, job_id, principal)
    return Response(
        "\ufeff" + body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{job_id}-errors.csv"'},
    )
