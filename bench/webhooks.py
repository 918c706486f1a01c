"""Benchmark: webhook fan-out. N events to S subscribers through the real dispatcher process.

- Receivers: one per subscriber, each `uvicorn bench.webhook_receiver:app` on its own port with
  `--http httptools --loop uvloop` and RECEIVER_WORKERS processes, verifying every signature
  with `standardwebhooks` and logging every `webhook-id` it accepted (bench/webhook_receiver.py).
- ours: S active subscriptions to `entry.approved` (each with its receiver's secret); the dispatcher
  (`python -m shared.webhooks`, production settings, WEBHOOK_ALLOWED_HOSTS=127.0.0.1) is started
  and left to connect, then N `entry.approved` events about N/10 subjects are written to the
  outbox in one transaction. The clock runs from that commit until the last of the N x S
  deliveries succeeded (its `delivered_at`): fan-out, claim, signing, POST, recording.
- baseline: the same receivers, the same signed POSTs (Standard Webhooks headers, a body of the
  same shape) sent by bare httpx from its own process with uvloop: as many senders as the
  dispatcher may have requests in flight (WEBHOOK_SUBSCRIPTION_CONCURRENCY per subscriber),
  each with its own keep-alive connection (an `httpx.AsyncClient` of one), no database.
- checks, from the receivers' logs after they stopped: every (event, subscriber) arrived
  (lost = 0), none twice (duplicates = 0), no bad signature; the database agrees.

`python -m bench.webhooks --events 10000` runs it alone (a scratch database, as `make bench`
does); `make bench` runs it as `webhook fan-out`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.servers import RssSampler, free_port
from shared.config import PROJECT_ROOT, Settings
from shared.crypto import PersonalDataCipher
from shared.dbserver import asyncpg_dsn
from shared.processes import start_dispatcher, stop_services
from shared.webhooks import signing

RECEIVER_WORKERS = 2
#: Requests in flight in the bare baseline: the dispatcher's per-subscriber default times S.
CONCURRENCY_PER_SUBSCRIBER = Settings.model_fields["webhook_subscription_concurrency"].default
EVENT_TYPE = "entry.approved"


def _payload(n: int) -> dict[str, Any]:
    return {
        "type": EVENT_TYPE,
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"entry_id": str(uuid.uuid4()), "n": n, "status": "approved"},
    }


class Receivers:
    """S receiver servers, each a uvicorn master with RECEIVER_WORKERS worker processes."""

    def __init__(self, count: int, out_dir: Path, workers: int = RECEIVER_WORKERS) -> None:
        self.secrets = [signing.new_secret() for _ in range(count)]
        self.ports = [free_port() for _ in range(count)]
        self.dirs = [out_dir / f"receiver-{i}" for i in range(count)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        for i, (secret, port, directory) in enumerate(
            zip(self.secrets, self.ports, self.dirs, strict=True)
        ):
            directory.mkdir(parents=True)
            env = os.environ | {
                "BENCH_RECEIVER_SECRET": secret,
                "BENCH_RECEIVER_OUT": str(directory),
                "PYTHONPATH": str(PROJECT_ROOT),
            }
            cmd = [sys.executable, "-m", "uvicorn", "bench.webhook_receiver:app"]
            cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
            cmd += ["--loop", "uvloop", "--http", "httptools", "--lifespan", "on"]
            cmd += ["--no-access-log", "--log-level", "warning", "--timeout-keep-alive", "75"]
            self.procs[f"receiver-{i}"] = subprocess.Popen(  # noqa: S603 - our interpreter
                cmd, env=env, cwd=PROJECT_ROOT
            )
        deadline = time.monotonic() + 30
        for url in self.urls:
            while True:
                try:
                    httpx.get(url, timeout=2).raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise
                    time.sleep(0.1)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}/hooks" for port in self.ports]

    def stop(self) -> None:
        stop_services(self.procs)

    def received(self) -> list[Counter[str]]:
        """Per receiver: how often each webhook-id was accepted (`!`: rejected requests)."""
        out = []
        for directory in self.dirs:
            counts: Counter[str] = Counter()
            for path in directory.glob("*.ids"):
                counts.update(line for line in path.read_text().splitlines() if line)
            out.append(counts)
        return out


# -- the bare baseline, in its own process -----------------------------------------------------


async def _bare(urls: list[str], secrets: list[str], count: int, concurrency: int) -> float:
    bodies = [json.dumps(_payload(n), separators=(",", ":")) for n in range(min(count, 1000))]
    # Each sender its own client of one keep-alive connection to one receiver (httpcore's pool
    # costs grow with its size), one TLS context for all. The dispatcher sends with aiohttp
    # (lighter on CPU); this stays the reference the issue names, "bare httpx".
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    tls = httpx.create_ssl_context()
    clients = [
        httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(15.0), trust_env=False, verify=tls)
        for _ in range(concurrency)
    ]
    queues = [iter(range(i, count, len(urls))) for i in range(len(urls))]

    async def sender(k: int) -> None:
        i = k % len(urls)
        http = clients[k]
        for n in queues[i]:
            body = bodies[n % len(bodies)]
            headers = signing.headers(f"bare_{n}", datetime.now(UTC), body, [secrets[i]])
            response = await http.post(urls[i], content=body.encode(), headers=headers)
            response.raise_for_status()

    try:
        started = time.perf_counter()
        await asyncio.gather(*(sender(k) for k in range(concurrency)))
        return time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()


def run_bare(urls: list[str], secrets: list[str], count: int, concurrency: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.webhooks", "bare", "--count", str(count)]
    cmd += ["--concurrency", str(concurrency), "--urls", ",".join(urls)]
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        cmd,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=os.environ | {"BENCH_SECRETS": ",".join(secrets), "PYTHONPATH": str(PROJECT_ROOT)},
    )
    if result.returncode != 0:
        raise RuntimeError(f"bare webhook sender failed:\n{result.stderr[-4000:]}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


# -- ours ----------------------------------------------------------------------------------------


async def _subscribe(conn: asyncpg.Connection, receivers: Receivers, data_key: str) -> None:
    """The subscriptions as the registry writes them: secrets sealed with the data key the
    dispatcher is given."""
    cipher = PersonalDataCipher.from_master(base64.b64decode(data_key))
    # Owned by an admin account: the dispatcher sends only what a subscription's owner may read
    # (`shared.webhooks.audience`), and an owner that is no account or client reads nothing.
    owner = uuid.uuid4()
    await conn.execute(
        "INSERT INTO accounts (id, username, display_name, password_hash, role) "
        "VALUES ($1, $2, 'bench', 'x', 'admin')",
        owner,
        f"bench.{owner.hex[:8]}",
    )
    for url, secret in zip(receivers.urls, receivers.secrets, strict=True):
        subscription_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO webhook_subscriptions (id, owner_sub, url, event_types, secret_enc) "
            "VALUES ($1, $2, $3, $4, $5)",
            subscription_id,
            str(owner),
            url,
            [EVENT_TYPE],
            signing.seal_secret(cipher, subscription_id, secret),
        )


async def _emit(conn: asyncpg.Connection, events: int, subjects: int) -> list[str]:
    """N events in one transaction, as `shared.outbox.emit` writes them; their ids."""
    now = datetime.now(UTC)
    rows = [
        (uuid.uuid4(), "competitions", EVENT_TYPE, f"entry:{n % subjects}", now, json.dumps(p))
        for n, p in ((n, _payload(n)) for n in range(events))
    ]
    await conn.copy_records_to_table(
        "outbox_events",
        columns=["id", "service", "type", "subject", "occurred_at", "payload"],
        records=rows,
    )
    return [str(r[0]) for r in rows]


async def _dispatcher_connected(conn: asyncpg.Connection, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        others = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        if others:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the dispatcher did not connect to the database")


async def run(
    database_url: str,
    work: Path,
    events: int,
    subscribers: int = 3,
    dispatchers: int = 1,
    limit: float = 900,
) -> dict[str, Any]:
    """Both sides against the same receivers; the `webhook fan-out` entry of the results."""
    expected = events * subscribers
    receivers = Receivers(subscribers, work / "webhooks")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        concurrency = CONCURRENCY_PER_SUBSCRIBER * subscribers
        base = await asyncio.to_thread(
            run_bare, receivers.urls, receivers.secrets, expected, concurrency
        )
        # Events already in the outbox (the import benchmark's `worker.created`) count as
        # delivered before this run: only the benchmark's own events are timed.
        await conn.execute(
            "UPDATE outbox_events SET fanned_out_at = now() WHERE fanned_out_at IS NULL"
        )
        data_key = base64.b64encode(os.urandom(32)).decode()
        await _subscribe(conn, receivers, data_key)
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env |= {
            "DATABASE_URL": database_url,
            "ENVIRONMENT": "production",
            "LOG_LEVEL": "WARNING",
            "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "WEBHOOK_POLL_SECONDS": "0.1",
            "DATA_KEY": data_key,
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        log_dir = work / "webhooks"
        for i in range(dispatchers):
            procs[f"dispatcher-{i}"] = start_dispatcher(env, log_dir, f"dispatcher-{i}")
        await _dispatcher_connected(conn, 60)
        async with conn.transaction():
            ids = await _emit(conn, events, max(1, events // 10))
        committed = datetime.now(UTC)
        started = time.perf_counter()
        done = 0
        with RssSampler(*(p.pid for p in procs.values())) as rss:
            # Polled slowly (a count over the deliveries costs the database): the time is
            # taken from the last delivery's `delivered_at`, not from the polling.
            while time.perf_counter() - started < limit:
                done = await conn.fetchval(
                    "SELECT count(*) FROM webhook_deliveries "
                    "WHERE status = 'succeeded' AND event_type = $1",
                    EVENT_TYPE,
                )
                if done >= expected:
                    break
                await asyncio.sleep(0.5)
            last = await conn.fetchval(
                "SELECT max(delivered_at) FROM webhook_deliveries WHERE event_type = $1",
                EVENT_TYPE,
            )
            seconds = (last - committed).total_seconds() if last else time.perf_counter() - started
        stop_services(procs)
        attempts = await conn.fetchval("SELECT count(*) FROM webhook_attempts")
        statuses = dict(
            await conn.fetch("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")
        )
    finally:
        stop_services(procs)
        receivers.stop()
        await conn.close()
    received = receivers.received()
    wanted = set(ids)
    lost = sum(len(wanted - set(r)) for r in received)
    duplicates = sum(c - 1 for r in received for i, c in r.items() if i in wanted and c > 1)
    rejected = sum(r["!"] for r in received)
    bare_ok = sum(c for r in received for i, c in r.items() if i.startswith("bare_"))
    ours = {
        "seconds": seconds,
        "deliveries": done,
        "deliveries_per_s": done / seconds,
        "attempts": attempts,
        "statuses": statuses,
        "lost": lost,
        "duplicates": duplicates,
        "rejected": rejected,
        "dispatchers": dispatchers,
        "peak_rss_kib": rss.peak // 1024,
    }
    base |= {"received": bare_ok, "deliveries_per_s": base["count"] / base["seconds"]}
    ok = done == expected and lost == 0 and duplicates == 0 and rejected == 0
    ok = ok and bare_ok == base["count"]
    return {
        "kind": "webhooks",
        "ours": ours,
        "baseline": base,
        "ratio": ours["deliveries_per_s"] / base["deliveries_per_s"],
        "target": ">= 1,000 deliveries/s, none lost, none twice, every signature valid",
        "meets_target": ok and ours["deliveries_per_s"] >= 1000,
        "events": events,
        "subscribers": subscribers,
        "receiver_workers": RECEIVER_WORKERS,
        "baseline_concurrency": concurrency,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    sub = parser.add_subparsers(dest="side", required=True)
    bare = sub.add_parser("bare", help="(internal) the bare httpx sender")
    bare.add_argument("--urls", required=True)
    bare.add_argument("--count", type=int, required=True)
    bare.add_argument("--concurrency", type=int, required=True)
    alone = sub.add_parser("run", help="the whole benchmark on a scratch database")
    alone.add_argument("--events", type=int, default=10_000)
    alone.add_argument("--subscribers", type=int, default=3)
    alone.add_argument("--dispatchers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.side == "bare":
        import uvloop

        secrets = os.environ["BENCH_SECRETS"].split(",")
        seconds = uvloop.run(_bare(args.urls.split(","), secrets, args.count, args.concurrency))
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"seconds": seconds, "count": args.count, "peak_rss_kib": rss}))
        return 0
    return asyncio.run(_alone(args.events, args.subscribers, args.dispatchers))


async def _alone(events: int, subscribers: int, dispatchers: int) -> int:
    import tempfile

    from shared.dbserver import choose_server
    from shared.migrate import upgrade_head

    server = await asyncio.to_thread(choose_server, ("BENCH_DATABASE_URL", "TEST_DATABASE_URL"))
    database = await server.create_database(prefix="bench")
    try:
        url = server.url_for(database)
        await asyncio.to_thread(upgrade_head, url)
        with tempfile.TemporaryDirectory(prefix="skills-bench-") as tmp:
            result = await run(url, Path(tmp), events, subscribers, dispatchers)
    finally:
        with contextlib.suppress(Exception):
            await server.drop_database(database)
        server.close()
    print(json.dumps(result, indent=2, default=str))
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
