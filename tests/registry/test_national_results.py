"""National results recorded in talent files: who may record them, what they grant, the
national winners the events' eligibility rule then refuses, and the worker's path by level."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from shared import examples as ex
from shared.models.infra import AuditLog, OutboxEvent
from shared.models.registry import TimelineEntry
from tests.competitions.test_entries import enter, open_event, worker
from tests.conftest import Services, assert_problem
from tests.judging.helpers import login

CONTEST = "2025年全国行业职业技能竞赛——全国数控技能大赛"


def _result(**overrides: Any) -> dict[str, Any]:
    return {"contest_name": CONTEST, "year": 2025, "rank": 8, "prize": "merit", **overrides}


async def _record(
    services: Services, headers: dict[str, str], worker_id: uuid.UUID, **overrides: Any
) -> Any:
    return await services.registry.post(
        f"/v1/workers/{worker_id}/national-results", json=_result(**overrides), headers=headers
    )


async def _count(services: Services, model: Any, *where: Any) -> int:
    async with services.apps["registry"].state.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_national_win_recorded_by_an_organiser_excludes_the_worker(
    services: Services, admin_headers: dict[str, str]
) -> None:
    jinan = await login(services, "org.jinan", "organiser", locality_code="370100")
    qingdao = await login(services, "org.qingdao", "organiser", locality_code="370200")
    champion = await worker(services)  # a Jinan worker
    event = await open_event(services, admin_headers)

    # A merit award (优秀奖) is a national result, not a win: the worker may still enter.
    merit = await _record(services, jinan, champion)
    assert merit.status_code == 201, merit.text
    assert merit.json()["kind"] == "national_result"
    assert merit.json()["data"]["level"] == "national"

    # Outside the organiser's scope: refused as for any other file, nothing written.
    before = await _count(services, TimelineEntry, TimelineEntry.worker_id == champion)
    assert (await _record(services, qingdao, champion, prize="first")).status_code in (403, 404)
    assert await _count(services, TimelineEntry, TimelineEntry.worker_id == champion) == before

    # A national honour is the province's to grant: an organiser's record carrying one is
    # refused whole (no result, no grant).
    refused = await _record(
        services, jinan, champion, prize="first", honour_code=ex.NATIONAL_HONOUR_CODE
    )
    assert_problem(refused, 403)
    assert await _count(services, TimelineEntry, TimelineEntry.worker_id == champion) == before

    # Bad input names its field, and writes nothing.
    for overrides, field in (
        ({"honour_code": "provincial_technical_expert"}, "honour_code"),
        ({"honour_code": "no_such_honour"}, "honour_code"),
        ({"awarded_on": (ex.TODAY + timedelta(days=3)).isoformat()}, "awarded_on"),
        ({"prize": "gold"}, "prize"),
        ({"year": 1999}, "year"),
    ):
        problem = assert_problem(await _record(services, jinan, champion, **overrides), 422)
        assert field in str(problem["errors"]), (field, problem)
    assert await _count(services, TimelineEntry, TimelineEntry.worker_id == champion) == before

    # A first prize: the worker is a national winner from now on.
    entered = await enter(services, admin_headers, event, worker_id=str(champion))
    assert entered.status_code == 201, entered.text  # before the win: eligible
    second = await worker(services)
    won = await _record(services, jinan, second, rank=2, prize="first")
    assert won.status_code == 201, won.text
    problem = assert_problem(
        await enter(services, admin_headers, event, worker_id=str(second)), 422
    )
    [rule] = problem["rules"]
    assert rule["rule"] == "not_national_winner"
    assert CONTEST in rule["message"]
    assert "一等奖" in rule["message"]
    # Without a prize, ranks 1 to 3 win too.
    third = await worker(services)
    assert (await _record(services, jinan, third, rank=3, prize=None)).status_code == 201
    facts = await services.registry.post(
        "/v1/workers:batch-get", json={"ids": [str(third), str(champion)]}, headers=admin_headers
    )
    by_id = {w["id"]: w for w in facts.json()["items"]}
    assert by_id[str(third)]["national_winner"] is True
    assert by_id[str(champion)]["national_winner"] is False  # merit only

    # An admin records a result with the national honour: both in the file.
    honoured = await _record(
        services,
        admin_headers,
        champion,
        rank=1,
        prize="first",
        honour_code="national_technical_expert",
    )
    assert honoured.status_code == 201, honoured.text
    grants = await services.registry.get(
        "/v1/honour-grants", params={"worker_id": str(champion)}, headers=admin_headers
    )
    assert [g["honour_code"] for g in grants.json()["items"]] == ["national_technical_expert"]

    # The file shows the path, the national results last within their year.
    file = await services.registry.get(f"/v1/workers/{champion}", headers=jinan)
    assert file.status_code == 200, file.text
    path = file.json()["results_by_level"]
    assert [(r["level"], r["year"], r["rank"], r["prize"]) for r in path] == [
        ("national", 2025, 8, "merit"),
        ("national", 2025, 1, "first"),
    ]
    assert all(r["source"] == "national_result" and r["competition_name"] == CONTEST for r in path)

    # Every recording is audited and announced.
    assert await _count(services, AuditLog, AuditLog.action == "worker.national_result") == 4
    async with services.apps["registry"].state.sessionmaker() as s:
        events = [
            p["data"]
            for p in await s.scalars(
                select(OutboxEvent.payload).where(
                    OutboxEvent.type == "worker.national_result_recorded"
                )
            )
        ]
    assert sorted(e["national_winner"] for e in events) == [False, True, True, True]
    assert all(e["locality_code"] == "370100" for e in events)


async def test_a_retry_with_the_same_idempotency_key_records_once(
    services: Services, admin_headers: dict[str, str]
) -> None:
    worker_id = await worker(services)
    headers = {**admin_headers, "Idempotency-Key": "national-2025-001"}
    first = await _record(services, headers, worker_id)
    again = await _record(services, headers, worker_id)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    kinds = TimelineEntry.kind == "national_result"
    assert await _count(services, TimelineEntry, TimelineEntry.worker_id == worker_id, kinds) == 1


async def test_national_competitions_are_not_organised_here(
    services: Services, admin_headers: dict[str, str]
) -> None:
    from tests.competitions.test_entries import COMPETITION

    problem = assert_problem(
        await services.competitions.post(
            "/v1/competitions", json={**COMPETITION, "level": "national"}, headers=admin_headers
        ),
        422,
    )
    assert "level" in str(problem["errors"])


async def test_the_read_model_and_the_announcement_agree_on_who_won(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """ "National winner" is written once in SQL (the `worker_eligibility` read model, which
    `workers:batch-get` and registration read) and once in Python for the announcement of one
    result (`WINNING_PRIZES`, `WINNING_RANK`): for every kind of result both say the same."""
    shapes = [{"prize": p, "rank": 5} for p in ("first", "second", "third", "merit")] + [
        {"prize": None, "rank": r} for r in (1, 3, 4, 10)
    ]
    workers = [await worker(services) for _ in shapes]
    for worker_id, shape in zip(workers, shapes, strict=True):
        made = await _record(services, admin_headers, worker_id, **shape)
        assert made.status_code == 201, made.text
    facts = await services.registry.post(
        "/v1/workers:batch-get", json={"ids": [str(w) for w in workers]}, headers=admin_headers
    )
    read_model = {w["id"]: w["national_winner"] for w in facts.json()["items"]}
    async with services.apps["registry"].state.sessionmaker() as s:
        announced = {
            p["data"]["worker_id"]: p["data"]["national_winner"]
            for p in await s.scalars(
                select(OutboxEvent.payload).where(
                    OutboxEvent.type == "worker.national_result_recorded"
                )
            )
        }
    assert read_model == announced
    assert sorted(read_model.values()) == [False] * 3 + [True] * 5


async def test_the_services_may_read_the_read_model_but_not_write_it(
    services: Services,
) -> None:
    """`worker_eligibility` is the registry's: the services' database role (the competitions
    service's included) may select from it and nothing else."""
    champion = await worker(services)
    app = services.apps["competitions"]
    async with app.state.sessionmaker() as s:
        grade = await s.scalar(
            text("SELECT grade FROM worker_eligibility WHERE worker_id = :w"), {"w": champion}
        )
    assert grade is not None
    for statement in (
        "UPDATE worker_eligibility SET grade = 'chief_technician' WHERE worker_id = :w",
        "DELETE FROM worker_eligibility WHERE worker_id = :w",
    ):
        async with app.state.sessionmaker() as s:
            with pytest.raises(DBAPIError, match="permission denied"):
                await s.execute(text(statement), {"w": champion})
