"""HTTP load generator: `python -m bench.load URL [URL ...] --concurrency 64 --duration 10`.

Runs in its own process (so it never shares a CPU-bound event loop with what it measures):
`concurrency` keep-alive HTTP/1.1 connections each send GET requests one after another,
cycling through the given URLs, for `duration` seconds or until `max_requests` were sent.
With `--bodies FILE` (one JSON document a line) they POST instead: each body is sent exactly
once, and the run ends when every body was sent (or at `duration`). Prints one JSON line:
requests, errors (a status other than `--expect`, 200 by default, or a broken connection), the
count of each status, req/s, p50/p90/p99 latency (ms).

The client is plain asyncio streams (on uvloop) rather than httpx: on this 2-core machine an
httpx.AsyncClient topped out at ~120 req/s with 64 connections against a bare FastAPI
endpoint that a raw asyncio client drives at ~4,500 req/s, so httpx would have measured
itself, not the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


class Connection:
    """One keep-alive HTTP/1.1 connection; responses must carry a Content-Length (but a 304
    or 204, which has no body)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        return await self.request("GET", target)

    async def request(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.extra}"
        if body is not None:
            head += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        reply = await self.reader.readuntil(b"\r\n\r\n")
        lines = reply.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in lines[1:] if line)
        }
        # A 304 (or 204) has no body and need not say so.
        no_body = status in (204, 304) and "content-length" not in fields
        body = b"" if no_body else await self.reader.readexactly(int(fields["content-length"]))
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def run(
    urls: list[str],
    *,
    concurrency: int,
    duration: float,
    max_requests: int,
    headers: dict[str, str],
    bodies: list[bytes] | None = None,
    expect: int = 200,
) -> dict[str, Any]:
    """GET the URLs in turn; with `bodies`, POST each body once (to the URLs in turn)."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors = 0
    sent = 0
    pending = iter(bodies) if bodies is not None else None
    if bodies is not None:
        max_requests = min(max_requests, len(bodies))
    first = urlsplit(urls[0])
    host, port = first.hostname or "127.0.0.1", first.port or 80
    targets = itertools.cycle(
        [(u.path or "/") + (f"?{u.query}" if u.query else "") for u in map(urlsplit, urls)]
    )
    deadline = time.perf_counter() + duration

    async def user() -> None:
        nonlocal errors, sent
        conn = Connection(host, port, headers)
        try:
            while time.perf_counter() < deadline and sent < max_requests:
                sent += 1
                target = next(targets)
                body = next(pending) if pending is not None else None
                start = time.perf_counter()
                try:
                    if body is None:
                        status, _ = await conn.get(target)
                    else:
                        status, _ = await conn.request("POST", target, body)
                    statuses[str(status)] += 1
                    ok = status == expect
                except (OSError, asyncio.IncompleteReadError, ValueError, KeyError):
                    await conn.close()
                    statuses["broken"] += 1
                    ok = False
                latencies.append(time.perf_counter() - start)
                if not ok:
                    errors += 1
        finally:
            await conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "statuses": dict(statuses),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p90_ms": percentile(latencies, 90) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else 0.0,
        "concurrency": concurrency,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("--bodies", type=Path, help="POST these JSON lines, each once")
    parser.add_argument("--expect", type=int, default=200, help="the status that counts as ok")
    args = parser.parse_args(argv)
    bodies = None
    if args.bodies:
        bodies = [line.encode() for line in args.bodies.read_text().splitlines() if line]
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    result = runner(
        run(
            args.urls,
            concurrency=args.concurrency,
            duration=args.duration,
            max_requests=args.max_requests,
            headers=headers,
            bodies=bodies,
            expect=args.expect,
        )
    )
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
