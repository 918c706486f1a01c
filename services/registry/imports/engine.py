"""Running an import job: validate rows, skip duplicates, COPY valid rows in batches.

Each batch is one transaction: its workers (or enterprises) with their initial grade,
employment, timeline entry and `worker.created` event, its row errors, and the job's counters.
Batches are read and validated ahead in a thread and written two at a time, but commit in file
order, so a crash loses nothing that was reported done, and a resumed job starts after the last
committed batch. Identity numbers are matched by their keyed hash, so rows already in the
database (from an earlier run of the same file, or registered by hand) are reported as
duplicates and never inserted twice; duplicates inside the file are caught the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

import anyio.to_thread
from cryptography.exceptions import InvalidTag
from sqlalchemy import LargeBinary, String, any_, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.registry.identifiers import id_number_facts, validate_credit_code, validate_id_number
from services.registry.imports.parsing import (
    GRADE_ALIASES,
    INDUSTRY_ALIASES,
    SIZE_ALIASES,
    FileProblem,
    RowSource,
    open_rows,
    row_problems,
)
from services.registry.talent.access import can_view
from services.registry.workers.schemas import PHONE_PATTERN
from services.registry.workers.service import GRADE_NAMES, MIN_WORKING_AGE
from shared import audit, clock
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
    SkillGrade,
    TimelineKind,
    Worker,
)
from shared.scope import covers
from shared.tabular import TableLimits

BATCH_SIZE = 5000
#: Batches written at once, each on its own connection (commits stay in file order).
WRITERS = 2

#: Per connection, emptied at each commit: a batch's validated rows, before they are inserted.
STAGE_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS import_stage (
    name text NOT NULL,
    id_number_hash bytea NOT NULL,
    id_number_enc bytea NOT NULL,
    id_number_masked text NOT NULL,
    sex text NOT NULL,
    birth_date date NOT NULL,
    phone_enc bytea,
    phone_masked text,
    occupation text NOT NULL,
    enterprise_id uuid,
    locality_code text NOT NULL,
    grade text NOT NULL,
    file_type text NOT NULL
) ON COMMIT DELETE ROWS
"""
STAGE_COLUMNS = [
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
]
#: One statement writes the staged workers and, from the rows it inserted, their initial grade,
#: employment, timeline entry and `worker.created` event: the derived rows are never built (nor
#: their ids generated, their JSON serialised) in Python. $1 now, $2 today, $3 the importing
#: account, $4 now as ISO 8601 (the payload's timestamp), $5 {grade: timeline summary}.
#: Time-ordered ids (`uuid_v7()`, migration 0060): a batch's new keys are neighbours in every
#: index that leads with them, instead of one random page of each per row.
INSERT_STAGED = f"""
WITH w AS (
    INSERT INTO workers (id, {", ".join(STAGE_COLUMNS)}, file_status, version, created_at,
                         updated_at)
    SELECT uuid_v7(), {", ".join(STAGE_COLUMNS)}, 'active', 1, $1, $1
    FROM import_stage
    RETURNING id, grade, enterprise_id, locality_code
), grades AS (
    INSERT INTO grade_changes (id, worker_id, to_grade, effective_date, source, source_ref,
                               recorded_by, created_at)
    SELECT uuid_v7(), id, grade, $2, 'initial', NULL, $3, $1 FROM w
), jobs AS (
    INSERT INTO employments (id, worker_id, enterprise_id, started_on, created_at)
    SELECT uuid_v7(), id, enterprise_id, $2, $1 FROM w WHERE enterprise_id IS NOT NULL
), timeline AS (
    INSERT INTO talent_file_events (worker_id, occurred_at, kind, summary, data, source_type,
                                    source_id, recorded_by, recorded_at)
    SELECT id, $1, '{TimelineKind.registered.value}', $5::jsonb ->> grade,
           jsonb_build_object('grade', grade, 'import', true), 'worker', id::text, $3, $1
    FROM w
)
INSERT INTO outbox_events (id, service, type, subject, occurred_at, payload)
SELECT uuid_v7(), 'registry', 'worker.created', 'worker:' || id, $1,
       jsonb_build_object(
           'type', 'worker.created',
           'timestamp', $4::text,
           'data', jsonb_build_object(
               'worker_id', id, 'grade', grade, 'enterprise_id', enterprise_id,
               'locality_code', locality_code
           )
       )
FROM w
"""  # noqa: S608 - constants only; every value is a bind parameter
TIMELINE_SUMMARIES = json.dumps(
    {grade.value: f"批量导入建档，等级：{name}" for grade, name in GRADE_NAMES.items()}
)
FILE_TYPES = {grade: FileType.for_grade(grade).value for grade in SkillGrade}
LEASE = timedelta(seconds=120)
#: After a runner fails on a job, wait this long per attempt so far before trying it again.
RETRY_BACKOFF = timedelta(seconds=10)
PHONE = re.compile(PHONE_PATTERN)
#: Six digits in a row could be (part of) an identity or phone number, put in the wrong column.
LONG_NUMBER = re.compile(r"\d{6}")

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
    return covers(principal, locality_code, enterprise_id)


def _shown(value: str) -> str:
    """A refused cell quoted back in its row error (stored, and read by the uploader), unless it
    may be personal data: row errors are kept in clear."""
    if len(value) > 32 or LONG_NUMBER.search(value):
        return "(the value given)"
    return repr(value)


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def validate_worker_rows(
    rows: list[tuple[int, dict[str, str]]], cipher: PersonalDataCipher
) -> Batch:
    """CPU work, run in a thread: field checks, facts from the identity number, encryption."""
    batch = Batch()
    today = clock.today()
    for number, row in rows:
        if unread := row_problems(row):
            batch.errors.extend(RowError(number, f, reason) for f, reason in unread)
            continue
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
            problems.append(
                RowError(number, "grade", f"unknown grade {_shown(row.get('grade', ''))}")
            )
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
        if unread := row_problems(row):
            batch.errors.extend(RowError(number, f, reason) for f, reason in unread)
            continue
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
                RowError(number, "industry", f"unknown industry {_shown(row.get('industry', ''))}")
            )
        size = SIZE_ALIASES.get(row.get("size", "").strip())
        if size is None:
            problems.append(RowError(number, "size", f"unknown size {_shown(row.get('size', ''))}"))
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
        limits: TableLimits | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.cipher = cipher
        self.progress = progress
        self.limits = limits or TableLimits()
        self.localities: set[str] = set()
        self.enterprises: dict[str, tuple[uuid.UUID, str]] = {}

    async def run(self, job_id: uuid.UUID) -> ImportJob:
        async with self.sessionmaker() as session:
            job = await session.get(ImportJob, job_id)
            sealed = await session.scalar(
                select(ImportJob.content_enc).where(ImportJob.id == job_id)
            )
            if job is None or sealed is None:
                raise LookupError(f"import job {job_id} has no file")
            kind, fmt, skip = job.kind, job.file_format, job.processed_rows
            principal = _job_principal(job)
            self.localities = set((await session.scalars(select(Locality.code))).all())
        try:
            content = await anyio.to_thread.run_sync(self.cipher.decrypt_file, sealed, job_id.bytes)
        except InvalidTag:
            return await self._finish(
                job_id,
                ImportStatus.failed,
                "The stored file cannot be decrypted (was DATA_KEY changed?); upload it again.",
                principal,
            )
        del sealed
        try:
            source: RowSource = await anyio.to_thread.run_sync(
                open_rows, kind, content, fmt, self.limits
            )
            await self._set(job_id, total_rows=source.total)
            await self._run_batches(job_id, kind, source, skip, principal)
        except FileProblem as exc:
            return await self._finish(job_id, ImportStatus.failed, str(exc), principal)
        return await self._finish(job_id, ImportStatus.completed, None, principal)

    async def _run_batches(
        self,
        job_id: uuid.UUID,
        kind: ImportKind,
        source: RowSource,
        skip: int,
        principal: Principal,
    ) -> None:
        """The pipeline: batch N+2 is read and validated (thread) while N+1 is checked for
        duplicates (in file order) and written, and N's insert is finishing on a second
        connection; commits stay in file order. Python's CPU work and two database backends
        overlap instead of taking turns. Everything written is awaited before returning, even
        when reading fails (a broken row in the middle of a file fails the job after the
        batches before it are committed, as before)."""
        seen: dict[bytes | str, int] = {}
        done = 0
        writes: list[asyncio.Task[None]] = []
        try:
            async for rows, batch in self._read_ahead(kind, source, skip):
                if batch is None:  # committed by an earlier run of this job
                    self._remember(kind, rows, seen)
                    done += len(rows)
                    continue
                while len([w for w in writes if not w.done()]) >= WRITERS:
                    await asyncio.wait(writes, return_when=asyncio.FIRST_COMPLETED)
                for write in writes:
                    if write.done():
                        write.result()  # a failed batch stops the job here
                session = self.sessionmaker()
                try:
                    await session.begin()
                    checked = await self._check(session, kind, batch, seen, principal)
                except BaseException:
                    await session.close()
                    raise
                before = writes[-1] if writes else None
                writes = [w for w in writes if not w.done()]
                writes.append(
                    asyncio.create_task(
                        self._write(
                            session, job_id, kind, len(rows), batch, checked, principal, before
                        )
                    )
                )
                done += len(rows)
                if self.progress:
                    writes[-1].add_done_callback(
                        partial(self._report, done=done, total=source.total)
                    )
        finally:
            if writes:
                await asyncio.wait(writes)
                for write in writes:  # retrieved, so that none is logged as never retrieved
                    write.exception()
        for write in writes:
            write.result()

    def _report(self, task: asyncio.Task[None], done: int, total: int | None) -> None:
        if self.progress and not task.cancelled() and task.exception() is None:
            self.progress(done, total)

    def _read_and_validate(
        self, kind: ImportKind, source: RowSource, skip: int
    ) -> tuple[list[tuple[int, dict[str, str]]], Batch | None]:
        """The next batch of rows and, unless `skip` says it is already committed, its
        validation (CPU only, in a worker thread; `None` for a skipped batch)."""
        rows = source.next_batch(BATCH_SIZE)
        if not rows or len(rows) <= skip:
            return rows, None
        if kind is ImportKind.workers:
            return rows, validate_worker_rows(rows, self.cipher)
        return rows, validate_enterprise_rows(rows)

    async def _read_ahead(
        self, kind: ImportKind, source: RowSource, skip: int
    ) -> AsyncIterator[tuple[list[tuple[int, dict[str, str]]], Batch | None]]:
        """Batches in file order, the next one read and validated in a thread while the caller
        writes the current one: Python's CPU work overlaps the database's instead of adding
        to it. At most two batches wait besides the one being written."""
        queue: asyncio.Queue[
            tuple[list[tuple[int, dict[str, str]]], Batch | None] | BaseException | None
        ] = asyncio.Queue(maxsize=1)

        async def produce() -> None:
            left = skip
            try:
                while True:
                    rows, batch = await anyio.to_thread.run_sync(
                        self._read_and_validate, kind, source, left
                    )
                    if not rows:
                        break
                    left = max(0, left - len(rows))
                    await queue.put((rows, batch))
                await queue.put(None)
            except Exception as exc:  # FileProblem and the like reach the caller
                await queue.put(exc)

        producer = asyncio.create_task(produce())
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await producer

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
            finish_job(session, job, status, failure, principal)
        return job

    async def _check(
        self,
        session: AsyncSession,
        kind: ImportKind,
        batch: Batch,
        seen: dict[bytes | str, int],
        principal: Principal,
    ) -> tuple[list[dict[str, Any]], int]:
        """The rows of a validated batch to insert, and how many were duplicates; every other
        row gets its error. Runs in file order (it reads and extends `seen`); its queries are
        the first statements of the batch's transaction."""
        if kind is ImportKind.workers:
            return await self._check_workers(session, batch, seen, principal)
        return await self._check_enterprises(session, batch, seen, principal)

    async def _write(
        self,
        session: AsyncSession,
        job_id: uuid.UUID,
        kind: ImportKind,
        rows: int,
        batch: Batch,
        checked: tuple[list[dict[str, Any]], int],
        principal: Principal,
        before: asyncio.Task[None] | None,
    ) -> None:
        """Insert a checked batch, its row errors and the job's counters, and commit, but only
        after the batch `before` it has committed: the job's `processed_rows` always counts a
        prefix of the file, which is what a resumed job skips. Owns (and closes) `session`."""
        good, duplicates = checked
        try:
            raw = await (await session.connection()).get_raw_connection()
            conn: Any = raw.driver_connection
            if good:
                if kind is ImportKind.workers:
                    await self._insert_workers(conn, good, principal)
                else:
                    await self._insert_enterprises(conn, good)
            if batch.errors:
                await conn.copy_records_to_table(
                    "import_row_errors",
                    columns=["job_id", "row_number", "field", "reason"],
                    records=[(job_id, e.row, e.field, e.reason[:1000]) for e in batch.errors],
                )
            if before is not None:
                await before  # raises if it failed: this batch then rolls back too
            error_rows = len({e.row for e in batch.errors}) - duplicates
            await session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id)
                .values(
                    processed_rows=ImportJob.processed_rows + rows,
                    inserted_rows=ImportJob.inserted_rows + len(good),
                    duplicate_rows=ImportJob.duplicate_rows + duplicates,
                    error_rows=ImportJob.error_rows + error_rows,
                    lease_until=datetime.now(UTC) + LEASE,
                )
            )
            await session.commit()
        finally:
            await session.close()

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

    async def _check_workers(
        self,
        session: AsyncSession,
        batch: Batch,
        seen: dict[bytes | str, int],
        principal: Principal,
    ) -> tuple[list[dict[str, Any]], int]:
        # One array parameter, not an IN list of 5,000 binds for SQLAlchemy to compile.
        hashes = bindparam("hashes", [r["hash"] for r in batch.records], ARRAY(LargeBinary))
        result = await session.execute(
            select(
                Worker.id_number_hash, Worker.id, Worker.enterprise_id, Worker.locality_code
            ).where(Worker.id_number_hash == any_(hashes))
        )
        existing = {row.id_number_hash: row for row in result}
        await self._known_enterprises(session, {r["credit"] for r in batch.records if r["credit"]})
        good: list[dict[str, Any]] = []
        duplicates = 0
        for r in batch.records:
            found = existing.get(r["hash"])
            if found is not None and can_view(principal, found):
                batch.errors.append(
                    RowError(r["row"], "id_number", f"already registered as worker {found.id}")
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
            # A number on file for a worker the importer may not read: named to nobody, and
            # only after the row's own checks (as POST /v1/workers), so that those answer the
            # same whether or not the number is on file.
            if found is not None:
                batch.errors.append(
                    RowError(r["row"], "id_number", "cannot be registered in your scope")
                )
                duplicates += 1
                continue
            seen[r["hash"]] = r["row"]
            r["enterprise_id"], r["locality"] = enterprise_id, locality
            good.append(r)
        return good, duplicates

    async def _insert_workers(
        self, conn: Any, good: list[dict[str, Any]], principal: Principal
    ) -> None:
        await conn.execute(STAGE_TABLE)
        await conn.copy_records_to_table(
            "import_stage",
            columns=STAGE_COLUMNS,
            records=[
                (
                    r["name"],
                    r["hash"],
                    r["enc"],
                    r["masked"],
                    r["sex"],
                    r["birth"],
                    r["phone_enc"],
                    r["phone_masked"],
                    r["occupation"],
                    r["enterprise_id"],
                    r["locality"],
                    r["grade"],
                    FILE_TYPES[r["grade"]],
                )
                for r in good
            ],
        )
        now = datetime.now(UTC)
        await conn.execute(
            INSERT_STAGED, now, clock.today(), principal.sub, now.isoformat(), TIMELINE_SUMMARIES
        )

    async def _check_enterprises(
        self,
        session: AsyncSession,
        batch: Batch,
        seen: dict[bytes | str, int],
        principal: Principal,
    ) -> tuple[list[dict[str, Any]], int]:
        codes = bindparam("codes", [r["credit"] for r in batch.records], ARRAY(String))
        result = await session.execute(
            select(Enterprise.credit_code, Enterprise.id).where(
                Enterprise.credit_code == any_(codes)
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
        return good, duplicates

    async def _insert_enterprises(self, conn: Any, good: list[dict[str, Any]]) -> None:
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


def finish_job(
    session: AsyncSession,
    job: ImportJob,
    status: ImportStatus,
    failure: str | None,
    principal: Principal | None = None,
) -> None:
    """End a job (locked by the caller): its file is deleted whatever the outcome, since the
    personal data in it is not kept once the job is over."""
    job.status = status
    job.failure = failure
    job.finished_at = datetime.now(UTC)
    job.lease_until = None
    job.content_enc = None
    audit.record(
        session,
        service="registry",
        principal=principal or _job_principal(job),
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


def _gave_up(attempts: int, error: str | None = None) -> str:
    last = f" (the last one failed with {error})" if error else ""
    return (
        f"The import was started {attempts} times without finishing{last}; the rows "
        "reported done are imported. Upload the rest again, or tell the operators if it "
        "happens again."
    )


EXPIRED = (
    "The import did not finish within the retention period of uploaded files; the file was "
    "deleted. Upload it again (rows already imported are reported as duplicates)."
)


async def sweep(
    sessionmaker: async_sessionmaker[AsyncSession], max_attempts: int, retention: timedelta
) -> int:
    """Fail the jobs that must not run again, deleting their files: those started
    `max_attempts` times whose runner is gone (a file that stops every runner, or a process
    killed on it each time), and those older than `retention` that no runner holds. Returns
    how many it failed."""
    async with sessionmaker() as session, session.begin():
        now = datetime.now(UTC)
        due = (
            await session.scalars(
                select(ImportJob)
                .where(
                    ImportJob.status.in_([ImportStatus.queued, ImportStatus.running]),
                    (ImportJob.status == ImportStatus.queued) | (ImportJob.lease_until < now),
                    (ImportJob.attempts >= max_attempts) | (ImportJob.created_at < now - retention),
                )
                .order_by(ImportJob.created_at)
                .limit(100)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for job in due:
            expired = job.created_at < now - retention
            finish_job(
                session,
                job,
                ImportStatus.failed,
                EXPIRED if expired else _gave_up(job.attempts),
            )
        return len(due)


async def release_after_error(
    sessionmaker: async_sessionmaker[AsyncSession],
    job_id: uuid.UUID,
    error: BaseException,
    max_attempts: int,
) -> None:
    """A runner failed on a job: fail it for good on its last attempt (naming only the kind of
    error: a message may quote a row), else let it be claimed again after a short wait."""
    async with sessionmaker() as session, session.begin():
        job = await session.get(ImportJob, job_id, with_for_update=True)
        if job is None or job.status is not ImportStatus.running:
            return
        if job.attempts >= max_attempts:
            finish_job(
                session, job, ImportStatus.failed, _gave_up(job.attempts, type(error).__name__)
            )
        else:
            job.lease_until = datetime.now(UTC) + min(LEASE, RETRY_BACKOFF * job.attempts)


async def claim_next(
    sessionmaker: async_sessionmaker[AsyncSession], max_attempts: int = 5
) -> uuid.UUID | None:
    """Claim a queued job, or a running one whose worker stopped renewing its lease, counting
    the attempt (in the database, so restarts count too)."""
    async with sessionmaker() as session, session.begin():
        claimed = await session.scalar(
            text(
                """
            UPDATE import_jobs SET status = 'running', lease_until = now() + interval '120 seconds',
                   started_at = coalesce(started_at, now()), attempts = attempts + 1
            WHERE id = (
                SELECT id FROM import_jobs
                WHERE (status = 'queued' OR (status = 'running' AND lease_until < now()))
                  AND attempts < :max_attempts
                ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1
            )
            RETURNING id
            """
            ),
            {"max_attempts": max_attempts},
        )
        return claimed
