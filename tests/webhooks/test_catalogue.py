"""Every event type of the catalogue (the three services' OpenAPI `webhooks` sections) reaches
a subscription filtered by competition and one filtered by locality.

One realistic flow through the HTTP APIs emits every type: a Jinan city competition (its
organiser's locality 370100) from registration to awards, and the registry's own events about
its workers (created, promoted, moved to Qingdao, mentored, honoured). The real dispatcher then
delivers them to a receiver on loopback with two subscriptions of `["*"]`: one filtered by the
competition, one by Jinan. Registry events about a person concern no competition (so a
competition filter rightly drops them), except a grade promotion or an honour for a
competition's result, which carry the competition.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from shared import clock
from shared.models.infra import OutboxEvent
from shared.models.registry import Sex
from shared.models.webhooks import DeliveryStatus, WebhookDelivery
from shared.webhooks.dispatcher import Dispatcher
from shared.webhooks.matching import DIRECT_TYPES, competition_ids, locality_codes
from tests.conftest import Services, bearer, create_account, get_token
from tests.factories import credit_code, identity_number
from tests.judging.helpers import create_judge, login, sub_of
from tests.judging.results_helpers import close_appeal_window, two_aspect_scheme
from tests.webhooks.conftest import run_until
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import subscribe

#: Registry events about a person, not a competition: a competition filter never matches them.
PERSON_EVENTS = {
    "worker.created",
    "worker.transferred",
    "mentorship.started",
    "mentorship.ended",
    "honour.granted",
    "honour.revoked",
    "reserve.nominated",
    "reserve.confirmed",
    "reserve.declined",
    "reserve.left",
    "worker.national_result_recorded",
}
JINAN = "370100"


class Flow:
    """HTTP calls as the admin, each checked for its status."""

    def __init__(self, services: Services, headers: dict[str, str]) -> None:
        self.services = services
        self.headers = headers

    async def call(
        self, service: str, method: str, url: str, status: int = 200, **kw: Any
    ) -> dict[str, Any]:
        client = getattr(self.services, service)
        headers = {**self.headers, **kw.pop("headers", {})}
        # Contested writes send the ETag of the record they change, as a client does.
        contested = method in ("PUT", "PATCH") or url.endswith("/status")
        if contested and "If-Match" not in headers:
            read = await client.get(url.removesuffix("/status"), headers=self.headers)
            if read.status_code == 200 and "etag" in read.headers:
                headers["If-Match"] = read.headers["etag"]
        response = await client.request(method, url, headers=headers, **kw)
        assert response.status_code == status, (method, url, response.text)
        body: dict[str, Any] = response.json() if response.content else {}
        return body


async def _catalogue(services: Services) -> set[str]:
    types: set[str] = set()
    for client in (services.registry, services.competitions, services.judging):
        document = (await client.get("/openapi.json")).json()
        types |= set(document.get("webhooks", {}))
    return types - DIRECT_TYPES


async def _registry_events(flow: Flow) -> list[str]:
    """Workers of a Jinan (Lixia) enterprise, with every registry event; the competitors' ids."""
    jinan = await flow.call(
        "registry",
        "POST",
        "/v1/enterprises",
        201,
        json={
            "credit_code": credit_code(),
            "name": "济南二机床集团有限公司",
            "locality_code": "370102",
            "industry": "high_end_equipment",
            "size": "large",
        },
    )
    qingdao = await flow.call(
        "registry",
        "POST",
        "/v1/enterprises",
        201,
        json={
            "credit_code": credit_code(),
            "name": "青岛海尔集团",
            "locality_code": "370200",
            "industry": "new_generation_it",
            "size": "large",
        },
    )
    names = ["张卫国", "李秀英", "王建军", "赵敏", "孙立新", "周晓川"]
    workers = []
    for i, name in enumerate(names):
        grade = "technician" if i == 4 else "senior"
        worker = await flow.call(
            "registry",
            "POST",
            "/v1/workers",
            201,
            json={
                "name": name,
                "id_number": identity_number(date(1988, 3, 1 + i), Sex.male),
                "occupation": "数控车工",
                "enterprise_id": jinan["id"],
                "grade": grade,
            },
        )
        workers.append(worker["id"])
    mentor, apprentice = workers[4], workers[5]
    await flow.call(
        "registry",
        "POST",
        f"/v1/workers/{apprentice}/grade-changes",
        201,
        json={
            "to_grade": "technician",
            "effective_date": "2026-10-15",
            "source": "certification",
            "certificate_no": "S0000370100022640001",
            "issuing_body": "济南市职业技能鉴定指导中心",
        },
    )
    pair = await flow.call(
        "registry",
        "POST",
        "/v1/mentorships",
        201,
        json={
            "mentor_id": mentor,
            "apprentice_id": workers[3],
            "kind": "master_apprentice",
            "goals": "一年内掌握五轴数控加工中心的编程与操作。",
            "planned_start_date": clock.today().isoformat(),
            "planned_end_date": (clock.today() + timedelta(days=365)).isoformat(),
        },
    )
    await flow.call("registry", "POST", f"/v1/mentorships/{pair['id']}/activate")
    await flow.call(
        "registry",
        "POST",
        f"/v1/mentorships/{pair['id']}/complete",
        json={"evaluation": {"rating": "excellent", "comment": "已独立完成五轴加工。"}},
    )
    grant = await flow.call(
        "registry",
        "POST",
        "/v1/honours/qilu_craftsman/grants",
        201,
        json={
            "worker_id": apprentice,
            "granted_on": "2026-05-01",
            "source": "competition_result",
            "source_ref": str(uuid.uuid4()),
            "citation": "2026年济南市职业技能大赛数控车工项目第一名",
        },
    )
    await flow.call(
        "registry",
        "POST",
        f"/v1/honour-grants/{grant['id']}/revoke",
        json={"reason": "比赛成绩因违规被取消"},
    )
    # The craftsman reserve: one member joins and leaves, another nomination is declined.
    for worker, outcome in ((workers[4], "leave"), (workers[2], "decline")):
        member = await flow.call(
            "registry",
            "POST",
            "/v1/reserve-members",
            201,
            json={"worker_id": worker, "track": "qilu_craftsman", "reason": "市级技术能手"},
        )
        url = f"/v1/reserve-members/{member['id']}"
        if outcome == "leave":
            await flow.call("registry", "POST", url + "/confirm")
            await flow.call("registry", "POST", url + "/leave", json={"reason": "调离本省工作"})
        else:
            await flow.call("registry", "POST", url + "/decline", json={"reason": "暂不入库"})
    # A national result comes back (a merit award: no national winner, still a competitor).
    await flow.call(
        "registry",
        "POST",
        f"/v1/workers/{workers[0]}/national-results",
        201,
        json={"contest_name": "全国数控技能大赛", "year": 2026, "rank": 12, "prize": "merit"},
    )
    await flow.call(
        "registry",
        "POST",
        f"/v1/workers/{apprentice}/transfers",
        json={"to_enterprise_id": qingdao["id"], "date": clock.today().isoformat()},
    )
    return workers[:4]


async def _score(
    flow: Flow, headers: dict[str, str], stage_id: str, code: str, marks: tuple[int, int]
) -> None:
    url = f"/v1/stages/{stage_id}/scores/{code}"
    body = {
        "marks": [
            {"aspect_code": "A1.1", "value": marks[0]},
            {"aspect_code": "B1.1", "value": marks[1]},
        ]
    }
    await flow.call("judging", "PUT", url, json=body, headers=headers)
    await flow.call("judging", "POST", url + ":submit", headers=headers)


async def _competition(flow: Flow) -> str:
    competition = await flow.call(
        "competitions",
        "POST",
        "/v1/competitions",
        201,
        json={
            "name": "2026年济南市数控车工职业技能竞赛",
            "kind": "skill_competition",
            "level": "city",
            "year": 2026,
            "organiser_locality_code": JINAN,
            "starts_on": (date.today() + timedelta(days=30)).isoformat(),
        },
    )
    return str(competition["id"])


async def _competition_events(flow: Flow, cid: str, workers: list[str]) -> None:
    """The competition from registration to awards."""
    services = flow.services
    event = await flow.call(
        "competitions",
        "POST",
        f"/v1/competitions/{cid}/events",
        201,
        json={
            "name": "数控车工（职工组）",
            "occupation": "数控车工",
            "mode": "individual",
            "capacity": 10,
        },
    )
    await flow.call(
        "competitions",
        "POST",
        f"/v1/competitions/{cid}/status",
        json={"status": "registration_open"},
        headers={"If-Match": '"1"'},  # as created
    )
    entries = []
    for i, worker in enumerate(workers):
        # The organisers register three (approved at once); the fourth registers themself
        # (pending, so that it can be rejected).
        headers: dict[str, str] = {}
        if i == 2:
            await create_account(services, "catalogue.w3", "worker", worker_id=uuid.UUID(worker))
            headers = bearer(await get_token(services, "catalogue.w3"))
        entry = await flow.call(
            "competitions",
            "POST",
            f"/v1/events/{event['id']}/entries",
            201,
            json={"worker_id": worker},
            headers=headers,
        )
        entries.append(entry["id"])
    await flow.call(
        "competitions",
        "POST",
        f"/v1/entries/{entries[2]}/reject",
        json={"reason": "资格审查：工种不符"},
    )
    await flow.call("competitions", "POST", f"/v1/entries/{entries[3]}/withdraw")

    stage = await flow.call(
        "competitions",
        "POST",
        f"/v1/events/{event['id']}/stages",
        201,
        json={
            "name": "初赛",
            "seq": 1,
            "components": [
                {"component": "theory", "weight": 30},
                {"component": "practical", "weight": 70},
            ],
        },
    )
    sid = stage["id"]
    await flow.call(
        "competitions",
        "PATCH",
        f"/v1/stages/{sid}",
        json={"advancement_rule": "top_n", "advancement_value": 1},
        headers={"If-Match": '"1"'},  # as created
    )
    await flow.call(
        "competitions",
        "POST",
        f"/v1/events/{event['id']}/stages",
        201,
        json={"name": "决赛", "seq": 2, "components": [{"component": "practical", "weight": 100}]},
    )
    await flow.call("competitions", "POST", f"/v1/stages/{sid}/entries:seed")
    await flow.call("competitions", "POST", f"/v1/stages/{sid}/blind-codes")

    # The schedule: a venue, two workstations, a session, the scheduler, a release.
    venue = await flow.call(
        "competitions",
        "POST",
        f"/v1/competitions/{cid}/venues",
        201,
        json={"name": "济南技师学院实训楼", "address": "济南市历城区", "locality_code": JINAN},
    )
    await flow.call(
        "competitions",
        "POST",
        f"/v1/venues/{venue['id']}/workstations",
        201,
        json={"workstations": [{"code": c, "occupation": "数控车工"} for c in ("A01", "A02")]},
    )
    day = datetime.fromisoformat("2026-12-10T08:00:00+08:00")
    await flow.call(
        "competitions",
        "POST",
        f"/v1/stages/{sid}/sessions",
        201,
        json={
            "venue_id": venue["id"],
            "starts_at": day.isoformat(),
            "ends_at": (day + timedelta(hours=3)).isoformat(),
        },
    )
    await flow.call("competitions", "POST", f"/v1/stages/{sid}/schedule")
    await flow.call("competitions", "POST", f"/v1/stages/{sid}/schedule/releases", 201)

    # Judging: scheme, three judges from Dongying, assignment, marks, lock.
    await flow.call(
        "judging",
        "POST",
        f"/v1/stages/{sid}/marking-schemes",
        201,
        json=two_aspect_scheme("measurement"),
    )
    judges = []
    for i in range(3):
        headers = await login(services, f"judge{i}.catalogue", "judge")
        await create_judge(
            services,
            flow.headers,
            name=f"评委{i}",
            locality_code="370500",
            account_sub=await sub_of(services, headers),
        )
        judges.append(headers)
    await flow.call("judging", "POST", f"/v1/stages/{sid}/assignments:solve", json={"k": 3})
    mapping = await flow.call("competitions", "GET", f"/v1/stages/{sid}/stage-entries")
    code = {r["entry_id"]: r["blind_code"] for r in mapping["items"]}
    for headers in judges:
        await _score(flow, headers, sid, code[entries[0]], (28, 65))
        await _score(flow, headers, sid, code[entries[1]], (25, 60))
    await flow.call("judging", "POST", f"/v1/stages/{sid}/scores:lock", json={})

    # Results, an appeal (rejected), final results (the winner advances), awards.
    await flow.call(
        "judging", "PUT", f"/v1/stages/{sid}/result-rules", json={"appeal_window_minutes": 120}
    )
    url = f"/v1/stages/{sid}/results"
    await flow.call("judging", "POST", url + ":compute", 201)
    await flow.call("judging", "POST", url + ":publish-provisional")
    await create_account(services, "catalogue.w2", "worker", worker_id=uuid.UUID(workers[1]))
    competitor = bearer(await get_token(services, "catalogue.w2"))
    appeal = await flow.call(
        "judging",
        "POST",
        f"/v1/stages/{sid}/appeals",
        201,
        json={"aspect_codes": ["B1.1"], "reason": "实操尺寸复测应为满分附近"},
        headers=competitor,
    )
    await flow.call(
        "judging",
        "POST",
        f"/v1/appeals/{appeal['id']}:decide",
        json={"outcome": "rejected", "reason": "复测与原记录一致"},
    )
    await close_appeal_window(services, uuid.UUID(sid))
    await flow.call("judging", "POST", url + ":finalise")
    await flow.call(
        "judging",
        "POST",
        f"/v1/stages/{sid}/award-rules",
        201,
        json={"kind": "grade_promotion", "top_n": 1},
    )
    # An honour that waits for the organiser: confirmed for one, declined for the other.
    await flow.call(
        "judging",
        "POST",
        f"/v1/stages/{sid}/award-rules",
        201,
        json={
            "kind": "honour",
            "honour_code": "provincial_technical_expert",
            "top_n": 2,
            "requires_confirmation": True,
        },
    )
    await flow.call("judging", "POST", f"/v1/stages/{sid}/awards:send")
    waiting = await flow.call(
        "judging", "GET", f"/v1/stages/{sid}/awards", params={"state": "awaiting_confirmation"}
    )
    first, second = waiting["items"]
    reason = {"reason": "经审核确认"}
    await flow.call("judging", "POST", f"/v1/awards/{first['id']}:confirm", json=reason)
    await flow.call("judging", "POST", f"/v1/awards/{second['id']}:decline", json=reason)
    await _nominations(flow, event["id"], sid, entries[:2])


async def _provincial_event(flow: Flow, name: str, qualifier_event: str, stage: str) -> str:
    """A provincial competition fed by the Jinan event (quota 2); its pathway link's id."""
    competition = await flow.call(
        "competitions",
        "POST",
        "/v1/competitions",
        201,
        json={
            "name": name,
            "kind": "skill_competition",
            "level": "provincial",
            "year": 2026,
            "organiser_locality_code": "370000",
            "starts_on": (date.today() + timedelta(days=40)).isoformat(),
        },
    )
    event = await flow.call(
        "competitions",
        "POST",
        f"/v1/competitions/{competition['id']}/events",
        201,
        json={"name": "数控车工", "occupation": "数控车工", "mode": "individual", "capacity": 10},
    )
    await flow.call(
        "competitions", "PUT", f"/v1/events/{event['id']}/pathway", json={"direct_places": 0}
    )
    link = await flow.call(
        "competitions",
        "POST",
        f"/v1/events/{event['id']}/pathway/qualifiers",
        201,
        json={"qualifier_event_id": qualifier_event, "qualifier_stage_id": stage, "quota": 2},
    )
    return str(link["id"])


async def _nominations(flow: Flow, event_id: str, stage_id: str, entries: list[str]) -> None:
    """The Jinan results feed two provincial competitions: every `nomination.*` event."""
    final = await _provincial_event(flow, "2026年山东省数控车工职业技能竞赛", event_id, stage_id)
    made = await flow.call(
        "competitions",
        "POST",
        f"/v1/pathway-qualifiers/{final}/nominations",
        201,
        json={"entry_ids": entries},
    )
    first, second = (n["id"] for n in made["items"])
    await flow.call("competitions", "POST", f"/v1/pathway-qualifiers/{final}/nominations:submit")
    await flow.call("competitions", "POST", f"/v1/nominations/{first}/accept")
    await flow.call(
        "competitions", "POST", f"/v1/nominations/{second}/return", json={"reason": "材料不全"}
    )
    other = await _provincial_event(flow, "2026年山东省“十强”产业技能大赛", event_id, stage_id)
    url = f"/v1/pathway-qualifiers/{other}/nominations"
    made = await flow.call("competitions", "POST", url, 201, json={"entry_ids": entries[:1]})
    await flow.call(
        "competitions",
        "POST",
        f"/v1/nominations/{made['items'][0]['id']}/withdraw",
        json={"reason": "报错项目"},
    )
    made = await flow.call("competitions", "POST", url, 201, json={"entry_ids": entries[:1]})
    await flow.call(
        "competitions",
        "POST",
        f"/v1/nominations/{made['items'][0]['id']}/substitute",
        201,
        json={"kind": "declined", "reason": "本人放弃"},
    )


async def _emitted(services: Services) -> dict[str, list[dict[str, Any]]]:
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    async with services.apps["registry"].state.sessionmaker() as session:
        for event_type, payload in await session.execute(
            select(OutboxEvent.type, OutboxEvent.payload)
        ):
            by_type[event_type].append(payload["data"])
    return by_type


async def test_every_event_type_reaches_competition_and_locality_subscriptions(
    services: Services,
    admin_headers: dict[str, str],
    dispatcher: Dispatcher,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: Receiver,
) -> None:
    catalogue = await _catalogue(services)
    # The catalogue the flow below must cover (a new event type makes this test fail until
    # the flow emits it).
    assert len(catalogue) == 34, sorted(catalogue)
    receiver.start()
    flow = Flow(services, admin_headers)
    # The competition does not exist yet: subscribe by locality first, then by competition
    # once it does (both before any of its events).
    by_locality = await subscribe(services, admin_headers, receiver, ["*"], locality_code=JINAN)
    workers = await _registry_events(flow)
    # Nothing is sent when a competition is created (as a draft): subscribe to it, then run it.
    competition_id = await _competition(flow)
    by_competition = await subscribe(
        services, admin_headers, receiver, ["*"], competition_id=competition_id
    )
    await _competition_events(flow, competition_id, workers)

    emitted = await _emitted(services)
    assert catalogue <= set(emitted), f"not emitted by the flow: {catalogue - set(emitted)}"

    async def settled() -> bool:
        # Nothing left to fan out or send, and no delivery waiting (the receiver answers 200).
        if await dispatcher.step():
            return False
        async with sessionmaker() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(WebhookDelivery.status == DeliveryStatus.pending)
            )
        return waiting == 0

    await run_until(dispatcher, settled, 60)
    assert receiver.rejected == 0

    received: dict[str, set[str]] = {by_locality["id"]: set(), by_competition["id"]: set()}
    for message in receiver.accepted():
        for sub in (by_locality, by_competition):
            try:
                Webhook(sub["secret"]).verify(message.body, message.headers)
            except Exception:  # noqa: S112 - signed for the other subscription
                continue
            received[sub["id"]].add(message.type)
            if sub is by_competition:
                assert competition_id in competition_ids(message.data)
    missing_locality = catalogue - received[by_locality["id"]]
    assert not missing_locality, f"never reached the Jinan subscription: {missing_locality}"
    missing_competition = catalogue - PERSON_EVENTS - received[by_competition["id"]]
    assert not missing_competition, f"never reached the competition's: {missing_competition}"
    # A person's events carry their locality (a mentorship both people's, a transfer the old
    # one too); a promotion for the competition's result its id.
    for event_type in PERSON_EVENTS:
        assert all(locality_codes(d) for d in emitted[event_type]), event_type
    moved = emitted["worker.transferred"]
    assert [(d["from_locality_code"], d["locality_code"]) for d in moved] == [("370102", "370200")]
    promotions = [d for d in emitted["worker.grade_changed"] if d.get("competition_id")]
    assert [d["source"] for d in promotions] == ["competition"]
    # The competition's honour (confirmed for one competitor) names it, and reaches the
    # competition's subscription; the grant made in the registry without one names none.
    honours = sorted(str(d.get("competition_id")) for d in emitted["honour.granted"])
    assert honours == sorted(["None", competition_id])
    assert "honour.granted" in received[by_competition["id"]]
    # Every event about the competition names its identifiers (a nomination into a provincial
    # competition names the Jinan one as its qualifier's, and Jinan as that organiser's).
    for event_type in catalogue - PERSON_EVENTS - {"worker.grade_changed"}:
        for data in emitted[event_type]:
            if event_type == "entry.approved" and data["organiser_locality_code"] == "370000":
                continue  # the accepted nominee's entry in the provincial final
            assert competition_id in competition_ids(data), event_type
            assert JINAN in locality_codes(data), event_type
