"""Enterprise schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared import examples as ex
from shared.models.registry import EnterpriseSize, Industry


class EnterpriseCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "credit_code": ex.ENTERPRISE_CREDIT_CODE,
                    "name": ex.ENTERPRISE_NAME,
                    "locality_code": "370100",
                    "industry": "high_end_equipment",
                    "size": "large",
                }
            ]
        },
    )

    credit_code: str = Field(
        min_length=1, max_length=32, description="Unified social credit code (GB 32100)."
    )
    name: str = Field(min_length=2, max_length=200)
    locality_code: str = Field(pattern=r"^\d{6}$", description="GB/T 2260 code.")
    industry: Industry = Field(description="One of Shandong's Top Ten industries, or other.")
    size: EnterpriseSize


class EnterpriseUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "济南二机床集团有限公司", "size": "large"}]},
    )

    name: str | None = Field(None, min_length=2, max_length=200)
    locality_code: str | None = Field(None, pattern=r"^\d{6}$")
    industry: Industry | None = None
    size: EnterpriseSize | None = None


class Enterprise(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    credit_code: str = Field(examples=[ex.ENTERPRISE_CREDIT_CODE])
    name: str = Field(examples=["济南二机床集团有限公司"])
    locality_code: str = Field(examples=["370100"])
    industry: Industry
    size: EnterpriseSize
    version: int
    created_at: datetime
    updated_at: datetime
