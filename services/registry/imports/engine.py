"""Running an import job: validate rows, skip duplicates, COPY valid rows in batches.

Each batch is one transaction: its workers (or enterprises) with their initial grade,
employment, timeline entry and `worker.created` event, its row errors, and the job's counters.
A crash therefore loses nothing that was reported done, and a resumed job starts after the last
committed batch. Identity numbers are matched by their keyed hash, so rows already in the
database (from an earlier run of the same file, or registered by hand) are reported as
duplicates and never inserted twice; duplicates inside the file are caught the same way.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.registry.identifiers import id_number_facts, validate_credit_code, validate_id_number
from services.registry.imports.parsing import (
    GRADE_ALIASES,
    INDUSTRY_ALIASES,
    SIZE_ALIASES,
    FileProblem,
    RowSource,
    open_rows,
)
from services.registry.talent.access import locality_covers
from services.registry.workers.schemas import PHONE_PATTERN
from services.registry.workers.service import GRADE_NAMES, MIN_WORKING_AGE
from shared import audit
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.crypto import PersonalDataCipher, mask_id_number, mask_phone
from shared.errors import DomainError
from shared.models.registry import (
    Enterprise,
    FileType,
    ImportJob,
    ImportKind,
    ImportStatus,
    Locality,
    TimelineKind,
    Worker,
)

BATCH_SIZE = 5000
LEASE = timedelta(seconds=120)
PHONE = re.compile(PHONE_PATTERN)

Progress = Callable[[int, int | None], None]


@dataclass
class RowError:
    row: int
    field: str
    reason: str


@dataclass
class Batch:
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _job_principal(job: ImportJob) -> Principal:
    return Principal(
        sub=job.created_by,
        kind=PrincipalKind.account,
        role=Role(job.created_by_role),
        name="",
        locality_code=job.scope_locality_code,
        enterprise_id=job.scope_enterprise_id,
    )


def _in_scope(principal: Principal, locality_code: str, enterprise_id: uuid.UUID | None) -> bool:
    if principal.role is Role.admin:
        return True
    if principal.enterprise_id is not None:
        return enterprise_id == principal.enterprise_id
    return locality_covers(principal.locality_code, locality_code)


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def validate_worker_rows(
    rows: list[tuple[int, dict[str, str]]], cipher: PersonalDataCipher
) -> Batch:
    """CPU work, run in a thread: field checks, facts from the identity number, encryption."""
    batch = Batch()
    today = date.today()
    for number, row in rows:
        try:
            id_number = validate_id_number(row.get("id_number", ""))
        except DomainError as exc:
            message = exc.errors[0].message if exc.errors else exc.detail
            batch.errors.append(RowError(number, "id_number", message))
            continue
        birth, sex = id_number_facts(id_number)
        problems = []
        name = row.get("name", "").strip()
        if not name or len(name) > 64:
            problems.append(RowError(number, "name", "required, at most 64 characters"))
        occupation = row.get("occupation", "").strip()
        if not occupation or len(occupation) > 100:
            problems.append(RowError(number, "occupation", "required, at most 100 characters"))
        grade = GRADE_ALIASES.get(row.get("grade", "").strip())
        if grade is None:
            problems.append(RowError(number, "grade", f"unknown grade {row.get('grade', '')!r}"))
        phone = row.get("phone", "").strip()
        if phone and not PHONE.match(phone):
            problems.append(RowError(number, "phone", "not a phone number"))
        if _age(birth, today) < MIN_WORKING_AGE:
            problems.append(RowError(number, "id_number", "under the legal working age"))
        locality = row.get("locality_code", "").strip()
        if locality and not (len(locality) == 6 and locality.isdigit()):
            problems.append(RowError(number, "locality_code", "must be a 6-digit GB/T 2260 code"))
        credit = row.get("enterprise_credit_code", "").strip()
        if credit:
            try:
                credit = validate_credit_code(credit)
            except DomainError:
                problems.append(RowError(number, "enterprise_credit_code", "invalid credit code"))
        if not credit and not locality:
            problems.append(RowError(number, "locality_code", "give a locality or an enterprise"))
        if problems:
            batch.errors.extend(problems)
            continue
        assert grade is not None
        batch.records.append(
            {
                "row": number,
                "id": uuid.uuid4(),
                "name": name,
                "hash": cipher.lookup_hash(id_number),
                "enc": cipher.encrypt(id_number),
                "masked": mask_id_number(id_number),
                "sex": sex,
                "birth": birth,
                "phone_enc": cipher.encrypt(phone) if phone else None,
                "phone_masked": mask_phone(phone) if phone else None,
                "occupation": occupation,
                "credit": credit or None,
                "locality": locality or None,
                "grade": grade,
            }
        )
    return batch


def validate_enterprise_rows(rows: list[tuple[int, dict[str, str]]]) -> Batch:
    batch = Batch()
    for number, row in rows:
        problems = []
        try:
            code = validate_credit_code(row.get("credit_code", ""))
        except DomainError as exc:
            message = exc.errors[0].message if exc.errors else exc.detail
            batch.errors.append(RowError(number, "credit_code", message))
            continue
        name = row.get("name", "").strip()
        if not (2 <= len(name) <= 200):
            problems.append(RowError(number, "name", "required, 2 to 200 characters"))
        locality = row.get("locality_code", "").strip()
        if not (len(locality) == 6 and locality.isdigit()):
            problems.append(RowError(number, "locality_code", "must be a 6-digit GB/T 2260 code"))
        industry = INDUSTRY_ALIASES.get(row.get("industry", "").strip())
        if industry is None:
            problems.append(
                RowError(number, "industry", f"unknown industry {row.get('industry', '')!r}")
            )
        size = SIZE_ALIASES.get(row.get("size", "").strip())
        if size is None:
            problems.append(RowError(number, "size", f"unknown size {row.get('size', '')!r}"))
        if problems:
            batch.errors.extend(problems)
            continue
        batch.records.append(
            {
                "row": number,
                "id": uuid.uuid4(),
                "credit": code,
                "name": name,
                "locality": locality,
                "industry": industry,
                "size": size,
            }
        )
    return batch


class ImportRunner:
    """Runs one claimed job to the end (or to a clear failure)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        cipher: PersonalDataCipher,
        progress: Progress | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.cipher = cipher
        self.progress = progress
        self.localities: set[str] = set()
        self.enterprises: dict[str, tuple[uuid.UUID, str]] = {}

    async def run(self, job_id: uuid.UUID) -> ImportJob:
        async with self.sessionmaker() as session:
            job = await session.get(ImportJob, job_id)
            if job is None or job.content is None:
                raise LookupError(f"import job {job_id} has no file")
            content, kind, fmt, skip = job.content, job.kind, job.file_format, job.processed_rows
            principal = _job_principal(job)
            self.localities = set((await session.scalars(select(Locality.code))).all())
        try:
            source: RowSource = await anyio.to_thread.run_sync(open_rows, kind, content, fmt)
            await self._set(job_id, total_rows=source.total)
            seen: dict[bytes | str, int] = {}
            done = 0
            while True:
                rows = await anyio.to_thread.run_sync(source.next_batch, BATCH_SIZE)
                if not rows:
                    break
                if done + len(rows) <= skip:  # committed by an earlier run of this job
                    done += len(rows)
                    self._remember(kind, rows, seen)
                    continue
                await self._batch(job_id, kind, rows, seen, principal)
                done += len(rows)
                if self.progress:
                    self.progress(done, source.total)
        except FileProblem as exc:
            return await self._finish(job_id, ImportStatus.failed, str(exc), principal)
        return await self._finish(job_id, ImportStatus.completed, None, principal)

    def _remember(
        self, kind: ImportKind, rows: list[tuple[int, dict[str, str]]], seen: dict[bytes | str, int]
    ) -> None:
        """Rebuild the in-file duplicate map for rows skipped on resume."""
        for number, row in rows:
            if kind is ImportKind.workers:
                try:
                    seen.setdefault(
                        self.cipher.lookup_hash(validate_id_number(row.get("id_number", ""))),
                        number,
                    )
                except DomainError:
                    continue
            else:
                try:
                    seen.setdefault(validate_credit_code(row.get("credit_code", "")), number)
                except DomainError:
                    continue

    async def _set(self, job_id: uuid.UUID, **values: Any) -> None:
        async with self.sessionmaker() as session, session.begin():
            await session.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values))

    async def _finish(
        self, job_id: uuid.UUID, status: ImportStatus, failure: str | None, principal: Principal
    ) -> ImportJob:
        async with self.sessionmaker() as session, session.begin():
            job = await session.get(ImportJob, job_id, with_for_update=True)
            assert job is not None
            job.status = status
            job.failure = failure
            job.finished_at = datetime.now(UTC)
            job.lease_until = None
            job.content = None  # personal data in the file is not kept once imported
            audit.record(
                session,
                service="registry",
                principal=principal,
                action=f"import.{job.kind.value}",
                entity_type="import_job",
                entity_id=job.id,
                after={
                    "status": status.value,
                    "inserted": job.inserted_rows,
                    "duplicates": job.duplicate_rows,
                    "errors": job.error_rows,
                    "failure": failure,
                },
            )
        return job

    async def _batch(
        self,
        job_id: uuid.UUID,
        kind: ImportKind,
        rows: list[tuple[int, dict[str, str]]],
        seen: dict[bytes | str, int],
        principal: Principal,
    ) -> None:
        if kind is ImportKind.workers:
            batch = await anyio.to_thread.run_sync(validate_worker_rows, rows, self.cipher)
        else:
            batch = await anyio.to_thread.run_sync(validate_enterprise_rows, rows)
        async with self.sessionmaker() as session, session.begin():
            raw = await (await session.connection()).get_raw_connection()
            conn: Any = raw.driver_connection
            if kind is ImportKind.workers:
                inserted, duplicates = await self._workers(session, conn, batch, seen, principal)
            else:
                inserted, duplicates = await self._enterprises(
                    session, conn, batch, seen, principal
                )
            if batch.errors:
                await conn.copy_records_to_table(
                    "import_row_errors",
                    columns=["job_id", "row_number", "field", "reason"],
                    records=[(job_id, e.row, e.field, e.reason[:1000]) for e in batch.errors],
                )
            error_rows = len({e.row for e in batch.errors}) - duplicates
            await session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id)
                .values(
                    processed_rows=ImportJob.processed_rows + len(rows),
                    inserted_rows=ImportJob.inserted_rows + inserted,
                    duplicate_rows=ImportJob.duplicate_rows + duplicates,
                    error_rows=ImportJob.error_rows + error_rows,
                    lease_until=datetime.now(UTC) + LEASE,
                )
            )

    async def _known_enterprises(self, session: AsyncSession, codes: set[str]) -> None:
        missing = [c for c in codes if c not in self.enterprises]
        if missing:
            result = await session.execute(
                select(Enterprise.credit_code, Enterprise.id, Enterprise.locality_code).where(
                    Enterprise.credit_code.in_(missing)
                )
            )
            for code, ent_id, locality in result:
                self.enterprises[code] = (ent_id, locality)

    async def _workers(
        self,
        session: AsyncSession,
        conn: Any,
        batch: Batch,
        seen: dict[bytes | str, int],
        principal: Principal,
    ) -> tuple[int, int]:
        await self._known_enterprises(session, {r["credit"] for r in batch.records if r["credit"]})
        result = await session.execute(
            select(Worker.id_number_hash, Worker.id).where(
                Worker.id_number_hash.in_([r["hash"] for r in batch.records])
            )
        )
        existing = {row_hash: worker_id for row_hash, worker_id in result}
        good: list[dict[str, Any]] = []
        duplicates = 0
        for r in batch.records:
            if r["hash"] in existing:
                batch.errors.append(
                    RowError(
                        r["row"], "id_number", f"already registered as worker {existing[r['hash']]}"
                    )
                )
                duplicates += 1
                continue
            if r["hash"] in seen:
                batch.errors.append(
                    RowError(
                        r["row"], "id_number", f"duplicate of row {seen[r['hash']]} in this file"
                    )
                )
                duplicates += 1
                continue
            enterprise_id = None
            locality = r["locality"]
            if r["credit"]:
                known = self.enterprises.get(r["credit"])
                if known is None:
                    batch.errors.append(
                        RowError(
                            r["row"],
                            "enterprise_credit_code",
                            "no enterprise with this credit code",
                        )
                    )
                    continue
                enterprise_id, ent_locality = known
                locality = locality or ent_locality
            if locality not in self.localities:
                batch.errors.append(RowError(r["row"], "locality_code", "unknown locality"))
                continue
            if not _in_scope(principal, locality, enterprise_id):
                batch.errors.append(
                    RowError(r["row"], "locality_code", "outside your organiser scope")
                )
                continue
            seen[r["hash"]] = r["row"]
            good.append({**r, "enterprise_id": enterprise_id, "locality": locality})
        if not good:
            return 0, duplicates
        now = datetime.now(UTC)
        today = now.date()
        await conn.copy_records_to_table(
            "workers",
            columns=[
                "id",
                "name",
                "id_number_hash",
                "id_number_enc",
                "id_number_masked",
                "sex",
                "birth_date",
                "phone_enc",
                "phone_masked",
                "occupation",
                "enterprise_id",
                "locality_code",
                "grade",
                "file_type",
                "file_status",
                "version",
                "created_at",
                "updated_at",
            ],
            records=[
                (
                    r["id"],
                    r["name"],
                    r["hash"],
                    r["enc"],
                    r["masked"],
                    r["sex"].value,
                    r["birth"],
                    r["phone_enc"],
                    r["phone_masked"],
                    r["occupation"],
                    r["enterprise_id"],
                    r["locality"],
                    r["grade"].value,
                    FileType.for_grade(r["grade"]).value,
                    "active",
                    1,
                    now,
                    now,
                )
                for r in good
            ],
        )
        await conn.copy_records_to_table(
            "grade_changes",
            columns=[
                "id",
                "worker_id",
                "to_grade",
                "effective_date",
                "source",
                "source_ref",
                "recorded_by",
                "created_at",
            ],
            records=[
                (
                    uuid.uuid4(),
                    r["id"],
                    r["grade"].value,
                    today,
                    "initial",
                    None,
                    principal.sub,
                    now,
                )
                for r in good
            ],
        )
        employed = [r for r in good if r["enterprise_id"]]
        if employed:
            await conn.copy_records_to_table(
                "employments",
                columns=["id", "worker_id", "enterprise_id", "started_on", "created_at"],
                records=[(uuid.uuid4(), r["id"], r["enterprise_id"], today, now) for r in employed],
            )
        await conn.copy_records_to_table(
            "talent_file_events",
            columns=[
                "worker_id",
                "occurred_at",
                "kind",
                "summary",
                "data",
                "source_type",
                "source_id",
                "recorded_by",
                "recorded_at",
            ],
            records=[
                (
                    r["id"],
                    now,
                    TimelineKind.registered.value,
                    f"批量导入建档，等级：{GRADE_NAMES[r['grade']]}",
                    json.dumps({"grade": r["grade"].value, "import": True}),
                    "worker",
                    str(r["id"]),
                    principal.sub,
                    now,
                )
                for r in good
            ],
        )
        await conn.copy_records_to_table(
            "outbox_events",
            columns=["id", "service", "type", "subject", "occurred_at", "payload"],
            records=[
                (
                    uuid.uuid4(),
                    "registry",
                    "worker.created",
                    f"worker:{r['id']}",
                    now,
                    json.dumps(
                        {
                            "type": "worker.created",
                            "timestamp": now.isoformat(),
                            "data": {
                                "worker_id": str(r["id"]),
                                "grade": r["grade"].value,
                                "enterprise_id": str(r["enterprise_id"])
                                if r["enterprise_id"]
                                else None,
                                "locality_code": r["locality"],
                            },
                        }
                    ),
                )
                for r in good
            ],
        )
        return len(good), duplicates

    async def _enterprises(
        self,
        session: AsyncSession,
        conn: Any,
        batch: Batch,
        seen: dict[bytes | str, int],
        principal: Principal,
    ) -> tuple[int, int]:
        result = await session.execute(
            select(Enterprise.credit_code, Enterprise.id).where(
                Enterprise.credit_code.in_([r["credit"] for r in batch.records])
            )
        )
        existing = {code: enterprise_id for code, enterprise_id in result}
        good = []
        duplicates = 0
        for r in batch.records:
            if r["credit"] in existing:
                batch.errors.append(
                    RowError(
                        r["row"],
                        "credit_code",
                        f"already registered as enterprise {existing[r['credit']]}",
                    )
                )
                duplicates += 1
            elif r["credit"] in seen:
                batch.errors.append(
                    RowError(
                        r["row"],
                        "credit_code",
                        f"duplicate of row {seen[r['credit']]} in this file",
                    )
                )
                duplicates += 1
            elif r["locality"] not in self.localities:
                batch.errors.append(RowError(r["row"], "locality_code", "unknown locality"))
            elif not _in_scope(principal, r["locality"], None):
                batch.errors.append(
                    RowError(r["row"], "locality_code", "outside your organiser scope")
                )
            else:
                seen[r["credit"]] = r["row"]
                good.append(r)
        if good:
            now = datetime.now(UTC)
            await conn.copy_records_to_table(
                "enterprises",
                columns=[
                    "id",
                    "credit_code",
                    "name",
                    "locality_code",
                    "industry",
                    "size",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                records=[
                    (
                        r["id"],
                        r["credit"],
                        r["name"],
                        r["locality"],
                        r["industry"].value,
                        r["size"].value,
                        1,
                        now,
                        now,
                    )
                    for r in good
                ],
            )
        return len(good), duplicates


async def claim_next(sessionmaker: async_sessionmaker[AsyncSession]) -> uuid.UUID | None:
    """Claim a queued job, or a running one whose worker stopped renewing its lease."""
    async with sessionmaker() as session, session.begin():
        claimed = await session.scalar(
            text(
                """
            UPDATE import_jobs SET status = 'running', lease_until = now() + interval '120 seconds',
                   started_at = coalesce(started_at, now())
            WHERE id = (
                SELECT id FROM import_jobs
                WHERE status = 'queued' OR (status = 'running' AND lease_until < now())
                ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1
            )
            RETURNING id
            """
            )
        )
        return claimed
