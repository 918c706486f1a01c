"""The one command that runs the whole system: `make run` (or `python -m shared.run`).

- no DATABASE_URL: starts an embedded Postgres (pgserver) with its data in `var/pgdata`;
- applies the migrations as the schema owner, then gives the services a login of their own
  that is a member of `app_writer` only (shared/dblogin.py);
- starts registry (8001), competitions (8002) and judging (8003) as uvicorn processes, and
  the webhook dispatcher (`python -m shared.webhooks`);
- `--demo` loads a small realistic data set and prints the sign-ins it created;
- Ctrl-C (or SIGTERM) stops everything; children also die if this process is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from shared.config import PROJECT_ROOT, SERVICE_PORTS, Settings
from shared.dblogin import UnsafeLogin, app_url_for, login_of
from shared.migrate import upgrade_head

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def service_command(
    service: str, host: str, port: int, workers: int = 1, extra: Sequence[str] = ()
) -> list[str]:
    """The command that runs one service: uvicorn through `shared.serve`, whose workers each
    accept their own connections (SO_REUSEPORT) instead of sharing one socket."""
    cmd = [
        sys.executable,
        "-m",
        "shared.serve",
        service,
        "--host",
        host,
        "--port",
        str(port),
        "--timeout-graceful-shutdown",
        "5",
        "--workers",
        str(workers),
    ]
    return cmd + list(extra)


def start_services(
    env: dict[str, str],
    host: str,
    ports: dict[str, int],
    workers: int = 1,
    log_dir: Path | None = None,
    extra: Sequence[str] = (),
) -> dict[str, subprocess.Popen[bytes]]:
    """Start one uvicorn process per service; with `log_dir`, each logs to `<service>.log`;
    `extra` adds uvicorn options (e.g. `--loop uvloop`)."""
    procs = {}
    for service, port in ports.items():
        output = open(log_dir / f"{service}.log", "ab") if log_dir else None  # noqa: SIM115
        procs[service] = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            service_command(service, host, port, workers, extra),
            env=env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        if output:
            output.close()  # the child holds its own descriptor
    return procs


DISPATCHER_COMMAND = [sys.executable, "-m", "shared.webhooks"]


def start_dispatcher(
    env: dict[str, str], log_dir: Path | None = None, name: str = "dispatcher"
) -> subprocess.Popen[bytes]:
    """Start one webhook dispatcher process; with `log_dir`, it logs to `<name>.log`."""
    output = open(log_dir / f"{name}.log", "ab") if log_dir else None  # noqa: SIM115
    try:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            DISPATCHER_COMMAND,
            env=env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    finally:
        if output:
            output.close()


def wait_ready(
    urls: dict[str, str], procs: dict[str, subprocess.Popen[bytes]], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    while pending:
        for service, url in list(pending.items()):
            if procs[service].poll() is not None:
                raise RuntimeError(f"{service} exited with code {procs[service].returncode}")
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    del pending[service]
            except httpx.HTTPError:
                pass
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")
        time.sleep(0.2)


def stop_services(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 10
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--demo", action="store_true", help="load the demo data set")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "1")))
    parser.add_argument(
        "--base-port",
        type=int,
        default=SERVICE_PORTS["registry"],
        help="registry's port; competitions and judging take the next two",
    )
    parser.add_argument(
        "--data-dir",
        default=str(PROJECT_ROOT / "var" / "pgdata"),
        help="embedded Postgres data folder (when DATABASE_URL is unset)",
    )
    args = parser.parse_args(argv)

    env = dict(os.environ)
    pg: Any = None
    settings = Settings()
    owner_url = settings.migration_database_url or settings.database_url
    if owner_url:
        print("Using the database of the environment.")
    else:
        from shared.embedded_pg import start

        owner_url, pg = start(Path(args.data_dir))
        print(f"Embedded Postgres running (data in {args.data_dir}).")
    print("Applying migrations...")
    upgrade_head(owner_url)
    # The services never connect as the schema owner: a login that is a member of app_writer
    # only (created here unless MIGRATION_DATABASE_URL and DATABASE_URL are given apart).
    try:
        database_url = asyncio.run(app_url_for(settings, owner_url))
    except (UnsafeLogin, OSError, asyncpg.PostgresError) as exc:
        print(
            f"error: cannot set up the services' database login: {exc}\nGive the owner "
            "CREATEROLE, or set MIGRATION_DATABASE_URL (owner) and DATABASE_URL (a login that "
            "is a member of app_writer only).",
            file=sys.stderr,
        )
        if pg is not None:
            pg.cleanup()
        return 1
    env["DATABASE_URL"] = database_url
    env.pop("MIGRATION_DATABASE_URL", None)  # the services never see the owner's password
    print(f"Services connect as database login {login_of(database_url)[0]!r} (app_writer).")
    if not (env.get("SERVICE_CLIENT_ID") and env.get("SERVICE_CLIENT_SECRET")):
        # Machine credentials for competitions and judging (fresh secret on every start).
        from services.registry.cli import provision_service_client

        env["SERVICE_CLIENT_ID"], env["SERVICE_CLIENT_SECRET"] = asyncio.run(
            provision_service_client(database_url)
        )

    ports = {s: args.base_port + i for i, s in enumerate(SERVICE_PORTS)}
    shown_host = "127.0.0.1" if args.host == "0.0.0.0" else args.host  # noqa: S104
    urls = {s: f"http://{shown_host}:{p}" for s, p in ports.items()}
    for service, url in urls.items():
        env[f"{service.upper()}_URL"] = url

    stopping = False

    def _stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    procs = start_services(env, args.host, ports, args.workers)
    procs["dispatcher"] = start_dispatcher(env)
    code = 0
    try:
        wait_ready(urls, procs)
        print("\nAll services are up:")
        for service, url in urls.items():
            print(f"  {service:<13} {url}/docs")
        print(f"  {'dispatcher':<13} webhook deliveries (python -m shared.webhooks)")
        if args.demo:
            from shared.demo import load_demo

            asyncio.run(load_demo(database_url, urls))
        else:
            print("\nNo account yet? Create the first admin with `make admin`, or try `make demo`.")
        print("\nPress Ctrl-C to stop.")
        while not stopping:
            for service, proc in procs.items():
                if proc.poll() is not None:
                    print(
                        f"{service} exited with code {proc.returncode}; stopping.", file=sys.stderr
                    )
                    stopping, code = True, 1
            time.sleep(0.3)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    finally:
        print("Stopping services...")
        stop_services(procs)
        if pg is not None:
            pg.cleanup()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
