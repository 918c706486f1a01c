"""Loading workers and checking who may see or manage them (organiser, worker scopes).

One rule in two forms: `can_view` / `can_manage` for a loaded worker, `WorkerScope.clause`
for a query over many; both built on `shared.scope`. Routes take a worker through the loader
dependencies `VisibleWorker` / `ManagedWorker` (the route's `worker_id`), or `WorkerScopeDep`
for many ids, so that no route checks scope by hand.

`locality_covers` is re-exported for the registry areas that import it from here.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Protocol

from fastapi import Depends
from sqlalchemy import ColumnElement, false, true
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.deps import CurrentPrincipal
from shared.auth.principal import Principal, Role
from shared.db import SessionDep, get_or_404
from shared.errors import Forbidden
from shared.models.registry import Worker
from shared.scope import covers, locality_covers, scope_clause, scope_loader

__all__ = [
    "ManagedWorker",
    "VisibleWorker",
    "WorkerScope",
    "WorkerScopeDep",
    "can_manage",
    "can_view",
    "ensure_can_manage",
    "ensure_can_view",
    "load_worker",
    "locality_covers",
]


async def load_worker(
    session: AsyncSession, worker_id: uuid.UUID, *, for_update: bool = False
) -> Worker:
    """The worker, or a 404. `for_update` locks the row until the transaction ends (use it
    before checking a limit that concurrent requests could both pass)."""
    return await get_or_404(session, Worker, worker_id, "worker", for_update=for_update)


class WorkerFacts(Protocol):
    """What the scope checks read of a worker (a `Worker`, or a row of its columns)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def enterprise_id(self) -> uuid.UUID | None: ...
    @property
    def locality_code(self) -> str: ...


def can_manage(principal: Principal, worker: WorkerFacts) -> bool:
    """Admins, and organisers covering the worker's enterprise or locality."""
    return covers(principal, worker.locality_code, worker.enterprise_id)


def reads_all(principal: Principal) -> bool:
    """Admins, and machine clients allowed to read the registry (or our own services)."""
    return principal.role is Role.admin or (
        principal.role is Role.integration
        and (principal.has_scope("registry:read") or principal.has_scope("internal"))
    )


def can_view(principal: Principal, worker: WorkerFacts) -> bool:
    if reads_all(principal) or can_manage(principal, worker):
        return True
    return principal.role is Role.worker and principal.worker_id == worker.id


def ensure_can_manage(principal: Principal, worker: Worker) -> None:
    if not can_manage(principal, worker):
        raise Forbidden("This worker is outside your organiser scope.")


def ensure_can_view(principal: Principal, worker: Worker) -> None:
    if not can_view(principal, worker):
        raise Forbidden("You may not see this worker's file.")


class WorkerScope:
    """The workers a caller may read, as SQL (`clause`) and for a loaded row (`sees`)."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def clause(self) -> ColumnElement[bool]:
        p = self.principal
        if reads_all(p):
            return true()
        if p.role is Role.organiser:
            return scope_clause(p, Worker.locality_code, Worker.enterprise_id)
        if p.role is Role.worker and p.worker_id is not None:
            return Worker.id == p.worker_id
        return false()

    def sees(self, worker: WorkerFacts) -> bool:
        return can_view(self.principal, worker)


@scope_loader("worker")
async def visible_worker(
    session: SessionDep, principal: CurrentPrincipal, worker_id: uuid.UUID
) -> Worker:
    """The route's worker, for those who may read their file (404 unknown, 403 otherwise)."""
    worker = await load_worker(session, worker_id)
    ensure_can_view(principal, worker)
    return worker


@scope_loader("worker")
async def managed_worker(
    session: SessionDep, principal: CurrentPrincipal, worker_id: uuid.UUID
) -> Worker:
    """The route's worker, locked until the request commits, for admins and the organisers
    covering it (404 unknown, 403 otherwise)."""
    worker = await load_worker(session, worker_id, for_update=True)
    ensure_can_manage(principal, worker)
    return worker


@scope_loader("worker")
async def worker_scope(principal: CurrentPrincipal) -> WorkerScope:
    return WorkerScope(principal)


VisibleWorker = Annotated[Worker, Depends(visible_worker)]
ManagedWorker = Annotated[Worker, Depends(managed_worker)]
WorkerScopeDep = Annotated[WorkerScope, Depends(worker_scope)]
