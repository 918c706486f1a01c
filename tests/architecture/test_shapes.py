"""Hand-kept copies of shapes stay equal to their source.

A copy is kept where the source would cost too much on a hot path: `WorkerItem` is `Worker` as
a plain dict, so a page of workers is serialised straight from database rows without building a
model per row. A copy must give the same JSON as its source: the same fields in the same order,
each with the same JSON schema (titles, descriptions, examples and defaults aside), and the same
bytes for the same values. Every TypedDict in services/ and shared/ is a copy and must be listed
in COPIES, so a new one cannot go unchecked.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from datetime import UTC, date, datetime
from typing import Any, get_type_hints

import pytest
from pydantic import TypeAdapter
from typing_extensions import TypedDict, is_typeddict  # pydantic needs these on 3.11

from services.registry.workers import schemas as workers
from shared.pagination import Page

#: copy -> the shape it copies.
COPIES: dict[Any, Any] = {
    workers.WorkerItem: workers.Worker,
    workers.WorkerPage: Page[workers.Worker],
}

#: A value of each copy, for the byte-for-byte comparison.
WORKER = {
    "id": uuid.UUID("8f14e45f-ceea-467f-a8e5-0c1b6a7c0a01"),
    "name": "王建国",
    "id_number": "3701**********003X",
    "sex": "male",
    "birth_date": date(1988, 5, 17),
    "phone": None,
    "occupation": "车工",
    "enterprise_id": None,
    "locality_code": "370102",
    "grade": "technician",
    "file_type": "technician",
    "file_status": "active",
    "version": 3,
    "created_at": datetime(2026, 3, 1, 8, 30, tzinfo=UTC),
    "updated_at": datetime(2026, 4, 2, 9, 15, 30, 123456, tzinfo=UTC),
}
SAMPLES: dict[Any, dict[str, Any]] = {
    workers.WorkerItem: WORKER,
    workers.WorkerPage: {"items": [WORKER, {**WORKER, "phone": "138****5678"}], "next_cursor": "x"},
}

#: Keywords that document a schema without changing the JSON it admits.
DOCUMENTATION = {"title", "description", "examples", "default", "deprecated"}


def _shape(schema: Any, defs: dict[str, Any]) -> Any:
    """The schema with references inlined and documentation keywords dropped; properties keep
    their order (a list of pairs) so that field order counts too."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _shape(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in DOCUMENTATION or key in ("$defs", "required"):
                continue
            if key == "properties":
                out[key] = [(name, _shape(sub, defs)) for name, sub in value.items()]
            else:
                out[key] = _shape(value, defs)
        return out
    if isinstance(schema, list):
        return [_shape(item, defs) for item in schema]
    return schema


def shape(kind: Any) -> Any:
    schema = TypeAdapter(kind).json_schema(mode="serialization")
    return _shape(schema, schema.get("$defs", {}))


@pytest.mark.parametrize("copy", list(COPIES), ids=lambda c: c.__name__)
def test_a_copy_has_the_shape_of_its_source(copy: Any) -> None:
    assert shape(copy) == shape(COPIES[copy])


@pytest.mark.parametrize("copy", list(COPIES), ids=lambda c: c.__name__)
def test_a_copy_gives_the_json_of_its_source(copy: Any) -> None:
    source = TypeAdapter(COPIES[copy])
    value = SAMPLES[copy]
    mine = TypeAdapter(copy)
    assert mine.dump_json(mine.validate_python(value)) == source.dump_json(
        source.validate_python(value)
    )


def test_every_typed_dict_is_a_listed_copy() -> None:
    found = set()
    for package in ("services", "shared"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if is_typeddict(value) and value.__module__ == info.name:
                    found.add(value)
    assert found == set(COPIES), "list each TypedDict in COPIES with the shape it copies"


def test_the_check_sees_a_copy_drifting() -> None:
    """The copy rebuilt from its own fields passes; with a field of another type, or one field
    fewer, it differs from its source."""
    fields = get_type_hints(workers.WorkerItem)
    same = TypedDict("Same", fields)  # type: ignore[misc]
    assert shape(same) == shape(workers.Worker)
    drifted = TypedDict("Drifted", {**fields, "version": str})  # type: ignore[misc]
    assert shape(drifted) != shape(workers.Worker)
    del fields["updated_at"]
    shorter = TypedDict("Shorter", fields)  # type: ignore[misc]
    assert shape(shorter) != shape(workers.Worker)
