"""Clients generated from each service's document, as frontend teams generate them.

openapi-python-client (PyPI) generates a client for every service, which must generate without
a warning, import, and run `EXAMPLE` (the Python snippet of the README's "API conventions",
docs/snippets/readme_example.py) against the real registry; mypy checks the snippet against the
generated types. Where Node is on the PATH (the CI machine has Node 20), openapi-typescript must
turn every document into types as well (the TypeScript snippet runs against real processes in
tests/e2e/test_typescript_client.py).
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shared.config import PROJECT_ROOT
from tests.contract.conftest import SERVICES, write_documents
from tests.factories import credit_code

#: Binary answers (PDF, PNG, XLSX): the generator reads them as bytes.
CONFIG = """\
content_type_overrides:
  application/pdf: application/octet-stream
  image/png: application/octet-stream
  text/calendar: application/octet-stream
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
"""

#: The README's Python snippet (README quotes the file verbatim: tests/test_readme.py): run by
#: `test_generated_client_runs_the_readme_example`, type-checked by mypy.
EXAMPLE = (PROJECT_ROOT / "docs" / "snippets" / "readme_example.py").read_text(encoding="utf-8")


def _bin(name: str) -> str:
    """A tool installed next to this interpreter (the generator runs `ruff` on its output)."""
    return str(Path(sys.executable).parent / name)


@pytest.fixture(scope="session")
def generated(
    documents: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """One Python client per service in `<dir>/<service>_client`, generated once per run."""
    root = tmp_path_factory.mktemp("clients")
    paths = write_documents(documents, root)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for service in SERVICES:
        config = root / f"{service}.yaml"
        config.write_text(
            f"package_name_override: {service}_client\n"
            f"project_name_override: {service}_client\n" + CONFIG
        )
        done = subprocess.run(
            [
                _bin("openapi-python-client"),
                "generate",
                "--path",
                str(paths[service]),
                "--output-path",
                str(root / f"{service}_client"),
                "--meta",
                "none",
                "--config",
                str(config),
                "--overwrite",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        # The generator says what it had to leave out; nothing may be left out.
        assert "WARNING" not in output, output
        assert "Error" not in output, output
    return root


@pytest.fixture
def on_path(generated: Path) -> Any:
    sys.path.insert(0, str(generated))
    yield generated
    sys.path.remove(str(generated))
    for name in list(sys.modules):
        if name.split(".")[0] in {f"{s}_client" for s in SERVICES}:
            del sys.modules[name]


@pytest.mark.parametrize("service", SERVICES)
def test_generated_client_imports_every_operation(
    on_path: Path, documents: dict[str, dict[str, Any]], service: str
) -> None:
    package = f"{service}_client"
    importlib.import_module(package)
    modules = {
        f"{package}.api.{folder.name}.{module.stem}"
        for folder in (on_path / package / "api").iterdir()
        if folder.is_dir()
        for module in folder.glob("*.py")
        if module.stem != "__init__"
    }
    for module in sorted(modules):
        imported = importlib.import_module(module)
        assert hasattr(imported, "asyncio_detailed"), module
    # One function per operation, named after its operation id (snake_case by the generator).
    count = sum(len(item) for item in documents[service]["paths"].values())
    assert len(modules) == count
    assert {m.rsplit(".", 1)[1] for m in modules} >= {"get_health", "get_me"}


def test_readme_example_type_checks(on_path: Path, tmp_path: Path) -> None:
    snippet = tmp_path / "example.py"
    snippet.write_text(EXAMPLE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--follow-imports=silent",
            "--ignore-missing-imports",
            "--python-version=3.11",
            str(snippet),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": str(on_path)},
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def test_generated_client_runs_the_readme_example(
    on_path: Path, services: Any, admin_headers: dict[str, str]
) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(EXAMPLE, "example.py", "exec"), namespace)  # noqa: S102 - our own snippet
    client_module = importlib.import_module("registry_client")
    client = client_module.AuthenticatedClient(
        base_url="http://registry",
        token=admin_headers["authorization"].removeprefix("Bearer "),
        httpx_args={"transport": services.router},  # the in-process services
    )
    cities = await namespace["example"](client, credit_code())
    assert len(cities) == 16  # Shandong's cities, over two pages of 10
    assert "370100" in cities


NODE = shutil.which("node") and shutil.which("npx")


@pytest.mark.skipif(not NODE, reason="Node is not on the PATH (the CI machine has it)")
def test_openapi_typescript_generates_types(
    documents: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """openapi-typescript stops at the first unresolvable $ref (it did on our webhooks)."""
    root = tmp_path_factory.mktemp("typescript")
    paths = write_documents(documents, root)
    # The package lands in a cache beside the repository, never in it.
    cache = Path(__file__).resolve().parents[2] / ".cache" / "npm"
    env = {**os.environ, "npm_config_cache": str(cache), "npm_config_update_notifier": "false"}
    for service, path in paths.items():
        out = root / f"{service}.d.ts"
        done = subprocess.run(
            ["npx", "--yes", "openapi-typescript@7", str(path), "-o", str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
            check=False,
        )
        if done.returncode != 0 and "ENOTFOUND" in done.stderr + done.stdout:
            pytest.skip("the npm registry is unreachable from here")
        assert done.returncode == 0, done.stdout + done.stderr
        types = out.read_text()
        assert "operations" in types
        assert "getHealth" in types
