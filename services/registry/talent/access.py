"""Loading workers and checking who may see or manage them (organiser, worker scopes).

`locality_covers` is re-exported for the registry areas that import it from here.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.principal import Principal, Role
from shared.db import get_or_404
from shared.errors import Forbidden
from shared.localities import locality_covers
from shared.models.registry import Worker

__all__ = [
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


class WorkerScope(Protocol):
    """What the scope checks read of a worker (a `Worker`, or a row of its columns)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def enterprise_id(self) -> uuid.UUID | None: ...
    @property
    def locality_code(self) -> str: ...


def can_manage(principal: Principal, worker: WorkerScope) -> bool:
    if principal.role is Role.admin:
        return True
    if principal.role is Role.organiser:
        if principal.enterprise_id is not None:
            return worker.enterprise_id == principal.enterprise_id
        return locality_covers(principal.locality_code, worker.locality_code)
    return False


def can_view(principal: Principal, worker: WorkerScope) -> bool:
    if can_manage(principal, worker):
        return True
    if principal.role is Role.worker:
        return principal.worker_id == worker.id
    if principal.role is Role.integration:
        return principal.has_scope("registry:read") or principal.has_scope("internal")
    return False


def ensure_can_manage(principal: Principal, worker: Worker) -> None:
    if not can_manage(principal, worker):
        raise Forbidden("This worker is outside your organiser scope.")


def ensure_can_view(principal: Principal, worker: Worker) -> None:
    if not can_view(principal, worker):
        raise Forbidden("You may not see this worker's file.")
