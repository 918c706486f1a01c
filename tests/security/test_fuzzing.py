"""API fuzzing: schemathesis generates requests from each service's OpenAPI document and checks
the answers (no 500s; the status code, content type and body are the documented ones).

Cases are drawn with Hypothesis first (a few per operation, bounded so the three services take
about a minute), then sent with an admin's token to the in-process apps, which call each other
over HTTP as deployed, against a real migrated database.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Services

#: Examples per operation (FUZZ_EXAMPLES=50 for a deeper local run).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Not fuzzed with an admin's token: the token endpoint (its own tests cover it; random
#: credentials only exercise the rate limit).
SKIP = {("POST", "/v1/auth/token")}


def draw_cases(operation: Any) -> list[Any]:
    cases: list[Any] = []

    @hypothesis_settings(
        max_examples=EXAMPLES,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy())
    def collect(case: Any) -> None:
        cases.append(case)

    collect()
    return cases


def to_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The `requests`-style arguments schemathesis serialises a case to, for httpx."""
    out: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers") or {},
        "params": kwargs.get("params"),
        "cookies": kwargs.get("cookies"),
    }
    if "json" in kwargs:
        out["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, (bytes, str)):
        out["content"] = data
    elif data is not None:
        out["data"] = data
    if kwargs.get("files"):
        files = []
        for name, spec in kwargs["files"]:
            filename, content, *rest = spec if isinstance(spec, tuple) else (None, spec)
            if not isinstance(content, (bytes, str)):
                content = str(content)
            files.append((name, (filename, content, *rest)))
        out["files"] = files
    return out


@pytest.mark.parametrize("service", ["registry", "competitions", "judging"])
async def test_fuzz_openapi(
    services: Services, admin_headers: dict[str, str], service: str
) -> None:
    schema = schemathesis.openapi.from_dict(services.apps[service].openapi())
    client = services.client(service)
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the OpenAPI document has an invalid operation: {result.err()}")
            continue
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key in SKIP:
            continue
        for case in draw_cases(operation):
            kwargs = to_httpx(case.as_transport_kwargs(base_url=str(client.base_url)))
            kwargs["headers"] = {**kwargs["headers"], **admin_headers}
            request = client.build_request(**kwargs)
            request.read()  # multipart bodies stream; the checks read the request back
            response = await client.send(request)
            calls += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:
                first = str(exc).strip().splitlines()[:6]
                failures.append(f"{key[0]} {key[1]} -> {response.status_code}: {' | '.join(first)}")
    assert calls > 0
    assert not failures, f"{len(failures)} of {calls} calls failed:\n" + "\n".join(failures)
