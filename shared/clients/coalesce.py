"""Coalescing reads by id: the ids asked for while a call is running go together in the next
call (the "DataLoader" pattern), so N concurrent requests cost about two calls, not N.

A request that finds no call running starts one at once (with the others made in the same
turn of the event loop), so nothing waits when it is quiet.
Under load (a registration burst: every request asks the registry for its worker) the
registry answers a few large batches instead of one small request per registration, which
saves the per-request cost on both sides (HTTP, auth, a query each). Callers are grouped by
`key` (the bearer token: a batch is only ever read with one caller's rights), and each gets
exactly the ids it asked for. When the call fails, every caller in that batch gets the error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Fetch = Callable[[str, list[K]], Awaitable[dict[K, V]]]


class Coalescer(Generic[K, V]):
    """`await coalescer.get(key, ids)`: the found values by id (missing ids are absent)."""

    def __init__(self, fetch: Fetch[K, V], max_ids: int = 1000) -> None:
        self.fetch = fetch
        self.max_ids = max_ids
        self._waiting: dict[str, list[tuple[list[K], asyncio.Future[dict[K, V]]]]] = {}
        self._running: dict[str, asyncio.Task[None]] = {}

    async def get(self, key: str, ids: list[K]) -> dict[K, V]:
        if len(ids) >= self.max_ids:  # a big read goes on its own
            return await self.fetch(key, ids)
        future: asyncio.Future[dict[K, V]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((ids, future))
        if key not in self._running:
            self._running[key] = asyncio.create_task(self._drain(key))
        # shield: a caller that goes away must not cancel the call the others wait for
        return await asyncio.shield(future)

    async def _drain(self, key: str) -> None:
        batch: list[tuple[list[K], asyncio.Future[dict[K, V]]]] = []
        try:
            while waiting := self._waiting.get(key):
                batch = []
                wanted: dict[K, None] = {}
                while waiting and len(wanted) + len(waiting[0][0]) <= self.max_ids:
                    ids, future = waiting.pop(0)
                    batch.append((ids, future))
                    wanted.update(dict.fromkeys(ids))
                await self._run(key, list(wanted), batch)
        finally:
            # Cancelled (the service stopping): no caller may wait for ever.
            left = batch + self._waiting.pop(key, [])
            self._running.pop(key, None)
            stopped = RuntimeError("the service stopped before the read was made")
            for _, future in left:
                if not future.done():
                    future.set_exception(stopped)
                    future.exception()

    async def _run(
        self, key: str, ids: list[K], batch: list[tuple[list[K], asyncio.Future[dict[K, V]]]]
    ) -> None:
        try:
            found = await self.fetch(key, ids)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
                    future.exception()  # retrieved here: a caller that left must not warn
            return
        for wanted, future in batch:
            if not future.done():
                future.set_result({i: found[i] for i in wanted if i in found})
