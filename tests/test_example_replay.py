"""Every documented request example, sent through the real APIs in an order that makes it
meaningful, answers its documented 2xx status.

The examples are read from the three OpenAPI documents (what Swagger UI's "Try it out" sends),
never copied here. One story runs through all three services, the way a newcomer would try them:
the enterprise before its workers, the competition before its events, entries before the stage
is seeded, marks before results, results before appeals and awards. The placeholder ids of
`shared/examples.py` in an example are replaced by the ids of the objects created before it,
its placeholder blind codes by the real ones; path parameters name those objects. A write whose
operation declares If-Match sends the ETag of the resource it changes, as a client would.

At the end every documented example must have been replayed or be in `SKIPPED` with a reason:
a newly documented example fails this test until the story replays it.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from services.registry.accounts.service import SERVICE_CLIENT_ID
from shared import examples as ex
from tests.conftest import SERVICE_SECRET, Services, bearer, create_account, get_token
from tests.factories import identity_number

#: (service, method, path) -> why its examples are not replayed. Keep it small.
SKIPPED: dict[tuple[str, str, str], str] = {
    # A file upload: Swagger UI offers a file picker, and no template documents the file (the
    # registry's imports replay their downloadable templates instead).
    ("competitions", "POST", "/v1/events/{event_id}/entries:import"): "file upload",
}

Key = tuple[str, str, str]


def _substitute(value: Any, mapping: dict[str, str]) -> Any:
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, list):
        return [_substitute(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, mapping) for k, v in value.items()}
    return value


@dataclass
class Replay:
    services: Services
    admin: dict[str, str]
    #: placeholder (id, blind code) -> the real value
    real: dict[str, str] = field(default_factory=dict)
    replayed: set[tuple[str, str, str, int]] = field(default_factory=set)
    #: other objects the story refers back to
    kept: dict[str, Any] = field(default_factory=dict)

    @property
    def documents(self) -> dict[str, dict[str, Any]]:
        """The three documents as served now: read at each step, as Swagger UI would after a
        reload, so a story that runs past midnight (Shanghai) sends that day's dates."""
        return {name: app.openapi() for name, app in self.services.apps.items()}

    def operation(self, key: Key) -> dict[str, Any]:
        service, method, path = key
        operation: dict[str, Any] = self.documents[service]["paths"][path][method.lower()]
        return operation

    def documented(self) -> dict[Key, int]:
        """Every operation with a request body, and how many examples it has (an upload has
        none, but counts once: it must be replayed or skipped too)."""
        found: dict[Key, int] = {}
        for service, doc in self.documents.items():
            components = doc["components"]["schemas"]
            for path, operations in doc["paths"].items():
                for method, operation in operations.items():
                    for media in operation.get("requestBody", {}).get("content", {}).values():
                        count = len(ex.request_examples(media, components))
                        found[(service, method.upper(), path)] = max(count, 1)
        return found

    def example(self, key: Key, index: int) -> tuple[str, Any]:
        content = self.operation(key)["requestBody"]["content"]
        [(content_type, media)] = content.items()
        components = self.documents[key[0]]["components"]["schemas"]
        return content_type, _substitute(ex.request_examples(media, components)[index], self.real)

    def learn(self, placeholder: str, value: Any) -> str:
        self.real[placeholder] = str(value)
        return str(value)

    async def _etag(self, key: Key, url: str, headers: dict[str, str]) -> str | None:
        """The ETag of the resource a write changes: the same path, or the resource an action
        (`/x/{id}/activate`, `/x/{id}:decide`) belongs to, as the document lists them."""
        service, _, path = key
        paths = self.documents[service]["paths"]
        candidate, concrete = path, url
        while candidate.count("/") > 1:
            if "get" in paths.get(candidate, {}):
                response = await self.services.client(service).get(concrete, headers=headers)
                return response.headers.get("etag") if response.status_code == 200 else None
            cut = max(candidate.rfind("/"), candidate.rfind(":"))
            concrete_cut = max(concrete.rfind("/"), concrete.rfind(":"))
            candidate, concrete = candidate[:cut], concrete[:concrete_cut]
        return None

    async def send(
        self,
        service: str,
        method: str,
        path: str,
        index: int = 0,
        *,
        headers: dict[str, str] | None = None,
        learn: str | None = None,
        **params: Any,
    ) -> httpx.Response:
        """Replay example `index` of an operation; `learn` names the placeholder that the
        created object's id stands for."""
        key = (service, method, path)
        content_type, body = self.example(key, index)
        url = path.format(**{k: str(v) for k, v in params.items()})
        sent = dict(headers or self.admin)
        declared = {p["name"].lower() for p in self.operation(key).get("parameters", [])}
        if "if-match" in declared:
            tag = await self._etag(key, url, sent)
            if tag:
                sent["If-Match"] = tag
        client = self.services.client(service)
        if content_type == "application/x-www-form-urlencoded":
            response = await client.request(method, url, data=body, headers=sent)
        else:
            response = await client.request(method, url, json=body, headers=sent)
        documented = [s for s in self.operation(key)["responses"] if s.startswith("2")]
        assert str(response.status_code) in documented, (
            f"{method} {path} example {index + 1}: {response.status_code} {response.text}"
        )
        self.replayed.add((*key, index))
        if learn:
            self.learn(learn, response.json()["id"])
        return response

    async def call(
        self, service: str, method: str, url: str, expect: int = 200, **kwargs: Any
    ) -> Any:
        """A set-up call that is not a documented example (or a second object of a kind)."""
        kwargs.setdefault("headers", self.admin)
        response = await self.services.client(service).request(method, url, **kwargs)
        assert response.status_code == expect, f"{method} {url}: {response.text}"
        return response.json() if response.content else None


async def _sub(services: Services, headers: dict[str, str]) -> str:
    me = await services.registry.get("/v1/me", headers=headers)
    assert me.status_code == 200, me.text
    sub: str = me.json()["sub"]
    return sub


def _resolve_example_domains(monkeypatch: pytest.MonkeyPatch) -> None:
    """Documented URLs use the reserved `.example` domain (RFC 2606), which resolves nowhere,
    and the webhook SSRF guard resolves every subscription's host: here such names resolve to
    a public address (of a Shandong provider), as the receiver's real name would."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".example"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("221.214.0.10", port))]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)


async def test_every_documented_request_example_runs(
    services: Services, admin_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _resolve_example_domains(monkeypatch)
    r = Replay(services, admin_headers)
    await _registry_story(r)
    await _competitions_story(r)
    await _registry_after_competitions(r)
    await _judging_story(r)
    await _levels_story(r)

    documented = {(*key, i) for key, count in r.documented().items() for i in range(count)}
    skipped = {item for item in documented if item[:3] in SKIPPED}
    missing = sorted(documented - r.replayed - skipped)
    assert not missing, (
        "documented request examples this story does not replay (add them to the story, or "
        f"to SKIPPED with a reason): {missing}"
    )
    assert not [k for k in SKIPPED if k not in r.documented()], "stale SKIPPED entries"


async def _registry_story(r: Replay) -> None:
    """Localities, enterprises, workers and their files; accounts; mentoring, training,
    honours; machine clients and webhook subscriptions."""
    await r.send("registry", "POST", "/v1/localities")
    await r.send("registry", "POST", "/v1/enterprises", learn=ex.ENTERPRISE_ID)
    weichai = await r.call(
        "registry",
        "POST",
        "/v1/enterprises",
        expect=201,
        json={
            "credit_code": ex.SECOND_ENTERPRISE_CREDIT_CODE,
            "name": ex.SECOND_ENTERPRISE_NAME,
            "locality_code": "370700",
            "industry": "high_end_equipment",
            "size": "large",
        },
    )
    r.learn(ex.SECOND_ENTERPRISE_ID, weichai["id"])
    haier = await r.call(
        "registry",
        "POST",
        "/v1/enterprises",
        expect=201,
        json={
            "credit_code": ex.THIRD_ENTERPRISE_CREDIT_CODE,
            "name": ex.THIRD_ENTERPRISE_NAME,
            "locality_code": ex.SECOND_CITY_CODE,
            "industry": "new_generation_it",
            "size": "large",
        },
    )
    r.kept["haier"] = haier["id"]
    enterprise = r.real[ex.ENTERPRISE_ID]
    await r.send("registry", "PATCH", "/v1/enterprises/{enterprise_id}", enterprise_id=enterprise)

    await r.send("registry", "POST", "/v1/workers", learn=ex.WORKER_ID)
    for placeholder, name, number, grade in (
        (ex.SECOND_WORKER_ID, ex.SECOND_WORKER_NAME, ex.SECOND_WORKER_ID_NUMBER, "intermediate"),
        (ex.THIRD_WORKER_ID, ex.THIRD_WORKER_NAME, ex.THIRD_WORKER_ID_NUMBER, "senior"),
    ):
        created = await r.call(
            "registry",
            "POST",
            "/v1/workers",
            expect=201,
            json={
                "name": name,
                "id_number": number,
                "occupation": ex.OCCUPATION,
                "grade": grade,
                "enterprise_id": enterprise,
            },
        )
        r.learn(placeholder, created["id"])
    worker = r.real[ex.WORKER_ID]
    third = r.real[ex.THIRD_WORKER_ID]
    await r.send("registry", "POST", "/v1/workers:batch-get")
    await r.send("registry", "POST", "/v1/workers:roster")
    looked_up = await r.send("registry", "POST", "/v1/workers:lookup")
    assert looked_up.json()[0]["worker_id"] == worker
    await r.send("registry", "PATCH", "/v1/workers/{worker_id}", worker_id=worker)
    # 张伟 is certified a technician, moves to Weichai, then retires (not a competitor).
    await r.send("registry", "POST", "/v1/workers/{worker_id}/grade-changes", worker_id=third)
    await r.send("registry", "POST", "/v1/workers/{worker_id}/transfers", worker_id=third)
    await r.send("registry", "POST", "/v1/workers/{worker_id}/file-status", worker_id=third)

    # The registry's import templates are examples too: their sample rows import.
    for kind in ("enterprises", "workers"):
        template = await r.services.registry.get(
            f"/v1/imports/templates/{kind}.csv", headers=r.admin
        )
        assert template.status_code == 200, template.text
        job = await r.call(
            "registry",
            "POST",
            f"/v1/imports/{kind}",
            expect=202,
            files={"file": (f"{kind}.csv", template.content, "text/csv")},
        )
        r.replayed.add(("registry", "POST", f"/v1/imports/{kind}", 0))
        for _ in range(200):  # the registry's job runner takes it up within a second
            job = await r.call("registry", "GET", f"/v1/imports/{job['id']}")
            if job["status"] in ("completed", "failed"):
                break
            await asyncio.sleep(0.05)
        # The sample row is the documented enterprise or worker: already there, never an error.
        assert (job["status"], job["error_rows"], job["duplicate_rows"]) == ("completed", 0, 1)

    # Accounts: the documented organiser signs in with the documented form.
    await r.send("registry", "POST", "/v1/accounts")
    token = await r.send("registry", "POST", "/v1/auth/token")
    assert token.json()["access_token"]
    leaving = await r.call(
        "registry",
        "POST",
        "/v1/accounts",
        expect=201,
        json={
            "username": "zibo.organiser",
            "display_name": "淄博市总工会 赛事组",
            "password": "Zibo-Organiser-2026!",
            "role": "organiser",
            "locality_code": "370300",
        },
    )
    await r.send("registry", "PATCH", "/v1/accounts/{account_id}", account_id=leaving["id"])
    await r.send("registry", "POST", "/v1/machine-clients")

    # Mentoring: a pair that completes, and a pair that ends early.
    first = await r.send("registry", "POST", "/v1/mentorships")
    pair = first.json()["id"]
    await r.send("registry", "POST", "/v1/mentorships/{mentorship_id}/activate", mentorship_id=pair)
    await r.send("registry", "POST", "/v1/mentorships/{mentorship_id}/complete", mentorship_id=pair)
    second = await r.call(
        "registry",
        "POST",
        "/v1/mentorships",
        expect=201,
        json={**r.example(("registry", "POST", "/v1/mentorships"), 0)[1]},
    )
    await r.call(
        "registry",
        "POST",
        f"/v1/mentorships/{second['id']}/activate",
        headers={**r.admin, "If-Match": f'"{second["version"]}"'},
    )
    await r.send(
        "registry", "POST", "/v1/mentorships/{mentorship_id}/terminate", mentorship_id=second["id"]
    )

    # Order-based training for 济南二机床: sessions, enrolments, attendance.
    await r.send("registry", "POST", "/v1/training-programmes", learn=ex.PROGRAMME_ID)
    programme = r.real[ex.PROGRAMME_ID]
    session = await r.send(
        "registry",
        "POST",
        "/v1/training-programmes/{programme_id}/sessions",
        programme_id=programme,
    )
    await r.call("registry", "POST", f"/v1/training-programmes/{programme}/open")
    await r.send(
        "registry",
        "POST",
        "/v1/training-programmes/{programme_id}/enrolments",
        programme_id=programme,
    )
    await r.call(
        "registry",
        "POST",
        f"/v1/training-programmes/{programme}/enrolments",
        expect=201,
        json={"worker_id": r.real[ex.SECOND_WORKER_ID]},
    )
    await r.call("registry", "POST", f"/v1/training-programmes/{programme}/start")
    await r.send(
        "registry",
        "PUT",
        "/v1/training-programmes/{programme_id}/sessions/{session_id}/attendance",
        programme_id=programme,
        session_id=session.json()["id"],
    )

    # Honours: a city's own honour, granted and revoked.
    created = await r.send("registry", "POST", "/v1/honours")
    code = created.json()["code"]
    grant = await r.send("registry", "POST", "/v1/honours/{code}/grants", code=code)
    await r.send(
        "registry", "POST", "/v1/honour-grants/{grant_id}/revoke", grant_id=grant.json()["id"]
    )

    await r.send("registry", "POST", "/v1/achievements", learn=ex.ACHIEVEMENT_ID)
    await r.send(
        "registry",
        "PATCH",
        "/v1/achievements/{achievement_id}",
        achievement_id=r.real[ex.ACHIEVEMENT_ID],
    )

    subscription = await r.send("registry", "POST", "/v1/webhook-subscriptions")
    sid = subscription.json()["id"]
    for i in (0, 1):
        await r.send(
            "registry",
            "PATCH",
            "/v1/webhook-subscriptions/{subscription_id}",
            i,
            subscription_id=sid,
        )
    await r.send(
        "registry",
        "POST",
        "/v1/webhook-subscriptions/{subscription_id}/rotate-secret",
        subscription_id=sid,
    )
    await r.send(
        "registry",
        "POST",
        "/v1/webhook-subscriptions/{subscription_id}/deliveries/redeliver",
        subscription_id=sid,
    )


async def _worker(
    r: Replay, name: str, enterprise: str, born: date, username: str | None = None
) -> str:
    """Another 数控车工 of an enterprise (and, with `username`, an account of their own)."""
    created = await r.call(
        "registry",
        "POST",
        "/v1/workers",
        expect=201,
        json={
            "name": name,
            "id_number": identity_number(born, region="370202"),
            "occupation": ex.OCCUPATION,
            "grade": "senior",
            "enterprise_id": enterprise,
        },
    )
    if username:
        await create_account(r.services, username, "worker", worker_id=uuid.UUID(created["id"]))
    worker_id: str = created["id"]
    return worker_id


async def _competitions_story(r: Replay) -> None:
    """A city competition: events, entries and their decisions, stages, venues, sessions."""
    await r.send("competitions", "POST", "/v1/competitions", learn=ex.COMPETITION_ID)
    competition = r.real[ex.COMPETITION_ID]
    await r.send(
        "competitions",
        "POST",
        "/v1/competitions/{competition_id}/events",
        competition_id=competition,
        learn=ex.EVENT_ID,
    )
    event = r.real[ex.EVENT_ID]
    await r.send("competitions", "PATCH", "/v1/events/{event_id}", event_id=event)
    team_event = await r.call(
        "competitions",
        "POST",
        f"/v1/competitions/{competition}/events",
        expect=201,
        json={
            "name": "数控车工（团体赛）",
            "occupation": ex.OCCUPATION,
            "mode": "team",
            "team_min": 2,
            "team_max": 3,
            "capacity": 30,
        },
    )
    r.learn(ex.TEAM_EVENT_ID, team_event["id"])
    await r.send(
        "competitions",
        "POST",
        "/v1/competitions/{competition_id}/status",
        competition_id=competition,
    )

    # 王建国 is entered by the organiser; 李秀英 and a Haier worker register themselves.
    await r.send(
        "competitions", "POST", "/v1/events/{event_id}/entries", event_id=event, learn=ex.ENTRY_ID
    )
    await r.send(
        "competitions",
        "POST",
        "/v1/events/{event_id}/entries",
        1,
        event_id=r.real[ex.TEAM_EVENT_ID],
    )
    second_account = "li.xiuying"
    await create_account(
        r.services, second_account, "worker", worker_id=uuid.UUID(r.real[ex.SECOND_WORKER_ID])
    )
    second = bearer(await get_token(r.services, second_account))
    pending = await r.call(
        "competitions",
        "POST",
        f"/v1/events/{event}/entries",
        expect=201,
        json={"worker_id": r.real[ex.SECOND_WORKER_ID]},
        headers=second,
    )
    r.learn(ex.SECOND_ENTRY_ID, pending["id"])
    haier = r.kept["haier"]
    await _worker(r, "孙丽", haier, date(1994, 4, 2), username="sun.li")
    refused = await r.call(
        "competitions",
        "POST",
        f"/v1/events/{event}/entries",
        expect=201,
        json={"worker_id": (await _sub_worker(r, "sun.li"))},
        headers=bearer(await get_token(r.services, "sun.li")),
    )
    leaving = await r.call(
        "competitions",
        "POST",
        f"/v1/events/{event}/entries",
        expect=201,
        json={"worker_id": await _worker(r, "周杰", haier, date(1990, 8, 16))},
    )
    cheating = await r.call(
        "competitions",
        "POST",
        f"/v1/events/{event}/entries",
        expect=201,
        json={"worker_id": await _worker(r, "吴敏", haier, date(1987, 1, 23))},
    )
    # A second division, judged on paper: its organiser applies the ranking by hand (below).
    division = await r.call(
        "competitions",
        "POST",
        f"/v1/competitions/{competition}/events",
        expect=201,
        json={
            "name": "数控车工（第二赛区）",
            "occupation": ex.OCCUPATION,
            "mode": "individual",
            "capacity": 30,
        },
    )
    r.kept["division"] = division["id"]
    r.kept["division entries"] = []
    for worker_id in (r.real[ex.WORKER_ID], r.real[ex.SECOND_WORKER_ID]):
        entry = await r.call(
            "competitions",
            "POST",
            f"/v1/events/{division['id']}/entries",
            expect=201,
            json={"worker_id": worker_id},
        )
        r.kept["division entries"].append(entry["id"])
    entries = "/v1/entries/{entry_id}"
    await r.send("competitions", "POST", entries + "/approve", entry_id=pending["id"])
    await r.send("competitions", "POST", entries + "/reject", entry_id=refused["id"])
    await r.send("competitions", "POST", entries + "/withdraw", entry_id=leaving["id"])
    await r.send("competitions", "POST", entries + "/disqualify", entry_id=cheating["id"])
    await r.send("competitions", "POST", "/v1/entries:batch-get")
    # Registration closes; competitors check in on the day.
    current = await r.services.competitions.get(f"/v1/competitions/{competition}", headers=r.admin)
    await r.call(
        "competitions",
        "POST",
        f"/v1/competitions/{competition}/status",
        json={"status": "registration_closed"},
        headers={**r.admin, "If-Match": current.headers.get("etag", "*")},
    )
    await r.send("competitions", "POST", entries + "/check-in", entry_id=r.real[ex.ENTRY_ID])
    # The rest check in at once: 王建国 is already in (unchanged), 李秀英 now.
    bulk = "/v1/events/{event_id}/entries:"
    checked = await r.send("competitions", "POST", bulk + "check-in", event_id=event)
    assert [i["outcome"] for i in checked.json()["items"]] == ["unchanged", "ok"]
    # Approving them again changes nothing and sends nothing twice.
    again = await r.send("competitions", "POST", bulk + "approve", event_id=event)
    assert {i["outcome"] for i in again.json()["items"]} == {"wrong_state"}

    await r.send(
        "competitions",
        "POST",
        "/v1/events/{event_id}/stages",
        event_id=event,
        learn=ex.STAGE_ID,
    )
    stage = r.real[ex.STAGE_ID]
    final = await r.call(
        "competitions",
        "POST",
        f"/v1/events/{event}/stages",
        expect=201,
        json={
            "name": "市级决赛",
            "seq": 2,
            "components": [{"component": "practical", "weight": 100}],
        },
    )
    r.learn(ex.NEXT_STAGE_ID, final["id"])
    await r.send("competitions", "PATCH", "/v1/stages/{stage_id}", stage_id=stage)
    await r.call("competitions", "POST", f"/v1/stages/{stage}/entries:seed")
    await r.call("competitions", "POST", f"/v1/stages/{stage}/blind-codes")
    rows = (await r.call("competitions", "GET", f"/v1/stages/{stage}/stage-entries"))["items"]
    by_entry = {row["entry_id"]: row for row in rows}
    first, other = by_entry[r.real[ex.ENTRY_ID]], by_entry[r.real[ex.SECOND_ENTRY_ID]]
    r.learn(ex.STAGE_ENTRY_ID, first["id"])
    r.kept["first entry"] = r.real[ex.ENTRY_ID]
    r.learn(ex.BLIND_CODE, first["blind_code"])
    r.learn(ex.SECOND_BLIND_CODE, other["blind_code"])

    await r.send(
        "competitions",
        "POST",
        "/v1/competitions/{competition_id}/venues",
        competition_id=competition,
        learn=ex.VENUE_ID,
    )
    await r.send(
        "competitions", "POST", "/v1/venues/{venue_id}/workstations", venue_id=r.real[ex.VENUE_ID]
    )
    await r.send(
        "competitions",
        "POST",
        "/v1/stages/{stage_id}/sessions",
        stage_id=stage,
        learn=ex.SESSION_ID,
    )
    await r.call("competitions", "POST", f"/v1/stages/{stage}/schedule")
    # A lathe breaks down: 王建国 moves to the spare workstation, in the same session.
    spare = await r.call(
        "competitions",
        "POST",
        f"/v1/venues/{r.real[ex.VENUE_ID]}/workstations",
        expect=201,
        json={"workstations": [{"code": "A-03", "occupation": ex.OCCUPATION}]},
    )
    r.learn(ex.WORKSTATION_ID, _items(spare)[0]["id"])
    # The move is checked against the stage's schedule: its ETag comes from the schedule.
    schedule = await r.services.competitions.get(f"/v1/stages/{stage}/schedule", headers=r.admin)
    await r.send(
        "competitions",
        "PUT",
        "/v1/stage-entries/{stage_entry_id}/slot",
        headers={**r.admin, "If-Match": schedule.headers["etag"]},
        stage_entry_id=r.real[ex.STAGE_ENTRY_ID],
    )
    await r.send(
        "competitions", "PATCH", "/v1/competitions/{competition_id}", competition_id=competition
    )


def _items(body: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
    return items


async def _sub_worker(r: Replay, username: str) -> str:
    me = await r.services.registry.get(
        "/v1/me", headers=bearer(await get_token(r.services, username))
    )
    worker_id: str = me.json()["worker_id"]
    return worker_id


async def _judging_story(r: Replay) -> None:
    """Judges, the marking scheme, assignment, marks, sign-off and lock, results, an appeal
    upheld and re-scored, final results, awards and certificates; pairwise comparisons."""
    stage = r.real[ex.STAGE_ID]
    # The documented judge signs in as judge.liu; two more judges complete the panel.
    await create_account(r.services, ex.JUDGE_USERNAME, "judge", password=ex.JUDGE_PASSWORD)
    judge_headers = {
        ex.JUDGE_USERNAME: bearer(
            await get_token(r.services, ex.JUDGE_USERNAME, password=ex.JUDGE_PASSWORD)
        )
    }
    r.learn(ex.ACCOUNT_ID, await _sub(r.services, judge_headers[ex.JUDGE_USERNAME]))
    await r.send("judging", "POST", "/v1/judges", 0, learn=ex.JUDGE_ID)
    judge_ids = {ex.JUDGE_USERNAME: r.real[ex.JUDGE_ID]}
    for placeholder, username, name in (
        (ex.SECOND_JUDGE_ID, "judge.zhao", "赵立新"),
        (ex.THIRD_JUDGE_ID, "judge.sun", "孙海燕"),
        ("reserve", "judge.qian", "钱志强"),  # a fourth: a dry run of k=3 despite a conflict
    ):
        await create_account(r.services, username, "judge")
        judge_headers[username] = bearer(await get_token(r.services, username))
        body = {**r.example(("judging", "POST", "/v1/judges"), 0)[1]}
        body.update(name=name, account_sub=await _sub(r.services, judge_headers[username]))
        judge = await r.call("judging", "POST", "/v1/judges", expect=201, json=body)
        judge_ids[username] = r.learn(placeholder, judge["id"])
    # 王建国 is also a city judge (never of his own entry), on call later in the year.
    worker_judge = await r.send("judging", "POST", "/v1/judges", 1)
    await r.send("judging", "PATCH", "/v1/judges/{judge_id}", judge_id=worker_judge.json()["id"])
    # 刘海峰 declares that 王建国 is his cousin: he will not mark 王建国's entry.
    await r.send(
        "judging", "POST", "/v1/judges/{judge_id}/declared-conflicts", judge_id=r.real[ex.JUDGE_ID]
    )
    # Judges know entries by blind code only: the same relation, declared by code.
    await r.send(
        "judging",
        "POST",
        "/v1/judges/{judge_id}/declared-conflicts",
        1,
        judge_id=r.real[ex.JUDGE_ID],
    )

    scheme = await r.send(
        "judging", "POST", "/v1/stages/{stage_id}/marking-schemes", stage_id=stage
    )
    aspects = {
        aspect["code"]: aspect
        for criterion in scheme.json()["criteria"]
        for sub in criterion["sub_criteria"]
        for aspect in sub["aspects"]
    }
    await r.send("judging", "POST", "/v1/stages/{stage_id}/assignments:solve", 0, stage_id=stage)
    await r.send("judging", "POST", "/v1/stages/{stage_id}/assignments:solve", 1, stage_id=stage)
    assigned = _items(await r.call("judging", "GET", f"/v1/stages/{stage}/assignments"))
    by_judge = {v: k for k, v in judge_ids.items()}
    panels: dict[str, list[str]] = {}
    for row in assigned:
        panels.setdefault(row["blind_code"], []).append(by_judge[row["judge_id"]])
    codes = [r.real[ex.BLIND_CODE], r.real[ex.SECOND_BLIND_CODE]]
    key = ("judging", "PUT", "/v1/stages/{stage_id}/scores/{blind_code}")
    documented_marks = {m["aspect_code"] for m in r.example(key, 0)[1]["marks"]}
    # Every assigned judge marks every aspect: the documented sheet first. 王建国's diameter
    # is then recorded as out of tolerance (0), which his appeal will put right.
    marks: dict[str, dict[str, float]] = {
        codes[0]: {"A1.1": 26.5, "B1.1": 0, "B2.1": 3},
        codes[1]: {"A1.1": 24, "B1.1": 60, "B2.1": 2},
    }
    for code in codes:
        for username in panels[code]:
            headers = judge_headers[username]
            if code == codes[0] and username == panels[code][0]:
                await r.send(*key, 0, headers=headers, stage_id=stage, blind_code=code)
            rest = [{"aspect_code": a, "value": v} for a, v in marks[code].items()]
            sheet = await r.services.judging.get(
                f"/v1/stages/{stage}/scores/{code}", headers=headers
            )
            await r.call(
                "judging",
                "PUT",
                f"/v1/stages/{stage}/scores/{code}",
                json={"marks": rest},
                headers={**headers, "If-Match": sheet.headers.get("etag", '"0"')},
            )
            sheet = await r.services.judging.get(
                f"/v1/stages/{stage}/scores/{code}", headers=headers
            )
            await r.call(
                "judging",
                "POST",
                f"/v1/stages/{stage}/scores/{code}:submit",
                headers={**headers, "If-Match": sheet.headers.get("etag", '"0"')},
            )
    assert documented_marks <= set(aspects), "the score example names aspects of the scheme"
    # A judge assigned to both entries compares them (pairwise judging).
    both = next(u for u in panels[codes[0]] if u in panels[codes[1]])
    await r.send(
        "judging",
        "POST",
        "/v1/stages/{stage_id}/pairwise/votes",
        headers=judge_headers[both],
        stage_id=stage,
    )
    await r.send(
        "judging",
        "POST",
        "/v1/stages/{stage_id}/signoffs",
        headers=judge_headers[ex.JUDGE_USERNAME],
        stage_id=stage,
    )
    await r.send("judging", "POST", "/v1/stages/{stage_id}/scores:lock", stage_id=stage)
    await r.send("judging", "PUT", "/v1/stages/{stage_id}/completion-times", stage_id=stage)
    await r.send("judging", "PUT", "/v1/stages/{stage_id}/result-rules", stage_id=stage)
    results = f"/v1/stages/{stage}/results"
    await r.call("judging", "POST", results + ":compute", expect=201)
    await r.call("judging", "POST", results + ":publish-provisional")

    # 王建国 appeals the measured diameter; the panel upholds it; his judges re-mark it.
    r.learn(ex.ASPECT_ID, aspects["B1.1"]["id"])
    await create_account(
        r.services, "wang.jianguo", "worker", worker_id=uuid.UUID(r.real[ex.WORKER_ID])
    )
    competitor = bearer(await get_token(r.services, "wang.jianguo"))
    appeal = await r.send(
        "judging", "POST", "/v1/stages/{stage_id}/appeals", headers=competitor, stage_id=stage
    )
    await r.send("judging", "POST", "/v1/appeals/{appeal_id}:decide", appeal_id=appeal.json()["id"])
    for username in panels[codes[0]]:
        await r.send(
            *key,
            1,
            headers=judge_headers[username],
            stage_id=stage,
            blind_code=codes[0],
        ) if username == panels[codes[0]][0] else await r.call(
            "judging",
            "PUT",
            f"/v1/stages/{stage}/scores/{codes[0]}",
            json=r.example(key, 1)[1],
            headers={
                **judge_headers[username],
                "If-Match": (
                    await r.services.judging.get(
                        f"/v1/stages/{stage}/scores/{codes[0]}", headers=judge_headers[username]
                    )
                ).headers.get("etag", '"0"'),
            },
        )
    await r.call("judging", "POST", f"/v1/appeals/{appeal.json()['id']}:relock-scores")
    await r.call("judging", "POST", results + ":compute", expect=201)
    await r.call("judging", "POST", results + ":publish-provisional")
    async with r.services.apps["judging"].state.sessionmaker() as s, s.begin():
        # Time travel: the appeal window (documented: 120 minutes) has passed.
        await s.execute(
            text(
                "UPDATE stage_results SET appeal_deadline = now() - interval '1 minute' "
                "WHERE stage_id = :s AND status = 'provisional'"
            ),
            {"s": stage},
        )
    # Before the results are final, the arbitration committee lets 王建国 through whatever
    # his rank (his lathe failed); finalising then advances the stage.
    await r.send(
        "competitions", "POST", "/v1/stages/{stage_id}/advancement-overrides", stage_id=stage
    )
    await r.call("judging", "POST", results + ":finalise")

    # The award rules: examples 2 and 3 are two ways to promote (one such rule per stage: the
    # organiser replaces the first by the second).
    rules = "/v1/stages/{stage_id}/award-rules"
    await r.send("judging", "POST", rules, 0, stage_id=stage)
    by_prize = await r.send("judging", "POST", rules, 1, stage_id=stage)
    await r.call("judging", "DELETE", f"/v1/award-rules/{by_prize.json()['id']}", expect=204)
    for i in range(2, r.documented()[("judging", "POST", rules)]):
        await r.send("judging", "POST", rules, i, stage_id=stage)
    # The province's standing rules (provincial first prizes: this city stage is not one).
    for i in range(r.documented()[("judging", "POST", "/v1/award-rules")]):
        await r.send("judging", "POST", "/v1/award-rules", i)
    await r.call("judging", "POST", f"/v1/stages/{stage}/awards:send")
    # The honour rule only recommends: the organiser confirms one and declines the other.
    waiting = _items(
        await r.call(
            "judging",
            "GET",
            f"/v1/stages/{stage}/awards",
            params={"state": "awaiting_confirmation"},
        )
    )
    assert len(waiting) == 2, waiting
    await r.send("judging", "POST", "/v1/awards/{award_id}:confirm", award_id=waiting[0]["id"])
    await r.send("judging", "POST", "/v1/awards/{award_id}:decline", award_id=waiting[1]["id"])
    certificates = _items(await r.call("judging", "GET", f"/v1/stages/{stage}/certificates"))
    await r.send(
        "judging",
        "POST",
        "/v1/certificates/{certificate_id}:revoke",
        certificate_id=certificates[0]["id"],
    )

    # Advancement by hand, in the division judged on paper: its two stages, its entries seeded
    # and the stage judged; the documented ranking names its entries and its final.
    division = r.kept["division"]
    stages = [
        await r.call(
            "competitions",
            "POST",
            f"/v1/events/{division}/stages",
            expect=201,
            json={
                "name": name,
                "seq": seq,
                "components": [{"component": "practical", "weight": 100}],
                "advancement_rule": "top_n",
                "advancement_value": 1,
            },
        )
        for seq, name in ((1, "第二赛区初赛"), (2, "第二赛区决赛"))
    ]
    await r.call("competitions", "POST", f"/v1/stages/{stages[0]['id']}/entries:seed")
    await r.call("competitions", "POST", f"/v1/stages/{stages[0]['id']}/lock")
    first, second = r.kept["division entries"]
    r.learn(ex.ENTRY_ID, first)
    r.learn(ex.SECOND_ENTRY_ID, second)
    r.learn(ex.NEXT_STAGE_ID, stages[1]["id"])
    await r.send(
        "competitions", "PUT", "/v1/stages/{stage_id}/advancement", stage_id=stages[0]["id"]
    )
    # The second division is cancelled after its first round: its two entries are withdrawn in
    # one call; rejecting or disqualifying them afterwards is refused item by item.
    bulk = "/v1/events/{event_id}/entries:"
    division = r.kept["division"]
    withdrawn = await r.send("competitions", "POST", bulk + "withdraw", event_id=division)
    assert [i["outcome"] for i in withdrawn.json()["items"]] == ["ok", "ok"]
    for action in ("reject", "disqualify"):
        refused = await r.send("competitions", "POST", bulk + action, event_id=division)
        assert {i["outcome"] for i in refused.json()["items"]} == {"wrong_state"}
    r.learn(ex.ENTRY_ID, r.kept["first entry"])


async def _levels_story(r: Replay) -> None:
    """The city competition's final results feed the provincial final: its pathway, the city's
    quota (raised), a direct place, nominations returned, substituted and withdrawn."""
    provincial = await r.call(
        "competitions",
        "POST",
        "/v1/competitions",
        expect=201,
        json={
            "name": ex.PROVINCIAL_COMPETITION_NAME,
            "kind": "skill_competition",
            "level": "provincial",
            "year": ex.YEAR,
            "organiser_locality_code": ex.PROVINCE_CODE,
            "starts_on": ex.day(ex.STARTS + 30),
        },
    )
    final = await r.call(
        "competitions",
        "POST",
        f"/v1/competitions/{provincial['id']}/events",
        expect=201,
        json={
            "name": ex.EVENT_NAME,
            "occupation": ex.OCCUPATION,
            "mode": "individual",
            "capacity": 60,
        },
    )
    event = final["id"]
    await r.send("competitions", "PUT", "/v1/events/{event_id}/pathway", event_id=event)
    link = await r.send(
        "competitions", "POST", "/v1/events/{event_id}/pathway/qualifiers", event_id=event
    )
    qualifier = link.json()["id"]
    await r.send(
        "competitions", "PATCH", "/v1/pathway-qualifiers/{qualifier_id}", qualifier_id=qualifier
    )
    # Last year's runner-up (a worker of 济南二机床 not in this year's city round) goes straight
    # to the final: the documented worker stands for her in this one call.
    runner_up = await _worker(r, "陈晓明", r.real[ex.ENTERPRISE_ID], date(1990, 5, 5))
    second_worker = r.real[ex.SECOND_WORKER_ID]
    r.learn(ex.SECOND_WORKER_ID, runner_up)
    await r.send(
        "competitions", "POST", "/v1/events/{event_id}/pathway/direct-places", event_id=event
    )
    r.learn(ex.SECOND_WORKER_ID, second_worker)
    # 王建国 is nominated and submitted; the province returns the nomination, and the city puts
    # 李秀英 forward instead (submitted at once), then withdraws her.
    made = await r.send(
        "competitions",
        "POST",
        "/v1/pathway-qualifiers/{qualifier_id}/nominations",
        qualifier_id=qualifier,
    )
    nomination = made.json()["items"][0]["id"]
    await r.call("competitions", "POST", f"/v1/pathway-qualifiers/{qualifier}/nominations:submit")
    await r.send(
        "competitions", "POST", "/v1/nominations/{nomination_id}/return", nomination_id=nomination
    )
    substitute = await r.send(
        "competitions",
        "POST",
        "/v1/nominations/{nomination_id}/substitute",
        nomination_id=nomination,
    )
    assert substitute.json()["worker_id"] == second_worker
    await r.send(
        "competitions",
        "POST",
        "/v1/nominations/{nomination_id}/withdraw",
        nomination_id=substitute.json()["id"],
    )


async def _registry_after_competitions(r: Replay) -> None:
    """What refers to competitions and entries: achievement entry links, and what judging
    sends the registry (with the services' own machine token)."""
    await r.send(
        "registry",
        "POST",
        "/v1/achievements/{achievement_id}/entry-links",
        achievement_id=r.real[ex.ACHIEVEMENT_ID],
    )
    token = await r.services.registry.post(
        "/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": SERVICE_CLIENT_ID,
            "client_secret": SERVICE_SECRET,
        },
    )
    assert token.status_code == 200, token.text
    service = bearer(token.json()["access_token"])
    for path in (
        "/v1/internal/grade-promotions/{source_ref}",
        "/v1/internal/competition-results/{source_ref}",
    ):
        await r.send("registry", "PUT", path, headers=service, source_ref=f"award:{uuid.uuid4()}")

    # The craftsman reserve (its plan names the competition): 王建国 is nominated, confirmed,
    # given a plan and leaves; 李秀英's nomination is declined; Jinan's targets for the year.
    members = "/v1/reserve-members"
    await r.send("registry", "POST", members, learn=ex.RESERVE_MEMBER_ID)
    member = r.real[ex.RESERVE_MEMBER_ID]
    for action in ("confirm", "plan", "leave"):
        method = "PUT" if action == "plan" else "POST"
        await r.send("registry", method, members + "/{member_id}/" + action, member_id=member)
    second = await r.call(
        "registry",
        "POST",
        members,
        expect=201,
        json={
            **r.example(("registry", "POST", members), 0)[1],
            "worker_id": r.real[ex.SECOND_WORKER_ID],
        },
    )
    await r.send("registry", "POST", members + "/{member_id}/decline", member_id=second["id"])
    await r.send(
        "registry",
        "PUT",
        "/v1/reserve-targets/{locality_code}/{year}",
        locality_code=ex.CITY_CODE,
        year=ex.YEAR,
    )
    # 张伟 (no competitor here) came back from the national contest with a first prize.
    await r.send(
        "registry",
        "POST",
        "/v1/workers/{worker_id}/national-results",
        worker_id=r.real[ex.THIRD_WORKER_ID],
    )
