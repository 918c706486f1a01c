"""The calendar across all levels (with pathways both ways, filters, iCalendar) and "open to
me" for a qualified, an unqualified and a national-winner worker, through the HTTP APIs."""

from __future__ import annotations

import uuid
from datetime import date

from shared.models.competitions import Competition, CompetitionStatus
from shared.models.registry.enums import Industry
from shared.webhooks.matching import competition_ids, data_matches
from tests.competitions.levels_helpers import (
    city_qualifier,
    declare,
    link,
    nominate,
    provincial_event,
)
from tests.conftest import Services, assert_problem, bearer, create_account, get_token
from tests.judging.helpers import worker


async def test_the_calendar_shows_every_level_with_its_pathway(
    services: Services, admin_headers: dict[str, str]
) -> None:
    province = await provincial_event(services)
    await declare(services, admin_headers, province)
    jinan = await city_qualifier(services, admin_headers, "370100")
    qingdao = await city_qualifier(services, admin_headers, "370200")
    for city in (jinan, qingdao):
        await link(services, admin_headers, province, city)
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        provincial = await s.get(Competition, province.competition_id)
        assert provincial is not None
        provincial.industry = Industry.high_end_equipment  # a Top Ten industry
    url = "/v1/calendar"
    top = await services.competitions.get(
        url, params={"level": "provincial", "industry": "high_end_equipment"}, headers=admin_headers
    )
    assert top.status_code == 200, top.text
    [item] = top.json()["items"]
    assert item["competition_id"] == str(province.competition_id)
    [event] = item["events"]
    assert event["open_registration"] is False
    assert sorted((r["organiser_locality_code"], r["quota"]) for r in event["fed_by"]) == [
        ("370100", 2),
        ("370200", 2),
    ]
    assert event["feeds"] == []
    cities = await services.competitions.get(
        url, params={"level": "city", "locality_code": "370200"}, headers=admin_headers
    )
    [city] = cities.json()["items"]
    assert city["competition_id"] == str(qingdao.setup.competition_id)
    assert [r["event_id"] for r in city["events"][0]["feeds"]] == [str(province.event_id)]
    # The industry filter leaves out the cities' competitions (no industry given).
    other = await services.competitions.get(
        url, params={"industry": "high_end_equipment"}, headers=admin_headers
    )
    assert [i["level"] for i in other.json()["items"]] == ["provincial"]
    # Drafts are not in the published calendar.
    async with services.apps["competitions"].state.sessionmaker() as s, s.begin():
        competition = await s.get(Competition, qingdao.setup.competition_id)
        assert competition is not None
        competition.status = CompetitionStatus.draft
    everything = await services.competitions.get(url, params={"year": 2026}, headers=admin_headers)
    ids = {i["competition_id"] for i in everything.json()["items"]}
    assert ids == {str(province.competition_id), str(jinan.setup.competition_id)}
    assert_problem(
        await services.competitions.get(
            url, params={"locality_code": "济南"}, headers=admin_headers
        ),
        422,
    )

    feed = await services.competitions.get("/v1/calendar.ics", headers=admin_headers)
    assert feed.status_code == 200, feed.text
    assert feed.headers["content-type"].startswith("text/calendar")
    text = feed.text.replace("\r\n ", "")  # unfolded
    assert text.count("BEGIN:VEVENT") == 2
    assert "DTSTART;VALUE=DATE:20261210" in text
    assert "SUMMARY:2026年山东省数控车工职业技能竞赛" in text
    assert_problem(await services.competitions.get("/v1/calendar.ics"), 401)


async def _worker_headers(services: Services, worker_id: uuid.UUID, name: str) -> dict[str, str]:
    await create_account(services, name, "worker", worker_id=worker_id)
    return bearer(await get_token(services, name))


async def test_open_to_me_for_a_qualified_an_unqualified_and_a_national_winner(
    services: Services, admin_headers: dict[str, str]
) -> None:
    province = await provincial_event(services)
    await declare(services, admin_headers, province)
    jinan = await city_qualifier(services, admin_headers, "370100")
    await link(services, admin_headers, province, jinan)
    qualified = await _worker_headers(services, jinan.workers[0], "qualified.worker")
    outsider = (await worker(services, locality_code="370200", birth_date=date(1995, 5, 1))).id
    unqualified = await _worker_headers(services, outsider, "unqualified.worker")
    champion = (await worker(services, locality_code="370100", birth_date=date(1988, 2, 1))).id
    national = await _worker_headers(services, champion, "national.winner")
    granted = await services.registry.post(
        "/v1/honours/national_technical_expert/grants",
        json={
            "worker_id": str(champion),
            "granted_on": "2025-12-01",
            "source": "competition_result",
            "source_ref": str(uuid.uuid4()),
            "citation": "第二届全国技能大赛数控车工项目金牌",
        },
        headers=admin_headers,
    )
    assert granted.status_code == 201, granted.text

    async def verdicts(headers: dict[str, str]) -> dict[str, dict[str, object]]:
        response = await services.competitions.get("/v1/me/open-events", headers=headers)
        assert response.status_code == 200, response.text
        return {i["event_id"]: i for i in response.json()["items"]}

    final, city = str(province.event_id), str(jinan.setup.event_id)
    mine = await verdicts(qualified)
    assert mine[city]["verdict"] == "entered"
    assert mine[final]["verdict"] == "can_be_nominated"
    assert [r["event_id"] for r in mine[final]["through"]] == [city]  # type: ignore[attr-defined]

    theirs = await verdicts(unqualified)
    assert theirs[final]["verdict"] == "cannot"
    assert [r["rule"] for r in theirs[final]["reasons"]] == ["not_in_qualifier"]  # type: ignore[attr-defined]
    assert theirs[city]["verdict"] == "can_enter"  # the city round is open to all

    winner = await verdicts(national)
    assert winner[city]["verdict"] == "cannot"
    rules = [r["rule"] for r in winner[city]["reasons"]]  # type: ignore[attr-defined]
    assert rules == ["not_national_winner"]
    # The registry names why (a national honour here; a recorded national prize names the result).
    assert "national-level honour" in str(winner[city]["reasons"])

    # Once nominated, the final says so.
    await nominate(services, admin_headers, jinan, jinan.entries[:1])
    assert (await verdicts(qualified))[final]["verdict"] == "nominated"
    # Only workers have an "open to me".
    assert_problem(
        await services.competitions.get("/v1/me/open-events", headers=admin_headers), 403
    )


def test_a_competition_filter_matches_the_qualifiers_competition_too() -> None:
    higher, lower, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    data = {
        "competition_id": str(higher),
        "qualifier_competition_id": str(lower),
        "organiser_locality_code": "370000",
        "qualifier_organiser_locality_code": "370200",
    }
    assert competition_ids(data) == [str(higher), str(lower)]
    assert data_matches(data, higher, None)
    assert data_matches(data, lower, None)
    assert not data_matches(data, other, None)
    assert data_matches(data, lower, "370200")
    assert not data_matches(data, lower, "370100")
