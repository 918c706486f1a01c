"""Bulk import jobs (workers, enterprises from CSV or XLSX) and their per-row errors."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, created_at, str_enum, uuid_pk


class ImportKind(enum.StrEnum):
    workers = "workers"
    enterprises = "enterprises"


class ImportStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    failed = "failed"


class ImportJob(Base):
    """An uploaded file and the progress of importing it. The file is kept encrypted (AES-GCM
    with the data key, the job's id authenticated with it) and only until the job ends, or
    until IMPORT_FILE_RETENTION_HOURS for a job that never does."""

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_due", "status", "lease_until"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    kind: Mapped[ImportKind] = mapped_column(str_enum(ImportKind))
    filename: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64))
    #: Deferred: only the runner reads the file (up to IMPORT_MAX_BYTES), nothing else loads it.
    content_enc: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    status: Mapped[ImportStatus] = mapped_column(
        str_enum(ImportStatus), server_default=text("'queued'")
    )
    total_rows: Mapped[int | None] = mapped_column(Integer)
    processed_rows: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    inserted_rows: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    duplicate_rows: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    error_rows: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failure: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Times a runner has claimed the job: a file that stops every runner is failed after
    #: IMPORT_MAX_ATTEMPTS, even across restarts, instead of being retried for ever.
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_by_role: Mapped[str] = mapped_column(String(32))
    scope_locality_code: Mapped[str | None] = mapped_column(String(6))
    scope_enterprise_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[datetime] = created_at()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ImportRowError(Base):
    """Why one row of an import was not taken (duplicates included, with the existing id)."""

    __tablename__ = "import_row_errors"
    __table_args__ = (Index("ix_import_row_errors_job", "job_id", "row_number", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("import_jobs.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
