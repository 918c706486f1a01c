"""`GET /v1/audit` on every service: the audit log for admins, filtered and cursor-paginated.

All three services share one `audit_log` table (each writes its own rows, `service` says
which); each service's endpoint lists every row, so an admin can follow one request id across
services from any of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from shared.auth.deps import Admin
from shared.db import SessionDep
from shared.errors import error_responses
from shared.models.infra import AuditLog
from shared.pagination import CursorQuery, LimitQuery, Page, paginate


class AuditEntry(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1042,
                    "at": "2026-11-25T09:30:00Z",
                    "service": "registry",
                    "actor_sub": "0b1c5a8e-5d2f-4c1e-9a43-1f2d3c4b5a69",
                    "actor_role": "organiser",
                    "request_id": "5f0c1d2e3a4b",
                    "action": "worker.update",
                    "entity_type": "worker",
                    "entity_id": "6b1f0c2e-4d7a-4a51-9a43-1f2d3c4b5a69",
                    "before": {"phone": "138****5678"},
                    "after": {"phone": "139****1234"},
                }
            ]
        },
    )

    id: int
    at: datetime
    service: str = Field(description="The service that made the change.")
    actor_sub: str | None = Field(
        None,
        description="Account or machine-client id; none for "
        "the system itself (CLI, background jobs).",
    )
    actor_role: str | None = None
    request_id: str | None = None
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None = Field(
        None, description="Secrets redacted, identity and phone numbers masked."
    )
    after: dict[str, Any] | None = None


router = APIRouter(prefix="/v1", tags=["audit"])


@router.get(
    "/audit",
    operation_id="listAuditRecords",
    response_model=Page[AuditEntry],
    summary="Read the audit log",
    responses=error_responses(401, 403, 422),
)
async def list_audit(
    session: SessionDep,
    _: Admin,
    entity_type: Annotated[str | None, Query(max_length=64, examples=["worker"])] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[
        str | None, Query(max_length=64, description="The actor's `sub` (account or client id).")
    ] = None,
    action: Annotated[str | None, Query(max_length=64, examples=["worker.update"])] = None,
    request_id: Annotated[str | None, Query(max_length=128)] = None,
    service: Annotated[str | None, Query(pattern=r"^(registry|competitions|judging)$")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (exclusive).")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[AuditEntry]:
    """Every recorded write (who, role, when, request id, entity, before and after), oldest
    first, for admins only. Filters combine with AND. Secrets are redacted and identity and
    phone numbers masked when rows are written, so nothing here is in clear."""
    stmt = select(AuditLog)
    for column, value in (
        (AuditLog.entity_type, entity_type),
        (AuditLog.entity_id, entity_id),
        (AuditLog.actor_sub, actor),
        (AuditLog.action, action),
        (AuditLog.request_id, request_id),
        (AuditLog.service, service),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(AuditLog.at >= since)
    if until is not None:
        stmt = stmt.where(AuditLog.at < until)
    return await paginate(
        session,
        stmt,
        order_by=[AuditLog.id],
        limit=limit,
        cursor=cursor,
        transform=AuditEntry.model_validate,
    )
