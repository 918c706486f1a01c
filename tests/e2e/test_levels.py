"""Competitions at every level, end to end with real processes: three cities (Jinan, Qingdao,
Linyi) each run a qualifier for one provincial event (a quota of 2 per city, one direct place),
every qualifier judged to final results through the real judging endpoints; the Qingdao winner
declines and is replaced by the next in rank; a Linyi nominee fails the provincial age rule at
acceptance (422 naming it, nothing written), is returned and replaced; the provincial final runs
to final results; the calendar shows the pathway; "open to me" is right for a qualified, an
unqualified and a national-winner worker; every step is in the webhook catalogue and audited.

Only the appeal window is shortened, in the database (the "time travel" of the judging tests):
waiting for it would take minutes per stage.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
from sqlalchemy import text

from shared.config import Settings
from shared.db import make_engine, make_sessionmaker
from tests.conftest import bearer
from tests.e2e.conftest import Stack, token
from tests.factories import identity_number
from tests.judging.results_helpers import two_aspect_scheme

PASSWORD = "Levels-Passw0rd!"
CITIES = {"370100": ("济南", "370102"), "370200": ("青岛", "370202"), "371300": ("临沂", "371302")}
NAMES = {
    "370100": ["张卫国", "李秀英", "王建军", "赵敏"],
    "370200": ["孙立新", "周晓川", "吴海燕", "郑国强"],
    "371300": ["刘长顺", "陈晓明", "杨丽娟", "黄志刚"],
}
#: Linyi's winner is 48 on the provincial start day: admitted by the first age rule (50), not by
#: the tightened one (45).
BIRTHS = [date(1990, 4, 1), date(1991, 5, 2), date(1992, 6, 3), date(1993, 7, 4)]
LINYI_WINNER_BIRTH = date(1978, 3, 1)


class Api:
    """HTTP calls to the real processes, each checked for its status."""

    def __init__(self, http: httpx.AsyncClient, stack: Stack) -> None:
        self.http = http
        self.urls = stack.urls

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        headers: dict[str, str],
        status: int = 200,
        **kw: Any,
    ) -> Any:
        response = await self.http.request(method, self.urls[service] + path, headers=headers, **kw)
        assert response.status_code == status, (method, path, response.text)
        return response.json() if "json" in response.headers.get("content-type", "") else response

    async def login(
        self, admin: dict[str, str], username: str, role: str, **scope: Any
    ) -> dict[str, str]:
        await self.call(
            "registry",
            "POST",
            "/v1/accounts",
            admin,
            201,
            json={
                "username": username,
                "display_name": username,
                "password": PASSWORD,
                "role": role,
                **scope,
            },
        )
        return bearer(await token(self.http, self.urls["registry"], username, PASSWORD))


async def _worker(api: Api, admin: dict[str, str], name: str, county: str, born: date) -> str:
    created = await api.call(
        "registry",
        "POST",
        "/v1/workers",
        admin,
        201,
        json={
            "name": name,
            "id_number": identity_number(born, region=county),
            "occupation": "数控车工",
            "grade": "senior",
            "locality_code": county,
        },
    )
    worker_id: str = created["id"]
    return worker_id


async def _judge_to_final(
    api: Api,
    admin: dict[str, str],
    organiser: dict[str, str],
    judges: list[dict[str, str]],
    event_id: str,
    ranked_entries: list[str],
    owner_url: str,
) -> str:
    """A stage of the event through the real endpoints: entries seeded, blind codes, the
    marking scheme, three judges assigned, marks in rank order, the lock, results computed,
    published, the appeal window closed, final. The stage's id."""
    stage = await api.call(
        "competitions",
        "POST",
        f"/v1/events/{event_id}/stages",
        organiser,
        201,
        json={
            "name": "决赛",
            "seq": 1,
            "components": [
                {"component": "theory", "weight": 30},
                {"component": "practical", "weight": 70},
            ],
        },
    )
    sid = stage["id"]
    await api.call("competitions", "POST", f"/v1/stages/{sid}/entries:seed", organiser)
    await api.call("competitions", "POST", f"/v1/stages/{sid}/blind-codes", organiser)
    await api.call(
        "judging",
        "POST",
        f"/v1/stages/{sid}/marking-schemes",
        organiser,
        201,
        json=two_aspect_scheme("measurement"),
    )
    await api.call(
        "judging", "POST", f"/v1/stages/{sid}/assignments:solve", organiser, json={"k": 3}
    )
    # The test gives each competitor their marks: it reads who is behind each code as the
    # province's admin may (organisers may not before judging locks the stage).
    rows = await api.call("competitions", "GET", f"/v1/stages/{sid}/blind-codes:mapping", admin)
    code = {r["entry_id"]: r["blind_code"] for r in rows}
    assert set(code) == set(ranked_entries)
    for headers in judges:
        for i, entry in enumerate(ranked_entries):
            url = f"/v1/stages/{sid}/scores/{code[entry]}"
            marks = [
                {"aspect_code": "A1.1", "value": 28 - i},
                {"aspect_code": "B1.1", "value": 66 - 2 * i},
            ]
            await api.call("judging", "PUT", url, headers, json={"marks": marks})
            await api.call("judging", "POST", url + ":submit", headers)
    await api.call("judging", "POST", f"/v1/stages/{sid}/scores:lock", organiser, json={})
    await api.call(
        "judging",
        "PUT",
        f"/v1/stages/{sid}/result-rules",
        organiser,
        json={"appeal_window_minutes": 60},
    )
    results = f"/v1/stages/{sid}/results"
    await api.call("judging", "POST", results + ":compute", organiser, 201)
    await api.call("judging", "POST", results + ":publish-provisional", organiser)
    engine = make_engine(Settings(database_url=owner_url, db_role=""), pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                text(
                    "UPDATE stage_results SET appeal_deadline = now() - interval '1 minute' "
                    "WHERE stage_id = :s AND status = 'provisional'"
                ),
                {"s": sid},
            )
    finally:
        await engine.dispose()
    final = await api.call("judging", "POST", results + ":finalise", organiser)
    assert final["status"] == "final"
    board = await api.call("judging", "GET", f"/v1/stages/{sid}/leaderboard", {})
    assert [e["entry_id"] for e in board["entries"]] == ranked_entries
    return str(sid)


async def _outbox_types(owner_url: str) -> set[str]:
    engine = make_engine(Settings(database_url=owner_url, db_role=""), pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session:
            return set(await session.scalars(text("SELECT DISTINCT type FROM outbox_events")))
    finally:
        await engine.dispose()


async def test_three_cities_qualify_for_the_provincial_final(
    stack: Stack, http: httpx.AsyncClient, e2e_database: str
) -> None:
    api = Api(http, stack)
    admin = bearer(await token(http, stack.urls["registry"]))
    province = await api.login(admin, "levels.province", "organiser", locality_code="370000")
    organisers = {
        code: await api.login(admin, f"levels.{code}", "organiser", locality_code=code)
        for code in CITIES
    }
    judges = []
    for i in range(3):
        headers = await api.login(admin, f"levels.judge{i}", "judge")
        me = await api.call("judging", "GET", "/v1/me", headers)
        await api.call(
            "judging",
            "POST",
            "/v1/judges",
            admin,
            201,
            json={
                "kind": "expert",
                "name": ["刘海峰", "赵立新", "孙海燕"][i],
                "employer_name": "东营职业学院",
                "locality_code": "370500",
                "occupations": ["数控车工"],
                "qualification": "provincial_judge",
                "account_sub": me["sub"],
            },
        )
        judges.append(headers)

    # The provincial final: an age rule, nominations from three cities, one direct place.
    final = await api.call(
        "competitions",
        "POST",
        "/v1/competitions",
        province,
        201,
        json={
            "name": "2026年山东省数控车工职业技能竞赛",
            "kind": "skill_competition",
            "level": "provincial",
            "year": 2026,
            "organiser_locality_code": "370000",
            "industry": "high_end_equipment",
            "starts_on": "2026-12-20",
            "ends_on": "2026-12-22",
        },
    )
    final_event = await api.call(
        "competitions",
        "POST",
        f"/v1/competitions/{final['id']}/events",
        province,
        201,
        json={
            "name": "数控车工（职工组）",
            "occupation": "数控车工",
            "mode": "individual",
            "capacity": 20,
            "max_age": 50,
        },
    )
    fid = final_event["id"]
    for version, status in ((1, "registration_open"), (2, "registration_closed")):
        await api.call(
            "competitions",
            "POST",
            f"/v1/competitions/{final['id']}/status",
            {**province, "If-Match": f'"{version}"'},
            json={"status": status},
        )
    await api.call(
        "competitions",
        "PUT",
        f"/v1/events/{fid}/pathway",
        province,
        json={"open_registration": False, "direct_places": 1},
    )
    champion = await _worker(api, admin, "高建华", "370302", date(1987, 9, 9))
    direct = await api.call(
        "competitions",
        "POST",
        f"/v1/events/{fid}/pathway/direct-places",
        province,
        201,
        json={"worker_id": champion, "reason_kind": "previous_result", "reason": "上届省赛第一名"},
    )

    # Each city: its competitors, its qualifier judged to final results, its pathway link.
    workers: dict[str, list[str]] = {}
    entries: dict[str, list[str]] = {}
    qualifiers: dict[str, str] = {}
    city_events: dict[str, str] = {}
    for code, (city, county) in CITIES.items():
        org = organisers[code]
        births = [LINYI_WINNER_BIRTH, *BIRTHS[1:]] if code == "371300" else BIRTHS
        workers[code] = [
            await _worker(api, admin, name, county, born)
            for name, born in zip(NAMES[code], births, strict=True)
        ]
        competition = await api.call(
            "competitions",
            "POST",
            "/v1/competitions",
            org,
            201,
            json={
                "name": f"2026年{city}市数控车工职业技能竞赛",
                "kind": "skill_competition",
                "level": "city",
                "year": 2026,
                "organiser_locality_code": code,
                "starts_on": "2026-10-15",
            },
        )
        event = await api.call(
            "competitions",
            "POST",
            f"/v1/competitions/{competition['id']}/events",
            org,
            201,
            json={
                "name": "数控车工",
                "occupation": "数控车工",
                "mode": "individual",
                "capacity": 10,
            },
        )
        city_events[code] = event["id"]
        await api.call(
            "competitions",
            "POST",
            f"/v1/competitions/{competition['id']}/status",
            {**org, "If-Match": '"1"'},
            json={"status": "registration_open"},
        )
        entries[code] = [
            (
                await api.call(
                    "competitions",
                    "POST",
                    f"/v1/events/{event['id']}/entries",
                    org,
                    201,
                    json={"worker_id": w},
                )
            )["id"]
            for w in workers[code]
        ]
        await _judge_to_final(api, admin, org, judges, event["id"], entries[code], e2e_database)
        link = await api.call(
            "competitions",
            "POST",
            f"/v1/events/{fid}/pathway/qualifiers",
            province,
            201,
            json={"qualifier_event_id": event["id"], "quota": 2},
        )
        qualifiers[code] = link["id"]

    # Nominations: each city's top two, suggested from its final results.
    nominations: dict[str, list[dict[str, Any]]] = {}
    for code, org in organisers.items():
        suggested = await api.call(
            "competitions", "GET", f"/v1/pathway-qualifiers/{qualifiers[code]}/suggestions", org
        )
        picks = [i["entry_id"] for i in suggested["items"] if i["outcome"] == "suggested"]
        assert picks == entries[code][:2], code
        made = await api.call(
            "competitions",
            "POST",
            f"/v1/pathway-qualifiers/{qualifiers[code]}/nominations",
            org,
            201,
            json={"entry_ids": picks},
        )
        nominations[code] = made["items"]
    # Another city's qualifier is not Qingdao's to nominate from.
    await api.call(
        "competitions",
        "POST",
        f"/v1/pathway-qualifiers/{qualifiers['370100']}/nominations",
        organisers["370200"],
        403,
        json={"entry_ids": [entries["370100"][2]]},
    )
    # The Qingdao winner declines: the next in rank takes the place.
    qingdao = organisers["370200"]
    replaced = await api.call(
        "competitions",
        "POST",
        f"/v1/nominations/{nominations['370200'][0]['id']}/substitute",
        qingdao,
        201,
        json={"kind": "declined", "reason": "本人因工作安排放弃参加省赛"},
    )
    assert (replaced["rank"], replaced["worker_id"]) == (3, workers["370200"][2])
    for code, org in organisers.items():
        await api.call(
            "competitions",
            "POST",
            f"/v1/pathway-qualifiers/{qualifiers[code]}/nominations:submit",
            org,
        )
    # A city sees its own nominees only; the province all of them.
    seen = await api.call("competitions", "GET", f"/v1/events/{fid}/nominations", qingdao)
    assert {n["locality_code"] for n in seen["items"]} == {"370202"}
    submitted = await api.call(
        "competitions",
        "GET",
        f"/v1/events/{fid}/nominations",
        province,
        params={"status": "submitted"},
    )
    assert len(submitted["items"]) == 6

    # A new notice lowers the provincial age limit to 45: Linyi's winner (48) is refused with
    # the rule named, and nothing is written.
    event_now = await http.get(f"{stack.urls['competitions']}/v1/events/{fid}", headers=province)
    await api.call(
        "competitions",
        "PATCH",
        f"/v1/events/{fid}",
        {**province, "If-Match": event_now.headers["etag"]},
        json={"max_age": 45},
    )
    accepted: list[str] = []
    for item in submitted["items"]:
        url = f"/v1/nominations/{item['id']}/accept"
        if item["worker_id"] == workers["371300"][0]:
            refused = await api.call("competitions", "POST", url, province, 422)
            assert [r["rule"] for r in refused["rules"]] == ["max_age"]
            assert "above the maximum 45" in refused["detail"]
            await api.call(
                "competitions",
                "POST",
                f"/v1/nominations/{item['id']}/return",
                province,
                json={"reason": "年龄超过省赛规定（45周岁）"},
            )
            substitute = await api.call(
                "competitions",
                "POST",
                f"/v1/nominations/{item['id']}/substitute",
                organisers["371300"],
                201,
                json={"kind": "unavailable", "reason": "省赛退回，按名次递补"},
            )
            assert (substitute["status"], substitute["rank"]) == ("submitted", 3)
            url = f"/v1/nominations/{substitute['id']}/accept"
        done = await api.call("competitions", "POST", url, province)
        accepted.append(done["entry_id"])
    finalists = await api.call(
        "competitions", "GET", f"/v1/events/{fid}/entries", province, params={"limit": 50}
    )
    placed = {e["id"]: e["worker_id"] for e in finalists["items"]}
    assert set(placed) == {*accepted, direct["entry_id"]}
    assert set(placed.values()) == {
        champion,
        *workers["370100"][:2],
        workers["370200"][1],
        workers["370200"][2],
        workers["371300"][1],
        workers["371300"][2],
    }

    # "Open to me": a finalist, a city competitor left out, a national winner.
    finalist = await api.login(admin, "levels.finalist", "worker", worker_id=workers["370100"][0])
    outsider_id = await _worker(api, admin, "马向东", "370602", date(1994, 1, 1))
    outsider = await api.login(admin, "levels.outsider", "worker", worker_id=outsider_id)
    winner_id = await _worker(api, admin, "丁宝山", "370102", date(1986, 1, 1))
    await api.call(
        "registry",
        "POST",
        "/v1/honours/national_technical_expert/grants",
        admin,
        201,
        json={
            "worker_id": winner_id,
            "granted_on": "2025-12-01",
            "source": "competition_result",
            "source_ref": str(uuid.uuid4()),
            "citation": "第二届全国技能大赛数控车工项目金牌",
        },
    )
    national = await api.login(admin, "levels.national", "worker", worker_id=winner_id)

    async def verdicts(headers: dict[str, str]) -> dict[str, dict[str, Any]]:
        page = await api.call(
            "competitions", "GET", "/v1/me/open-events", headers, params={"limit": 200}
        )
        return {i["event_id"]: i for i in page["items"]}

    mine = await verdicts(finalist)
    assert mine[fid]["verdict"] == "entered"
    assert mine[city_events["370100"]]["verdict"] == "entered"
    theirs = await verdicts(outsider)
    assert theirs[fid]["verdict"] == "cannot"
    assert [r["rule"] for r in theirs[fid]["reasons"]] == ["not_in_qualifier"]
    assert theirs[city_events["370100"]]["verdict"] == "can_enter"
    best = await verdicts(national)
    assert best[city_events["370100"]]["verdict"] == "cannot"
    assert [r["rule"] for r in best[city_events["370100"]]["reasons"]] == ["not_national_winner"]
    assert "not_national_winner" in {r["rule"] for r in best[fid]["reasons"]}

    # The provincial final runs to final results, in the order of the marks given.
    ranked = list(placed)
    sid = await _judge_to_final(api, admin, province, judges, fid, ranked, e2e_database)
    assert sid

    # The calendar shows the pathway, in JSON and in iCalendar.
    calendar = await api.call(
        "competitions", "GET", "/v1/calendar", admin, params={"level": "provincial", "year": 2026}
    )
    [item] = [i for i in calendar["items"] if i["competition_id"] == final["id"]]
    [event] = item["events"]
    assert sorted((r["organiser_locality_code"], r["quota"]) for r in event["fed_by"]) == [
        ("370100", 2),
        ("370200", 2),
        ("371300", 2),
    ]
    assert event["direct_places"] == 1
    city = await api.call(
        "competitions",
        "GET",
        "/v1/calendar",
        admin,
        params={"level": "city", "locality_code": "370200"},
    )
    assert [r["event_id"] for r in city["items"][0]["events"][0]["feeds"]] == [fid]
    feed = await http.get(f"{stack.urls['competitions']}/v1/calendar.ics", headers=admin)
    assert feed.headers["content-type"].startswith("text/calendar")
    assert "2026年山东省数控车工职业技能竞赛" in feed.text.replace("\r\n ", "")

    # Every step is in the webhook catalogue, and audited.
    document = await api.call("competitions", "GET", "/openapi.json", {})
    catalogue = set(document["webhooks"])
    emitted = await _outbox_types(e2e_database)
    nomination_types = {t for t in emitted if t.startswith("nomination.")}
    assert nomination_types == {
        "nomination.submitted",
        "nomination.declined",
        "nomination.returned",
        "nomination.accepted",
    }
    assert nomination_types <= catalogue
    assert {"entry.approved", "results.final"} <= emitted
    for action, least in (
        ("pathway.set", 1),
        ("pathway.qualifier.add", 3),
        ("pathway.direct_place.add", 1),
        ("nomination.create", 8),
        ("nomination.declined", 1),
        ("nomination.submitted", 6),
        ("nomination.returned", 1),
        ("nomination.accepted", 6),
    ):
        rows = await api.call(
            "competitions", "GET", "/v1/audit", admin, params={"action": action, "limit": 50}
        )
        assert len(rows["items"]) >= least, action
