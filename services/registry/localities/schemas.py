"""Locality schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared import examples as ex
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
                {
                    # Counties are seeded; what organisers add are functional zones such as this
                    # one, which keep statistical codes beside GB/T 2260's.
                    "code": "370171",
                    "name": "济南高新技术产业开发区",
                    "name_en": "Jinan High-tech Zone",
                    "parent_code": ex.CITY_CODE,
                }
            ]
        },
    )

    code: str = Field(pattern=r"^\d{6}$", description="Six-digit GB/T 2260 code of the county.")
    name: str = Field(min_length=1, max_length=64)
    name_en: str | None = Field(None, max_length=64)
    parent_code: str = Field(pattern=r"^\d{6}$", description="The city it belongs to.")
