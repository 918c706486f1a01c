"""Loader dependencies of the entry routes: a route's entry, loaded and checked against the
caller's scope in one place (a competition's: services/competitions/competitions/access.py).

- `VisibleEntry`: the route's `entry_id`, for those who may see it (`entries.access`).
- `EntryScope`: the caller's scope as a query clause, for routes that take many entry ids.
- `place_batcher`: the process's registration batcher.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends

from services.competitions.entries import access as entry_access
from services.competitions.entries.batching import PlaceBatcher
from shared.auth.deps import CurrentPrincipal, require
from shared.auth.principal import Principal, Role
from shared.db import SessionDep
from shared.models.competitions import Entry
from shared.scope import scope_loader


def entry_loader(
    gate: Callable[..., Awaitable[Principal]],
) -> Callable[..., Awaitable[Entry]]:
    """A dependency loading the route's `entry_id` for a caller admitted by `gate` (the route's
    own role gate, so that a role it refuses gets its 403 before any lookup)."""

    @scope_loader("entry")
    async def visible_entry(
        session: SessionDep, entry_id: uuid.UUID, principal: Principal = Depends(gate)
    ) -> Entry:
        return await entry_access.load_visible(session, entry_id, principal)

    return visible_entry


@scope_loader("entry")
async def entry_scope(principal: CurrentPrincipal) -> entry_access.EntryScope:
    return entry_access.EntryScope(principal)


#: Entries: organisers in scope, an enterprise organiser its workers', a worker their own, and
#: our own services.
ENTRY_READERS = require(Role.admin, Role.organiser, Role.worker, scopes=("internal",))

VisibleEntry = Annotated[Entry, Depends(entry_loader(ENTRY_READERS))]
EntryScopeDep = Annotated[entry_access.EntryScope, Depends(entry_scope)]


def place_batcher(state: Any) -> PlaceBatcher:
    """The process's registration batcher (`app.state.place_batcher`, made on first use, on the
    app's autocommit sessions)."""
    batcher: PlaceBatcher | None = getattr(state, "place_batcher", None)
    if batcher is None:
        batcher = state.place_batcher = PlaceBatcher(state.uow.autocommit)
    return batcher
