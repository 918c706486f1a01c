"""Group commit for registrations: the places asked for in one event while a call for that
event is running go together in the next call of `take_entry_places` (migrations 0034, 0056).

Places are counted under a lock on the event row, held until the commit, and each commit waits
for the disk. Taken one registration per transaction, an event could not go faster than one
commit at a time (a few hundred a second) however many workers served it, and in a burst
every request queued for that lock. Here a registration that finds no call running for its
event starts one at once (no added wait when it is quiet); the ones that arrive meanwhile wait
for it to finish and then go together, up to `max_batch` at a time: one lock, one commit. Each
registration still gets exactly its own outcome (a place, a waitlist spot, or its clash), in
the order they arrived.

A call that fails as a whole (a broken connection, say) is retried one registration at a time,
so one bad registration cannot fail the others; each caller gets its own error.

Only for registrations outside a transaction: one with an Idempotency-Key must commit with its
stored answer, so it takes its place in the request's own transaction.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models.competitions import HOLDING_PLACE, EntryStatus

TAKE_PLACES = text(
    "SELECT * FROM take_entry_places(CAST(:items AS jsonb), CAST(:holding AS text[]), "
    "CAST(:waitlisted AS text)) ORDER BY ord"
)
#: The vocabularies take_entry_places works with, from their one definition (never copied into
#: the function).
VOCABULARY = {
    "holding": [s.value for s in HOLDING_PLACE],
    "waitlisted": EntryStatus.waitlisted.value,
}


async def take_places(session: AsyncSession, items: list[dict[str, Any]]) -> list[Row[Any]]:
    """Take places for these registrations (the elements migration 0056 describes), in order,
    in one statement: one result row each, in the same order."""
    rows = list(await session.execute(TAKE_PLACES, {"items": json.dumps(items), **VOCABULARY}))
    if len(rows) != len(items):  # pragma: no cover - the function returns one row per item
        raise RuntimeError(f"take_entry_places answered {len(rows)} rows for {len(items)}")
    return rows


class PlaceBatcher:
    """One per process (app.state.place_batcher); see the module docstring."""

    def __init__(self, sessionmaker: Callable[[], AsyncSession], max_batch: int = 100) -> None:
        """`sessionmaker`: sessions outside any transaction (`UnitOfWork.autocommit`)."""
        self.sessionmaker = sessionmaker
        self.max_batch = max_batch
        self._waiting: dict[uuid.UUID, list[tuple[dict[str, Any], asyncio.Future[Row[Any]]]]] = {}
        self._draining: dict[uuid.UUID, asyncio.Task[None]] = {}

    async def take(self, event_id: uuid.UUID, item: dict[str, Any]) -> Row[Any]:
        future: asyncio.Future[Row[Any]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(event_id, []).append((item, future))
        if event_id not in self._draining:
            self._draining[event_id] = asyncio.create_task(self._drain(event_id))
        # shield: a caller that goes away (client disconnect) must not cancel the others' call
        return await asyncio.shield(future)

    async def _drain(self, event_id: uuid.UUID) -> None:
        batch: list[tuple[dict[str, Any], asyncio.Future[Row[Any]]]] = []
        try:
            while waiting := self._waiting.get(event_id):
                batch = waiting[: self.max_batch]
                del waiting[: self.max_batch]
                await self._run(batch)
        finally:
            # Cancelled (the service stopping): no caller may wait for ever.
            left = batch + self._waiting.pop(event_id, [])
            self._draining.pop(event_id, None)
            for _, future in left:
                _settle(future, exc=RuntimeError("the service stopped before the place was taken"))

    async def _run(self, batch: list[tuple[dict[str, Any], asyncio.Future[Row[Any]]]]) -> None:
        try:
            rows = await self._call([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc=exc)
                return
            for one in batch:  # retried alone, so each caller gets its own outcome
                await self._run([one])
            return
        for (_, future), row in zip(batch, rows, strict=True):
            _settle(future, row=row)

    async def _call(self, items: list[dict[str, Any]]) -> list[Row[Any]]:
        async with self.sessionmaker() as session:  # autocommit: one statement, one commit
            return await take_places(session, items)


def _settle(
    future: asyncio.Future[Row[Any]], *, row: Row[Any] | None = None, exc: Exception | None = None
) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
        future.exception()  # retrieved here: a caller that left must not warn
    else:
        assert row is not None
        future.set_result(row)
