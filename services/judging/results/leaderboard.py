"""The public leaderboard: served from an in-process cache keyed by (stage, results version,
status, page), so that many viewers at once cost almost no database work, and answered by a
pure-ASGI fast path (`LeaderboardFastPath`) that skips routing, dependencies and response
objects whenever the answer is already cached and fresh.

Freshness: the public version of a stage is (version, status) of its latest provisional or
final result. Each process keeps, per stage, the version it last read and when it started that
read; it serves boards of that version only while the read started less than
LEADERBOARD_FRESHNESS_SECONDS (`Settings.leaderboard_freshness_seconds`, 1 s by default) ago.
Past half of that age a request that hits the cache starts one background re-read (one indexed
one-row query, single-flight), so under load the version is re-read about twice per period and
no request waits for it; past the whole age nobody is served from the cache until the re-read
has answered. Because the age counts from the start of the read, a version committed at time T
is served by every process from T + LEADERBOARD_FRESHNESS_SECONDS at the latest, and at once
by the process that published it (it drops its entry as its
transaction commits, before the response is sent; tests/e2e/test_replicas.py checks both
behind HAProxy). A board, once built,
never changes: the drafts that get decoded are never public, and a status change (provisional
to final) is a new key.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from services.judging.results import schemas
from services.judging.results.service import PUBLIC
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.models.judging import ResultEntry, ResultStatus, StageResult

log = logging.getLogger(__name__)
#: The cache's clock (a module attribute, so tests can move it without touching the event loop's).
clock = time.monotonic

DEFAULT_FRESHNESS = 1.0  # seconds (LEADERBOARD_FRESHNESS_SECONDS)
MAX_BOARDS = 512  # cached pages kept per process (least recently used dropped)
#: Stage versions kept before the expired ones are dropped (404s for made-up ids are cached
#: too, for the freshness bound, so a crowd waiting for results costs one query a period).
MAX_VERSIONS = 10_000
#: The page parameters' bounds and default (the route declares the same).
MAX_OFFSET = 10_000_000
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def cache_control(status: str) -> str:
    # Final boards never change; provisional ones may at any moment.
    if status == ResultStatus.final.value:
        return "public, max-age=3600"
    return "public, max-age=1, must-revalidate"


@dataclass
class Board:
    etag: str
    body: bytes
    status: str
    #: The raw ASGI headers of a 200 and of a 304 (the same as the route's `Response` sends).
    raw_ok: list[tuple[bytes, bytes]] = field(init=False, repr=False)
    raw_not_modified: list[tuple[bytes, bytes]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.raw_not_modified = [
            (b"etag", self.etag.encode()),
            (b"cache-control", cache_control(self.status).encode()),
        ]
        self.raw_ok = [
            *self.raw_not_modified,
            (b"content-length", str(len(self.body)).encode()),
            (b"content-type", b"application/json"),
        ]

    @property
    def headers(self) -> dict[str, str]:
        return {"ETag": self.etag, "Cache-Control": cache_control(self.status)}


@dataclass
class _Version:
    result_id: uuid.UUID | None
    key: tuple[int, str] | None
    checked: float  # clock() when the read that found it started


class LeaderboardCache:
    """Single-flight: while one request re-reads a stage's version (or builds a board), the
    others wait for that one read instead of starting their own, so a crowd of viewers never
    turns into a crowd of queries when a version ages out."""

    def __init__(self, freshness: float = DEFAULT_FRESHNESS) -> None:
        self.freshness = freshness
        self.versions: dict[uuid.UUID, _Version] = {}
        self.boards: OrderedDict[tuple[uuid.UUID, int, str, int, int], Board] = OrderedDict()
        self.pending: dict[object, asyncio.Future[Any]] = {}
        #: Bumped by `invalidate`: a version read that started before does not count.
        self.generations: dict[uuid.UUID, int] = {}
        self.refreshing: dict[uuid.UUID, asyncio.Task[Any]] = {}
        self.builds = 0  # boards rebuilt (tests and benchmarks read it)
        self.version_reads = 0  # version queries run (tests and benchmarks read it)
        self.fast_answers = 0  # requests answered by LeaderboardFastPath (the same)

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

    async def _version(self, uow: UnitOfWork, stage_id: uuid.UUID) -> _Version:
        cached = self.versions.get(stage_id)
        if cached is not None and clock() - cached.checked < self.freshness:
            return cached
        return await self._reread(uow, stage_id)

    async def _reread(self, uow: UnitOfWork, stage_id: uuid.UUID) -> _Version:
        generation = self.generations.get(stage_id, 0)
        found: _Version = await self._once(
            ("version", stage_id, generation),
            lambda: self._read_version(uow, stage_id, generation),
        )
        return found

    async def _read_version(
        self, uow: UnitOfWork, stage_id: uuid.UUID, generation: int
    ) -> _Version:
        now = clock()  # before the query: the age bound counts from here
        self.version_reads += 1
        async with uow.autocommit() as session:
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
        if len(self.versions) >= MAX_VERSIONS:
            expired = [k for k, v in self.versions.items() if now - v.checked >= self.freshness]
            for k in expired:
                del self.versions[k]
        if self.generations.get(stage_id, 0) == generation:
            current = self.versions.get(stage_id)
            if current is None or current.checked <= now:
                self.versions[stage_id] = found
        return found

    def peek(self, stage_id: uuid.UUID, offset: int, limit: int) -> tuple[Board | None, bool]:
        """The cached board, when its version is fresh, without any I/O; and whether the version
        is old enough (half the freshness bound) to re-read it in the background."""
        cached = self.versions.get(stage_id)
        if cached is None or cached.key is None:
            return None, False
        age = clock() - cached.checked
        if age >= self.freshness:
            return None, False
        key = (stage_id, *cached.key, offset, limit)
        board = self.boards.get(key)
        if board is not None:
            self.boards.move_to_end(key)
        return board, age >= self.freshness / 2

    def refresh_soon(self, uow: UnitOfWork, stage_id: uuid.UUID) -> None:
        """Re-read the stage's version in the background (once at a time per stage)."""
        if stage_id in self.refreshing:
            return
        task = asyncio.get_running_loop().create_task(self._reread(uow, stage_id))
        self.refreshing[stage_id] = task

        def done(t: asyncio.Task[Any]) -> None:
            self.refreshing.pop(stage_id, None)
            if not t.cancelled() and t.exception() is not None:
                # The database may be down: the version ages out and requests then go the
                # slow way, which answers the problem (503).
                log.warning(
                    "leaderboard version re-read failed",
                    extra={"error": type(t.exception()).__name__},
                )

        task.add_done_callback(done)

    async def get(
        self,
        uow: UnitOfWork,
        stage_id: uuid.UUID,
        *,
        offset: int,
        limit: int,
    ) -> Board:
        current = await self._version(uow, stage_id)
        if current.key is None or current.result_id is None:
            raise NotFound(f"Stage {stage_id} has no published results yet.")
        key = (stage_id, *current.key, offset, limit)
        board = self.boards.get(key)
        if board is not None:
            self.boards.move_to_end(key)
            return board
        result_id = current.result_id
        board = await self._once(key, lambda: _build(uow, result_id, offset=offset, limit=limit))
        if key not in self.boards:
            self.builds += 1
        self.boards[key] = board
        while len(self.boards) > MAX_BOARDS:
            self.boards.popitem(last=False)
        return board


async def _build(uow: UnitOfWork, result_id: uuid.UUID, *, offset: int, limit: int) -> Board:
    async with uow.autocommit() as session:
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
        settings = getattr(state, "settings", None)
        cache = LeaderboardCache(
            getattr(settings, "leaderboard_freshness_seconds", DEFAULT_FRESHNESS)
        )
        state.leaderboard_cache = cache
    return cache


# -- the fast path --------------------------------------------------------------------------

_PREFIX = "/v1/stages/"
_SUFFIX = "/leaderboard"
_PATH_LENGTH = len(_PREFIX) + 36 + len(_SUFFIX)


def _page(query: bytes) -> tuple[int, int] | None:
    """`offset` and `limit` from a query string holding nothing else, within the route's
    bounds; None for anything else (the route then answers it, 422 included)."""
    offset, limit = 0, DEFAULT_LIMIT
    if not query:
        return offset, limit
    seen: set[bytes] = set()
    for part in query.split(b"&"):
        name, _, value = part.partition(b"=")
        if name in seen or not value.isdigit() or len(value) > 8:
            return None
        seen.add(name)
        if name == b"offset":
            offset = int(value)
        elif name == b"limit":
            limit = int(value)
        else:
            return None
    if offset > MAX_OFFSET or not 1 <= limit <= MAX_LIMIT:
        return None
    return offset, limit


class LeaderboardFastPath:
    """`GET /v1/stages/{stage_id}/leaderboard` answered from the cache as plain ASGI.

    Measured on one worker (see bench/README.md), FastAPI's route matching over the judging
    service's routes and its parameter parsing cost several times what the cached answer itself
    does. This sits inside the request-id, security-header and CORS middleware (so those
    headers, the access log and the 500 guard are the same as everywhere) and before the router:
    when the path is a canonical stage id, the query holds only valid `offset`/`limit`, and the
    cache holds a fresh board for that page, it sends the board (or a 304 on a matching
    `If-None-Match`) with the same headers the route sends. Anything else (no board yet, a
    version past its freshness, 404s, 422s, HEAD) goes on to the route, which reads and caches.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            if len(path) == _PATH_LENGTH and path.startswith(_PREFIX) and path.endswith(_SUFFIX):
                board = self._cached(scope, path[len(_PREFIX) : -len(_SUFFIX)])
                if board is not None:
                    await self._send(scope, send, board)
                    return
        await self.app(scope, receive, send)

    @staticmethod
    def _cached(scope: Scope, text: str) -> Board | None:
        try:
            stage_id = uuid.UUID(text)
        except ValueError:
            return None
        if str(stage_id) != text.lower():
            return None  # only the canonical form; the route parses the others
        page = _page(scope["query_string"])
        if page is None:
            return None
        state = scope["app"].state
        cache = cache_of(state)
        board, stale_soon = cache.peek(stage_id, *page)
        if stale_soon:
            cache.refresh_soon(state.uow, stage_id)
        if board is not None:
            cache.fast_answers += 1
        return board

    @staticmethod
    async def _send(scope: Scope, send: Send, board: Board) -> None:
        if_none_match = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
                break
        if etag_matches(if_none_match, board.etag):
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": list(board.raw_not_modified),
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        # Copies: the middleware outside may add headers to the list it is given.
        await send({"type": "http.response.start", "status": 200, "headers": list(board.raw_ok)})
        await send({"type": "http.response.body", "body": board.body})
