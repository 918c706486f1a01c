"""Account and machine-client schemas."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.auth.principal import INTEGRATION_SCOPES, Role


class AccountCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "username": "jinan.organiser",
                    "display_name": "济南市总工会 赛事组",
                    "password": "Quancheng-2026!",
                    "role": "organiser",
                    "locality_code": "370100",
                }
            ]
        },
    )

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    display_name: str = Field(min_length=1, max_length=128)
    password: str = Field(
        min_length=1,
        max_length=256,
        description="At least 10 characters, "
        "mixing three of: lower case, upper case, digits, symbols.",
    )
    role: Role
    locality_code: str | None = Field(
        None, pattern=r"^\d{6}$", description="Organiser scope: a locality (GB/T 2260)."
    )
    enterprise_id: uuid.UUID | None = Field(None, description="Organiser scope: an enterprise.")
    worker_id: uuid.UUID | None = Field(None, description="For role worker: their worker record.")

    @model_validator(mode="after")
    def _role_rules(self) -> AccountCreate:
        if self.role is Role.integration:
            raise ValueError(
                "integration is for machine clients: create one at /v1/machine-clients"
            )
        if self.role is Role.organiser and not (self.locality_code or self.enterprise_id):
            raise ValueError("an organiser needs a locality_code or an enterprise_id as scope")
        return self


class AccountUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"is_active": False}]}
    )

    display_name: str | None = Field(None, min_length=1, max_length=128)
    is_active: bool | None = None
    password: str | None = Field(None, min_length=1, max_length=256)


class Account(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str = Field(examples=["jinan.organiser"])
    display_name: str = Field(examples=["济南市总工会 赛事组"])
    role: Role
    locality_code: str | None = None
    enterprise_id: uuid.UUID | None = None
    worker_id: uuid.UUID | None = None
    is_active: bool
    last_login_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class MachineClientCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "山东省人社厅 职业技能鉴定系统",
                    "scopes": ["registry:read", "results:read"],
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=128, description="The system and its owner.")
    scopes: list[str] = Field(
        min_length=1,
        description="Granted scopes: "
        + "; ".join(f"`{k}` {v}" for k, v in INTEGRATION_SCOPES.items()),
    )

    @model_validator(mode="after")
    def _known_scopes(self) -> MachineClientCreate:
        unknown = sorted(set(self.scopes) - set(INTEGRATION_SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)}")
        return self


class MachineClient(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: str = Field(examples=["hrss-7f3a9c"])
    name: str
    scopes: list[str]
    is_active: bool
    revoked_at: datetime | None = None
    created_at: datetime


class MachineClientWithSecret(MachineClient):
    client_secret: str = Field(
        description="Shown once, now: store it safely; it cannot be read "
        "back, only replaced by a new client."
    )
