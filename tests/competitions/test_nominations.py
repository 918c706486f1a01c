"""Competitions at every level, rule by rule, through the HTTP APIs: quotas and their history,
suggestions (ties at the boundary flagged, ineligible and already qualified workers skipped),
substitution, the deadline, scope, once per competition, returned and accepted nominations."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shared.models.competitions import (
    Competition,
    CompetitionLevel,
    CompetitionStatus,
    Entry,
    Nomination,
)
from shared.models.infra import AuditLog, OutboxEvent
from tests.competitions.levels_helpers import (
    City,
    Province,
    city_qualifier,
    declare,
    link,
    nominate,
    provincial_event,
    suggestions,
)
from tests.conftest import Services, assert_problem
from tests.judging.awards_setup import final_results
from tests.judging.helpers import enterprise, login, stage_with_entries, worker


async def _count(services: Services, model: Any, *where: Any) -> int:
    async with services.apps["competitions"].state.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _world(services: Services, admin: dict[str, str], **city: Any) -> tuple[Province, City]:
    province = await provincial_event(services)
    await declare(services, admin, province)
    jinan = await city_qualifier(services, admin, "370100", **city)
    await link(services, admin, province, jinan)
    return province, jinan


async def test_suggestions_follow_the_quota_and_flag_ties_at_the_boundary(
    services: Services, admin_headers: dict[str, str]
) -> None:
    _, jinan = await _world(services, admin_headers, ranks=[1, 2, 2, 4])
    body = await suggestions(services, admin_headers, jinan)
    outcome = {uuid.UUID(i["entry_id"]): (i["outcome"], i["boundary_tie"]) for i in body["items"]}
    first, tied_a, tied_b, last = jinan.entries
    assert outcome[first] == ("suggested", False)
    assert {outcome[tied_a], outcome[tied_b]} == {("suggested", True), ("reserve", True)}
    assert outcome[last] == ("reserve", False)
    assert body["boundary_ties"] is True
    assert [i["rank"] for i in body["items"]] == [1, 2, 2, 4]
    # Both tied workers together exceed the quota: the organisers must settle the tie.
    both = await services.competitions.post(
        f"/v1/pathway-qualifiers/{jinan.qualifier_id}/nominations",
        json={"entry_ids": [str(first), str(tied_a), str(tied_b)]},
        headers=admin_headers,
    )
    problem = assert_problem(both, 422)
    assert "quota of 2" in problem["errors"][0]["message"]
    assert await _count(services, Nomination) == 0
    # Rank 4 is outside the quota, named by its position.
    outside = await services.competitions.post(
        f"/v1/pathway-qualifiers/{jinan.qualifier_id}/nominations",
        json={"entry_ids": [str(last)]},
        headers=admin_headers,
    )
    assert assert_problem(outside, 422)["errors"][0]["field"] == "entry_ids[0]"
    # A reserve tied at the boundary may be chosen instead of the suggested one.
    reserve = tied_a if outcome[tied_a][0] == "reserve" else tied_b
    made = await nominate(services, admin_headers, jinan, [first, reserve])
    assert [n["status"] for n in made] == ["draft", "draft"]
    assert [n["boundary_tie"] for n in made] == [False, True]
    again = await suggestions(services, admin_headers, jinan)
    nominated = {i["entry_id"] for i in again["items"] if i["outcome"] == "nominated"}
    assert nominated == {str(first), str(reserve)}


async def test_results_must_be_final(services: Services, admin_headers: dict[str, str]) -> None:
    province = await provincial_event(services)
    await declare(services, admin_headers, province)
    city = await city_qualifier(services, admin_headers, "370200", final=False)
    await link(services, admin_headers, province, city)
    response = await services.competitions.get(
        f"/v1/pathway-qualifiers/{city.qualifier_id}/suggestions", headers=admin_headers
    )
    assert "not published" in assert_problem(response, 409)["detail"]


async def test_ineligible_and_already_qualified_workers_are_skipped_with_the_reason(
    services: Services, admin_headers: dict[str, str]
) -> None:
    province = await provincial_event(services, max_age=35)
    await declare(services, admin_headers, province)
    # The winner was born in 1980: 46 on the provincial start day, above 35.
    jinan = await city_qualifier(
        services,
        admin_headers,
        "370100",
        births=[date(1980, 3, 1), date(1995, 1, 1), date(1996, 1, 1), date(1997, 1, 1)],
    )
    await link(services, admin_headers, province, jinan)
    # The third holds a direct place.
    placed = await services.competitions.post(
        f"/v1/events/{province.event_id}/pathway/direct-places",
        json={
            "worker_id": str(jinan.workers[2]),
            "reason_kind": "previous_result",
            "reason": "上届全省第三名",
        },
        headers=admin_headers,
    )
    assert placed.status_code == 201, placed.text
    body = await suggestions(services, admin_headers, jinan)
    by_worker = {uuid.UUID(i["worker_id"]): i for i in body["items"]}
    winner = by_worker[jinan.workers[0]]
    assert winner["outcome"] == "skipped"
    assert [r["rule"] for r in winner["skipped_because"]] == ["max_age"]
    assert "above the maximum 35" in winner["skipped_because"][0]["message"]
    assert by_worker[jinan.workers[2]]["skipped_because"][0]["rule"] == "already_qualified"
    assert [by_worker[w]["outcome"] for w in (jinan.workers[1], jinan.workers[3])] == [
        "suggested",
        "suggested",
    ]
    refused = await services.competitions.post(
        f"/v1/pathway-qualifiers/{jinan.qualifier_id}/nominations",
        json={"entry_ids": [str(jinan.entries[0])]},
        headers=admin_headers,
    )
    assert "max_age" in assert_problem(refused, 422)["errors"][0]["message"]
    # No second direct place: the pathway gives one.
    second = await services.competitions.post(
        f"/v1/events/{province.event_id}/pathway/direct-places",
        json={
            "worker_id": str(jinan.workers[3]),
            "reason_kind": "honour",
            "honour_code": "qilu_craftsman",
            "reason": "齐鲁工匠",
        },
        headers=admin_headers,
    )
    assert_problem(second, 409)


async def test_substitution_takes_the_next_in_rank_with_the_reason(
    services: Services, admin_headers: dict[str, str]
) -> None:
    _, jinan = await _world(services, admin_headers)
    first, second = await nominate(services, admin_headers, jinan, jinan.entries[:2])
    substitute = await services.competitions.post(
        f"/v1/nominations/{first['id']}/substitute",
        json={"kind": "declined", "reason": "本人放弃参加省赛"},
        headers=admin_headers,
    )
    assert substitute.status_code == 201, substitute.text
    new = substitute.json()
    assert (new["source_entry_id"], new["rank"]) == (str(jinan.entries[2]), 3)
    assert (new["substitute_for_id"], new["status"]) == (first["id"], "draft")
    old = await services.competitions.get(f"/v1/nominations/{first['id']}", headers=admin_headers)
    assert (old.json()["status"], old.json()["reason"]) == (
        "declined",
        "declined: 本人放弃参加省赛",
    )
    body = await suggestions(services, admin_headers, jinan)
    declined = next(i for i in body["items"] if i["entry_id"] == str(jinan.entries[0]))
    assert declined["outcome"] == "skipped"
    assert declined["skipped_because"][0]["rule"] == "earlier_nomination"
    assert await _count(services, OutboxEvent, OutboxEvent.type == "nomination.declined") == 1
    assert await _count(services, AuditLog, AuditLog.action == "nomination.declined") == 1
    # The last one left: nobody after rank 4.
    await services.competitions.post(
        f"/v1/nominations/{second['id']}/substitute",
        json={"kind": "unavailable", "reason": "工作调动"},
        headers=admin_headers,
    )
    nomination = (
        await services.competitions.get(
            f"/v1/events/{new['event_id']}/nominations",
            params={"status": "draft"},
            headers=admin_headers,
        )
    ).json()["items"]
    assert sorted(n["rank"] for n in nomination) == [3, 4]
    none_left = await services.competitions.post(
        f"/v1/nominations/{new['id']}/substitute",
        json={"kind": "declined", "reason": "放弃"},
        headers=admin_headers,
    )
    assert "Nobody is left" in assert_problem(none_left, 409)["detail"]
    # Nothing of the refused substitution was kept.
    still = await services.competitions.get(f"/v1/nominations/{new['id']}", headers=admin_headers)
    assert still.json()["status"] == "draft"


async def test_the_deadline_closes_nominations_and_quota_changes(
    services: Services, admin_headers: dict[str, str]
) -> None:
    province, jinan = await _world(services, admin_headers)
    await nominate(services, admin_headers, jinan, jinan.entries[:1])
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    await declare(services, admin_headers, province, nominations_close_at=past)
    submit = await services.competitions.post(
        f"/v1/pathway-qualifiers/{jinan.qualifier_id}/nominations:submit", headers=admin_headers
    )
    assert "Nominations closed" in assert_problem(submit, 409)["detail"]
    more = await services.competitions.post(
        f"/v1/pathway-qualifiers/{jinan.qualifier_id}/nominations",
        json={"entry_ids": [str(jinan.entries[1])]},
        headers=admin_headers,
    )
    assert_problem(more, 409)
    quota = await services.competitions.patch(
        f"/v1/pathway-qualifiers/{jinan.qualifier_id}",
        json={"quota": 3, "reason": "增加名额"},
        headers={**admin_headers, "If-Match": '"1"'},
    )
    assert_problem(quota, 409)


async def test_quota_changes_need_if_match_and_keep_their_history(
    services: Services, admin_headers: dict[str, str]
) -> None:
    _, jinan = await _world(services, admin_headers)
    url = f"/v1/pathway-qualifiers/{jinan.qualifier_id}"
    body = {"quota": 3, "reason": "青岛市参赛规模扩大"}
    assert_problem(await services.competitions.patch(url, json=body, headers=admin_headers), 428)
    stale = await services.competitions.patch(
        url, json=body, headers={**admin_headers, "If-Match": '"7"'}
    )
    assert_problem(stale, 412)
    changed = await services.competitions.patch(
        url, json=body, headers={**admin_headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["quota"], changed.headers["etag"]) == (3, '"2"')
    # Below the nominations already made: refused.
    await nominate(services, admin_headers, jinan, jinan.entries[:3])
    lower = await services.competitions.patch(
        url, json={"quota": 2, "reason": "压缩"}, headers={**admin_headers, "If-Match": '"2"'}
    )
    assert_problem(lower, 409)
    history = await services.competitions.get(url + "/quota-history", headers=admin_headers)
    rows = history.json()["items"]
    assert [(r["old_quota"], r["new_quota"]) for r in rows] == [(None, 2), (2, 3)]
    assert rows[1]["reason"] == "青岛市参赛规模扩大"
    assert await _count(services, AuditLog, AuditLog.action == "pathway.qualifier.quota") == 1


async def test_city_organisers_manage_their_own_qualifier_and_see_only_their_nominees(
    services: Services, admin_headers: dict[str, str]
) -> None:
    province, jinan = await _world(services, admin_headers)
    qingdao = await city_qualifier(services, admin_headers, "370200")
    await link(services, admin_headers, province, qingdao)
    jinan_org = await login(services, "jinan.org", "organiser", locality_code="370100")
    qingdao_org = await login(services, "qingdao.org", "organiser", locality_code="370200")
    province_org = await login(services, "province.org", "organiser", locality_code="370000")
    mine = await nominate(services, jinan_org, jinan, jinan.entries[:2])
    await nominate(services, qingdao_org, qingdao, qingdao.entries[:2])
    # Qingdao may not nominate from Jinan's qualifier, nor see its suggestions.
    other = await services.competitions.post(
        f"/v1/pathway-qualifiers/{jinan.qualifier_id}/nominations",
        json={"entry_ids": [str(jinan.entries[2])]},
        headers=qingdao_org,
    )
    assert_problem(other, 403)
    assert_problem(
        await services.competitions.get(
            f"/v1/pathway-qualifiers/{jinan.qualifier_id}/suggestions", headers=qingdao_org
        ),
        403,
    )
    # ... nor read a Jinan nomination: it does not exist for Qingdao.
    assert_problem(
        await services.competitions.get(f"/v1/nominations/{mine[0]['id']}", headers=qingdao_org),
        404,
    )
    # Each city sees the pathway with every quota, and its own nominees only.
    pathway = await services.competitions.get(
        f"/v1/events/{province.event_id}/pathway", headers=qingdao_org
    )
    assert sorted(r["quota"] for r in pathway.json()["fed_by"]) == [2, 2]
    assert pathway.json()["direct_place_holders"] is None
    url = f"/v1/events/{province.event_id}/nominations"
    seen = (await services.competitions.get(url, headers=qingdao_org)).json()["items"]
    assert {n["locality_code"] for n in seen} == {"370200"}
    everything = (await services.competitions.get(url, headers=province_org)).json()["items"]
    assert len(everything) == 4
    # Only the province accepts or returns; a city may not change quotas.
    submit = await services.competitions.post(
        f"/v1/pathway-qualifiers/{jinan.qualifier_id}/nominations:submit", headers=jinan_org
    )
    assert submit.status_code == 200, submit.text
    assert_problem(
        await services.competitions.post(
            f"/v1/nominations/{mine[0]['id']}/accept", headers=jinan_org
        ),
        403,
    )
    assert_problem(
        await services.competitions.patch(
            f"/v1/pathway-qualifiers/{jinan.qualifier_id}",
            json={"quota": 5, "reason": "多要名额"},
            headers={**jinan_org, "If-Match": '"1"'},
        ),
        403,
    )
    accepted = await services.competitions.post(
        f"/v1/nominations/{mine[0]['id']}/accept", headers=province_org
    )
    assert accepted.status_code == 200, accepted.text


async def test_a_worker_is_nominated_into_a_competition_once(
    services: Services, admin_headers: dict[str, str]
) -> None:
    province, jinan = await _world(services, admin_headers)
    made = await nominate(services, admin_headers, jinan, jinan.entries[:1])
    # The same worker also competed in a Zibo qualifier of the same provincial competition.
    zibo = await city_qualifier(services, admin_headers, "370300")
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        entry = await s.get(Entry, zibo.entries[0])
        assert entry is not None
        entry.worker_id = jinan.workers[0]
    await link(services, admin_headers, province, zibo)
    body = await suggestions(services, admin_headers, zibo)
    first = body["items"][0]
    assert (first["outcome"], first["skipped_because"][0]["rule"]) == (
        "skipped",
        "already_qualified",
    )
    # The database refuses a second live nomination whatever path writes it.
    async with services.apps["competitions"].state.sessionmaker() as s:
        copy = await s.get(Nomination, uuid.UUID(made[0]["id"]))
        assert copy is not None
        s.add(
            Nomination(
                **{
                    c.key: getattr(copy, c.key)
                    for c in Nomination.__table__.columns
                    if c.key not in ("id", "created_at", "updated_at")
                }
                | {"qualifier_id": zibo.qualifier_id, "source_entry_id": zibo.entries[0]}
            )
        )
        with pytest.raises(IntegrityError):
            await s.flush()


async def test_returned_nominations_and_acceptance_with_rules_checked_again(
    services: Services, admin_headers: dict[str, str]
) -> None:
    province, jinan = await _world(services, admin_headers)
    first, second = await nominate(services, admin_headers, jinan, jinan.entries[:2])
    submitted = await services.competitions.post(
        f"/v1/pathway-qualifiers/{jinan.qualifier_id}/nominations:submit", headers=admin_headers
    )
    assert [n["status"] for n in submitted.json()["items"]] == ["submitted", "submitted"]
    # The province tightens its grade rule after the nominations came in.
    event = await services.competitions.get(f"/v1/events/{province.event_id}")
    tightened = await services.competitions.patch(
        f"/v1/events/{province.event_id}",
        json={"min_grade": "technician"},
        headers={**admin_headers, "If-Match": event.headers.get("etag", '"1"')},
    )
    assert tightened.status_code == 200, tightened.text
    entries_before = await _count(services, Entry, Entry.event_id == province.event_id)
    refused = await services.competitions.post(
        f"/v1/nominations/{first['id']}/accept", headers=admin_headers
    )
    problem = assert_problem(refused, 422)
    assert [r["rule"] for r in problem["rules"]] == ["min_grade"]
    assert await _count(services, Entry, Entry.event_id == province.event_id) == entries_before
    still = await services.competitions.get(f"/v1/nominations/{first['id']}", headers=admin_headers)
    assert still.json()["status"] == "submitted"
    # Returned with the reason; the city substitutes the next in rank, submitted at once.
    returned = await services.competitions.post(
        f"/v1/nominations/{first['id']}/return",
        json={"reason": "不符合技师等级要求"},
        headers=admin_headers,
    )
    assert (returned.json()["status"], returned.json()["reason"]) == (
        "returned",
        "不符合技师等级要求",
    )
    assert_problem(
        await services.competitions.post(
            f"/v1/nominations/{first['id']}/return", json={"reason": "再次"}, headers=admin_headers
        ),
        409,
    )
    # The rule is relaxed again; the next in rank replaces the returned nominee.
    event = await services.competitions.get(f"/v1/events/{province.event_id}")
    await services.competitions.patch(
        f"/v1/events/{province.event_id}",
        json={"min_grade": None},
        headers={**admin_headers, "If-Match": event.headers.get("etag", '"2"')},
    )
    replaced = await services.competitions.post(
        f"/v1/nominations/{first['id']}/substitute",
        json={"kind": "unavailable", "reason": "退回后递补"},
        headers=admin_headers,
    )
    assert replaced.status_code == 201, replaced.text
    assert (replaced.json()["status"], replaced.json()["rank"]) == ("submitted", 3)
    accepted = await services.competitions.post(
        f"/v1/nominations/{replaced.json()['id']}/accept", headers=admin_headers
    )
    assert accepted.status_code == 200, accepted.text
    entry_id = accepted.json()["entry_id"]
    entry = await services.competitions.get(f"/v1/entries/{entry_id}", headers=admin_headers)
    assert (entry.json()["status"], entry.json()["worker_id"]) == (
        "approved",
        str(jinan.workers[2]),
    )
    withdrawn = await services.competitions.post(
        f"/v1/nominations/{second['id']}/withdraw",
        json={"reason": "单位另有安排"},
        headers=admin_headers,
    )
    assert withdrawn.json()["status"] == "withdrawn"
    for event_type in ("submitted", "returned", "accepted", "withdrawn"):
        count = await _count(services, OutboxEvent, OutboxEvent.type == f"nomination.{event_type}")
        assert count >= 1, event_type
    actions = {"nomination.create", "nomination.submitted", "nomination.returned"}
    actions |= {"nomination.accepted", "nomination.withdrawn"}
    for action in actions:
        assert await _count(services, AuditLog, AuditLog.action == action) >= 1, action


async def test_enterprise_organisers_nominate_into_city_events_the_same_way(
    services: Services, admin_headers: dict[str, str]
) -> None:

    company = await enterprise(services, "370102")
    rival = await enterprise(services, "370102")
    # The Jinan city final, fed by an enterprise's own contest (岗位练兵).
    city = await city_qualifier(services, admin_headers, "370100")
    city_final = Province(city.setup.competition_id, city.setup.event_id)
    await declare(services, admin_headers, city_final, direct_places=0)
    staff = [
        (await worker(services, locality_code="370102", enterprise_id=company.id)).id
        for _ in range(3)
    ]
    contest = await stage_with_entries(
        services,
        admin_headers,
        [{"worker_id": w, "locality_code": "370102", "enterprise_id": company.id} for w in staff],
        level=CompetitionLevel.enterprise,
        organiser_locality_code="370102",
    )
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        competition = await s.get(Competition, contest.competition_id)
        assert competition is not None
        competition.organiser_enterprise_id = company.id
    await final_results(
        services,
        admin_headers,
        contest,
        [(e, i + 1, None, 90.0 - i) for i, e in enumerate(contest.entries)],
        inputs={"components": [{"component": "practical", "weight": 100}]},
    )
    own = City("370102", contest, staff)
    await link(services, admin_headers, city_final, own, quota=1)
    mine = await login(services, "company.org", "organiser", enterprise_id=company.id)
    theirs = await login(services, "rival.org", "organiser", enterprise_id=rival.id)
    body = await suggestions(services, mine, own)
    assert [i["outcome"] for i in body["items"]] == ["suggested", "reserve", "reserve"]
    made = await nominate(services, mine, own, contest.entries[:1])
    assert made[0]["qualifier_competition_id"] == str(contest.competition_id)
    assert_problem(
        await services.competitions.post(
            f"/v1/pathway-qualifiers/{own.qualifier_id}/nominations:submit", headers=theirs
        ),
        403,
    )
    # A city event cannot be fed by another city event: qualifiers are at a lower level.
    other_city = await city_qualifier(services, admin_headers, "370200", final=False)
    same_level = await services.competitions.post(
        f"/v1/events/{city_final.event_id}/pathway/qualifiers",
        json={"qualifier_event_id": str(other_city.setup.event_id), "quota": 1},
        headers=admin_headers,
    )
    assert "lower level" in assert_problem(same_level, 422)["errors"][0]["message"]


async def test_an_event_without_open_registration_is_filled_through_its_pathway(
    services: Services, admin_headers: dict[str, str]
) -> None:
    province = await provincial_event(services)
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        competition = await s.get(Competition, province.competition_id)
        assert competition is not None
        competition.status = CompetitionStatus.registration_open
    newcomer = (await worker(services, locality_code="370200")).id
    url = f"/v1/events/{province.event_id}/entries"
    await declare(services, admin_headers, province, open_registration=False)
    refused = await services.competitions.post(
        url, json={"worker_id": str(newcomer)}, headers=admin_headers
    )
    assert "through its pathway" in assert_problem(refused, 409)["detail"]
    assert await _count(services, Entry, Entry.event_id == province.event_id) == 0
    await declare(services, admin_headers, province, open_registration=True)
    entered = await services.competitions.post(
        url, json={"worker_id": str(newcomer)}, headers=admin_headers
    )
    assert entered.status_code == 201, entered.text
