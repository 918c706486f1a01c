"""Answering with a model that is already right, without FastAPI validating it again; and
declaring the answers that are files, not JSON.

An endpoint with `response_model=X` that returns an X has it dumped to Python, validated into
X again and then serialised; for a page of fifty rows that is most of the request's CPU. Where
the service built the model from typed database values (`model_construct`), return
`model_response(model)` instead: the endpoint keeps `response_model` for the OpenAPI contract
and the body is pydantic's own JSON of the model (same formats: `Z` for UTC, and so on).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.responses import Response


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code, media_type="application/json")


def file_download(
    media_type: str, description: str, *, binary: bool = True, status: int = 200
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answer of a route that returns a file (CSV, XLSX, iCalendar, PDF, PNG): its
    real media type and a string schema (`format: binary` for binary files), never JSON.

    Use it with `response_class=Response`: without that FastAPI also documents an
    `application/json` answer, and a generated client would try to parse a CSV as JSON.
    `tests/contract/test_media_types.py` checks every route that returns a bare Response."""
    schema: dict[str, Any] = {"type": "string"}
    if binary:
        schema["format"] = "binary"
    return {status: {"description": description, "content": {media_type: {"schema": schema}}}}
