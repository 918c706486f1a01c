"""The public leaderboard's cache and its fast path, through HTTP, with the fast path on and off:
the same bytes and headers either way (ETag, Cache-Control, request id, security headers,
CORS), 304 on a matching If-None-Match, anything unusual left to the route (422, 404), drafts
never shown, and a version published elsewhere (another replica, here its SQL) served once
the freshness bound has passed, and sooner by the background re-read past half of it. The
cache's clock is moved by hand: no test here waits on time."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.judging.results import leaderboard
from services.judging.results.leaderboard import LeaderboardCache, LeaderboardFastPath
from shared.middleware import SECURITY_HEADERS
from tests.conftest import Services, assert_problem
from tests.judging.results_helpers import compute, seeded_stage

FRESHNESS = 30.0  # the tests' bound (seconds of the hand-moved clock)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(leaderboard, "clock", fake)
    return fake


@pytest.fixture(params=["fast path", "route only"])
def fast_path(request: pytest.FixtureRequest, services: Services) -> bool:
    """Every test runs with the fast path and without it (the route alone)."""
    app = services.apps["judging"]
    app.state.leaderboard_cache = LeaderboardCache(FRESHNESS)
    on: bool = request.param == "fast path"
    if not on:  # the middleware stack is built on the first request: none was sent yet
        assert app.middleware_stack is None
        app.user_middleware = [m for m in app.user_middleware if m.cls is not LeaderboardFastPath]
    return on


def cache(services: Services) -> LeaderboardCache:
    found: LeaderboardCache = services.apps["judging"].state.leaderboard_cache
    return found


async def published_stage(services: Services, headers: dict[str, str]) -> uuid.UUID:
    seeded = await seeded_stage(services, headers, [[(20, 2)], [(25, 3)], [(10, 1)]])
    await compute(services, headers, seeded.stage_id)
    published = await services.judging.post(
        f"/v1/stages/{seeded.stage_id}/results:publish-provisional", headers=headers
    )
    assert published.status_code == 200, published.text
    return seeded.stage_id


async def another_replica_writes(services: Services, stage_id: uuid.UUID, status: str) -> int:
    """A version n+1 of the stage (a copy of the latest public one, entries reversed), written
    in SQL as another replica's commit would be: no invalidation reaches this process."""
    async with services.apps["judging"].state.sessionmaker() as s, s.begin():
        current = (
            await s.execute(
                text(
                    "SELECT id, (SELECT max(version) FROM stage_results WHERE stage_id = :s) "
                    "AS latest FROM stage_results WHERE stage_id = :s "
                    "AND status IN ('provisional', 'final') ORDER BY version DESC LIMIT 1"
                ),
                {"s": stage_id},
            )
        ).one()
        new_id, version = uuid.uuid4(), current.latest + 1
        if status != "draft":
            await s.execute(
                text("UPDATE stage_results SET status = 'superseded' WHERE id = :id"),
                {"id": current.id},
            )
        await s.execute(
            text(
                "INSERT INTO stage_results (id, stage_id, version, status, digest, inputs, "
                "entry_count, score_count, computed_by, published_at, appeal_deadline) "
                "SELECT :new, stage_id, :v, :status, digest, "
                "inputs, entry_count, score_count, 'replica', published_at, appeal_deadline "
                "FROM stage_results WHERE id = :old"
            ),
            {"new": new_id, "v": version, "status": status, "old": current.id},
        )
        await s.execute(
            text(
                "INSERT INTO result_entries (result_id, stage_entry_id, rank, score, "
                "component_scores, prize, medal, blind_code, entry_id, worker_id, team_name, "
                "locality_code) SELECT :new, e.stage_entry_id, r.entry_count + 1 - e.rank, "
                "e.score, e.component_scores, e.prize, e.medal, e.blind_code, e.entry_id, "
                "e.worker_id, e.team_name, e.locality_code FROM result_entries e "
                "JOIN stage_results r ON r.id = e.result_id WHERE e.result_id = :old"
            ),
            {"new": new_id, "old": current.id},
        )
    return version


def same_answer(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code
    assert a.content == b.content
    for name in ("etag", "cache-control", "content-type", "content-length", "vary"):
        assert a.headers.get(name) == b.headers.get(name), name


async def test_cached_answer_same_bytes_and_headers(
    services: Services, admin_headers: dict[str, str], fast_path: bool, clock: Clock
) -> None:
    sid = await published_stage(services, admin_headers)
    url = f"/v1/stages/{sid}/leaderboard"

    first = await services.judging.get(url)  # reads the version, builds the board
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    assert first.json()["status"] == "provisional"
    assert [e["rank"] for e in first.json()["entries"]] == [1, 2, 3]
    assert first.headers["content-type"] == "application/json"
    assert first.headers["cache-control"] == "public, max-age=1, must-revalidate"
    assert first.headers["etag"].startswith('"1-provisional-')
    reads, builds = cache(services).version_reads, cache(services).builds
    assert cache(services).fast_answers == 0

    again = await services.judging.get(url, headers={"X-Request-ID": "screen-7.hall-2"})
    same_answer(first, again)
    assert again.headers["x-request-id"] == "screen-7.hall-2"
    assert first.headers["x-request-id"] != again.headers["x-request-id"]
    for name, value in SECURITY_HEADERS:
        assert again.headers[name.decode()] == value.decode()
    assert again.headers["vary"] == "Origin"
    # A browser on an allowed origin gets the CORS answer, as from any route.
    origin = "http://localhost:8001"
    cors = await services.judging.get(url, headers={"Origin": origin})
    assert cors.headers["access-control-allow-origin"] == origin
    assert "ETag" in cors.headers["access-control-expose-headers"]
    # Answered from memory: no query, no build; by the fast path when it is on.
    assert (cache(services).version_reads, cache(services).builds) == (reads, builds)
    assert cache(services).fast_answers == (2 if fast_path else 0)

    # A page is its own board; a page seen once more comes from memory too.
    page = await services.judging.get(url, params={"offset": 1, "limit": 1})
    assert [e["rank"] for e in page.json()["entries"]] == [2]
    assert page.json()["total"] == 3
    same_answer(page, await services.judging.get(url + "?offset=1&limit=1"))
    assert cache(services).builds == builds + 1


async def test_not_modified(
    services: Services, admin_headers: dict[str, str], fast_path: bool, clock: Clock
) -> None:
    sid = await published_stage(services, admin_headers)
    url = f"/v1/stages/{sid}/leaderboard"
    tag = (await services.judging.get(url)).headers["etag"]

    for sent in (tag, f"W/{tag}", f'"other", {tag}', "*"):
        response = await services.judging.get(url, headers={"If-None-Match": sent})
        assert response.status_code == 304, sent
        assert response.content == b""
        assert response.headers["etag"] == tag
        assert response.headers["cache-control"] == "public, max-age=1, must-revalidate"
        assert "content-type" not in response.headers
        assert response.headers["x-request-id"]
        assert response.headers["x-content-type-options"] == "nosniff"
    changed = await services.judging.get(url, headers={"If-None-Match": '"1-provisional-x"'})
    assert changed.status_code == 200
    assert changed.headers["etag"] == tag
    assert cache(services).fast_answers == (5 if fast_path else 0)


async def test_unusual_requests_go_to_the_route(
    services: Services, admin_headers: dict[str, str], fast_path: bool, clock: Clock
) -> None:
    sid = await published_stage(services, admin_headers)
    url = f"/v1/stages/{sid}/leaderboard"
    assert (await services.judging.get(url)).status_code == 200
    answered = cache(services).fast_answers

    # Out of bounds or not a number: the route's 422, naming the field.
    for query in ("limit=0", "limit=1001", "offset=-1", "offset=10000001", "limit=ten"):
        problem = assert_problem(await services.judging.get(f"{url}?{query}"), 422)
        assert problem["errors"][0]["field"] in ("limit", "offset"), query
    assert_problem(await services.judging.get(f"/v1/stages/{sid}x/leaderboard"), 422)
    # Unknown parameters (a cache-buster) and other spellings of the id: the route answers.
    busted = await services.judging.get(url, params={"_": "1733200000"})
    assert busted.status_code == 200
    upper = await services.judging.get(f"/v1/stages/{str(sid).upper()}/leaderboard")
    assert upper.status_code == 200
    assert upper.content == busted.content
    # No published results: 404, from the route (nothing is cached for the stage).
    assert_problem(await services.judging.get(f"/v1/stages/{uuid.uuid4()}/leaderboard"), 404)
    assert cache(services).fast_answers == answered + (1 if fast_path else 0)


async def test_a_version_published_elsewhere_within_the_bound(
    services: Services, admin_headers: dict[str, str], fast_path: bool, clock: Clock
) -> None:
    sid = await published_stage(services, admin_headers)
    url = f"/v1/stages/{sid}/leaderboard"

    def order(response: httpx.Response) -> list[Any]:
        assert response.status_code == 200, response.text
        return [e["blind_code"] for e in response.json()["entries"]]

    v1 = order(await services.judging.get(url))
    # Another replica computes a draft: never public, whatever the cache's age.
    await another_replica_writes(services, sid, "draft")
    clock.now += FRESHNESS
    assert (await services.judging.get(url)).json()["version"] == 1

    # Another replica publishes version 3. Within the bound this process may still show 1...
    assert await another_replica_writes(services, sid, "provisional") == 3
    clock.now += FRESHNESS * 0.4
    assert (await services.judging.get(url)).json()["version"] == 1
    # ...past half of it a cached answer starts a re-read in the background (fast path)...
    clock.now += FRESHNESS * 0.2
    stale_soon = await services.judging.get(url)
    refresh = cache(services).refreshing.get(sid)
    if fast_path:
        assert stale_soon.json()["version"] == 1  # still within the bound
        assert refresh is not None
        await refresh
    else:
        assert refresh is None
    # ...and once the bound has passed nothing older than it is served, either way.
    clock.now += FRESHNESS * 0.5
    latest = await services.judging.get(url)
    assert latest.json()["version"] == 3
    assert order(latest) == v1[::-1]
    assert latest.headers["etag"].startswith('"3-provisional-')

    # Final: the same version under a new key; clients may keep it an hour.
    async with services.apps["judging"].state.sessionmaker() as s, s.begin():
        await s.execute(
            text("UPDATE stage_results SET status = 'final' WHERE stage_id = :s AND version = 3"),
            {"s": sid},
        )
    clock.now += FRESHNESS
    final = await services.judging.get(url)
    assert final.json()["status"] == "final"
    assert final.headers["cache-control"] == "public, max-age=3600"
    same_answer(final, await services.judging.get(url))
