"""The awards sweeper: awards of a finalised stage reach the registry although the registry was
down at finalisation, or the finalising process died before sending them; with several
replicas sweeping, each award is sent once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.judging.awards import flows as award_flows
from shared.config import Settings
from shared.models.judging import AwardJob
from tests.conftest import Services, make_settings, running_services
from tests.judging.awards_setup import STANDARD_RULES, add_rules, flaky_registry
from tests.judging.helpers import worker
from tests.judging.results_helpers import close_appeal_window, compute, put_rules, seeded_stage
from tests.judging.test_awards import _awards, _registry_record, _states

#: Six awards: an honour for the first, promotions for first and second, three results.
ALL_SENT = {"pending": 0, "sent": 6, "failed": 0}


@pytest.fixture
def settings(database_url: str, key_dir: Path) -> Settings:
    # A fast sweeper so that the tests wait seconds, not minutes.
    return make_settings(database_url, key_dir, award_sweep_seconds=0.2, award_retry_seconds=0.3)


async def _provisional_stage(
    services: Services, headers: dict[str, str]
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """Three ranked competitors with prize bands and award rules; results provisional and the
    appeal window closed, ready to finalise."""
    workers = [await worker(services, name=n) for n in ("张卫国", "李秀英", "王建军")]
    seeded = await seeded_stage(
        services,
        headers,
        [[(25.0, 3.0)], [(20.0, 2.0)], [(10.0, 1.0)]],
        workers=[w.id for w in workers],
    )
    sid = seeded.stage_id
    await put_rules(services, headers, sid, prize_bands={"basis": "count", "first": 1, "second": 1})
    await add_rules(services, headers, sid, STANDARD_RULES)
    await compute(services, headers, sid)
    published = await services.judging.post(
        f"/v1/stages/{sid}/results:publish-provisional", headers=headers
    )
    assert published.status_code == 200, published.text
    await close_appeal_window(services, sid)
    return sid, [w.id for w in workers]


async def _finalise(services: Services, headers: dict[str, str], sid: uuid.UUID) -> None:
    final = await services.judging.post(f"/v1/stages/{sid}/results:finalise", headers=headers)
    assert final.status_code == 200, final.text


async def _until_all_sent(services: Services, headers: dict[str, str], sid: uuid.UUID) -> list[Any]:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        awards = await _awards(services, headers, sid)
        if _states(awards) == ALL_SENT:
            return awards
        assert asyncio.get_running_loop().time() < deadline, _states(awards)
        await asyncio.sleep(0.2)


async def _until_job_done(services: Services, sid: uuid.UUID) -> None:
    """The job is deleted after its last award is sent, in a transaction of its own: a reader
    may see every award sent a moment before the job is gone."""
    deadline = asyncio.get_running_loop().time() + 10
    while (job := await _job(services, sid)) is not None:
        assert asyncio.get_running_loop().time() < deadline, (job.attempts, job.last_error)
        await asyncio.sleep(0.05)


async def _job(services: Services, sid: uuid.UUID) -> AwardJob | None:
    async with services.apps["judging"].state.sessionmaker() as s:
        job: AwardJob | None = await s.scalar(select(AwardJob).where(AwardJob.stage_id == sid))
        return job


async def _assert_recorded_once(
    services: Services, headers: dict[str, str], workers: list[uuid.UUID]
) -> None:
    first, second, third = [await _registry_record(services, headers, w) for w in workers]
    assert (first["grade"], second["grade"], third["grade"]) == (
        "technician",
        "technician",
        "senior",
    )
    assert [len(r["promotions"]) for r in (first, second, third)] == [1, 1, 0]
    assert first["honours"] == ["provincial_technical_expert"]
    assert [len(r["results"]) for r in (first, second, third)] == [1, 1, 1]


async def test_registry_down_at_finalisation_then_the_sweeper_completes(
    services: Services, admin_headers: dict[str, str]
) -> None:
    sid, workers = await _provisional_stage(services, admin_headers)
    flaky = flaky_registry(services, allow=0)
    await _finalise(services, admin_headers, sid)
    # The finalising request tried once (in its background task): nothing reached the registry.
    awards = await _awards(services, admin_headers, sid)
    assert len(awards) == 6
    assert _states(awards)["sent"] == 0
    job = await _job(services, sid)
    assert job is not None
    assert "registry" in (job.last_error or "")
    # The sweeper keeps trying while the registry is down, backing off...
    await asyncio.sleep(1.0)
    assert _states(await _awards(services, admin_headers, sid))["sent"] == 0
    tried = flaky.award_calls
    assert tried >= 2
    # ...and completes the job once it is back, with nobody calling awards:send.
    flaky.allow = None
    awards = await _until_all_sent(services, admin_headers, sid)
    await _until_job_done(services, sid)
    await _assert_recorded_once(services, admin_headers, workers)
    assert all(a["last_error"] is None for a in awards)


@pytest.fixture
async def replica(settings: Settings) -> AsyncIterator[Services]:
    async with running_services(settings) as second:
        yield second


async def test_the_finalising_process_dies_and_the_replicas_sweepers_send_each_award_once(
    services: Services,
    replica: Services,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sid, workers = await _provisional_stage(services, admin_headers)

    async def died(*args: object, **kwargs: object) -> None:
        """The process is killed between the commit of the final version and the send."""

    monkeypatch.setattr(award_flows, "award_final_results", died)
    await _finalise(services, admin_headers, sid)
    # Two judging replicas sweep the same database: the job's lease and each award's row
    # lock let only one of them send an award, once.
    awards = await _until_all_sent(services, admin_headers, sid)
    assert [a["attempts"] for a in awards] == [1] * 6
    await _until_job_done(services, sid)
    await _assert_recorded_once(services, admin_headers, workers)
