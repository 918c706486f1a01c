"""Awards: rules per stage, sending to the registry exactly once (retries, a registry failing
midway, a lost `sent` mark), the delivery state, the retry endpoint and `award.granted`."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import func, select, update

from shared.models.infra import OutboxEvent
from shared.models.judging import Award, DeliveryState
from shared.models.registry.enums import SkillGrade
from tests.conftest import Services, assert_problem
from tests.judging.awards_setup import (
    STANDARD_RULES,
    add_rules,
    award_world,
    flaky_registry,
)
from tests.judging.helpers import login, worker
from tests.judging.results_helpers import close_appeal_window, compute, put_rules, seeded_stage


async def _awards(services: Services, headers: dict[str, str], stage_id: uuid.UUID) -> list[Any]:
    response = await services.judging.get(
        f"/v1/stages/{stage_id}/awards", params={"limit": 200}, headers=headers
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def _states(awards: list[Any]) -> dict[str, int]:
    out = {"pending": 0, "sent": 0, "failed": 0}
    for a in awards:
        out[a["state"]] = out.get(a["state"], 0) + 1
    return out


async def _registry_record(
    services: Services, headers: dict[str, str], worker_id: uuid.UUID
) -> dict[str, Any]:
    """What the registry holds for a worker: grade, competition promotions, honour grants and
    competition results in the talent file."""
    reg = services.registry
    w = await reg.get(f"/v1/workers/{worker_id}", headers=headers)
    grades = await reg.get(f"/v1/workers/{worker_id}/grade-changes", headers=headers)
    grants = await reg.get(
        "/v1/honour-grants", params={"worker_id": str(worker_id)}, headers=headers
    )
    timeline = await reg.get(
        f"/v1/workers/{worker_id}/timeline",
        params={"kind": "competition_result", "limit": 200},
        headers=headers,
    )
    for r in (w, grades, grants, timeline):
        assert r.status_code == 200, r.text
    return {
        "grade": w.json()["grade"],
        "promotions": [g for g in grades.json() if g["source"] == "competition"],
        "honours": [g["honour_code"] for g in grants.json()["items"]],
        "results": timeline.json()["items"],
    }


async def _granted_events(services: Services) -> int:
    async with services.apps["judging"].state.sessionmaker() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.type == "award.granted")
            )
            or 0
        )


async def test_awards_reach_the_registry_exactly_once_even_when_retried(
    services: Services, admin_headers: dict[str, str]
) -> None:
    world = await award_world(services, admin_headers)
    stage_id = world.stage.stage_id
    await add_rules(services, admin_headers, stage_id, STANDARD_RULES)
    send = f"/v1/stages/{stage_id}/awards:send"

    # The registry fails after two award calls: 503, the two sent stay sent, one failed.
    flaky = flaky_registry(services, allow=2)
    body = assert_problem(await services.judging.post(send, headers=admin_headers), 503)
    assert "send again" in body["detail"].lower()
    awards = await _awards(services, admin_headers, stage_id)
    # honour for 1st, promotions for 1st and 2nd, a file entry for all three.
    assert len(awards) == 6
    assert _states(awards) == {"pending": 3, "sent": 2, "failed": 1}
    failed = next(a for a in awards if a["state"] == "failed")
    assert "unreachable" in failed["last_error"]
    assert failed["attempts"] == 1

    # The registry is back: sending again completes the job.
    flaky.allow = None
    response = await services.judging.post(send, headers=admin_headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["planned"] == 0
    assert report["sent"] == 4
    assert report["failed"] == 0
    assert report["totals"] == {
        "pending": 0,
        "sent": 6,
        "failed": 0,
        "awaiting_confirmation": 0,
        "declined": 0,
    }
    assert all(a["registry_ref"] for a in report["awards"])
    # ...and again: nothing more goes out.
    calls = flaky.award_calls
    again = await services.judging.post(send, headers=admin_headers)
    assert again.status_code == 200
    assert again.json()["sent"] == 0
    assert flaky.award_calls == calls
    assert await _granted_events(services) == 6

    # A `sent` mark lost after the registry recorded it (a crash before our commit): the
    # award goes out again with the same source_ref and the registry records it once.
    async with services.apps["judging"].state.sessionmaker() as s, s.begin():
        await s.execute(
            update(Award).where(Award.stage_id == stage_id).values(state=DeliveryState.pending)
        )
    resent = await services.judging.post(send, headers=admin_headers)
    assert resent.status_code == 200, resent.text
    assert resent.json()["totals"]["sent"] == 6

    first, second, third = [
        await _registry_record(services, admin_headers, w.id) for w in world.workers
    ]
    assert first["grade"] == "technician"
    assert second["grade"] == "technician"
    assert third["grade"] == "senior"
    assert [len(first["promotions"]), len(second["promotions"]), len(third["promotions"])] == [
        1,
        1,
        0,
    ]
    assert first["honours"] == ["provincial_technical_expert"]
    assert second["honours"] == []
    assert third["honours"] == []
    assert [len(r["results"]) for r in (first, second, third)] == [1, 1, 1]
    assert first["results"][0]["data"]["rank"] == 1
    assert first["results"][0]["data"]["prize"] == "first"


async def test_registry_down_nothing_sent_and_the_retry_endpoint_completes(
    services: Services, admin_headers: dict[str, str]
) -> None:
    world = await award_world(services, admin_headers, prizes=("first", None, None))
    stage_id = world.stage.stage_id
    await add_rules(services, admin_headers, stage_id, [STANDARD_RULES[1]])
    flaky = flaky_registry(services, allow=0)
    assert_problem(
        await services.judging.post(f"/v1/stages/{stage_id}/awards:send", headers=admin_headers),
        503,
    )
    [award] = await _awards(services, admin_headers, stage_id)
    assert award["state"] == "failed"
    assert award["registry_ref"] is None
    digest = hashlib.sha256(
        f"{stage_id}:{world.stage.entries[0]}:{world.workers[0].id}".encode()
    ).hexdigest()
    assert award["source_ref"] == f"award:grade:{digest[:48]}"
    assert (await _registry_record(services, admin_headers, world.workers[0].id))[
        "grade"
    ] == "senior"

    # Still down: the retry is a 503 and the award stays failed, attempts counted.
    retry = f"/v1/awards/{award['id']}:retry"
    assert_problem(await services.judging.post(retry, headers=admin_headers), 503)
    flaky.allow = None
    response = await services.judging.post(retry, headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "sent"
    assert response.json()["attempts"] == 3
    # Retrying a sent award changes nothing.
    calls = flaky.award_calls
    assert (await services.judging.post(retry, headers=admin_headers)).json()["attempts"] == 3
    assert flaky.award_calls == calls
    record = await _registry_record(services, admin_headers, world.workers[0].id)
    assert record["grade"] == "technician"
    assert len(record["promotions"]) == 1


async def test_named_grades_refusals_and_skips(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # First: senior -> technician is allowed; second holds technician already: skipped;
    # third: senior_technician would skip a level, the registry refuses: failed with reason.
    world = await award_world(
        services,
        admin_headers,
        grades=(SkillGrade.senior, SkillGrade.technician, SkillGrade.intermediate),
        prizes=("first", "second", "third"),
    )
    stage_id = world.stage.stage_id
    await add_rules(
        services,
        admin_headers,
        stage_id,
        [{"kind": "grade_promotion", "to_grade": "technician", "top_n": 3}],
    )
    response = await services.judging.post(
        f"/v1/stages/{stage_id}/awards:send", headers=admin_headers
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["planned"] == 2
    assert report["sent"] == 1
    assert report["failed"] == 1
    [skipped] = report["skipped"]
    assert skipped["worker_id"] == str(world.workers[1].id)
    assert "already holds technician" in skipped["reason"]
    failed = next(a for a in report["awards"] if a["state"] == "failed")
    assert failed["worker_id"] == str(world.workers[2].id)
    assert failed["last_error"].startswith("registry 422")
    assert "one level" in failed["last_error"]
    assert (await _registry_record(services, admin_headers, world.workers[0].id))[
        "grade"
    ] == "technician"


async def test_rules_validation_roles_and_preconditions(
    services: Services, admin_headers: dict[str, str]
) -> None:
    world = await award_world(services, admin_headers, final=False)
    stage_id = world.stage.stage_id
    rules = f"/v1/stages/{stage_id}/award-rules"

    bad = await services.judging.post(
        rules, json={"kind": "honour", "top_n": 3}, headers=admin_headers
    )
    assert [e["field"] for e in assert_problem(bad, 422)["errors"]] == ["honour_code"]
    bad = await services.judging.post(
        rules, json={"kind": "grade_promotion"}, headers=admin_headers
    )
    assert [e["field"] for e in assert_problem(bad, 422)["errors"]] == ["top_n"]
    bad = await services.judging.post(
        rules, json={"kind": "competition_result", "extra": 1}, headers=admin_headers
    )
    assert_problem(bad, 422)

    judge = await login(services, "judge1", "judge")
    organiser_elsewhere = await login(services, "org-zibo", "organiser", locality_code="370300")
    for headers in (judge, organiser_elsewhere):
        refused = await services.judging.post(rules, json=STANDARD_RULES[2], headers=headers)
        assert_problem(refused, 403)
        assert_problem(
            await services.judging.post(f"/v1/stages/{stage_id}/awards:send", headers=headers),
            403,
        )

    [rule] = await add_rules(services, admin_headers, stage_id, [STANDARD_RULES[2]])
    assert_problem(
        await services.judging.post(rules, json=STANDARD_RULES[2], headers=admin_headers), 409
    )
    listed = await services.judging.get(rules, headers=admin_headers)
    assert [r["id"] for r in listed.json()] == [rule["id"]]

    # Results not final: 412, nothing planned.
    assert_problem(
        await services.judging.post(f"/v1/stages/{stage_id}/awards:send", headers=admin_headers),
        412,
    )
    assert await _awards(services, admin_headers, stage_id) == []
    # A rule without awards can go; one whose awards exist cannot.
    deleted = await services.judging.delete(f"/v1/award-rules/{rule['id']}", headers=admin_headers)
    assert deleted.status_code == 204, deleted.text
    assert (await services.judging.get(rules, headers=admin_headers)).json() == []


async def test_finalising_results_sends_the_awards(
    services: Services, admin_headers: dict[str, str]
) -> None:
    """The whole path: scores, computed results with prize bands, provisional, final; the
    finalise call plans and sends the awards itself."""
    workers = [await worker(services, name=n) for n in ("张卫国", "李秀英", "王建军")]
    seeded = await seeded_stage(
        services,
        admin_headers,
        [[(25.0, 3.0)], [(20.0, 2.0)], [(10.0, 1.0)]],
        workers=[w.id for w in workers],
    )
    sid = seeded.stage_id
    await put_rules(
        services, admin_headers, sid, prize_bands={"basis": "count", "first": 1, "second": 1}
    )
    await add_rules(services, admin_headers, sid, STANDARD_RULES)
    await compute(services, admin_headers, sid)
    url = f"/v1/stages/{sid}/results"
    published = await services.judging.post(url + ":publish-provisional", headers=admin_headers)
    assert published.status_code == 200, published.text
    assert await _awards(services, admin_headers, sid) == []  # provisional: nothing yet
    await close_appeal_window(services, sid)
    final = await services.judging.post(url + ":finalise", headers=admin_headers)
    assert final.status_code == 200, final.text

    awards = await _awards(services, admin_headers, sid)
    assert _states(awards) == {"pending": 0, "sent": 6, "failed": 0}
    first = await _registry_record(services, admin_headers, workers[0].id)
    assert first["grade"] == "technician"
    assert first["honours"] == ["provincial_technical_expert"]
    assert first["results"][0]["data"]["rank"] == 1
    # The explicit send afterwards finds nothing left to do.
    again = await services.judging.post(f"/v1/stages/{sid}/awards:send", headers=admin_headers)
    assert again.status_code == 200, again.text
    assert again.json()["sent"] == 0
    assert again.json()["planned"] == 0
