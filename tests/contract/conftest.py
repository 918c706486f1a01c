"""The three services' OpenAPI documents, as `/openapi.json` answers them (no database needed:
the document is built from the routes alone, so the apps run without their lifespan)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.competitions.main import create_app as create_competitions
from services.judging.main import create_app as create_judging
from services.registry.main import create_app as create_registry
from tests.conftest import make_settings

SERVICES = ("registry", "competitions", "judging")


@pytest.fixture(scope="session")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    # Never connected to: the document needs no database.
    settings = make_settings(
        "postgresql+asyncpg://postgres@127.0.0.1:1/none", tmp_path_factory.mktemp("keys")
    )
    factories = {
        "registry": create_registry,
        "competitions": create_competitions,
        "judging": create_judging,
    }
    out = {}
    for name in SERVICES:
        response = TestClient(factories[name](settings)).get("/openapi.json")
        assert response.status_code == 200, response.text
        out[name] = response.json()
    return out


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every path operation."""
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "put", "post", "patch", "delete")
    ]


def write_documents(documents: dict[str, dict[str, Any]], directory: Path) -> dict[str, Path]:
    import json

    paths = {}
    for name, document in documents.items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        paths[name] = path
    return paths
