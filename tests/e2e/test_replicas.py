"""Two replicas of each service and two webhook dispatchers behind a real HAProxy (issue 17):
what a deployment with `deploy.replicas: 2` and a load balancer runs, on this machine.

One topology for the module (shared.replicas): registry, competitions and judging twice each,
every replica reachable directly (replica `a` and `b`, to target them deliberately) and through
its HAProxy frontend (round-robin per request); the services call each other through the
frontends. Checked across replicas: places and the waitlist under concurrent registrations, one
Idempotency-Key sent to both replicas at once, the leaderboard's version bound, login rate
limits, access revocation's bound, and exactly-once webhook deliveries per subscription.

A staleness bound is checked without timing the services: every stale answer must come from a
request *sent* before the change committed plus the documented bound. A request sent later
reaches the replica later still, and the replica's copy is by then older than its bound (the
copy's age is counted from before the read that filled it), so a stale answer to it is a bug
however slow the machine is.

HAProxy is the Debian package `haproxy`, installed by scripts/install_haproxy.sh when missing;
where it cannot be installed the module is skipped saying so.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from shared import replicas
from shared.config import Settings
from shared.db import make_engine, make_sessionmaker
from tests.conftest import bearer
from tests.dbutil import PgServer
from tests.e2e.conftest import ADMIN, ADMIN_PASSWORD, Stack, create_admin, service_env, token
from tests.e2e.test_faults import CONTEST
from tests.e2e.test_levels import PASSWORD, Api
from tests.factories import identity_number
from tests.judging.results_helpers import two_aspect_scheme
from tests.webhooks.receiver import Receiver

#: The leaderboard's documented bound (LEADERBOARD_FRESHNESS_SECONDS, the default here).
FRESHNESS = Settings.model_fields["leaderboard_freshness_seconds"].default

# The first test also pays for starting the topology (minutes on a loaded 2-core machine).
pytestmark = pytest.mark.timeout(600)

#: The documented bound of the access revocation cache (Settings.access_revocation_cache_seconds).
REVOCATION_BOUND = Settings.model_fields["access_revocation_cache_seconds"].default
DISPATCHER_ENV = {"WEBHOOK_POLL_SECONDS": "0.1", "WEBHOOK_BATCH_SIZE": "20"}


@dataclass
class Lb:
    topology: replicas.Topology
    database_url: str  # the schema owner's
    receivers: list[Receiver]

    @property
    def lb(self) -> dict[str, str]:
        return self.topology.lb

    def replica(self, service: str, name: str) -> str:
        return self.topology.replicas[service][name]

    def every_replica(self) -> list[tuple[str, str, str]]:
        return [
            (service, name, url)
            for service, urls in self.topology.replicas.items()
            for name, url in urls.items()
        ]

    def api(self, http: httpx.AsyncClient) -> Api:
        """The API through the load balancer."""
        stack = Stack(urls=self.lb, env=self.topology.env, log_dir=self.topology.log_dir)
        return Api(http, stack)


@pytest.fixture(scope="module")
def haproxy() -> str:
    found = replicas.find_haproxy()
    if found is None:
        pytest.skip(
            "HAProxy is not installed and scripts/install_haproxy.sh could not install it "
            "(needs apt-get and root or password-less sudo): the replica test needs "
            "`apt-get install haproxy`."
        )
    return found


@pytest.fixture(scope="module")
def receivers() -> Iterator[list[Receiver]]:
    started = [Receiver().start(), Receiver().start()]
    yield started
    for r in started:
        r.stop()


@pytest.fixture(scope="module")
async def cluster(
    haproxy: str,
    pg_server: PgServer,
    template_db: str,
    tmp_path_factory: pytest.TempPathFactory,
    receivers: list[Receiver],
) -> AsyncIterator[Lb]:
    name = await pg_server.create_database(template=template_db)
    database_url = pg_server.url_for(name)
    log_dir = tmp_path_factory.mktemp("replica-logs")
    env = service_env(
        database_url,
        tmp_path_factory.mktemp("replica-keys"),
        dict.fromkeys(("registry", "competitions", "judging"), "http://unused"),
        LOG_LEVEL="WARNING",
        # Six replicas share the test server's connections with everything else running.
        DB_POOL_SIZE="6",
        **DISPATCHER_ENV,
    )
    # The first admin is made while the processes start (both only need the database).
    started, admin_made = await asyncio.gather(
        asyncio.to_thread(replicas.start, env, log_dir, replicas=2, dispatchers=2, haproxy=haproxy),
        asyncio.to_thread(create_admin, env),
        return_exceptions=True,
    )
    if isinstance(started, BaseException):
        await pg_server.drop_database(name)
        raise started
    topology = started
    try:
        if isinstance(admin_made, BaseException):
            raise admin_made
        lb = Lb(topology, database_url, receivers)
        # Two subscriptions to every event, before anything happens: each must get each once.
        async with httpx.AsyncClient(timeout=30) as http:
            headers = bearer(await token(http, lb.lb["registry"]))
            for receiver in receivers:
                made = await http.post(
                    lb.lb["registry"] + "/v1/webhook-subscriptions",
                    json={"url": receiver.url, "event_types": ["*"]},
                    headers=headers,
                )
                assert made.status_code == 201, made.text
                receiver.secrets.append(made.json()["secret"])
        yield lb
    finally:
        await asyncio.to_thread(topology.stop)
        await pg_server.drop_database(name)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def admin(http: httpx.AsyncClient, cluster: Lb) -> dict[str, str]:
    return bearer(await token(http, cluster.lb["registry"]))


async def new_worker(http: httpx.AsyncClient, url: str, headers: dict[str, str], name: str) -> str:
    made = await http.post(
        url + "/v1/workers",
        json={
            "name": name,
            "id_number": identity_number(),
            "occupation": "数控车工",
            "locality_code": "370100",
            "grade": "senior",
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    worker_id: str = made.json()["id"]
    return worker_id


async def open_event(
    http: httpx.AsyncClient, cluster: Lb, headers: dict[str, str], capacity: int
) -> str:
    api = cluster.api(http)
    competition = await api.call(
        "competitions", "POST", "/v1/competitions", headers, 201, json=CONTEST
    )
    event = await api.call(
        "competitions",
        "POST",
        f"/v1/competitions/{competition['id']}/events",
        headers,
        201,
        json={
            "name": "数控车工",
            "occupation": "数控车工",
            "mode": "individual",
            "capacity": capacity,
        },
    )
    await api.call(
        "competitions",
        "POST",
        f"/v1/competitions/{competition['id']}/status",
        {**headers, "If-Match": '"1"'},
        json={"status": "registration_open"},
    )
    event_id: str = event["id"]
    return event_id


async def until(
    condition: Callable[[], Awaitable[bool]], limit: float, what: str, cluster: Lb
) -> None:
    """Poll `condition` (no timing is asserted: `limit` only ends a hung test)."""
    deadline = time.monotonic() + limit
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen in {limit:.0f}s\n{cluster.topology.logs()}")
        await asyncio.sleep(0.05)


# --------------------------------------------------------------------------------- topology


async def test_haproxy_balances_round_robin_and_each_replica_answers_directly(
    cluster: Lb, http: httpx.AsyncClient
) -> None:
    for service, url in cluster.lb.items():
        # Round robin, but a health check that times out on a loaded machine takes a replica
        # out for a moment: both must serve a fair share, not a strict alternation.
        served = [(await http.get(url + "/healthz")).headers[replicas.SERVED_BY] for _ in range(12)]
        counts = Counter(served)
        assert set(counts) == {"a", "b"}, (service, served)
        assert min(counts.values()) >= 2, (service, served)
        for name in ("a", "b"):
            answer = await http.get(cluster.replica(service, name) + "/readyz")
            assert answer.status_code == 200, answer.text
            assert replicas.SERVED_BY not in answer.headers  # direct: no balancer in between


# ------------------------------------------------------------------- places and the waitlist


async def test_concurrent_registrations_over_both_replicas_never_exceed_capacity(
    cluster: Lb, http: httpx.AsyncClient
) -> None:
    headers = await admin(http, cluster)
    capacity, people = 5, 16
    workers = await asyncio.gather(
        *(new_worker(http, cluster.lb["registry"], headers, f"张{i:02d}") for i in range(people))
    )
    event_id = await open_event(http, cluster, headers, capacity)
    targets = [cluster.replica("competitions", "a"), cluster.replica("competitions", "b")]

    answers = await asyncio.gather(
        *(
            http.post(
                f"{targets[i % 2]}/v1/events/{event_id}/entries",
                json={"worker_id": w},
                headers=headers,
            )
            for i, w in enumerate(workers)
        )
    )
    assert [a.status_code for a in answers] == [201] * people, [a.text for a in answers]
    statuses = Counter(a.json()["status"] for a in answers)
    assert statuses == {"approved": capacity, "waitlisted": people - capacity}, statuses

    async def entries() -> list[dict[str, Any]]:
        listed = await http.get(
            f"{cluster.lb['competitions']}/v1/events/{event_id}/entries",
            params={"limit": 100},
            headers=headers,
        )
        assert listed.status_code == 200, listed.text
        items: list[dict[str, Any]] = listed.json()["items"]
        return items

    def waitlist(items: list[dict[str, Any]]) -> list[str]:
        queued = [e for e in items if e["status"] == "waitlisted"]
        positions = sorted(e["waitlist_position"] for e in queued)
        assert positions == list(range(1, len(queued) + 1)), positions
        return [e["id"] for e in sorted(queued, key=lambda e: e["waitlist_position"])]

    items = await entries()
    queue = waitlist(items)
    # First come, first served: the waitlist is in the order the entries were made.
    made_at = {e["id"]: e["created_at"] for e in items}
    assert [made_at[i] for i in queue] == sorted(made_at[i] for i in queue)
    # Places freed on one replica go to the head of the queue, in order, on the other too.
    placed = [e for e in items if e["status"] == "approved"]
    for n, entry in enumerate(placed[:3]):
        url = f"{targets[n % 2]}/v1/entries/{entry['id']}/withdraw"
        done = await http.post(
            url, json={}, headers={**headers, "If-Match": f'"{entry["version"]}"'}
        )
        assert done.status_code == 200, done.text
    items = await entries()
    holding = [e for e in items if e["status"] in ("pending", "approved", "checked_in")]
    assert len(holding) == capacity
    assert {e["id"] for e in holding} >= set(queue[:3])
    assert waitlist(items) == queue[3:]


# ------------------------------------------------------------------------ idempotency keys


async def test_one_idempotency_key_sent_to_both_replicas_at_once_makes_one_resource(
    cluster: Lb, http: httpx.AsyncClient
) -> None:
    headers = await admin(http, cluster)
    keyed = {**headers, "Idempotency-Key": f"replicas-{uuid.uuid4()}"}
    body = {
        "name": "孙丽",
        "id_number": identity_number(),
        "occupation": "焊工",
        "locality_code": "370100",
        "grade": "senior",
    }
    registries = [cluster.replica("registry", n) for n in "ab"] * 4
    answers = await asyncio.gather(
        *(http.post(url + "/v1/workers", json=body, headers=keyed) for url in registries)
    )
    assert [a.status_code for a in answers] == [201] * len(answers), [a.text for a in answers]
    assert len({a.content for a in answers}) == 1, "every answer is the first one, byte for byte"
    assert sum(a.headers.get("idempotent-replayed") != "true" for a in answers) == 1

    # The same for a registration, the contested write: one entry, one place.
    event_id = await open_event(http, cluster, headers, capacity=3)
    keyed = {**headers, "Idempotency-Key": f"replicas-{uuid.uuid4()}"}
    competitions = [cluster.replica("competitions", n) for n in "ab"] * 4
    answers = await asyncio.gather(
        *(
            http.post(
                f"{url}/v1/events/{event_id}/entries",
                json={"worker_id": answers[0].json()["id"]},
                headers=keyed,
            )
            for url in competitions
        )
    )
    assert [a.status_code for a in answers] == [201] * len(answers), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    listed = await http.get(
        f"{cluster.lb['competitions']}/v1/events/{event_id}/entries", headers=headers
    )
    assert [e["id"] for e in listed.json()["items"]] == [answers[0].json()["id"]]


# ------------------------------------------------------------------------------ login limits


async def test_login_failure_limit_holds_across_replicas(
    cluster: Lb, http: httpx.AsyncClient
) -> None:
    limit = Settings.model_fields["login_max_failures_per_username"].default
    username = f"nobody.{uuid.uuid4().hex[:8]}"
    registries = [cluster.replica("registry", n) for n in "ab"]
    form = {"grant_type": "password", "username": username, "password": "wrong-Passw0rd!"}
    for n in range(limit):  # alternately on A and B: each sees only half of them itself
        answer = await http.post(registries[n % 2] + "/v1/auth/token", data=form)
        assert answer.status_code == 400, answer.text  # invalid_grant (RFC 6749)
    for url in [*registries, cluster.lb["registry"]]:
        answer = await http.post(url + "/v1/auth/token", data=form)
        assert answer.status_code == 429, answer.text
        assert int(answer.headers["retry-after"]) > 0


async def test_concurrent_failed_logins_on_both_replicas_check_no_more_passwords_than_the_limit(
    cluster: Lb, http: httpx.AsyncClient
) -> None:
    """A guesser sending many passwords at once, spread over the replicas, gets at most
    LOGIN_MAX_FAILURES_PER_USERNAME of them checked; the others are refused (429) unread."""
    limit = Settings.model_fields["login_max_failures_per_username"].default
    username = f"target.{uuid.uuid4().hex[:8]}"
    await cluster.api(http).call(
        "registry",
        "POST",
        "/v1/accounts",
        await admin(http, cluster),
        201,
        json={
            "username": username,
            "display_name": username,
            "password": PASSWORD,
            "role": "judge",
        },
    )
    registries = [cluster.replica("registry", n) for n in "ab"]
    answers = await asyncio.gather(
        *(
            http.post(
                registries[n % 2] + "/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": f"guess-{n}"},
                # Each from an address of its own: only the per-username limit applies.
                headers={"x-forwarded-for": f"203.0.113.{n + 1}"},
            )
            for n in range(3 * limit)
        )
    )
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {400, 429}, [a.text for a in answers]
    checked = statuses[400]
    assert checked <= limit, f"{checked} passwords checked, limit {limit}"
    # Then one at a time, alternately: a password is checked only while the limit allows.
    for n in range(limit + 1):
        answer = await http.post(
            registries[n % 2] + "/v1/auth/token",
            data={"grant_type": "password", "username": username, "password": f"more-{n}"},
            headers={"x-forwarded-for": f"203.0.113.{100 + n}"},
        )
        assert answer.status_code in (400, 429), answer.text
        if answer.status_code == 429:
            break
        checked += 1
    assert answer.status_code == 429
    assert checked <= limit, f"{checked} passwords checked in the window, limit {limit}"


async def test_token_request_limit_per_address_holds_across_replicas(
    cluster: Lb, http: httpx.AsyncClient
) -> None:
    """TOKEN_RATE_LIMIT per client address, the address as the balancer forwards it
    (X-Forwarded-For from a trusted proxy): counted once across replicas."""
    limit = Settings.model_fields["token_rate_limit"].default
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    targets = [
        cluster.replica("registry", "a"),
        cluster.replica("registry", "b"),
        cluster.lb["registry"],
    ]
    form = {"grant_type": "password", "username": ADMIN, "password": ADMIN_PASSWORD}
    forwarded = {"x-forwarded-for": address}
    for n in range(limit):
        answer = await http.post(targets[n % 3] + "/v1/auth/token", data=form, headers=forwarded)
        assert answer.status_code == 200, (n, answer.text)
    for url in targets:
        answer = await http.post(url + "/v1/auth/token", data=form, headers=forwarded)
        assert answer.status_code == 429, answer.text
    # Another address is not affected.
    answer = await http.post(targets[0] + "/v1/auth/token", data=form)
    assert answer.status_code == 200, answer.text


# ------------------------------------------------------------------- in-process cache bounds


async def test_a_disabled_account_is_refused_by_every_replica_within_the_bound(
    cluster: Lb, http: httpx.AsyncClient
) -> None:
    """The access revocation cache: ACCESS_REVOCATION_CACHE_SECONDS per process."""
    headers = await admin(http, cluster)
    api = cluster.api(http)
    username = f"replica.organiser.{uuid.uuid4().hex[:6]}"
    account = await api.call(
        "registry",
        "POST",
        "/v1/accounts",
        headers,
        201,
        json={
            "username": username,
            "display_name": username,
            "password": PASSWORD,
            "role": "organiser",
            "locality_code": "370100",
        },
    )
    victim = bearer(await token(http, cluster.lb["registry"], username, PASSWORD))
    everywhere = cluster.every_replica()
    for _service, _name, url in everywhere:  # every replica has the token verified and cached
        answer = await http.get(url + "/v1/me", headers=victim)
        assert answer.status_code == 200, answer.text

    disabled = await http.patch(
        cluster.replica("registry", "a") + f"/v1/accounts/{account['id']}",
        json={"is_active": False},
        headers=headers,
    )
    assert disabled.status_code == 200, disabled.text
    committed = time.monotonic()

    # The replica that made the change refuses at once.
    answer = await http.get(cluster.replica("registry", "a") + "/v1/me", headers=victim)
    assert answer.status_code == 401, answer.text
    late: list[str] = []
    refused: set[str] = set()

    async def all_refuse() -> bool:
        for service, name, url in everywhere:
            sent = time.monotonic()
            answer = await http.get(url + "/v1/me", headers=victim)
            if answer.status_code == 401:
                refused.add(f"{service}-{name}")
            else:
                assert answer.status_code == 200, answer.text
                assert f"{service}-{name}" not in refused, "refused, then let in again"
                if sent - committed >= REVOCATION_BOUND:
                    late.append(f"{service}-{name} {sent - committed:.2f}s after the change")
        return len(refused) == len(everywhere)

    await until(all_refuse, REVOCATION_BOUND + 30, "every replica refusing", cluster)
    assert late == [], "served past ACCESS_REVOCATION_CACHE_SECONDS"


async def stage_with_results(http: httpx.AsyncClient, cluster: Lb) -> tuple[str, dict[str, str]]:
    """A stage judged through the balancer up to computed (not yet published) results."""
    api = cluster.api(http)
    headers = await admin(http, cluster)
    judges = []
    for i in range(3):
        judge = await api.login(headers, f"replica.judge{i}.{uuid.uuid4().hex[:6]}", "judge")
        me = await api.call("judging", "GET", "/v1/me", judge)
        await api.call(
            "judging",
            "POST",
            "/v1/judges",
            headers,
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
        judges.append(judge)
    event_id = await open_event(http, cluster, headers, capacity=10)
    entries = []
    for n in range(3):
        worker = await new_worker(http, cluster.lb["registry"], headers, f"王{n}")
        made = await api.call(
            "competitions",
            "POST",
            f"/v1/events/{event_id}/entries",
            headers,
            201,
            json={"worker_id": worker},
        )
        entries.append(made["id"])
    stage = await api.call(
        "competitions",
        "POST",
        f"/v1/events/{event_id}/stages",
        headers,
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
    await api.call("competitions", "POST", f"/v1/stages/{sid}/entries:seed", headers)
    await api.call("competitions", "POST", f"/v1/stages/{sid}/blind-codes", headers)
    await api.call(
        "judging",
        "POST",
        f"/v1/stages/{sid}/marking-schemes",
        headers,
        201,
        json=two_aspect_scheme("measurement"),
    )
    await api.call("judging", "POST", f"/v1/stages/{sid}/assignments:solve", headers, json={"k": 3})
    rows = await api.call("competitions", "GET", f"/v1/stages/{sid}/blind-codes:mapping", headers)
    code = {r["entry_id"]: r["blind_code"] for r in rows}
    for judge in judges:
        for i, entry in enumerate(entries):
            url = f"/v1/stages/{sid}/scores/{code[entry]}"
            marks = [
                {"aspect_code": "A1.1", "value": 28 - i},
                {"aspect_code": "B1.1", "value": 66 - 2 * i},
            ]
            await api.call("judging", "PUT", url, judge, json={"marks": marks})
            await api.call("judging", "POST", url + ":submit", judge)
    await api.call("judging", "POST", f"/v1/stages/{sid}/scores:lock", headers, json={})
    await api.call(
        "judging",
        "PUT",
        f"/v1/stages/{sid}/result-rules",
        headers,
        json={"appeal_window_minutes": 60},
    )
    await api.call("judging", "POST", f"/v1/stages/{sid}/results:compute", headers, 201)
    return sid, headers


async def test_a_new_results_version_is_served_by_every_replica_within_the_bound(
    cluster: Lb, http: httpx.AsyncClient
) -> None:
    """The leaderboard cache: a new version within FRESHNESS (README: "within a second on
    every replica and at once on the one that published it")."""
    sid, headers = await stage_with_results(http, cluster)
    judging = {n: cluster.replica("judging", n) for n in "ab"}
    board = f"/v1/stages/{sid}/leaderboard"
    for url in judging.values():  # both replicas cache "nothing published yet"
        assert (await http.get(url + board)).status_code == 404

    async def change_then_watch(
        change: Callable[[], Awaitable[None]], publisher: str, want: str
    ) -> None:
        await change()
        committed = time.monotonic()
        answer = await http.get(judging[publisher] + board)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == want, answer.text
        other = next(n for n in judging if n != publisher)
        late: list[float] = []

        async def fresh() -> bool:
            sent = time.monotonic()
            answer = await http.get(judging[other] + board)
            current = answer.status_code == 200 and answer.json()["status"] == want
            if not current and sent - committed >= FRESHNESS:
                late.append(sent - committed)
            return current

        await until(fresh, FRESHNESS + 30, f"the {want} board on judging-{other}", cluster)
        assert late == [], f"judging-{other} served the old board past FRESHNESS: {late}"
        answer = await http.get(judging[publisher] + board)  # and never goes back
        assert answer.json()["status"] == want

    async def publish() -> None:
        done = await http.post(
            judging["a"] + f"/v1/stages/{sid}/results:publish-provisional", headers=headers
        )
        assert done.status_code == 200, done.text

    async def finalise() -> None:
        # The appeal window is closed in the database (waiting for it would take an hour).
        engine = make_engine(Settings(database_url=cluster.database_url, db_role=""), pool_size=1)
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
        done = await http.post(judging["b"] + f"/v1/stages/{sid}/results:finalise", headers=headers)
        assert done.status_code == 200, done.text

    await change_then_watch(publish, "a", "provisional")
    await change_then_watch(finalise, "b", "final")


# ----------------------------------------------------------------------------------- webhooks


async def test_every_event_is_delivered_once_per_subscription_by_two_dispatchers(
    cluster: Lb, http: httpx.AsyncClient
) -> None:
    """Runs last: the events of every test above, made on both replicas of every service, plus
    a burst of registrations now."""
    headers = await admin(http, cluster)
    event_id = await open_event(http, cluster, headers, capacity=50)
    workers = await asyncio.gather(
        *(new_worker(http, cluster.lb["registry"], headers, f"李{i:02d}") for i in range(30))
    )
    answers = await asyncio.gather(
        *(
            http.post(
                f"{cluster.lb['competitions']}/v1/events/{event_id}/entries",
                json={"worker_id": w},
                headers=headers,
            )
            for w in workers
        )
    )
    assert all(a.status_code == 201 for a in answers)

    engine = make_engine(Settings(database_url=cluster.database_url, db_role=""), pool_size=1)
    sessionmaker = make_sessionmaker(engine)

    async def expected() -> dict[str, set[str]]:
        async with sessionmaker() as session:
            unfanned = await session.scalar(
                text("SELECT count(*) FROM outbox_events WHERE fanned_out_at IS NULL")
            )
            assert unfanned is not None
            rows = (
                await session.execute(
                    text(
                        "SELECT s.url, d.event_id::text, d.status FROM webhook_deliveries d "
                        "JOIN webhook_subscriptions s ON s.id = d.subscription_id"
                    )
                )
            ).all()
        if unfanned:
            return {}
        by_url: dict[str, set[str]] = {r.url: set() for r in cluster.receivers}
        for url, event, _status in rows:
            by_url[url].add(event)
        return by_url

    try:

        async def delivered() -> bool:
            wanted = await expected()
            return bool(wanted) and all(
                r.accepted_ids() >= wanted[r.url] for r in cluster.receivers
            )

        await until(delivered, 90, "every delivery", cluster)
        await asyncio.sleep(0.5)  # anything sent twice would have arrived by now
        wanted = await expected()
        async with sessionmaker() as session:
            events = set(
                await session.scalars(
                    text(
                        "SELECT id::text FROM outbox_events WHERE occurred_at >= "
                        "(SELECT max(created_at) FROM webhook_subscriptions)"
                    )
                )
            )
    finally:
        await engine.dispose()
    assert len(events) > 50, "the tests above made events"
    for receiver in cluster.receivers:
        assert receiver.rejected == 0
        counts = Counter(m.webhook_id for m in receiver.messages)
        assert set(counts) == wanted[receiver.url]
        assert wanted[receiver.url] >= events, "every event reached every subscription"
        duplicates = {k: v for k, v in counts.items() if v > 1}
        assert duplicates == {}, "delivered more than once"
