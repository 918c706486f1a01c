"""Appeals name aspects by code (A1.1), as score sheets do, and a competitor can read the codes:
the marking scheme's outline, once results are published."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from shared.models.infra import OutboxEvent
from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.judging.results_helpers import seeded_stage


async def _published(
    services: Services, admin_headers: dict[str, str]
) -> tuple[uuid.UUID, dict[str, str], dict[str, str]]:
    """A stage with two competitors' locked marks; returns the stage, competitor A's headers
    and (before publication) nothing else."""
    worker_a, worker_b = uuid.uuid4(), uuid.uuid4()
    seeded = await seeded_stage(
        services,
        admin_headers,
        [[(25, 2)], [(28, 3)]],
        workers=[worker_a, worker_b],
    )
    await create_account(services, "codes.a", "worker", worker_id=worker_a)
    await create_account(services, "codes.b", "worker", worker_id=worker_b)
    return (
        seeded.stage_id,
        bearer(await get_token(services, "codes.a")),
        bearer(await get_token(services, "codes.b")),
    )


async def _publish(services: Services, headers: dict[str, str], stage_id: uuid.UUID) -> None:
    url = f"/v1/stages/{stage_id}/results"
    assert (await services.judging.post(url + ":compute", headers=headers)).status_code == 201
    published = await services.judging.post(url + ":publish-provisional", headers=headers)
    assert published.status_code == 200, published.text


async def test_a_competitor_reads_the_outline_once_results_are_published(
    services: Services, admin_headers: dict[str, str]
) -> None:
    stage_id, competitor, _ = await _published(services, admin_headers)
    outline_url = f"/v1/stages/{stage_id}/marking-schemes/outline"
    # The full scheme stays the organisers' and judges'.
    assert_problem(
        await services.judging.get(
            f"/v1/stages/{stage_id}/marking-schemes/current", headers=competitor
        ),
        403,
    )
    early = assert_problem(await services.judging.get(outline_url, headers=competitor), 409)
    assert "no published results" in early["detail"]
    await _publish(services, admin_headers, stage_id)

    response = await services.judging.get(outline_url, headers=competitor)
    assert response.status_code == 200, response.text
    outline: dict[str, Any] = response.json()
    assert outline["version"] == 1
    assert [c["code"] for c in outline["criteria"]] == ["A", "B"]
    aspects = [a for c in outline["criteria"] for s in c["sub_criteria"] for a in s["aspects"]]
    assert [(a["code"], a["description"], a["max_mark"]) for a in aspects] == [
        ("A1.1", "理论试卷得分", 30),
        ("B1.1", "零件加工质量", 70),
    ]
    # Codes and titles only: no ids, no judgement descriptors.
    assert all(set(a) == {"code", "description", "component", "type", "max_mark"} for a in aspects)
    assert_problem(await services.judging.get(outline_url), 401)


async def test_an_appeal_names_aspects_by_code(
    services: Services, admin_headers: dict[str, str]
) -> None:
    stage_id, competitor, _ = await _published(services, admin_headers)
    await _publish(services, admin_headers, stage_id)
    url = f"/v1/stages/{stage_id}/appeals"
    reason = "实操评分复核：量具读数有误"

    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"aspect_codes": ["B1.1", "C9.9"]}, ["aspect_codes[1]"]),
        ({"aspect_codes": ["B1"]}, ["aspect_codes[0]"]),
        ({}, ["aspect_codes"]),
        (
            {"aspect_codes": ["B1.1"], "aspect_ids": [str(uuid.uuid4())]},
            ["aspect_codes", "aspect_ids"],
        ),
    ]
    for extra, fields in cases:
        problem = assert_problem(
            await services.judging.post(url, json={"reason": reason, **extra}, headers=competitor),
            422,
        )
        assert [e["field"] for e in problem["errors"]] == fields, problem

    filed = await services.judging.post(
        url, json={"aspect_codes": ["B1.1", "A1.1", "B1.1"], "reason": reason}, headers=competitor
    )
    assert filed.status_code == 201, filed.text
    appeal = filed.json()
    assert appeal["aspect_codes"] == ["B1.1", "A1.1"]  # in the order given, each once
    scheme = await services.judging.get(
        f"/v1/stages/{stage_id}/marking-schemes/current", headers=admin_headers
    )
    ids = {
        a["code"]: a["id"]
        for c in scheme.json()["criteria"]
        for s in c["sub_criteria"]
        for a in s["aspects"]
    }
    assert appeal["aspect_ids"] == [ids["B1.1"], ids["A1.1"]]
    async with services.apps["judging"].state.sessionmaker() as session:
        payload = await session.scalar(
            select(OutboxEvent.payload).where(OutboxEvent.type == "appeal.filed")
        )
    assert payload is not None
    assert payload["data"]["aspect_codes"] == ["B1.1", "A1.1"]

    # The older way, by id, still works and answers the codes too.
    by_id = await services.judging.post(
        url, json={"aspect_ids": [ids["A1.1"]], "reason": reason}, headers=competitor
    )
    assert by_id.status_code == 201, by_id.text
    assert by_id.json()["aspect_codes"] == ["A1.1"]
