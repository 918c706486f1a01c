"""ASGI middleware: request ids, access logs, the last-resort 500 problem, security headers.

Written as plain ASGI (not `BaseHTTPMiddleware`) so streaming responses (SSE) pass through and
the request id is set in a context variable before anything else runs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import problem
from shared.request_id import REQUEST_ID_HEADER, current_request_id, request_id_var

__all__ = [
    "REQUEST_ID_HEADER",
    "BodyLimitMiddleware",
    "RequestContextMiddleware",
    "current_request_id",
]
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_log = logging.getLogger("shared.access")
error_log = logging.getLogger("shared.errors")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-site"),
]


class RequestContextMiddleware:
    """Takes or makes the request id, logs one JSON line per request, never leaks a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.encode())
        rid = incoming.decode("latin-1") if incoming else ""
        if not _VALID_ID.match(rid):
            rid = uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), rid.encode()))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # Logged with the traceback; the client gets a problem document without one.
            error_log.exception("unhandled error", extra={"path": scope.get("path")})
            if not response_started:
                response = problem(
                    500,
                    "An unexpected error occurred; it has been logged. Quote the request id "
                    "when reporting it.",
                    slug="internal-error",
                    title="Internal server error",
                    instance=scope.get("path"),
                )
                await response(scope, receive, send_wrapper)
        finally:
            # The path only: query strings may carry personal data and are never logged.
            access_log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Checks request input before the app parses it.

    - Size: bodies above `json_limit` (every body but `multipart/form-data`) or `upload_limit`
      (multipart uploads) get a 413 problem naming the limit. A declared Content-Length is
      checked up front; otherwise the body is read up to the limit and no further.
    - NUL characters: Postgres text cannot hold U+0000, so a query string, path or non-upload
      body carrying one gets a 422 here instead of a database error later.

    Non-upload bodies (at most `json_limit` bytes) are read whole and replayed to the app.
    """

    def __init__(self, app: ASGIApp, *, json_limit: int, upload_limit: int) -> None:
        self.app = app
        self.json_limit = json_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope.get("path", "").encode()
        path = scope.get("path", "")
        if b"%00" in scope.get("query_string", b"") or b"%00" in raw_path or "\x00" in path:
            await self._nul(scope, receive, send)
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        upload = content_type.startswith("multipart/form-data")
        limit = self.upload_limit if upload else self.json_limit
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                too_large = False  # the server rejects a malformed length itself
            if too_large:
                await self._refuse(scope, receive, send, limit, upload)
                return
            if upload:
                await self.app(scope, receive, send)
                return
        # Read the body (up to the limit), check it, then replay it to the app.
        chunks: list[Message] = []
        size = 0
        while True:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(scope, receive, send, limit, upload)
                return
            if not message.get("more_body", False):
                break
        if not upload:
            body = b"".join(m.get("body", b"") for m in chunks if m["type"] == "http.request")
            form = content_type.startswith("application/x-www-form-urlencoded")
            if b"\\u0000" in body or b"\x00" in body or (form and b"%00" in body):
                await self._nul(scope, receive, send)
                return

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _nul(scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            422,
            "The request contains a NUL character (U+0000), which no field may hold.",
            slug="validation-error",
            title="Invalid input",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int, upload: bool) -> None:
        what = "An upload" if upload else "A request body"
        setting = "IMPORT_MAX_BYTES" if upload else "MAX_BODY_BYTES"
        response = problem(
            413,
            f"{what} may be at most {limit} bytes ({setting}).",
            slug="payload-too-large",
            title="Content too large",
            instance=scope.get("path"),
            limit_bytes=limit,
        )
        await response(scope, receive, send)
