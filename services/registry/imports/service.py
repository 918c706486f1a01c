"""Import jobs: accepting uploads, the background runner, reading progress and errors."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import uuid
from datetime import timedelta
from functools import partial

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.imports import schemas
from services.registry.imports.engine import (
    ImportRunner,
    claim_next,
    release_after_error,
    sweep,
)
from services.registry.imports.parsing import COLUMNS, FileProblem, detect_format
from shared import audit
from shared import examples as ex
from shared.auth.principal import Principal, Role
from shared.crypto import PersonalDataCipher
from shared.errors import FieldError, Forbidden, InvalidInput, NotFound
from shared.models.registry import ImportJob, ImportKind, ImportRowError
from shared.pagination import Page, paginate
from shared.tabular import TableLimits, TableProblem, csv_safe, inspect_xlsx

log = logging.getLogger("registry.imports")
POLL_SECONDS = 2.0


async def create_job(
    session: AsyncSession,
    kind: ImportKind,
    filename: str,
    content: bytes,
    principal: Principal,
    cipher: PersonalDataCipher,
    limits: TableLimits | None = None,
) -> ImportJob:
    """Queue an upload. The file holds identity numbers: it is stored encrypted, and checked
    first (a quick look at an XLSX's structure) so that a file no register could be is a 422
    now rather than a failed job later."""
    if not content:
        raise InvalidInput("The file is empty.", errors=[FieldError(field="file", message="empty")])
    try:
        file_format = detect_format(filename, content)
        if file_format == "xlsx":
            await anyio.to_thread.run_sync(
                partial(inspect_xlsx, content, limits or TableLimits(), deep=False)
            )
    except (FileProblem, TableProblem) as exc:
        raise InvalidInput(str(exc), errors=[FieldError(field="file", message=str(exc))]) from exc
    job_id = uuid.uuid4()
    sealed = await anyio.to_thread.run_sync(cipher.encrypt_file, content, job_id.bytes)
    job = ImportJob(
        id=job_id,
        kind=kind,
        filename=filename[:255],
        file_format=file_format,
        sha256=hashlib.sha256(content).hexdigest(),
        content_enc=sealed,
        created_by=principal.sub,
        created_by_role=principal.role.value,
        scope_locality_code=principal.locality_code,
        scope_enterprise_id=principal.enterprise_id,
    )
    session.add(job)
    await session.flush()
    await session.refresh(job)
    return job


async def get_job(session: AsyncSession, job_id: uuid.UUID, principal: Principal) -> ImportJob:
    job = await session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"No import job with id {job_id}.")
    if principal.role is not Role.admin and job.created_by != principal.sub:
        raise Forbidden("Only the uploader and admins may see an import job.")
    return job


async def list_jobs(
    session: AsyncSession, principal: Principal, *, limit: int, cursor: str | None
) -> Page[schemas.ImportJob]:
    stmt = select(ImportJob)
    if principal.role is not Role.admin:
        stmt = stmt.where(ImportJob.created_by == principal.sub)
    return await paginate(
        session,
        stmt,
        order_by=[ImportJob.created_at, ImportJob.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.ImportJob.model_validate,
    )


async def list_errors(
    session: AsyncSession,
    job_id: uuid.UUID,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None,
) -> Page[schemas.ImportRowError]:
    await get_job(session, job_id, principal)
    return await paginate(
        session,
        select(ImportRowError).where(ImportRowError.job_id == job_id),
        order_by=[ImportRowError.row_number, ImportRowError.id],
        limit=limit,
        cursor=cursor,
        transform=schemas.ImportRowError.model_validate,
    )


async def errors_csv(session: AsyncSession, job_id: uuid.UUID, principal: Principal) -> str:
    await get_job(session, job_id, principal)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row_number", "field", "reason"])
    rows = await session.execute(
        select(ImportRowError.row_number, ImportRowError.field, ImportRowError.reason)
        .where(ImportRowError.job_id == job_id)
        .order_by(ImportRowError.row_number, ImportRowError.id)
    )
    count = 0
    for number, field, reason in rows:
        writer.writerow([number, csv_safe(field), csv_safe(reason)])
        count += 1
    # A download of what people's rows said: who took it, and when, is kept.
    audit.record(
        session,
        service="registry",
        principal=principal,
        action="import_job.errors_exported",
        entity_type="import_job",
        entity_id=job_id,
        after={"rows": count, "format": "csv"},
    )
    return out.getvalue()


def template_csv(kind: ImportKind) -> str:
    """Column titles (Chinese, as organisers' spreadsheets use) and one example row."""
    examples = {
        ImportKind.workers: [
            ex.WORKER_NAME,
            ex.WORKER_ID_NUMBER,
            ex.WORKER_PHONE,
            ex.OCCUPATION,
            ex.ENTERPRISE_CREDIT_CODE,
            ex.CITY_CODE,
            "高级工",
        ],
        ImportKind.enterprises: [
            ex.ENTERPRISE_CREDIT_CODE,
            ex.ENTERPRISE_NAME,
            ex.CITY_CODE,
            "高端装备",
            "大型",
        ],
    }
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([names[1] for names in COLUMNS[kind].values()])
    writer.writerow(examples[kind])
    return "\ufeff" + out.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly


async def job_loop(app: FastAPI) -> None:
    """Background runner in the registry: claims due jobs (SKIP LOCKED, so replicas share the
    work) and runs them; a job whose runner died is taken over when its lease expires, at most
    IMPORT_MAX_ATTEMPTS times; jobs past that, or past the file retention, are failed and their
    files deleted."""
    wakeup: asyncio.Event = app.state.import_wakeup
    stopping: asyncio.Event = app.state.stopping
    settings = app.state.settings
    sessionmaker = app.state.sessionmaker
    limits = TableLimits.from_settings(settings)
    retention = timedelta(hours=settings.import_file_retention_hours)
    while not stopping.is_set():
        try:
            await sweep(sessionmaker, settings.import_max_attempts, retention)
            job_id = await claim_next(sessionmaker, settings.import_max_attempts)
            if job_id is not None:
                try:
                    await ImportRunner(sessionmaker, app.state.cipher, limits=limits).run(job_id)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.exception("import job runner failed")
                    await release_after_error(
                        sessionmaker, job_id, exc, settings.import_max_attempts
                    )
                continue
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("import job runner failed; retrying")
        waits = [asyncio.ensure_future(wakeup.wait()), asyncio.ensure_future(stopping.wait())]
        await asyncio.wait(waits, timeout=POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waits:
            waiter.cancel()
        wakeup.clear()
