"""The public leaderboard: served from an in-process cache keyed by (stage, results version,
status, page), so that many viewers at once cost almost no database work.

Invalidation: the public version of a stage is (version, status) of its latest provisional or
final result. Each process re-reads that pair at most once per `VERSION_TTL` seconds per stage
(one indexed one-row query) and rebuilds the board only when it changed; a process that
publishes or finalises drops its own entry as its transaction commits (before the response is
sent), so its readers never see the old board, and every other replica sees the new one within
`VERSION_TTL` (tests/e2e/test_replicas.py checks both behind HAProxy).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.judging.results import schemas
from services.judging.results.service import PUBLIC
from shared.errors import NotFound
from shared.models.judging import ResultEntry, StageResult

VERSION_TTL = 1.0  # seconds between two checks of a stage's public version
MAX_BOARDS = 512  # cached pages kept per process (least recently used dropped)


@dataclass
class Board:
    etag: str
    body: bytes
    status: str


@dataclass
class _Version:
    result_id: uuid.UUID | None
    key: tuple[int, str] | None
    checked: float


class LeaderboardCache:
    """Single-flight: while one request re-reads a stage's version (or builds a board), the
    others keep answering from what is cached (or wait for that one read when nothing is), so a
    crowd of viewers never turns into a crowd of queries when the TTL runs out."""

    def __init__(self) -> None:
        self.versions: dict[uuid.UUID, _Version] = {}
        self.boards: OrderedDict[tuple[uuid.UUID, int, str, int, int], Board] = OrderedDict()
        self.pending: dict[object, asyncio.Future[Any]] = {}
        #: Bumped by `invalidate`: a version read that started before does not count.
        self.generations: dict[uuid.UUID, int] = {}
        self.builds = 0  # boards rebuilt (tests and benchmarks read it)

    def invalidate(self, stage_id: uuid.UUID) -> None:
        self.generations[stage_id] = self.generations.get(stage_id, 0) + 1
        self.versions.pop(stage_id, None)

    def invalidate_on_commit(self, session: AsyncSession, stage_id: uuid.UUID) -> None:
        """`invalidate` as `session`'s transaction commits (not before: a version read in
        between would see the old one and count as fresh; not later, after the response: the
        caller's next request could still get the old board)."""
        event.listen(
            session.sync_session, "after_commit", lambda _s: self.invalidate(stage_id), once=True
        )

    async def _once(self, key: object, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run `make` once for concurrent callers with the same key; all get its result."""
        running = self.pending.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        try:
            result = await make()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self.pending[key]

    async def _version(
        self, factory: async_sessionmaker[AsyncSession], stage_id: uuid.UUID
    ) -> _Version:
        cached = self.versions.get(stage_id)
        if cached is not None and time.monotonic() - cached.checked < VERSION_TTL:
            return cached
        generation = self.generations.get(stage_id, 0)
        flight = ("version", stage_id, generation)
        if cached is not None and flight in self.pending:
            return cached  # someone is re-reading it; the current one is at most a second old
        found: _Version = await self._once(
            flight, lambda: self._read_version(factory, stage_id, generation)
        )
        return found

    async def _read_version(
        self, factory: async_sessionmaker[AsyncSession], stage_id: uuid.UUID, generation: int
    ) -> _Version:
        now = time.monotonic()
        async with factory() as session:
            row = (
                await session.execute(
                    select(StageResult.id, StageResult.version, StageResult.status)
                    .where(StageResult.stage_id == stage_id, StageResult.status.in_(PUBLIC))
                    .order_by(StageResult.version.desc())
                    .limit(1)
                )
            ).first()
        found = _Version(
            result_id=row[0] if row else None,
            key=(row[1], row[2].value) if row else None,
            checked=now,
        )
        if self.generations.get(stage_id, 0) == generation:
            self.versions[stage_id] = found
        return found

    async def get(
        self,
        factory: async_sessionmaker[AsyncSession],
        stage_id: uuid.UUID,
        *,
        offset: int,
        limit: int,
    ) -> Board:
        current = await self._version(factory, stage_id)
        if current.key is None or current.result_id is None:
            raise NotFound(f"Stage {stage_id} has no published results yet.")
        key = (stage_id, *current.key, offset, limit)
        board = self.boards.get(key)
        if board is not None:
            self.boards.move_to_end(key)
            return board
        result_id = current.result_id
        board = await self._once(
            key, lambda: _build(factory, result_id, offset=offset, limit=limit)
        )
        if key not in self.boards:
            self.builds += 1
        self.boards[key] = board
        while len(self.boards) > MAX_BOARDS:
            self.boards.popitem(last=False)
        return board


async def _build(
    factory: async_sessionmaker[AsyncSession], result_id: uuid.UUID, *, offset: int, limit: int
) -> Board:
    async with factory() as session:
        result = await session.get(StageResult, result_id)
        if result is None:  # pragma: no cover - versions are never deleted
            raise NotFound(f"Result {result_id} vanished.")
        components = [c["component"] for c in result.inputs["components"]]
        rows = list(
            await session.scalars(
                select(ResultEntry)
                .where(ResultEntry.result_id == result_id)
                .order_by(ResultEntry.rank, ResultEntry.stage_entry_id)
                .offset(offset)
                .limit(limit)
            )
        )
    board = schemas.Leaderboard(
        stage_id=result.stage_id,
        version=result.version,
        status=result.status,
        published_at=result.published_at,
        appeal_deadline=result.appeal_deadline,
        total=result.entry_count,
        entries=[
            schemas.LeaderboardEntry(
                rank=r.rank,
                blind_code=r.blind_code,
                entry_id=r.entry_id,
                team_name=r.team_name,
                locality_code=r.locality_code,
                score=r.score,
                component_scores=dict(zip(components, r.component_scores, strict=True)),
                prize=r.prize,
                medal=r.medal,
            )
            for r in rows
        ],
    )
    body = json.dumps(board.model_dump(mode="json"), ensure_ascii=False).encode()
    tag = hashlib.sha256(body).hexdigest()[:16]
    return Board(
        etag=f'"{result.version}-{result.status.value}-{tag}"',
        body=body,
        status=result.status.value,
    )


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    return etag in {t.strip().removeprefix("W/") for t in if_none_match.split(",")}


def cache_of(state: Any) -> LeaderboardCache:
    """The process's cache, created on first use (kept on `app.state`)."""
    cache: LeaderboardCache | None = getattr(state, "leaderboard_cache", None)
    if cache is None:
        cache = LeaderboardCache()
        state.leaderboard_cache = cache
    return cache
