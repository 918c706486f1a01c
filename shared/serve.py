"""Run one service under uvicorn with N worker processes that each accept their own connections:
`python -m shared.serve registry --host 0.0.0.0 --port 8001 --workers 4`.

Why not `uvicorn --workers N`: its workers share one listening socket, and whichever worker's
event loop wakes first accepts every connection waiting in the backlog. Clients that keep
connections alive (the other services' connection pools, a reverse proxy, a burst of browsers
opening at once) therefore pile onto one worker while the others idle; in the registration
burst one competitions worker took 64 connections and ran at 85% CPU while its sibling served
none. Here each worker binds its own socket to the same port with SO_REUSEPORT, and the kernel
spreads new connections across them by hash, so every worker gets its share.

The parent binds the port first (without listening), so a port already taken fails at once
with a clear message, and keeps it until it stops; it restarts a worker that dies (at most
once a second), and on SIGTERM or SIGINT stops every worker gracefully. Where SO_REUSEPORT is
missing (not Linux or BSD), or with one worker, it runs plain uvicorn in this process.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from typing import Any

SERVICES = ("registry", "competitions", "judging")


def app_path(service: str) -> str:
    return f"services.{service}.main:create_app"


def bind(host: str, port: int, *, listen: bool) -> socket.socket:
    """A TCP socket on host:port with SO_REUSEPORT (listening when `listen`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    if listen:
        sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "factory": True,
        "host": args.host,
        "port": args.port,
        "loop": args.loop,
        "http": args.http,
        "access_log": args.access_log,
        "log_level": args.log_level,
        "timeout_graceful_shutdown": args.timeout_graceful_shutdown,
        "proxy_headers": args.proxy_headers,
        "forwarded_allow_ips": args.forwarded_allow_ips,
    }


def worker(service: str, options: dict[str, Any]) -> None:  # pragma: no cover - a child
    import uvicorn

    if sys.platform == "linux":  # stop with the parent, even if it is killed outright
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PDEATHSIG
    sock = bind(options["host"], options["port"], listen=True)
    server = uvicorn.Server(uvicorn.Config(app_path(service), **options))
    server.run(sockets=[sock])


def supervise(service: str, options: dict[str, Any], workers: int) -> int:
    """Start `workers` children, restart any that dies, stop them all on SIGTERM/SIGINT."""
    try:
        # Reserve the port (bound, not listening: the kernel sends connections only to the
        # workers' listening sockets) and fail now if someone else holds it.
        guard = bind(options["host"], options["port"], listen=False)
    except OSError as exc:
        print(f"cannot bind {options['host']}:{options['port']}: {exc}", file=sys.stderr)
        return 1
    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        proc = ctx.Process(target=worker, args=(service, options), daemon=False)
        proc.start()
        return proc

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = [start() for _ in range(workers)]
    last_restart = 0.0
    try:
        while not stopping:
            time.sleep(0.2)
            for i, proc in enumerate(procs):
                if proc.is_alive() or stopping:
                    continue
                print(
                    f"{service} worker {proc.pid} exited ({proc.exitcode}); restarting",
                    file=sys.stderr,
                )
                time.sleep(max(0.0, 1.0 - (time.monotonic() - last_restart)))
                last_restart = time.monotonic()
                procs[i] = start()
    finally:
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + options["timeout_graceful_shutdown"] + 5
        for proc in procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        guard.close()
    return 0


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m shared.serve", description=__doc__)
    parser.add_argument("service", choices=SERVICES)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1") or 1)
    )
    parser.add_argument("--loop", default="auto", choices=("auto", "asyncio", "uvloop"))
    parser.add_argument("--http", default="auto", choices=("auto", "h11", "httptools"))
    parser.add_argument("--log-level", default=None)
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=False)
    parser.add_argument("--timeout-graceful-shutdown", type=int, default=5)
    parser.add_argument(
        "--proxy-headers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips (uvicorn's default)",
    )
    parser.add_argument("--forwarded-allow-ips", default=None)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    options = uvicorn_options(args)
    if args.workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        import uvicorn

        uvicorn.run(app_path(args.service), workers=args.workers, **options)
        return 0
    return supervise(args.service, options, args.workers)


if __name__ == "__main__":
    raise SystemExit(main())
