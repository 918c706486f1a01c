"""Every route that takes a worker, an entry or a competition goes through one scope loader.

Object scope lives in one place (`shared.scope` and the loader dependencies marked with
`scope_loader`: `VisibleWorker`, `ManagedWorker`, `WorkerScopeDep`, `ManagedCompetition`,
`ReadableCompetition`, `VisibleEntry`, `EntryScopeDep`). This test reads the dependency tree of
every route of the three apps: a route with such an object id in its path, or a batch of them
in its body, must depend on a loader for that kind. A new route that loads the object by hand
fails here, before any probe finds the path that drifted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from services.competitions.main import create_app as create_competitions
from services.judging.main import create_app as create_judging
from services.registry.main import create_app as create_registry
from shared.auth.policy import routes
from tests.conftest import make_settings

#: Path parameter -> the kind of scope loader it needs.
PATH_KINDS = {"worker_id": "worker", "entry_id": "entry", "competition_id": "competition"}

#: Batch bodies (a field of many ids or numbers) -> the kind, by the path they are sent to.
BATCH_FIELDS = ("ids", "id_numbers")
BATCH_KINDS = {"/v1/workers": "worker", "/v1/entries": "entry"}

#: Routes that take such an id but are authorised on another object, with the reason.
EXEMPT: dict[tuple[str, str], str] = {
    ("POST", "/v1/training-programmes/{programme_id}/enrolments/{worker_id}/withdraw"): (
        "the worker id is a key of the programme's enrolment: the programme's organisers (or "
        "the worker themselves) decide, and an unknown pair is a 404 either way"
    ),
}


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _kinds(route: APIRoute) -> set[str]:
    return {kind for call in _calls(route.dependant) if (kind := getattr(call, "scope_kind", None))}


def _body_fields(route: APIRoute) -> set[str]:
    if route.body_field is None:
        return set()
    model = route.body_field.field_info.annotation
    fields = getattr(model, "model_fields", None)
    return set(fields or ())


def _apps(key_dir: Path) -> dict[str, FastAPI]:
    # Only the routes are read: no lifespan runs, nothing connects to the database.
    settings = make_settings("postgresql+asyncpg://unused@127.0.0.1:1/unused", key_dir)
    return {
        "registry": create_registry(settings),
        "competitions": create_competitions(settings),
        "judging": create_judging(settings),
    }


def _needs(path: str, route: APIRoute) -> set[str]:
    needed = {kind for name, kind in PATH_KINDS.items() if f"{{{name}}}" in path}
    if _body_fields(route) & set(BATCH_FIELDS):
        needed |= {kind for prefix, kind in BATCH_KINDS.items() if path.startswith(prefix)}
    return needed


def test_every_route_with_a_scoped_object_goes_through_its_loader(key_dir: Path) -> None:
    missing: list[str] = []
    checked = 0
    for service, app in _apps(key_dir).items():
        for (method, path), route in routes(app):
            if route is None or (method, path) in EXEMPT:
                continue
            needed = _needs(path, route)
            if not needed:
                continue
            checked += 1
            absent = needed - _kinds(route)
            if absent:
                missing.append(f"{service} {method} {path}: {sorted(absent)}")
    assert not missing, "routes loading scoped objects by hand:\n" + "\n".join(missing)
    # The test must look at something: 9 worker, 6 entry, 7 competition routes and 3 batches
    # today (fewer would mean the introspection stopped seeing them).
    assert checked >= 20, checked


@pytest.mark.parametrize("kind", ["worker", "entry", "competition"])
def test_the_introspection_sees_a_route_that_forgets_its_loader(kind: str) -> None:
    """The check above can fail: a route taking the id without a loader is reported."""
    app = FastAPI()
    name = {v: k for k, v in PATH_KINDS.items()}[kind]

    async def worker(worker_id: str) -> None: ...
    async def entry(entry_id: str) -> None: ...
    async def competition(competition_id: str) -> None: ...

    handler = {"worker": worker, "entry": entry, "competition": competition}[kind]
    app.add_api_route(f"/v1/things/{{{name}}}", handler, methods=["GET"])
    [((_, path), route)] = [(key, r) for key, r in routes(app) if key[1].startswith("/v1/")]
    assert route is not None
    assert _needs(path, route) == {kind}
    assert _kinds(route) == set()
