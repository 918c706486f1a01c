"""Set-ups for the awards, certificates and analytics tests: a stage with competitors whose
final results are in place (the result tables are written directly, as the competitions
tables are by `stage_with_entries`), and a registry that can be made to fail."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from shared.models.judging import ResultEntry, ResultStatus, StageResult
from shared.models.registry import Worker
from shared.models.registry.enums import SkillGrade
from tests.conftest import Services
from tests.judging.helpers import StageSetup, stage_with_entries, worker


@dataclass
class AwardWorld:
    stage: StageSetup
    #: Competitors in rank order.
    workers: list[Worker]


async def final_results(
    services: Services,
    admin_headers: dict[str, str],
    stage: StageSetup,
    placings: list[tuple[uuid.UUID, int, str | None, float]],
    *,
    inputs: dict[str, Any] | None = None,
) -> None:
    """Store a final result version of the stage: (entry id, rank, prize, score) each
    (`inputs`: the version's inputs, e.g. its components for the public leaderboard)."""
    response = await services.competitions.get(
        f"/v1/stages/{stage.stage_id}/stage-entries", headers=admin_headers
    )
    assert response.status_code == 200, response.text
    stage_entry = {uuid.UUID(r["entry_id"]): uuid.UUID(r["id"]) for r in response.json()["items"]}
    now = datetime.now(UTC)
    async with services.apps["judging"].state.sessionmaker() as s, s.begin():
        result = StageResult(
            id=uuid.uuid4(),
            stage_id=stage.stage_id,
            version=1,
            status=ResultStatus.final,
            digest="0" * 64,
            inputs=inputs or {},
            entry_count=len(placings),
            score_count=0,
            computed_by="test",
            published_at=now,
            finalised_at=now,
            finalised_by="test",
        )
        s.add(result)
        await s.flush()
        for entry_id, rank, prize, score in placings:
            s.add(
                ResultEntry(
                    result_id=result.id,
                    stage_entry_id=stage_entry[entry_id],
                    rank=rank,
                    score=score,
                    component_scores=[score],
                    prize=prize,
                    entry_id=entry_id,
                )
            )


async def award_world(
    services: Services,
    admin_headers: dict[str, str],
    *,
    grades: tuple[SkillGrade, ...] = (SkillGrade.senior, SkillGrade.senior, SkillGrade.senior),
    prizes: tuple[str | None, ...] = ("first", "second", None),
    final: bool = True,
) -> AwardWorld:
    """Competitors (Chinese names) ranked 1, 2, 3... with `prizes`, results final."""
    names = ["张卫国", "李秀英", "王建军", "赵敏", "孙立新"]
    workers = [await worker(services, grade=grade, name=names[i]) for i, grade in enumerate(grades)]
    stage = await stage_with_entries(
        services, admin_headers, [{"worker_id": w.id} for w in workers]
    )
    if final:
        await final_results(
            services,
            admin_headers,
            stage,
            [(entry, i + 1, prizes[i], 90.0 - 5 * i) for i, entry in enumerate(stage.entries)],
        )
    return AwardWorld(stage=stage, workers=workers)


class FlakyRegistry(httpx.AsyncBaseTransport):
    """The registry, failing (as unreachable) every award call after `allow` of them."""

    AWARD_PATHS = ("/v1/internal/", "/v1/honours/")

    def __init__(self, inner: httpx.AsyncBaseTransport, allow: int | None) -> None:
        self.inner = inner
        self.allow = allow
        self.award_calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(self.AWARD_PATHS):
            self.award_calls += 1
            if self.allow is not None and self.award_calls > self.allow:
                raise httpx.ConnectError("registry down (test)", request=request)
        return await self.inner.handle_async_request(request)


def flaky_registry(services: Services, allow: int | None) -> FlakyRegistry:
    flaky = FlakyRegistry(services.router.apps["registry"], allow)
    services.router.apps["registry"] = flaky  # type: ignore[assignment]  # same interface
    return flaky


async def add_rules(
    services: Services, headers: dict[str, str], stage_id: uuid.UUID, rules: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    out = []
    for rule in rules:
        response = await services.judging.post(
            f"/v1/stages/{stage_id}/award-rules", json=rule, headers=headers
        )
        assert response.status_code == 201, response.text
        out.append(response.json())
    return out


STANDARD_RULES: list[dict[str, Any]] = [
    {"kind": "honour", "honour_code": "provincial_technical_expert", "top_n": 1},
    {"kind": "grade_promotion", "prizes": ["first", "second"]},
    {"kind": "competition_result"},
]
