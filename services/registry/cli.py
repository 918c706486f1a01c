"""Registry administration from the command line.

    python -m services.registry.cli create-admin --username admin       # asks for the password
    python -m services.registry.cli create-admin --username admin --password-stdin < pw.txt
    python -m services.registry.cli create-client --name "省人社厅" --scope registry:read
    python -m services.registry.cli rotate-key
    python -m services.registry.cli import-workers 名册.xlsx --errors errors.csv

No default password exists anywhere: the first admin is created here, with a password you choose.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from services.registry.accounts import schemas, service
from services.registry.imports import service as import_service
from services.registry.imports.engine import LEASE, ImportRunner
from shared.auth import passwords
from shared.auth.keys import rotate_key
from shared.auth.principal import Principal, PrincipalKind, Role
from shared.config import Settings, get_settings
from shared.crypto import load_cipher
from shared.db import make_engine, make_sessionmaker
from shared.errors import DomainError
from shared.models.registry import ImportKind, ImportStatus
from shared.tabular import TableLimits


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat: ") != first:
        raise SystemExit("The passwords differ.")
    return first


async def _create_admin(username: str, display_name: str, password: str) -> str:
    engine = make_engine(get_settings(), pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            data = schemas.AccountCreate(
                username=username, display_name=display_name, password=password, role="admin"
            )
            account = await service.create_account(session, data, None)
            return str(account.id)
    finally:
        await engine.dispose()


async def provision_service_client(
    database_url: str | None = None, secret: str | None = None
) -> tuple[str, str]:
    settings = get_settings() if database_url is None else Settings(database_url=database_url)
    passwords.configure(settings.argon2_time_cost, settings.argon2_memory_kib)
    engine = make_engine(settings, pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await service.ensure_service_client(session, secret)
    finally:
        await engine.dispose()


async def _create_client(name: str, scopes: list[str]) -> schemas.MachineClientWithSecret:
    engine = make_engine(get_settings(), pool_size=1, max_overflow=0)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            data = schemas.MachineClientCreate(name=name, scopes=scopes)
            return await service.create_client(session, data, None)
    finally:
        await engine.dispose()


async def _import(kind: ImportKind, path: Path, errors_to: str | None) -> int:
    """The same job as `POST /v1/imports/...`, run here with a progress bar."""
    settings = get_settings()
    engine = make_engine(settings, pool_size=2, max_overflow=0)
    sessionmaker = make_sessionmaker(engine)
    cipher = load_cipher(settings.data_key, settings.key_dir)
    limits = TableLimits.from_settings(settings)
    operator = Principal(sub="cli", kind=PrincipalKind.account, role=Role.admin, name="cli")
    try:
        content = await anyio.to_thread.run_sync(path.read_bytes)
        async with sessionmaker() as session, session.begin():
            job = await import_service.create_job(
                session, kind, path.name, content, operator, cipher, limits
            )
            job.status = ImportStatus.running  # ours: a running registry will not claim it
            job.lease_until = datetime.now(UTC) + LEASE
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ) as bar:
            task = bar.add_task(f"importing {path.name}", total=None)
            runner = ImportRunner(
                sessionmaker,
                cipher,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                limits=limits,
            )
            finished = await runner.run(job.id)
        print(
            f"{finished.status.value}: {finished.inserted_rows} inserted, "
            f"{finished.duplicate_rows} duplicates, {finished.error_rows} rows with errors "
            f"(job {finished.id})"
        )
        if finished.failure:
            print(f"error: {finished.failure}", file=sys.stderr)
        if errors_to:
            async with sessionmaker() as session:
                report = await import_service.errors_csv(session, finished.id, operator)
            await anyio.to_thread.run_sync(
                lambda: Path(errors_to).write_text(report, encoding="utf-8-sig")
            )
            print(f"row errors written to {errors_to}")
        return 0 if finished.status is ImportStatus.completed else 1
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.registry.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    admin = sub.add_parser("create-admin", help="create an admin account")
    admin.add_argument("--username", required=True)
    admin.add_argument("--display-name", default="Provincial administrator")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    client = sub.add_parser("create-client", help="register a machine client; prints its secret")
    client.add_argument("--name", required=True)
    client.add_argument("--scope", action="append", required=True, dest="scopes")
    sub.add_parser("rotate-key", help="retire the signing key and make a new one")
    service_client = sub.add_parser(
        "service-client",
        help="create (or renew the secret of) the machine client competitions and judging use; "
        "prints SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET",
    )
    service_client.add_argument(
        "--from-env",
        action="store_true",
        help="use the secret in SERVICE_CLIENT_SECRET (deployments: docker-compose) instead of "
        "a new random one; prints nothing secret",
    )
    for kind in ("workers", "enterprises"):
        imp = sub.add_parser(f"import-{kind}", help=f"import {kind} from a CSV or XLSX file")
        imp.add_argument("file", help="path of the .csv or .xlsx file")
        imp.add_argument("--errors", help="write the row errors to this CSV file")
    args = parser.parse_args(argv)
    settings = get_settings()
    passwords.configure(settings.argon2_time_cost, settings.argon2_memory_kib)

    try:
        if args.command == "create-admin":
            password = _read_password(args.password_stdin)
            account_id = asyncio.run(_create_admin(args.username, args.display_name, password))
            print(f"admin {args.username} created (id {account_id})")
        elif args.command == "create-client":
            created = asyncio.run(_create_client(args.name, args.scopes))
            print(f"client_id={created.client_id}")
            print(f"client_secret={created.client_secret}")
        elif args.command == "service-client":
            chosen = settings.service_client_secret if args.from_env else None
            if args.from_env and not chosen:
                print("error: SERVICE_CLIENT_SECRET is not set", file=sys.stderr)
                return 2
            client_id, secret = asyncio.run(provision_service_client(secret=chosen))
            print(f"SERVICE_CLIENT_ID={client_id}")
            if not args.from_env:
                print(f"SERVICE_CLIENT_SECRET={secret}")
        elif args.command.startswith("import-"):
            kind = ImportKind(args.command.removeprefix("import-"))
            return asyncio.run(_import(kind, Path(args.file), args.errors))
        else:
            key = rotate_key(get_settings().key_dir)
            print(f"new signing key {key.kid}; restart the registry to sign with it")
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    except ValueError as exc:  # pydantic validation of the arguments
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
