"""docker-compose.yml, the Dockerfile and .dockerignore agree with the code.

No Docker engine is available where the tests run, so the container files are checked by
reading them: service names and ports against `SERVICE_PORTS`, environment names and values
against `Settings`, factory targets by importing them, start-up order, and the image's user,
ports and contents.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import re
import shlex
import tomllib
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import ValidationError

from shared.config import PROJECT_ROOT, SERVICE_PORTS, Settings
from shared.serve import app_path, parse

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"

APP_SERVICES = tuple(SERVICE_PORTS)  # registry, competitions, judging
WORKERS = ("dispatcher",)  # background processes without a port
JOBS = ("migrate", "db-login", "provision")  # one-shot
PYTHON_SERVICES = (*JOBS, *APP_SERVICES, *WORKERS)  # our image
#: What connects as the services' login (never the schema owner).
APP_LOGIN_USERS = ("db-login", "provision", *APP_SERVICES, *WORKERS)
SETTINGS_ENV_NAMES = frozenset(name.upper() for name in Settings.model_fields)
SERVICE_URL_VARS = {f"{name.upper()}_URL": name for name in APP_SERVICES}
# What the running services need inside the image (COPY . must not lose them).
IMAGE_NEEDS = ("pyproject.toml", "alembic.ini", "migrations", "shared", "services")

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


# ----------------------------------------------------------------------------- compose helpers


@cache
def _compose() -> dict[str, Any]:
    assert COMPOSE_FILE.is_file(), f"{COMPOSE_FILE} is missing"
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    assert isinstance(data.get("services"), dict), "docker-compose.yml has no `services` mapping"
    return data


def _service(name: str) -> dict[str, Any]:
    services = _compose()["services"]
    assert name in services, f"service {name!r} is missing from docker-compose.yml"
    service = services[name]
    assert isinstance(service, dict), f"service {name!r} must be a mapping"
    return service


def _interpolate(value: str) -> str:
    """Resolve `${VAR}`, `${VAR:-default}`, `${VAR-default}` as with an empty shell environment."""

    def replace(match: re.Match[str]) -> str:
        op, arg = match["op"], match["arg"]
        if op is not None and op.endswith("?"):
            pytest.fail(f"{match[0]} makes docker compose fail unless {match['name']} is set")
        return arg if op is not None else ""

    return _VAR.sub(replace, value.replace("$$", "\0")).replace("\0", "$")


def _command(name: str) -> list[str]:
    command = _service(name).get("command")
    assert command, f"service {name!r} has no command"
    parts = shlex.split(command) if isinstance(command, str) else [str(p) for p in command]
    return [_interpolate(p) for p in parts]


def _option(command: list[str], flag: str) -> str | None:
    for i, part in enumerate(command):
        if part == flag:
            return command[i + 1] if i + 1 < len(command) else None
        if part.startswith(flag + "="):
            return part.split("=", 1)[1]
    return None


def _raw_environment(name: str) -> dict[str, Any]:
    env = _service(name).get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    assert isinstance(env, dict), f"{name}: environment must be a mapping or a list"
    return env


def _environment(name: str) -> dict[str, str]:
    return {k: _interpolate(str(v)) for k, v in _raw_environment(name).items() if v is not None}


def _published_ports(name: str) -> set[tuple[int, int]]:
    """(host port, container port) pairs, from the short or the long port syntax."""
    pairs = set()
    for entry in _service(name).get("ports") or []:
        if isinstance(entry, dict):
            pairs.add((int(entry["published"]), int(entry["target"])))
            continue
        spec = _interpolate(str(entry)).split("/")[0]  # drop /tcp
        fields = spec.split(":")
        assert len(fields) >= 2, f"{name}: port {entry!r} publishes no fixed host port"
        pairs.add((int(fields[-2]), int(fields[-1])))
    return pairs


def _depends_on(name: str) -> dict[str, str]:
    deps = _service(name).get("depends_on") or {}
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {dep: (spec or {}).get("condition", "service_started") for dep, spec in deps.items()}


def _named_volume_mounts(name: str) -> dict[str, str]:
    """Container path -> named volume (declared at the top level) for a service."""
    declared = _compose().get("volumes") or {}
    mounts = {}
    for entry in _service(name).get("volumes") or []:
        if isinstance(entry, dict):
            source, target = entry.get("source"), entry.get("target")
        else:
            source, target = [*str(entry).split(":"), ""][:2]
        if source in declared:
            mounts[str(target)] = str(source)
    return mounts


# -------------------------------------------------------------------------- dockerfile helpers


@cache
def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuation lines joined."""
    assert DOCKERFILE.is_file(), f"{DOCKERFILE} is missing"
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, rest = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    assert instructions, "the Dockerfile has no instructions"
    return instructions


def _args(rest: str) -> list[str]:
    """Arguments of an instruction in exec (JSON) or shell form."""
    if rest.startswith("["):
        parsed = json.loads(rest)
        assert isinstance(parsed, list)
        return [str(p) for p in parsed]
    return shlex.split(rest)


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile()
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert starts, "the Dockerfile has no FROM"
    return instructions[starts[-1] :]


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in _final_stage():
        if keyword == "ENV":
            parts = shlex.split(rest)
            if len(parts) >= 2 and "=" not in parts[0]:  # legacy `ENV KEY value`
                env[parts[0]] = " ".join(parts[1:])
            else:
                for part in parts:
                    key, _, value = part.partition("=")
                    env[key] = value
    return env


# ------------------------------------------------------------------------------ compose: shape


def test_compose_defines_the_database_the_migration_job_and_the_three_services() -> None:
    services = _compose()["services"]
    missing = {"postgres", "migrate", *APP_SERVICES, *WORKERS} - set(services)
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"


def test_postgres_is_version_16_with_a_healthcheck_and_a_data_volume() -> None:
    postgres = _service("postgres")
    assert str(postgres.get("image", "")).startswith("postgres:16"), (
        f"postgres should run the postgres:16 image, not {postgres.get('image')!r}"
    )
    check = postgres.get("healthcheck") or {}
    assert "pg_isready" in " ".join(map(str, check.get("test") or [])), (
        "postgres needs a pg_isready healthcheck so that `service_healthy` means something"
    )
    mounts = _named_volume_mounts("postgres")
    assert "/var/lib/postgresql/data" in mounts, (
        "postgres must keep /var/lib/postgresql/data on a named volume declared under "
        f"top-level `volumes` (found {mounts})"
    )
    env = _environment("postgres")
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} <= set(env), (
        f"postgres should set POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB (has {sorted(env)})"
    )
    assert env["POSTGRES_DB"] == "shandong_skills", "the database should be named shandong_skills"


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_service_runs_the_project_image(name: str) -> None:
    service = _service(name)
    build = service.get("build")
    context = build.get("context") if isinstance(build, dict) else build
    dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
    assert context is not None, f"{name} should be built from the project's Dockerfile"
    assert (COMPOSE_FILE.parent / str(context) / str(dockerfile)).resolve() == DOCKERFILE, (
        f"{name} builds {context}/{dockerfile}, not the project's Dockerfile"
    )
    images = {_service(other).get("image") for other in PYTHON_SERVICES}
    assert len(images) == 1, f"migrate and the services should share one image, found {images}"


# ------------------------------------------------------------------------ compose: the services


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_listens_on_and_publishes_its_port(name: str) -> None:
    port = SERVICE_PORTS[name]
    command = _command(name)
    assert command[:3] == ["python", "-m", "shared.serve"], (
        f"{name} should be started by `python -m shared.serve` (uvicorn workers that each accept "
        f"their own connections): {command}"
    )
    assert _option(command, "--port") == str(port), (
        f"{name}'s command should pass --port {port} (SERVICE_PORTS): {command}"
    )
    assert _option(command, "--host") == "0.0.0.0", (  # noqa: S104 - in a container
        f"{name} must listen on 0.0.0.0 to be reachable from outside its container: {command}"
    )
    assert (port, port) in _published_ports(name), (
        f"{name} should publish {port}:{port}, found {sorted(_published_ports(name))}"
    )


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_factory_target_is_importable(name: str) -> None:
    command = _command(name)
    assert command[3:4] == [name], f"{name} should run `python -m shared.serve {name}`: {command}"
    target = app_path(name)
    assert target == f"services.{name}.main:create_app"
    module_name, _, attribute = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attribute, None)
    assert callable(factory), f"{target} is not a callable"
    # the command parses as shared.serve reads it (its options exist, the port is this one)
    args = parse(command[3:])
    assert (args.service, args.port) == (name, SERVICE_PORTS[name])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_healthcheck_probes_its_own_healthz_without_curl(name: str) -> None:
    check = _service(name).get("healthcheck") or {}
    test = " ".join(map(str, check.get("test") or []))
    assert f":{SERVICE_PORTS[name]}/healthz" in test, (
        f"{name}'s healthcheck should request /healthz on port {SERVICE_PORTS[name]}: {test!r}"
    )
    assert "python" in test, f"{name}'s healthcheck should use python (the slim image): {test!r}"
    for tool in ("curl", "wget"):
        assert tool not in test, f"{name}'s healthcheck uses {tool}; python:3.11-slim has none"


# ---------------------------------------------------------------------- compose: configuration


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_environment_names_are_settings_fields(name: str) -> None:
    names = {key for key in _raw_environment(name) if not key.startswith("POSTGRES_")}
    unknown = names - SETTINGS_ENV_NAMES
    assert not unknown, (
        f"{name} sets {sorted(unknown)}, which shared.config.Settings does not read "
        f"(known: {sorted(SETTINGS_ENV_NAMES)})"
    )


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_environment_values_are_valid_settings(name: str) -> None:
    raw = _raw_environment(name)
    booleans = sorted(key for key, value in raw.items() if isinstance(value, bool))
    assert not booleans, f"{name}: quote {booleans}; docker compose rejects YAML booleans"
    values = {key.lower(): value for key, value in _environment(name).items()}
    values = {key: value for key, value in values.items() if key in Settings.model_fields}
    try:
        Settings.model_validate(values)
    except ValidationError as exc:
        pytest.fail(f"{name}'s environment is not valid for Settings: {exc}")


def _compose_db_url(name: str, var: str) -> Any:
    env = _environment(name)
    assert var in env, f"{name} needs {var} (else it starts an embedded one)"
    url = urlsplit(env[var])
    pg = _environment("postgres")
    assert url.scheme in ("postgresql", "postgres", "postgresql+asyncpg"), env[var]
    assert url.hostname == "postgres", f"{name}: {var} should use host `postgres`"
    assert url.port in (None, 5432), f"{name}: {var} should use port 5432"
    assert url.path.lstrip("/") == pg["POSTGRES_DB"], f"{name}: {var} names another db"
    return url


@pytest.mark.parametrize("name", ["migrate", "db-login"])
def test_the_schema_owner_migrates_and_creates_the_services_login(name: str) -> None:
    url = _compose_db_url(name, "MIGRATION_DATABASE_URL")
    pg = _environment("postgres")
    assert url.username == pg["POSTGRES_USER"], f"{name}: the owner is POSTGRES_USER"
    assert url.password == pg["POSTGRES_PASSWORD"], f"{name}: owner password != POSTGRES_PASSWORD"
    assert "DATABASE_URL" not in _environment("migrate"), "migrate needs the owner only"


@pytest.mark.parametrize("name", APP_LOGIN_USERS)
def test_services_connect_with_their_own_login_never_the_owner(name: str) -> None:
    url = _compose_db_url(name, "DATABASE_URL")
    pg = _environment("postgres")
    assert url.username != pg["POSTGRES_USER"], (
        f"{name} connects as the schema owner (a superuser in the postgres image): use the "
        "services' login, a member of app_writer only"
    )
    assert url.password
    assert url.password != pg["POSTGRES_PASSWORD"]
    assert urlsplit(_environment("db-login")["DATABASE_URL"]) == url, (
        f"{name} must use the login the db-login job creates"
    )
    if name != "db-login":
        assert "MIGRATION_DATABASE_URL" not in _environment(name), (
            f"{name} must not hold the owner's password"
        )


def test_db_login_job_runs_after_migrations_and_everything_waits_for_it() -> None:
    assert _command("db-login") == ["python", "-m", "shared.dblogin"]
    assert callable(importlib.import_module("shared.dblogin").main)
    assert _depends_on("db-login").get("migrate") == "service_completed_successfully", (
        "the login is made a member of app_writer, which migration 0020 creates"
    )
    assert _service("db-login").get("restart", "no") == "no"
    for name in ("provision", *APP_SERVICES, *WORKERS):
        assert _depends_on(name).get("db-login") == "service_completed_successfully", (
            f"{name} connects with the login db-login creates: wait for it"
        )


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_urls_point_at_compose_services(name: str) -> None:
    env = _environment(name)
    for var, target in SERVICE_URL_VARS.items():
        assert var in env, f"{name} needs {var} (the default 127.0.0.1 is wrong in a container)"
        url = urlsplit(env[var])
        assert url.scheme == "http", f"{name}: {var}={env[var]} should be http"
        assert url.hostname == target, f"{name}: {var}={env[var]} should use host {target!r}"
        assert url.port == SERVICE_PORTS[target], (
            f"{name}: {var}={env[var]} should use port {SERVICE_PORTS[target]}"
        )
    if "PUBLIC_REGISTRY_URL" in env:
        public = urlsplit(env["PUBLIC_REGISTRY_URL"])
        host_ports = {host for host, _ in _published_ports("registry")}
        assert public.hostname in ("localhost", "127.0.0.1"), (
            f"{name}: PUBLIC_REGISTRY_URL={env['PUBLIC_REGISTRY_URL']} is for the browser on the "
            "host: it should name localhost"
        )
        assert public.port in host_ports, (
            f"{name}: PUBLIC_REGISTRY_URL={env['PUBLIC_REGISTRY_URL']} should use the registry's "
            f"published port ({sorted(host_ports)})"
        )


def test_dispatcher_runs_the_webhooks_module_after_migrations() -> None:
    assert _command("dispatcher") == ["python", "-m", "shared.webhooks"], (
        f"the dispatcher should run `python -m shared.webhooks`, not {_command('dispatcher')}"
    )
    module = importlib.import_module("shared.webhooks.__main__")
    assert callable(getattr(module, "main", None)), "shared.webhooks.__main__ needs main()"
    deps = _depends_on("dispatcher")
    assert deps.get("postgres") == "service_healthy", "the dispatcher must wait for postgres"
    assert deps.get("migrate") == "service_completed_successfully", (
        "the dispatcher must wait for the migrations (it reads the webhook tables)"
    )
    assert not _published_ports("dispatcher"), "the dispatcher serves nothing: publish no port"
    env = _environment("dispatcher")
    assert env.get("ENVIRONMENT") == _environment("registry").get("ENVIRONMENT")
    assert "WEBHOOK_ALLOWED_HOSTS" not in env, (
        "in a deployment the SSRF guard should refuse private addresses (no allow-list)"
    )


@pytest.mark.parametrize("name", ["dispatcher", "migrate"])
def test_the_dispatcher_and_the_migrations_read_the_registrys_data_key(name: str) -> None:
    """Webhook secrets are encrypted with the data key in KEY_DIR: the dispatcher decrypts
    them to sign, a migration may encrypt existing rows; both must see the registry's key."""
    registry_dir = _environment("registry").get("KEY_DIR")
    key_dir = _environment(name).get("KEY_DIR") or _dockerfile_env().get("KEY_DIR")
    assert key_dir == registry_dir, f"{name}: KEY_DIR {key_dir} is not the registry's"
    assert _named_volume_mounts(name).get(str(key_dir)) == _named_volume_mounts("registry").get(
        str(registry_dir)
    ), f"{name} must mount the registry's keys volume at {key_dir}"


def test_registry_keeps_its_signing_keys_on_a_named_volume() -> None:
    key_dir = _environment("registry").get("KEY_DIR") or _dockerfile_env().get("KEY_DIR")
    assert key_dir, "registry needs KEY_DIR (in compose or the image)"
    mounts = _named_volume_mounts("registry")
    assert key_dir in mounts, (
        f"registry's KEY_DIR {key_dir} must be a named volume, or every restart makes a new "
        f"signing key and invalidates all tokens (mounts: {mounts})"
    )


# ----------------------------------------------------------------------- compose: start order


def test_migrate_runs_alembic_upgrade_head_once_postgres_is_healthy() -> None:
    assert _command("migrate") == ["alembic", "upgrade", "head"], (
        f"migrate should run `alembic upgrade head`, not {_command('migrate')}"
    )
    assert _depends_on("migrate").get("postgres") == "service_healthy", (
        "migrate must wait for postgres to be healthy"
    )
    restart = _service("migrate").get("restart", "no")
    assert restart == "no", f'migrate is a one-shot job: restart must be "no", not {restart!r}'


@pytest.mark.parametrize("name", APP_SERVICES)
def test_service_starts_after_migrations(name: str) -> None:
    deps = _depends_on(name)
    assert deps.get("postgres") == "service_healthy", f"{name} must wait for postgres healthy"
    assert deps.get("migrate") == "service_completed_successfully", (
        f"{name} must wait for migrate to complete successfully, found {deps.get('migrate')!r}"
    )
    if name != "registry":
        assert deps.get("registry") in ("service_started", "service_healthy"), (
            f"{name} calls the registry and should depend on it"
        )


def test_healthy_conditions_refer_to_services_with_healthchecks() -> None:
    for name in _compose()["services"]:
        for dep, condition in _depends_on(name).items():
            assert dep in _compose()["services"], f"{name} depends on unknown service {dep!r}"
            if condition == "service_healthy":
                assert _service(dep).get("healthcheck"), (
                    f"{name} waits for {dep} to be healthy but {dep} has no healthcheck"
                )


# ---------------------------------------------------------------------------------- Dockerfile


def test_dockerfile_uses_python_311_slim() -> None:
    base = _final_stage()[0][1].split()[0]
    assert base == "python:3.11-slim", f"the final stage should be FROM python:3.11-slim: {base}"


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [rest for keyword, rest in _final_stage() if keyword == "USER"]
    assert users, "the Dockerfile has no USER line: the services would run as root"
    user = users[-1].split(":")[0].strip()
    assert user not in ("root", "0"), f"the last USER is {users[-1]!r}, which is root"


def test_dockerfile_exposes_the_three_service_ports() -> None:
    exposed = {
        int(port.split("/")[0])
        for keyword, rest in _final_stage()
        if keyword == "EXPOSE"
        for port in rest.split()
    }
    missing = set(SERVICE_PORTS.values()) - exposed
    assert not missing, f"the Dockerfile should EXPOSE {sorted(missing)} too (has {exposed})"


def test_dockerfile_copies_alembic_files_and_installs_the_project() -> None:
    sources: set[str] = set()
    for keyword, rest in _final_stage():
        if keyword in ("COPY", "ADD"):
            args = [a for a in _args(rest) if not a.startswith("--")]
            sources.update(a.rstrip("/") or "." for a in args[:-1])
    copies_all = "." in sources or "./" in sources
    for needed in ("alembic.ini", "migrations"):
        assert copies_all or needed in sources, (
            f"the image needs {needed} (shared/migrate.py looks beside shared/): COPY it or `.`"
        )
    runs = " ".join(rest for keyword, rest in _final_stage() if keyword == "RUN")
    assert re.search(r"pip install (?:--?[\w-]+ )*\.(?:\s|$)", runs), (
        "the Dockerfile should `pip install .` the project"
    )


def test_dockerignore_keeps_what_the_image_needs_and_drops_the_rest() -> None:
    assert DOCKERIGNORE.is_file(), ".dockerignore is missing: COPY . would send .venv and .git"
    patterns = [
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and not line.startswith("!")
    ]
    # `pip install .` also reads the readme that pyproject.toml declares.
    readme = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"
    ].get("readme")
    for needed in (*IMAGE_NEEDS, *([readme] if isinstance(readme, str) else [])):
        hits = [p for p in patterns if fnmatch.fnmatch(needed, p)]
        assert not hits, f".dockerignore drops {needed}, which the image needs ({hits})"
    for unwanted in (".venv", ".git", "var", "tests"):
        assert any(fnmatch.fnmatch(unwanted, p) for p in patterns), (
            f".dockerignore should exclude {unwanted}"
        )


def test_dockerfile_key_dir_matches_compose_and_default_command_runs_registry() -> None:
    env = _dockerfile_env()
    assert env.get("PYTHONUNBUFFERED") == "1", "set PYTHONUNBUFFERED=1 so logs are not held back"
    registry_key_dir = _environment("registry").get("KEY_DIR")
    assert env.get("KEY_DIR") == registry_key_dir, (
        f"the image's KEY_DIR {env.get('KEY_DIR')} and compose's {registry_key_dir} differ"
    )
    cmds = [_args(rest) for keyword, rest in _final_stage() if keyword == "CMD"]
    assert cmds, "the Dockerfile should have a default CMD"
    cmd = cmds[-1]
    assert cmd[:4] == ["python", "-m", "shared.serve", "registry"], (
        f"the default CMD should run registry through shared.serve: {cmd}"
    )
    assert _option(cmd, "--port") == str(SERVICE_PORTS["registry"]), (
        f"the default CMD should listen on {SERVICE_PORTS['registry']}: {cmd}"
    )


def test_project_files_the_image_needs_exist() -> None:
    for needed in IMAGE_NEEDS:
        assert (PROJECT_ROOT / needed).exists(), f"{needed} is missing from the project"


def test_provision_gives_the_services_their_machine_client_after_migrations() -> None:
    provision = _service("provision")
    assert _command("provision") == [
        "python",
        "-m",
        "services.registry.cli",
        "service-client",
        "--from-env",
    ]
    assert provision["depends_on"]["db-login"]["condition"] == "service_completed_successfully"
    secret = provision["environment"]["SERVICE_CLIENT_SECRET"]
    for name in ("competitions", "judging"):
        env = _service(name)["environment"]
        assert env["SERVICE_CLIENT_ID"] == "internal-services"
        assert env["SERVICE_CLIENT_SECRET"] == secret, f"{name} must use the provisioned secret"
        assert _service(name)["depends_on"]["provision"]["condition"] == (
            "service_completed_successfully"
        )
