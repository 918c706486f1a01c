"""Locality schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.models.registry import LocalityLevel


class Locality(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str = Field(description="GB/T 2260 administrative division code.", examples=["370100"])
    name: str = Field(examples=["济南市"])
    name_en: str | None = Field(None, examples=["Jinan"])
    level: LocalityLevel = Field(examples=["city"])
    parent_code: str | None = Field(None, examples=["370000"])
    created_at: datetime


class CountyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"code": "370102", "name": "历下区", "name_en": "Lixia", "parent_code": "370100"}
            ]
        },
    )

    code: str = Field(pattern=r"^\d{6}$", description="Six-digit GB/T 2260 code of the county.")
    name: str = Field(min_length=1, max_length=64)
    name_en: str | None = Field(None, max_length=64)
    parent_code: str = Field(pattern=r"^\d{6}$", description="The city it belongs to.")
