"""National results recorded in talent files (the level above the province)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from services.registry.results import schemas, service
from services.registry.talent.access import ManagedWorker
from services.registry.talent.schemas import TimelineEntry
from shared import examples as ex
from shared.auth.deps import AdminOrOrganiser
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create

router = APIRouter(prefix="/v1", tags=["workers"])


@router.post(
    "/workers/{worker_id}/national-results",
    operation_id="recordNationalResult",
    response_model=TimelineEntry,
    status_code=201,
    summary="Record a national contest result in the talent file",
    responses=error_responses(401, 403, 404, 409, 422),
)
async def record_national_result(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    worker: ManagedWorker,
    data: schemas.NationalResultCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """National contests are run outside the province; when a worker's result comes back, an
    organiser covering the worker (or an admin) records it here: a `national_result` entry in
    the talent file, part of the worker's path by level and year (`results_by_level` on
    `GET /v1/workers/{id}`), and `worker.national_result_recorded` is sent.

    A first, second or third prize (or, without a prize, rank 1 to 3) makes the worker a
    **national winner**: events that exclude national winners then refuse them, naming this
    result. With `honour_code` (a national honour of the catalogue, e.g. 全国技术能手) the
    honour is granted too, by the honours rules: only admins grant national honours (403
    otherwise, and nothing is recorded). Send an `Idempotency-Key` to make a retry safe."""

    async def create() -> TimelineEntry:
        entry = await service.record_national_result(session, worker, data, principal)
        return TimelineEntry.model_validate(entry)

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda _: f"/v1/workers/{worker.id}/timeline?kind=national_result",
    )


class NationalResultEventData(BaseModel):
    worker_id: uuid.UUID
    locality_code: str = Field(examples=[ex.COUNTY_CODE], description="The worker's locality.")
    timeline_entry_id: int = Field(examples=[42])
    contest_name: str = Field(examples=[ex.NATIONAL_CONTEST_NAME])
    year: int = Field(examples=[ex.NATIONAL_YEAR])
    rank: int | None = Field(examples=[2])
    prize: schemas.Prize | None = Field(examples=["first"])
    honour_code: str | None = Field(examples=[ex.NATIONAL_HONOUR_CODE])
    national_winner: bool = Field(
        description="The result makes the worker a national winner (first to third)."
    )


class NationalResultEvent(BaseModel):
    """A Standard Webhooks payload: `{type, timestamp, data}`; never identity numbers."""

    type: str = Field(examples=["worker.national_result_recorded"])
    timestamp: datetime
    data: NationalResultEventData


#: Events sent to webhook subscribers (documented in the OpenAPI `webhooks` section).
webhooks = APIRouter(tags=["workers"])


@webhooks.post("worker.national_result_recorded", summary="A national contest result was recorded")
async def national_result_recorded(event: NationalResultEvent) -> None:
    """Sent when an organiser records a worker's national contest result in the talent file;
    `data.national_winner` says whether it makes them a national winner."""
