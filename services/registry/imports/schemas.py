"""Import job schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared import examples as ex
from shared.models.registry import ImportKind, ImportStatus


class ImportJob(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: ImportKind
    filename: str = Field(examples=[f"{ex.YEAR}年济南二机床职工名册.xlsx"])
    file_format: str = Field(examples=["xlsx"])
    status: ImportStatus
    total_rows: int | None = Field(None, description="Data rows in the file (an estimate for CSV).")
    processed_rows: int = Field(description="Rows done so far: progress is processed/total.")
    inserted_rows: int
    duplicate_rows: int = Field(description="Rows already registered, or repeated in the file.")
    error_rows: int = Field(description="Rows refused for invalid data (see the error report).")
    failure: str | None = Field(None, description="Why the whole file failed, if it did.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportRowError(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    row_number: int = Field(description="Row in the file (the header is row 1).", examples=[17])
    field: str = Field(examples=["id_number"])
    reason: str = Field(examples=["the check digit of this identity number is wrong"])
