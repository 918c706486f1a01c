"""The request id of the request being served: set by the middleware (shared/middleware.py) before
anything else runs, read by problem documents, logs, audit rows and outgoing service calls.

Its own module so that the error kit and the middleware, which use each other's names, both
depend on it instead of on each other.
"""

from __future__ import annotations

from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"
#: Set and reset by `RequestContextMiddleware` around each request.
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()
