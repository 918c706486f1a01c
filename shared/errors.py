"""Domain errors and their one mapping to RFC 9457 `application/problem+json`.

Services raise the exceptions below; `install_error_handlers` turns them, FastAPI's validation
errors, Starlette's HTTP errors and anything unexpected into problem documents. Nothing else in
the code base builds an error response by hand.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from shared.request_id import current_request_id

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://shandong-skills.example/problems/"

log = logging.getLogger("shared.errors")


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `members[0].name`.")
    location: str = Field("body", description="Where the field is: body, query, path or header.")
    message: str = Field(description="Why the value was refused.")


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of every service is answered."""

    type: str = Field(examples=[PROBLEM_BASE + "not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["No competition with id 6b1f0c2e-4d7a-4a51-9a43-1f2d3c4b5a69."])
    instance: str | None = Field(None, description="The request path.")
    request_id: str | None = Field(None, description="Quote it when reporting a problem.")
    errors: list[FieldError] | None = Field(None, description="Field errors, for 422.")

    model_config = {"extra": "allow"}


class ProblemResponse(Response):
    media_type = PROBLEM_CONTENT_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class DomainError(Exception):
    """Base of every error a service raises on purpose; subclasses fix the status."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})
        self.extra = extra


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(DomainError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PreconditionRequired(DomainError):
    """An update of a contested record sent without `If-Match` (RFC 6585)."""

    status, slug, title = 428, "precondition-required", "Precondition required"


class RuleViolation(DomainError):
    """Well-formed input that a domain rule refuses (eligibility, ladder, quotas)."""

    status, slug, title = 422, "rule-violation", "Rule violation"


class InvalidInput(DomainError):
    status, slug, title = 422, "validation-error", "Invalid input"


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Unauthorized"

    def __init__(self, detail: str, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class TooManyRequests(DomainError):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class DownstreamError(DomainError):
    """Another service failed us: 502 bad answer, 503 unreachable, 504 too slow."""

    status, slug, title = 503, "downstream-unavailable", "Downstream service unavailable"

    def __init__(self, detail: str, *, status: int = 503, service: str, **kw: Any) -> None:
        super().__init__(detail, service=service, **kw)
        self.status = status
        self.slug = {502: "downstream-bad-response", 504: "downstream-timeout"}.get(
            status, "downstream-unavailable"
        )
        self.title = {
            502: "Downstream service answered badly",
            504: "Downstream service timed out",
        }.get(status, "Downstream service unavailable")


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    request: Request | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or phrase.lower().replace(" ", "-")),
        "title": title or phrase,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    rid = current_request_id()
    if rid:
        body["request_id"] = rid
    if errors:
        body["errors"] = [e.model_dump() for e in errors]
    body.update({k: v for k, v in extra.items() if v is not None})
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def _field_path(loc: Sequence[int | str]) -> tuple[str, str]:
    location = str(loc[0]) if loc else "body"
    parts = (
        list(loc[1:])
        if loc and loc[0] in ("body", "query", "path", "header", "cookie")
        else list(loc)
    )
    if location not in ("body", "query", "path", "header", "cookie"):
        location = "body"
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return location, out or location


def validation_problem(request: Request, exc: RequestValidationError) -> ProblemResponse:
    errs = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errs):
        return problem(
            400,
            "The request body is not valid JSON: " + str(errs[0].get("ctx", {}).get("error", "")),
            slug="malformed-json",
            title="Malformed JSON",
            request=request,
        )
    fields = []
    for e in errs:
        location, path = _field_path(e.get("loc", ()))
        message = str(e.get("msg", "invalid value"))
        if e.get("type") == "missing":
            message = "Field required"
        elif e.get("type") == "extra_forbidden":
            message = "Unknown field: not part of this resource"
        fields.append(FieldError(field=path, location=location, message=message))
    summary = "; ".join(f"{f.field}: {f.message}" for f in fields[:5])
    return problem(
        422,
        f"The request has {len(fields)} invalid field(s): {summary}",
        slug="validation-error",
        title="Invalid input",
        request=request,
        errors=fields,
    )


#: Errors meaning "no usable database connection" rather than a bug: answered 503, not 500.
_UNAVAILABLE = (
    "CannotConnectNowError",
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "AdminShutdownError",
    "CrashShutdownError",
    "TooManyConnectionsError",
    "InterfaceError",
)


def database_unavailable(exc: DBAPIError) -> bool:
    orig = exc.orig
    cause = getattr(orig, "__cause__", None)
    names = {type(e).__name__ for e in (orig, cause) if e is not None}
    return (
        exc.connection_invalidated
        or isinstance(orig, OSError)
        or isinstance(cause, OSError)
        or bool(names & set(_UNAVAILABLE))
    )


def _raised_by_database_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if "asyncpg" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def _internal_error(request: Request) -> Response:
    """A bug: logged by the caller, answered without any detail but the request id."""
    return problem(
        500,
        "An unexpected error occurred; it has been logged. Quote the request id when reporting it.",
        slug="internal-error",
        title="Internal server error",
        request=request,
    )


def _database_unavailable(request: Request) -> Response:
    """Postgres unreachable or restarting: nothing was done, a retry shortly is safe."""
    return problem(
        503,
        "The database is unavailable; retry in a moment.",
        slug="database-unavailable",
        title="Database unavailable",
        request=request,
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return problem(
            exc.status,
            exc.detail,
            slug=exc.slug,
            title=exc.title,
            request=request,
            errors=exc.errors,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(PoolTimeout)
    async def _busy(request: Request, exc: PoolTimeout) -> Response:
        # Every database connection stayed busy for the pool timeout: overload, not a bug.
        # Nothing was done yet (the request never got a connection), so a retry is safe.
        log.warning("database pool exhausted", extra={"path": request.url.path})
        return problem(
            503,
            "The service is busy: no database connection came free in time. Retry shortly.",
            slug="busy",
            title="Service busy",
            request=request,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return validation_problem(request, exc)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        if not database_unavailable(exc):
            log.error("database error", exc_info=exc)
            return _internal_error(request)
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return _database_unavailable(request)

    @app.exception_handler(OSError)
    async def _os(request: Request, exc: OSError) -> Response:
        # asyncpg raises a bare OSError (connection refused, socket file gone) when it cannot
        # connect; any other OSError is a bug like any other.
        if not _raised_by_database_driver(exc):
            log.error("unexpected error", exc_info=exc)
            return _internal_error(request)
        log.warning("database unreachable: %s", type(exc).__name__)
        return _database_unavailable(request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"No resource at {request.url.path}; see /docs for the API."
        if exc.status_code == 405:
            detail = f"Method {request.method} is not allowed on {request.url.path}."
        return problem(exc.status_code, detail, request=request, headers=exc.headers)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring the problem documents an endpoint may answer."""
    descriptions = {
        400: "Malformed request (for example a body that is not JSON).",
        401: "Missing, expired or invalid bearer token.",
        403: "Authenticated, but this role or scope may not do this.",
        404: "The resource does not exist.",
        409: "Conflicts with the current state (duplicate, illegal transition).",
        412: "`If-Match` does not match the current version.",
        428: "`If-Match` is required here: read the record and send its `ETag`.",
        422: "Invalid input; `errors` lists each field and the reason.",
        429: "Too many requests.",
        502: "A service this call depends on answered badly.",
        503: "A service this call depends on is unreachable.",
        504: "A service this call depends on timed out.",
    }
    return {
        s: {
            "description": descriptions.get(s, HTTPStatus(s).phrase),
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
        }
        for s in statuses
    }


PROBLEM_REF = "#/components/schemas/Problem"


def document_problems(schema: dict[str, Any]) -> None:
    """Put `Problem` in the OpenAPI components and make FastAPI's default 422 use it too."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem_schema.pop("$defs", {}))
    components["Problem"] = problem_schema
    too_large = {
        "description": "The body is larger than MAX_BODY_BYTES (uploads: IMPORT_MAX_BYTES).",
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }
    unavailable = {
        "description": "The database, or a service this call depends on, is unavailable.",
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            response = operation.get("responses", {}).get("422")
            if response and "application/json" in response.get("content", {}):
                operation["responses"]["422"] = error_responses(422)[422]
            # Answered by the middleware and the error handlers for every route.
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("413", too_large)
            if path.startswith("/v1/"):
                responses.setdefault("503", unavailable)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
