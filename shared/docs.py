"""The API's documents: Swagger UI 5 and ReDoc served by the service itself, so /docs works on
a closed network, and the conventions every OpenAPI document follows (operation ids, webhooks,
`If-Match`).

The assets come from the `fastapi-offline` package (Swagger UI 5.x renders OpenAPI 3.1); we
mount them ourselves rather than use its app factory so the OAuth2 redirect and Swagger
parameters stay ours.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from shared.concurrency import IF_MATCH, OPTIONAL_MARK
from shared.errors import error_responses

STATIC_URL = "/docs-assets"
STATIC_DIR = Path(fastapi_offline.__file__).parent / "static"


def install_docs(app: FastAPI) -> None:
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="docs-assets")
    redirect_url = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=f"{root}{redirect_url}",
            swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            swagger_ui_parameters={
                "persistAuthorization": True,
                "displayRequestDuration": True,
                "filter": True,
                "tryItOutEnabled": True,
            },
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png",
            with_google_fonts=False,
        )


def camel_case(words: str) -> str:
    """`list_judges` -> `listJudges`; `worker.grade_changed` -> `workerGradeChanged`."""
    first, *rest = [w for w in re.split(r"[^A-Za-z0-9]+", words) if w]
    return first[:1].lower() + first[1:] + "".join(w[:1].upper() + w[1:] for w in rest)


def operation_id(route: APIRoute) -> str:
    """Every operation's id, and so the function name in every generated client: camelCase
    verb-noun from the route's name (its function's name), e.g. `list_judges` -> `listJudges`.
    Where the function's name reads poorly in a client, the route sets `operation_id` itself
    (`getScoreSheet`). FastAPI's default (`list_judges_v1_judges_get`) changes with the path."""
    return camel_case(route.name)


#: What a webhook receiver answers: the dispatcher only looks at the status.
WEBHOOK_ACK = {
    "2XX": {"description": "Any 2xx acknowledges the delivery; anything else is retried."}
}


def apply_conventions(schema: dict[str, Any]) -> None:
    """The document-wide conventions FastAPI cannot express per route.

    - Webhooks: an operation id per event (`onWorkerGradeChanged`), and the receiver's answer
      (any 2xx) instead of FastAPI's 200/422 pair, whose 422 refers to a schema the document
      does not define.
    - `If-Match` (see shared.concurrency): required, with its 412 and 428 answers declared,
      wherever an operation takes it (optional in Python only so that a missing header is our
      428 rather than FastAPI's 422); optional, with its 412, on state-guarded transitions.
    """
    for event, item in schema.get("webhooks", {}).items():
        for operation in item.values():
            operation["operationId"] = "on" + camel_case(event)[:1].upper() + camel_case(event)[1:]
            operation["responses"] = dict(WEBHOOK_ACK)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            parameters = operation.get("parameters", [])
            if_match = [p for p in parameters if p["in"] == "header" and p["name"] == IF_MATCH]
            for parameter in if_match:
                optional = bool(parameter.get("schema", {}).get(OPTIONAL_MARK))
                parameter["required"] = not optional
                parameter["schema"] = {"type": "string", "examples": ['"3"']}
                responses = operation.setdefault("responses", {})
                for status, response in error_responses(
                    *((412,) if optional else (412, 428))
                ).items():
                    responses.setdefault(str(status), response)
