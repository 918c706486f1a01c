"""The README's TypeScript snippet, compiled and run against the services as real processes.

What a frontend developer does: generate types from the registry's `/openapi.json` with
openapi-typescript, call the API with openapi-fetch, compile with `tsc --strict`. The snippet is
docs/snippets/readme_example.ts, which the README quotes verbatim (tests/test_readme.py); it
signs in, pages through the cities, creates an enterprise twice with one Idempotency-Key and
changes it with If-Match, throwing on any answer it does not expect. Runs where Node is on the
PATH (the CI machine has Node 20); npm packages come from the cache beside the repository
(`.cache/npm`), never into it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from shared.config import PROJECT_ROOT
from tests.e2e.conftest import ADMIN, ADMIN_PASSWORD, Stack
from tests.factories import credit_code

SNIPPET = PROJECT_ROOT / "docs" / "snippets" / "readme_example.ts"
NODE = shutil.which("node") and shutil.which("npm") and shutil.which("npx")
#: Pinned: the snippet is checked against these.
PACKAGES = {"openapi-fetch": "0.17.0", "openapi-typescript": "7.13.0", "typescript": "5.9.3"}
TSCONFIG = {
    "compilerOptions": {
        "target": "es2022",
        "module": "es2022",
        "moduleResolution": "bundler",
        "strict": True,
        "skipLibCheck": True,
        "lib": ["es2022", "dom"],
        "outDir": "out",
    },
    "files": ["main.ts", "example.ts", "registry.d.ts"],
}
MAIN = """\
import { example } from "./example.js";

declare const process: { env: Record<string, string> };
const env = process.env;
const cities = await example(env.BASE_URL, env.USERNAME, env.PASSWORD, env.CREDIT_CODE);
console.log(JSON.stringify({ cities }));
"""

pytestmark = pytest.mark.skipif(not NODE, reason="Node is not on the PATH (the CI machine has it)")


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = done.stdout + done.stderr
    if done.returncode != 0 and any(s in output for s in ("ENOTFOUND", "EAI_AGAIN")):
        pytest.skip("the npm registry is unreachable from here")
    assert done.returncode == 0, f"{' '.join(args)}:\n{output}"
    return done.stdout


async def test_the_readme_typescript_snippet_compiles_and_runs(
    stack: Stack, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "npm_config_cache": str(PROJECT_ROOT / ".cache" / "npm"),
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    (tmp_path / "package.json").write_text(
        json.dumps(
            {"name": "readme-example", "private": True, "type": "module", "dependencies": PACKAGES}
        )
    )
    await asyncio.to_thread(
        _run, ["npm", "install", "--prefer-offline", "--no-package-lock"], tmp_path, env, 300
    )
    document = await http.get(stack.urls["registry"] + "/openapi.json")
    assert document.status_code == 200
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "registry.json").write_bytes(document.content)
    await asyncio.to_thread(
        _run,
        ["npx", "--no-install", "openapi-typescript", "spec/registry.json", "-o", "registry.d.ts"],
        tmp_path,
        env,
        180,
    )
    shutil.copy(SNIPPET, tmp_path / "example.ts")
    (tmp_path / "main.ts").write_text(MAIN)
    (tmp_path / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    await asyncio.to_thread(_run, ["npx", "--no-install", "tsc", "-p", "."], tmp_path, env, 180)

    code = credit_code()
    run_env = {
        **env,
        "BASE_URL": stack.urls["registry"],
        "USERNAME": ADMIN,
        "PASSWORD": ADMIN_PASSWORD,
        "CREDIT_CODE": code,
    }
    out = await asyncio.to_thread(_run, ["node", "out/main.js"], tmp_path, run_env, 120)
    cities = json.loads(out.strip().splitlines()[-1])["cities"]
    assert len(cities) == 16  # Shandong's cities, over two pages of 10
    assert "370100" in cities
    # It did what it says: one enterprise, changed once (the stale change was refused).
    token = (
        await http.post(
            stack.urls["registry"] + "/v1/auth/token",
            data={"grant_type": "password", "username": ADMIN, "password": ADMIN_PASSWORD},
        )
    ).json()["access_token"]
    listed = await http.get(
        stack.urls["registry"] + "/v1/enterprises",
        params={"limit": 200},
        headers={"authorization": f"Bearer {token}"},
    )
    mine = [e for e in listed.json()["items"] if e["credit_code"] == code]
    assert len(mine) == 1
    assert mine[0]["size"] == "medium"
