"""The one command that runs the whole system: `make run` (or `python -m services.run`).

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
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from services.demo import load_demo
from services.registry.cli import provision_service_client
from shared.config import PROJECT_ROOT, SERVICE_PORTS, Settings
from shared.dblogin import UnsafeLogin, app_url_for, login_of
from shared.migrate import upgrade_head
from shared.processes import start_dispatcher, start_services, stop_services, wait_ready


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.run",
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
