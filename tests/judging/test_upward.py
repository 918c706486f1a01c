"""Issue 15 upwards: results reach talent files with their level and year (the worker's path),
standing award rules of a level whose honours wait for an organiser's confirmation, and the
recommendation list of a provincial event for the national contest (JSON and XLSX)."""

from __future__ import annotations

import io
import uuid
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import func, select, update

from services.judging.awards import flows as award_flows
from services.judging.upstream import upstream_for
from shared.models.competitions import Competition, CompetitionLevel, Stage
from shared.models.infra import AuditLog, OutboxEvent
from shared.models.registry.enums import SkillGrade
from tests.conftest import Services, assert_problem
from tests.judging.awards_setup import add_rules, award_world, final_results, flaky_registry
from tests.judging.helpers import COMPONENTS, audit_count, login, stage_with_entries, worker
from tests.judging.test_awards import _awards, _registry_record


async def _send(services: Services, headers: dict[str, str], stage_id: uuid.UUID) -> Any:
    response = await services.judging.post(f"/v1/stages/{stage_id}/awards:send", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _events(services: Services, event_type: str) -> list[dict[str, Any]]:
    async with services.apps["judging"].state.sessionmaker() as s:
        rows = await s.scalars(select(OutboxEvent.payload).where(OutboxEvent.type == event_type))
        return [p["data"] for p in rows]


# -- the path in the talent file -----------------------------------------------------------


async def test_the_talent_file_shows_results_by_level_and_year(
    services: Services, admin_headers: dict[str, str]
) -> None:
    competitor = await worker(services, name="陈志强")
    path = [
        (CompetitionLevel.enterprise, 2024, 1, "first"),
        (CompetitionLevel.city, 2025, 2, "second"),
        (CompetitionLevel.provincial, 2025, 5, None),
    ]
    # Run them out of order: the file orders by year, then level.
    for level, year, rank, prize in reversed(path):
        others = [await worker(services) for _ in range(rank - 1)]
        stage = await stage_with_entries(
            services,
            admin_headers,
            [{"worker_id": w.id} for w in others] + [{"worker_id": competitor.id}],
            level=level,
        )
        async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
            await s.execute(
                update(Competition).where(Competition.id == stage.competition_id).values(year=year)
            )
        placings: list[tuple[uuid.UUID, int, str | None, float]] = [
            (e, i + 1, None, 80.0 - i) for i, e in enumerate(stage.entries[:-1])
        ]
        placings.append((stage.entries[-1], rank, prize, 60.0))
        await final_results(services, admin_headers, stage, placings)
        await add_rules(services, admin_headers, stage.stage_id, [{"kind": "competition_result"}])
        report = await _send(services, admin_headers, stage.stage_id)
        assert report["failed"] == 0, report

    response = await services.registry.get(f"/v1/workers/{competitor.id}", headers=admin_headers)
    assert response.status_code == 200, response.text
    got = [
        (r["level"], r["year"], r["rank"], r["prize"]) for r in response.json()["results_by_level"]
    ]
    assert got == [(level.value, year, rank, prize) for level, year, rank, prize in path]
    assert all(r["source"] == "competition_result" for r in response.json()["results_by_level"])
    # The timeline entries say the level too.
    timeline = await services.registry.get(
        f"/v1/workers/{competitor.id}/timeline",
        params={"kind": "competition_result"},
        headers=admin_headers,
    )
    summaries = [e["summary"] for e in timeline.json()["items"]]
    assert any(s.startswith("省级：") for s in summaries), summaries
    assert any(s.startswith("企业级：") for s in summaries), summaries


# -- honours that follow from results -------------------------------------------------------

PROVINCIAL_POLICY = [
    {
        "level": "provincial",
        "kind": "honour",
        "honour_code": "provincial_technical_expert",
        "prizes": ["first"],
        "requires_confirmation": True,
    },
    {
        "level": "provincial",
        "kind": "grade_promotion",
        "to_grade": "technician",
        "prizes": ["first"],
        "requires_confirmation": True,
    },
]


async def _policy(services: Services, headers: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for rule in PROVINCIAL_POLICY:
        response = await services.judging.post("/v1/award-rules", json=rule, headers=headers)
        assert response.status_code == 201, response.text
        out.append(response.json())
    return out


async def test_standing_rules_are_the_provinces_and_checked(
    services: Services, admin_headers: dict[str, str]
) -> None:
    province = await login(services, "org.province", "organiser", locality_code="370000")
    assert_problem(
        await services.judging.post("/v1/award-rules", json=PROVINCIAL_POLICY[0], headers=province),
        403,
    )
    for body, field in (
        ({**PROVINCIAL_POLICY[0], "level": "national"}, "level"),
        (
            {"level": "city", "kind": "competition_result", "requires_confirmation": True},
            "requires_confirmation",
        ),
        ({"level": "city", "kind": "honour", "honour_code": "qilu_craftsman"}, "top_n"),
    ):
        problem = assert_problem(
            await services.judging.post("/v1/award-rules", json=body, headers=admin_headers), 422
        )
        assert field in str(problem["errors"]), problem
    rules = await _policy(services, admin_headers)
    assert all(r["stage_id"] is None and r["requires_confirmation"] for r in rules)
    clash = await services.judging.post(
        "/v1/award-rules", json=PROVINCIAL_POLICY[0], headers=admin_headers
    )
    assert_problem(clash, 409)
    listed = await services.judging.get(
        "/v1/award-rules", params={"level": "provincial"}, headers=province
    )
    assert [r["id"] for r in listed.json()] == [r["id"] for r in rules]
    # Deleting a standing rule is the province's too.
    deleted = await services.judging.delete(f"/v1/award-rules/{rules[1]['id']}", headers=province)
    assert_problem(deleted, 403)
    assert await audit_count(services, "award_rule.created") == 2


async def test_recommended_honours_wait_for_an_organisers_confirmation(
    services: Services, admin_headers: dict[str, str]
) -> None:
    await _policy(services, admin_headers)
    world = await award_world(services, admin_headers)  # provincial; prizes first, second, -
    stage_id = world.stage.stage_id
    first = world.workers[0]
    await add_rules(services, admin_headers, stage_id, [{"kind": "competition_result"}])
    flaky = flaky_registry(services, allow=None)

    report = await _send(services, admin_headers, stage_id)
    assert report["totals"]["awaiting_confirmation"] == 2  # the honour and the promotion
    assert report["totals"]["sent"] == 3  # the talent-file results
    assert flaky.award_calls == 3
    record = await _registry_record(services, admin_headers, first.id)
    assert record["honours"] == []
    assert record["grade"] == SkillGrade.senior.value
    waiting = [
        a
        for a in await _awards(services, admin_headers, stage_id)
        if a["state"] == "awaiting_confirmation"
    ]
    assert {a["kind"] for a in waiting} == {"honour", "grade_promotion"}
    assert {a["worker_id"] for a in waiting} == {str(first.id)}
    assert len(await _events(services, "award.awaiting_confirmation")) == 2
    honour = next(a for a in waiting if a["kind"] == "honour")
    promotion = next(a for a in waiting if a["kind"] == "grade_promotion")

    # Neither sending again, nor retrying it, nor the sweeper's job sends them.
    again = await _send(services, admin_headers, stage_id)
    assert again["sent"] == 0
    assert_problem(
        await services.judging.post(f"/v1/awards/{honour['id']}:retry", headers=admin_headers),
        409,
    )
    app = services.apps["judging"]
    upstream = upstream_for(app)
    await award_flows.run_job(app.state.uow, upstream, stage_id, 1, None, 1.0)
    assert flaky.award_calls == 3

    # Only organisers of the competition decide, with a reason.
    qingdao = await login(services, "org.qingdao", "organiser", locality_code="370200")
    province = await login(services, "org.province", "organiser", locality_code="370000")
    reason = {"reason": "经审核，符合山东省技术能手推荐条件"}
    assert_problem(
        await services.judging.post(
            f"/v1/awards/{honour['id']}:confirm", json=reason, headers=qingdao
        ),
        403,
    )
    assert_problem(
        await services.judging.post(
            f"/v1/awards/{honour['id']}:confirm", json={"reason": ""}, headers=province
        ),
        422,
    )
    confirmed = await services.judging.post(
        f"/v1/awards/{honour['id']}:confirm", json=reason, headers=province
    )
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert body["state"] == "sent"
    assert body["decision_reason"] == reason["reason"]
    assert body["decided_by"]
    assert body["decided_at"]
    declined = await services.judging.post(
        f"/v1/awards/{promotion['id']}:decline",
        json={"reason": "该选手已于本年度晋升，暂不重复晋升"},
        headers=province,
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["state"] == "declined"
    # Decided once.
    for award_id in (honour["id"], promotion["id"]):
        assert_problem(
            await services.judging.post(
                f"/v1/awards/{award_id}:decline", json=reason, headers=province
            ),
            409,
        )

    record = await _registry_record(services, admin_headers, first.id)
    assert record["honours"] == ["provincial_technical_expert"]
    assert record["grade"] == SkillGrade.senior.value  # the declined promotion never went
    assert flaky.award_calls == 4
    await _send(services, admin_headers, stage_id)
    assert flaky.award_calls == 4
    assert await audit_count(services, "award.confirmed") == 1
    assert await audit_count(services, "award.declined") == 1
    [confirmed_event] = await _events(services, "award.confirmed")
    assert confirmed_event["reason"] == reason["reason"]
    assert confirmed_event["competition_id"] == str(world.stage.competition_id)
    assert len(await _events(services, "award.declined")) == 1
    granted = [e for e in await _events(services, "award.granted") if e["kind"] == "honour"]
    assert len(granted) == 1


async def test_confirmed_awards_reach_the_registry_after_an_outage(
    services: Services, admin_headers: dict[str, str]
) -> None:
    await _policy(services, admin_headers)
    world = await award_world(services, admin_headers)
    stage_id = world.stage.stage_id
    await _send(services, admin_headers, stage_id)
    waiting = [
        a
        for a in await _awards(services, admin_headers, stage_id)
        if a["state"] == "awaiting_confirmation"
    ]
    flaky = flaky_registry(services, allow=0)
    confirmed = await services.judging.post(
        f"/v1/awards/{waiting[0]['id']}:confirm",
        json={"reason": "经审核同意"},
        headers=admin_headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["state"] == "failed"  # confirmed; the registry was down
    flaky.allow = None
    app = services.apps["judging"]
    async with app.state.sessionmaker() as s:
        from shared.models.judging import AwardJob

        assert await s.scalar(select(func.count()).select_from(AwardJob)) == 1
    await award_flows.run_job(app.state.uow, upstream_for(app), stage_id, 1, None, 1.0)
    states = {a["id"]: a["state"] for a in await _awards(services, admin_headers, stage_id)}
    assert states[waiting[0]["id"]] == "sent"
    assert states[waiting[1]["id"]] == "awaiting_confirmation"


async def test_standing_rules_apply_to_the_final_stage_only(
    services: Services, admin_headers: dict[str, str]
) -> None:
    await _policy(services, admin_headers)
    world = await award_world(services, admin_headers)
    # A later round of the same event (written directly: its advancement set-up is not what
    # is tested here).
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        s.add(
            Stage(
                competition_id=world.stage.competition_id,
                event_id=world.stage.event_id,
                seq=2,
                name="总决赛",
                components=COMPONENTS,
            )
        )
    await add_rules(services, admin_headers, world.stage.stage_id, [{"kind": "competition_result"}])
    report = await _send(services, admin_headers, world.stage.stage_id)
    # The first round's own rule only: its first prize is no provincial first prize.
    assert report["totals"]["awaiting_confirmation"] == 0
    assert report["totals"]["sent"] == 3


# -- the recommendation list for the national contest ----------------------------------------


async def _ranked_provincial_event(
    services: Services, admin_headers: dict[str, str], ranks: list[int], *, final: bool = True
) -> Any:
    names = ["张卫国", "李秀英", "王建军", "赵敏", "孙立新"]
    competitors = [await worker(services, name=names[i]) for i in range(len(ranks))]
    stage = await stage_with_entries(
        services, admin_headers, [{"worker_id": w.id} for w in competitors]
    )
    if final:
        prizes = {1: "first", 2: "second", 3: "third"}
        await final_results(
            services,
            admin_headers,
            stage,
            [
                (e, r, prizes.get(r), 95.0 - 3 * r)
                for e, r in zip(stage.entries, ranks, strict=True)
            ],
        )
    return stage, competitors


async def test_the_national_recommendation_list(
    services: Services, admin_headers: dict[str, str]
) -> None:
    stage, competitors = await _ranked_provincial_event(services, admin_headers, [1, 2, 3, 3, 5])
    url = f"/v1/events/{stage.event_id}/national-recommendations"
    response = await services.judging.get(url, headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["top"] == 3
    assert body["ties_at_boundary"] is True
    items = body["items"]
    # Entries sharing a rank come in the results' own order.
    ids = [i["worker_id"] for i in items]
    assert ids[:2] == [str(w.id) for w in competitors[:2]]
    assert set(ids[2:]) == {str(w.id) for w in competitors[2:4]}
    assert [i["rank"] for i in items] == [1, 2, 3, 3]
    assert [i["tied_at_boundary"] for i in items] == [False, False, True, True]
    assert items[0]["name"] == "张卫国"
    assert items[0]["prize"] == "first"
    assert items[0]["city_name"] == "济南市"
    assert items[0]["grade"] == "senior"
    assert isinstance(items[0]["score"], float)
    assert "*" not in items[0]["id_number"]
    assert len(items[0]["id_number"]) == 18

    # The provincial organiser sees the list with numbers masked; `top` narrows it.
    province = await login(services, "org.province", "organiser", locality_code="370000")
    masked = await services.judging.get(url, params={"top": 2}, headers=province)
    assert masked.status_code == 200, masked.text
    assert [i["rank"] for i in masked.json()["items"]] == [1, 2]
    assert masked.json()["ties_at_boundary"] is False
    assert all("*" in i["id_number"] for i in masked.json()["items"])
    # A city organiser does not manage the provincial event.
    jinan = await login(services, "org.jinan", "organiser", locality_code="370100")
    assert_problem(await services.judging.get(url, headers=jinan), 403)
    assert_problem(await services.judging.get(url, params={"top": 0}, headers=province), 422)
    assert_problem(
        await services.judging.get(
            f"/v1/events/{uuid.uuid4()}/national-recommendations", headers=province
        ),
        404,
    )

    # The spreadsheet organisers hand on.
    sheet = await services.judging.get(url + ".xlsx", headers=province)
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = load_workbook(io.BytesIO(sheet.content))
    ws = book.active
    assert ws is not None
    assert "全国竞赛推荐人选名单" in str(ws["A1"].value)
    headers = [c.value for c in ws[3]]
    assert headers[:7] == ["序号", "名次", "姓名", "性别", "身份证号", "工作单位", "所在市"]
    assert "技能等级" in headers
    assert "总成绩" in headers
    assert "奖项" in headers
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=4)]
    assert [r[2] for r in rows[:2]] == ["张卫国", "李秀英"]
    assert {r[2] for r in rows[2:]} == {"王建军", "赵敏"}
    assert rows[0][3] == "男"
    assert rows[0][8] == "高级工（三级）"
    assert rows[0][10] == "一等奖"
    assert all("*" in str(r[4]) for r in rows)
    assert rows[3][11] == "末位并列"
    assert ws.column_dimensions["F"].width >= 30
    assert ws.page_setup.orientation == "landscape"


async def test_recommendations_need_a_provincial_event_with_final_results(
    services: Services, admin_headers: dict[str, str]
) -> None:
    stage, _ = await _ranked_provincial_event(services, admin_headers, [1, 2], final=False)
    url = f"/v1/events/{stage.event_id}/national-recommendations"
    assert_problem(await services.judging.get(url, headers=admin_headers), 412)
    city = await stage_with_entries(
        services, admin_headers, level=CompetitionLevel.city, organiser_locality_code="370100"
    )
    assert_problem(
        await services.judging.get(
            f"/v1/events/{city.event_id}/national-recommendations", headers=admin_headers
        ),
        409,
    )


async def test_nothing_read_is_audited_as_a_write(
    services: Services, admin_headers: dict[str, str]
) -> None:
    # Reading the list writes nothing (no audit rows, no events).
    stage, _ = await _ranked_provincial_event(services, admin_headers, [1])
    async with services.apps["judging"].state.sessionmaker() as s:
        before = await s.scalar(select(func.count()).select_from(AuditLog))
    await services.judging.get(
        f"/v1/events/{stage.event_id}/national-recommendations", headers=admin_headers
    )
    async with services.apps["judging"].state.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(AuditLog)) == before
