"""Entry (registration) endpoints."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from services.competitions.entries import schemas, service
from services.competitions.entries.deps import (
    ENTRY_READERS,
    EntryScopeDep,
    VisibleEntry,
    entry_loader,
    place_batcher,
)
from shared.auth.deps import (
    AdminOrganiserOrWorker,
    AdminOrOrganiser,
    AdminOrOrganiserOrService,
    require,
)
from shared.auth.principal import Principal, Role
from shared.concurrency import etag
from shared.config import Settings
from shared.db import SessionDep, UnitOfWorkDep
from shared.errors import FieldError, InvalidInput, error_responses
from shared.idempotency import IdempotencyKeyHeader, idempotent_create
from shared.models.competitions import Entry, EntryStatus
from shared.pagination import CursorQuery, LimitQuery, Page
from shared.tabular import TableLimits

router = APIRouter(prefix="/v1", tags=["entries"])

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 5000

#: Entries: organisers in scope, an enterprise organiser its workers', a worker their own, and
#: our own services.
EntryReader = Annotated[Principal, Depends(ENTRY_READERS)]
#: Who may take each action on an entry (the service checks their scope on the entry).
ACTION_ROLES: dict[str, tuple[Role, ...]] = {
    "approve": (Role.admin, Role.organiser),
    "reject": (Role.admin, Role.organiser),
    "withdraw": (Role.admin, Role.organiser, Role.worker),
    "check-in": (Role.admin, Role.organiser),
    "disqualify": (Role.admin, Role.organiser),
}


async def _token(request: Request) -> str:
    token: str = await request.app.state.service_token.get()
    return token


@router.post(
    "/events/{event_id}/entries",
    operation_id="registerEntry",
    response_model=schemas.Entry,
    status_code=201,
    summary="Register for an event",
    responses=error_responses(401, 403, 404, 409, 422, 502, 503, 504),
)
async def register(
    request: Request,
    uow: UnitOfWorkDep,
    principal: AdminOrganiserOrWorker,
    event_id: uuid.UUID,
    data: schemas.EntryCreate,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Register a worker (individual events) or a team (team events: `team_name`, `leader_id`,
    `members`; innovation events add `achievement_id`). Workers register themselves, an
    enterprise's organiser its own workers (entries then wait for approval); the competition's
    organisers register anyone (approved at once).

    Eligibility is checked against the registry in one call: age on the start day, grade range,
    locality, file status, national winners, one entry per worker per event and the enterprise
    quota. **Every** failed rule is listed in the 422 (`rules`). When the event is full the
    entry is `waitlisted` and gets a place, oldest first, as soon as one frees."""
    settings: Settings = request.app.state.settings

    def respond(
        session: AsyncSession | None, create: Callable[[], Awaitable[schemas.Entry]]
    ) -> Awaitable[Response]:
        return idempotent_create(
            session,
            request,
            principal,
            idempotency_key,
            data,
            create,
            location=lambda e: f"/v1/entries/{e.id}",
        )

    return await service.register_entry(
        uow,
        request.app.state.clients.registry,
        partial(_token, request),
        event_id,
        data,
        principal,
        respond,
        idempotent=bool(idempotency_key),
        batcher=place_batcher(request.app.state) if settings.registration_batching else None,
        read_model=settings.eligibility_read_model,
    )


@router.post(
    "/events/{event_id}/entries:import",
    response_model=schemas.ImportReport,
    summary="Register many workers from a spreadsheet",
    responses=error_responses(401, 403, 404, 409, 413, 422, 502, 503, 504),
)
async def import_entries(
    request: Request,
    session: SessionDep,
    principal: AdminOrOrganiser,
    event_id: uuid.UUID,
    file: Annotated[
        UploadFile, File(description="CSV or XLSX with a 身份证号 / id_number column.")
    ],
) -> schemas.ImportReport:
    """Bulk registration by an enterprise (or the organisers) for an individual event: one
    worker per row, found by identity number. Each row is registered like a single entry; the
    report gives every row's outcome (created, waitlisted, or refused with the rules it broke).
    Rows that pass are kept even when others fail. A row whose cell is not an identity number
    is refused on its own (rule `id_number_valid`), as is one that cannot be read (a NUL, a
    cell over the cell limit, broken CSV: rule `row_readable`); a file that cannot be read as
    a table at all (or an XLSX beyond the limits in the README) is a 422."""
    content = await file.read(MAX_IMPORT_BYTES + 1)
    if len(content) > MAX_IMPORT_BYTES:
        raise InvalidInput(
            "The file is larger than 5 MiB; split it.",
            errors=[FieldError(field="file", message="too large")],
        )
    # Blank lines are allowed beyond the row limit, but not without end.
    limits = replace(
        TableLimits.from_settings(request.app.state.settings), max_rows=MAX_IMPORT_ROWS * 2
    )
    rows = await anyio.to_thread.run_sync(
        service.read_id_sheet, file.filename or "upload", content, limits, MAX_IMPORT_ROWS
    )
    return await service.import_entries(
        session,
        request.app.state.clients.registry,
        await _token(request),
        event_id,
        rows,
        principal,
    )


@router.get(
    "/events/{event_id}/entries",
    response_model=Page[schemas.Entry],
    summary="List an event's entries",
    responses=error_responses(401, 403, 404, 422),
)
async def list_entries(
    session: SessionDep,
    principal: EntryReader,
    event_id: uuid.UUID,
    status: EntryStatus | None = None,
    enterprise_id: uuid.UUID | None = None,
    locality_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[schemas.Entry]:
    """Organisers see every entry; an enterprise organiser its own workers'; a worker their own.
    Waitlisted entries carry their position."""
    return await service.list_entries(
        session,
        event_id,
        principal,
        status=status,
        enterprise_id=enterprise_id,
        locality_code=locality_code,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/entries/{entry_id}",
    response_model=schemas.Entry,
    summary="Get an entry",
    responses=error_responses(401, 403, 404, 422),
)
async def get_entry(
    session: SessionDep, principal: EntryReader, entry: VisibleEntry, response: Response
) -> schemas.Entry:
    """One entry, its members and (when waitlisted) its place in the queue."""
    response.headers["ETag"] = etag(entry.version)
    return await service.present(session, entry)


@router.post(
    "/entries:batch-get",
    operation_id="batchGetEntries",
    response_model=list[schemas.Entry],
    summary="Get many entries at once",
    responses=error_responses(401, 403, 422),
)
async def batch_get(
    session: SessionDep,
    principal: AdminOrOrganiserOrService,
    scope: EntryScopeDep,
    data: schemas.BatchGet,
) -> list[schemas.Entry]:
    """Up to 1,000 entries in one call (for the judging service). Only the entries you may
    see (as for `GET /v1/entries/{entry_id}`) are returned; the others are left out, exactly
    like ids that do not exist."""
    return await service.batch_get(session, data.ids, scope)


def _action_endpoint(action: str, summary: str, doc: str) -> None:
    gate = require(*ACTION_ROLES[action])
    loader = entry_loader(gate)

    async def endpoint(
        session: SessionDep,
        response: Response,
        data: schemas.Decision | None = None,
        principal: Principal = Depends(gate),
        visible: Entry = Depends(loader),
    ) -> schemas.Entry:
        entry = await service.act(
            session, visible.id, action, data.reason if data else None, principal
        )
        response.headers["ETag"] = etag(entry.version)
        return await service.present(session, entry)

    endpoint.__doc__ = doc
    endpoint.__name__ = f"{action.replace('-', '_')}_entry"  # approve_entry -> approveEntry
    router.add_api_route(
        f"/entries/{{entry_id}}/{action}",
        endpoint,
        methods=["POST"],
        response_model=schemas.Entry,
        summary=summary,
        responses=error_responses(401, 403, 404, 409, 422),
    )


def _bulk_endpoint(action: str, summary: str, doc: str) -> None:
    gate = require(*ACTION_ROLES[action])

    async def endpoint(
        session: SessionDep,
        event_id: uuid.UUID,
        data: schemas.BulkAction,
        principal: Principal = Depends(gate),
    ) -> schemas.BulkOutcome:
        return await service.act_many(session, event_id, action, data, principal)

    endpoint.__doc__ = (
        doc + f" Up to {schemas.MAX_BULK} entries of the event in one transaction, each checked, "
        "audited and announced (webhook) exactly as the single action on it; each item's "
        "outcome is reported (`ok`, `unchanged` when it already had the status, or the refusal "
        "the single action would give: `not_found`, `forbidden`, `stale` when its `version` is "
        "not the current one, `wrong_state`), and a refused item does not stop the others. The "
        "request itself is refused only as a whole: the event unknown (404), the role (403), the "
        "body (422: an entry given twice, a reason missing)."
    )
    # approve_entries -> approveEntries (the single action is approveEntry)
    endpoint.__name__ = f"{action.replace('-', '_')}_entries"
    router.add_api_route(
        f"/events/{{event_id}}/entries:{action}",
        endpoint,
        methods=["POST"],
        # verbNoun like every operation id: approveEntries, checkInEntries...
        operation_id="".join(
            w if i == 0 else w.capitalize() for i, w in enumerate(action.split("-"))
        )
        + "Entries",
        response_model=schemas.BulkOutcome,
        summary=summary,
        responses=error_responses(401, 403, 404, 422),
    )


_bulk_endpoint(
    "approve",
    "Approve many entries",
    "Organisers approve pending entries (`entry.approved` is sent for each).",
)
_bulk_endpoint(
    "reject",
    "Reject many entries",
    "Organisers reject pending or waitlisted entries, with one `reason` (required) for all. "
    "Freed places go to the waitlist (`promoted`).",
)
_bulk_endpoint(
    "withdraw",
    "Withdraw many entries",
    "The organisers, an enterprise (its workers' entries) or a competitor (their own) withdraw "
    "entries; freed places go to the waitlist (`promoted`).",
)
_bulk_endpoint(
    "check-in",
    "Check many entries in",
    "On the day, once registration has closed: approved entries are checked in.",
)
_bulk_endpoint(
    "disqualify",
    "Disqualify many entries",
    "Organisers disqualify approved or checked-in entries, with one `reason` for all.",
)


_action_endpoint(
    "approve", "Approve an entry", "Organisers approve a pending entry (`entry.approved` is sent)."
)
_action_endpoint(
    "reject",
    "Reject an entry",
    "Organisers reject a pending or waitlisted entry, with a `reason` (required). "
    "A freed place goes to the first waitlisted entry, which becomes approved if the "
    "organisers registered it, else pending.",
)
_action_endpoint(
    "withdraw",
    "Withdraw an entry",
    "The competitor (or team leader), their enterprise or the organisers withdraw "
    "an entry; its place goes to the first waitlisted entry (approved if the organisers "
    "registered it, else pending).",
)
_action_endpoint(
    "check-in",
    "Check an entry in",
    "On the day, once registration has closed: an approved entry is checked in.",
)
_action_endpoint(
    "disqualify",
    "Disqualify an entry",
    "Organisers disqualify an approved or checked-in entry, with a `reason`.",
)
