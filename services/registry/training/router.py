"""Training endpoints: programmes and their lifecycle, sessions, enrolments, attendance."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from starlette.responses import Response

from services.registry.talent.access import VisibleWorker
from services.registry.training import schemas, service
from shared import examples as ex
from shared.auth.deps import AdminOrganiserOrWorker, AdminOrOrganiser, FileReader, RegistryReader
from shared.db import SessionDep
from shared.errors import error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.registry import EnrolmentStatus, ProgrammeKind, ProgrammeStatus
from shared.pagination import CursorQuery, LimitQuery, Page

router = APIRouter(prefix="/v1", tags=["training"])

WRITE_ERRORS = error_responses(401, 403, 404, 409, 422)


@router.post(
    "/training-programmes",
    operation_id="createTrainingProgramme",
    response_model=schemas.Programme,
    status_code=201,
    summary="Create a training programme",
    responses=error_responses(401, 403, 409, 422),
)
async def create_programme(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    data: schemas.ProgrammeCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Plan a programme: order-based training for an enterprise (`ordering_enterprise_id`
    required), a lecture hall (master heritage, expert talent, team) or post training. It starts
    `planned`; open it to take enrolments. Organisers create programmes inside their scope (their
    locality and the localities below it, or their enterprise)."""

    async def create() -> schemas.Programme:
        return schemas.Programme.model_validate(
            await service.create_programme(session, data, principal)
        )

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda p: f"/v1/training-programmes/{p.id}",
    )


@router.get(
    "/training-programmes",
    operation_id="listTrainingProgrammes",
    response_model=Page[schemas.Programme],
    summary="List training programmes",
    responses=error_responses(401, 422),
)
async def list_programmes(
    session: SessionDep,
    _: RegistryReader,
    kind: Annotated[ProgrammeKind | None, Query(description="Only this kind.")] = None,
    status: Annotated[ProgrammeStatus | None, Query(description="Only this status.")] = None,
    locality_code: Annotated[
        str | None,
        Query(
            pattern=r"^\d{6}$",
            description="Only programmes organised in this locality (a city includes its "
            "counties; 370000 is all).",
        ),
    ] = None,
    enterprise_id: Annotated[
        uuid.UUID | None,
        Query(description="Only programmes this enterprise organises or ordered."),
    ] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Programme]:
    """Programmes in creation order; any signed-in user may browse them (workers to enrol)."""
    return await service.list_programmes(
        session,
        kind=kind,
        status=status,
        locality_code=locality_code,
        enterprise_id=enterprise_id,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/training-programmes/{programme_id}",
    operation_id="getTrainingProgramme",
    response_model=schemas.Programme,
    summary="Get a training programme",
    responses=error_responses(401, 404, 422),
)
async def get_programme(
    session: SessionDep, _: RegistryReader, programme_id: uuid.UUID
) -> schemas.Programme:
    """One programme, with its capacity and how many workers are enrolled."""
    return schemas.Programme.model_validate(await service.get_programme(session, programme_id))


@router.post(
    "/training-programmes/{programme_id}/open",
    operation_id="openTrainingProgramme",
    response_model=schemas.Programme,
    summary="Open a programme for enrolment",
    responses=WRITE_ERRORS,
)
async def open_programme(
    session: SessionDep, principal: AdminOrOrganiser, programme_id: uuid.UUID
) -> schemas.Programme:
    """`planned` -> `open`: workers may now enrol, up to the capacity. Any other starting status
    is a 409 naming the actions allowed from it."""
    return schemas.Programme.model_validate(
        await service.transition(session, programme_id, "open", principal)
    )


@router.post(
    "/training-programmes/{programme_id}/start",
    operation_id="startTrainingProgramme",
    response_model=schemas.Programme,
    summary="Start a programme",
    responses=WRITE_ERRORS,
)
async def start_programme(
    session: SessionDep, principal: AdminOrOrganiser, programme_id: uuid.UUID
) -> schemas.Programme:
    """`open` -> `in_progress`: enrolment closes; attendance goes on being taken."""
    return schemas.Programme.model_validate(
        await service.transition(session, programme_id, "start", principal)
    )


@router.post(
    "/training-programmes/{programme_id}/complete",
    operation_id="completeTrainingProgramme",
    response_model=schemas.Programme,
    summary="Complete a programme and credit hours",
    responses=WRITE_ERRORS,
)
async def complete_programme(
    session: SessionDep, principal: AdminOrOrganiser, programme_id: uuid.UUID
) -> schemas.Programme:
    """`in_progress` -> `completed`. Each enrolled worker is credited the sum of the hours of the
    sessions they attended: stored on the enrolment (`hours_credited`) and appended to their
    talent-file timeline as `training_completed`. A second completion is a 409: hours are
    credited once."""
    return schemas.Programme.model_validate(
        await service.complete_programme(session, programme_id, principal)
    )


@router.post(
    "/training-programmes/{programme_id}/cancel",
    operation_id="cancelTrainingProgramme",
    response_model=schemas.Programme,
    summary="Cancel a programme",
    responses=WRITE_ERRORS,
)
async def cancel_programme(
    session: SessionDep, principal: AdminOrOrganiser, programme_id: uuid.UUID
) -> schemas.Programme:
    """`planned`, `open` or `in_progress` -> `cancelled` (final; no hours are credited)."""
    return schemas.Programme.model_validate(
        await service.transition(session, programme_id, "cancel", principal)
    )


@router.post(
    "/training-programmes/{programme_id}/sessions",
    operation_id="addTrainingSession",
    response_model=schemas.Session,
    status_code=201,
    summary="Add a session",
    responses=WRITE_ERRORS,
)
async def add_session(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    programme_id: uuid.UUID,
    data: schemas.SessionCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """A lecture or practical session with the hours it credits to each worker present. It must
    end after it starts and fall within the programme's dates (Asia/Shanghai)."""

    async def create() -> schemas.Session:
        return schemas.Session.model_validate(
            await service.add_session(session, programme_id, data, principal)
        )

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda s: f"/v1/training-programmes/{programme_id}/sessions/{s.id}",
    )


@router.get(
    "/training-programmes/{programme_id}/sessions",
    operation_id="listTrainingSessions",
    response_model=Page[schemas.Session],
    summary="List a programme's sessions",
    responses=error_responses(401, 404, 422),
)
async def list_sessions(
    session: SessionDep,
    _: RegistryReader,
    programme_id: uuid.UUID,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Session]:
    """Sessions in order of their start."""
    return await service.list_sessions(session, programme_id, limit=limit, cursor=cursor)


@router.post(
    "/training-programmes/{programme_id}/enrolments",
    operation_id="enrolWorker",
    response_model=schemas.Enrolment,
    status_code=201,
    summary="Enrol a worker",
    responses=WRITE_ERRORS,
)
async def enrol(
    request: Request,
    session: SessionDep,
    principal: AdminOrganiserOrWorker,
    programme_id: uuid.UUID,
    data: schemas.EnrolmentCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Enrol a worker in an `open` programme: admins and the programme's organisers enrol anyone,
    workers themselves. 409 when the programme is not open, when the worker is already enrolled,
    or when it is full (the answer names the capacity). A worker who withdrew may enrol again."""

    async def create() -> schemas.Enrolment:
        return schemas.Enrolment.model_validate(
            await service.enrol(session, programme_id, data, principal)
        )

    return await idempotent_create(
        session,
        request,
        principal,
        idempotency_key,
        data,
        create,
        location=lambda e: f"/v1/training-programmes/{programme_id}/enrolments/{e.worker_id}",
    )


@router.get(
    "/training-programmes/{programme_id}/enrolments",
    response_model=Page[schemas.Enrolment],
    summary="List a programme's enrolments",
    responses=error_responses(401, 403, 404, 422),
)
async def list_enrolments(
    session: SessionDep,
    principal: FileReader,
    programme_id: uuid.UUID,
    status: Annotated[EnrolmentStatus | None, Query(description="Only this status.")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Enrolment]:
    """The roster in enrolment order, with the hours credited once the programme completed.
    For admins and the programme's organisers."""
    return await service.list_enrolments(
        session, programme_id, principal, status=status, limit=limit, cursor=cursor
    )


@router.post(
    "/training-programmes/{programme_id}/enrolments/{worker_id}/withdraw",
    operation_id="withdrawEnrolment",
    response_model=schemas.Enrolment,
    summary="Withdraw a worker",
    responses=WRITE_ERRORS,
)
async def withdraw(
    session: SessionDep,
    principal: AdminOrganiserOrWorker,
    programme_id: uuid.UUID,
    worker_id: uuid.UUID,
) -> schemas.Enrolment:
    """Withdraw from an `open` or `in_progress` programme (workers themselves, or the
    programme's organisers); the place is freed for someone else."""
    return schemas.Enrolment.model_validate(
        await service.withdraw(session, programme_id, worker_id, principal)
    )


ATTENDANCE_EXAMPLE = [
    {"worker_id": ex.WORKER_ID, "present": True},
    {"worker_id": ex.SECOND_WORKER_ID, "present": False},
]


@router.put(
    "/training-programmes/{programme_id}/sessions/{session_id}/attendance",
    response_model=list[schemas.Attendance],
    summary="Record attendance",
    responses=WRITE_ERRORS,
)
async def record_attendance(
    session: SessionDep,
    principal: AdminOrOrganiser,
    programme_id: uuid.UUID,
    session_id: uuid.UUID,
    marks: Annotated[
        list[schemas.AttendanceMark],
        Body(max_length=5000, examples=[ATTENDANCE_EXAMPLE]),
    ],
) -> list[schemas.Attendance]:
    """Mark enrolled workers present or absent (an upsert: repeat it to correct a mark). A worker
    not enrolled refuses the whole list with 422. Closed once the programme is completed."""
    rows = await service.record_attendance(session, programme_id, session_id, marks, principal)
    return [schemas.Attendance.model_validate(r) for r in rows]


@router.get(
    "/training-programmes/{programme_id}/sessions/{session_id}/attendance",
    response_model=list[schemas.Attendance],
    summary="Get a session's attendance",
    responses=error_responses(401, 403, 404, 422),
)
async def get_attendance(
    session: SessionDep, principal: FileReader, programme_id: uuid.UUID, session_id: uuid.UUID
) -> list[schemas.Attendance]:
    """The marks recorded for a session, for admins and the programme's organisers."""
    rows = await service.get_attendance(session, programme_id, session_id, principal)
    return [schemas.Attendance.model_validate(r) for r in rows]


@router.get(
    "/workers/{worker_id}/training",
    operation_id="getWorkerTraining",
    response_model=Page[schemas.WorkerTraining],
    summary="A worker's training",
    responses=error_responses(401, 403, 404, 422),
)
async def worker_training(
    session: SessionDep,
    principal: FileReader,
    worker: VisibleWorker,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.WorkerTraining]:
    """The worker's enrolments with their programmes and the hours credited, for the talent
    file. Workers see their own; organisers those in their scope."""
    return await service.list_worker_training(session, worker, limit=limit, cursor=cursor)
