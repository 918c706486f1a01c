"""Benchmark: 10,000 events to 3 local subscribers through the real dispatcher process.

    python scripts/bench_webhooks.py [--events 10000] [--subscribers 3] [--dispatchers 1]

Uses TEST_DATABASE_URL, else the local Postgres at 127.0.0.1:5432, else an embedded pgserver;
creates and migrates a scratch database and drops it afterwards. Three receivers on loopback
verify every signature with `standardwebhooks`. Prints deliveries per second, losses and
duplicates, and the bare baseline measured in the same run: the same signed POSTs sent with
httpx at the same concurrency, without the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared import outbox  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.db import make_engine, make_sessionmaker  # noqa: E402
from shared.migrate import upgrade_head  # noqa: E402
from shared.models.webhooks import WebhookSubscription  # noqa: E402
from shared.run import start_dispatcher, stop_services  # noqa: E402
from shared.webhooks import signing  # noqa: E402
from tests.dbutil import choose_server  # noqa: E402
from tests.webhooks.receiver import free_port  # noqa: E402


class ReceiverProcess:
    """A receiver in its own process (threads would share our GIL and slow each other)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.secrets = [signing.new_secret()]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "tests.webhooks.receiver",
                "--port",
                str(self.port),
                "--secret",
                self.secrets[0],
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                self.stats()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stats(self) -> dict[str, int]:
        counts: dict[str, int] = httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=5).json()
        return counts

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


Receiver = ReceiverProcess


async def seed(url: str, receivers: list[Receiver], events: int, subjects: int) -> None:
    engine = make_engine(Settings(database_url=url), pool_size=2)
    sessionmaker = make_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            for receiver in receivers:
                session.add(
                    WebhookSubscription(
                        owner_sub="bench",
                        url=receiver.url,
                        event_types=["*"],
                        secret=receiver.secrets[0],
                    )
                )
        for start in range(0, events, 1000):
            async with sessionmaker() as session, session.begin():
                for n in range(start, min(start + 1000, events)):
                    outbox.emit(
                        session,
                        service="competitions",
                        type="entry.approved",
                        subject=f"entry:{n % subjects}",
                        data={"entry_id": f"bench-{n}", "n": n, "status": "approved"},
                    )
    finally:
        await engine.dispose()


async def baseline(receivers: list[Receiver], count: int, concurrency: int) -> float:
    """Bare httpx: the same signed POSTs, `concurrency` at a time, no database."""
    body = json.dumps(
        {"type": "entry.approved", "timestamp": "2026-11-25T00:00:00+00:00", "data": {"n": 0}},
        separators=(",", ":"),
    )
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=15, limits=limits) as http:

        async def one(n: int) -> None:
            receiver = receivers[n % len(receivers)]
            headers = signing.headers(f"msg_{n}", datetime.now(UTC), body, receiver.secrets)
            response = await http.post(receiver.url, content=body.encode(), headers=headers)
            response.raise_for_status()

        started = time.perf_counter()
        for start in range(0, count, concurrency):
            await asyncio.gather(*(one(n) for n in range(start, min(start + concurrency, count))))
        return count / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=3)
    parser.add_argument("--dispatchers", type=int, default=1)
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--limit", type=float, default=600, help="give up after seconds")
    args = parser.parse_args()

    server = choose_server()
    name = asyncio.run(server.create_database())
    url = server.url_for(name)
    receivers = [Receiver() for _ in range(args.subscribers)]
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        upgrade_head(url)
        print(f"seeding {args.events:,} events and {args.subscribers} subscriptions...")
        asyncio.run(seed(url, receivers, args.events, args.subjects))
        expected = args.events * args.subscribers
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
            "WEBHOOK_BATCH_SIZE": str(args.batch_size),
            "WEBHOOK_POLL_SECONDS": "0.05",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        started = time.perf_counter()
        for i in range(args.dispatchers):
            procs[f"dispatcher-{i}"] = start_dispatcher(env)
        delivered = 0
        while delivered < expected:
            delivered = sum(r.stats()["accepted"] for r in receivers)
            if time.perf_counter() - started > args.limit:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        stop_services(procs)
        stats = [r.stats() for r in receivers]
        delivered = sum(s["accepted"] for s in stats)
        messages = sum(s["messages"] for s in stats)
        rejected = sum(s["rejected"] for s in stats)
        lost = expected - delivered
        rate = delivered / elapsed
        base = asyncio.run(baseline(receivers, min(expected, 10_000), args.batch_size))
        print(
            f"\nwebhooks: {args.events:,} events x {args.subscribers} subscribers = "
            f"{expected:,} deliveries, {args.dispatchers} dispatcher(s), "
            f"batch {args.batch_size}"
        )
        print(f"  delivered      {delivered:,} in {elapsed:.1f} s")
        print(f"  ours           {rate:,.0f} deliveries/s (fan-out, claim, sign, POST, record)")
        print(f"  baseline       {base:,.0f} POST/s (bare httpx, same concurrency, no database)")
        print(f"  ratio          {rate / base:.2f}")
        print(f"  lost           {lost}")
        print(f"  duplicates     {messages - delivered}")
        print(f"  bad signatures {rejected}")
        return 0 if lost == 0 and rejected == 0 else 1
    finally:
        stop_services(procs)
        for r in receivers:
            r.stop()
        asyncio.run(server.drop_database(name))
        server.close()


if __name__ == "__main__":
    raise SystemExit(main())
