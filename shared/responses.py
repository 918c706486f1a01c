"""Answering with a model that is already right, without FastAPI validating it again.

An endpoint with `response_model=X` that returns an X has it dumped to Python, validated into
X again and then serialised; for a page of fifty rows that is most of the request's CPU. Where
the service built the model from typed database values (`model_construct`), return
`model_response(model)` instead: the endpoint keeps `response_model` for the OpenAPI contract
and the body is pydantic's own JSON of the model (same formats: `Z` for UTC, and so on).
"""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code, media_type="application/json")
