"""The documented examples are real: every request body and 2xx response has one, each matches
its schema, and every identity number, credit code, locality and honour in them passes the same
checks the API applies (replaying the request examples: tests/test_example_replay.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from services.competitions.main import create_app as create_competitions
from services.judging.main import create_app as create_judging
from services.registry.identifiers import validate_credit_code, validate_id_number
from services.registry.imports.service import template_csv
from services.registry.main import create_app as create_registry
from shared import examples as ex
from shared.config import PROJECT_ROOT
from shared.crypto import mask_id_number
from shared.models.registry import ImportKind
from tests.conftest import Services, make_settings

SERVICES = {
    "registry": create_registry,
    "competitions": create_competitions,
    "judging": create_judging,
}
#: File uploads: their "example" is the downloadable template (replayed as an import in
#: tests/test_example_replay.py); Swagger UI shows a file picker.
UPLOADS = {"multipart/form-data"}

ID_NUMBER = re.compile(r"^\d{17}[\dX]$")
CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
MASKED = re.compile(r"\d{4}\*{10}[\dX]{4}")


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    settings = make_settings(
        "postgresql+asyncpg://unused@127.0.0.1/unused", tmp_path_factory.mktemp("keys")
    )
    return {name: create(settings).openapi() for name, create in SERVICES.items()}


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def _examples_in(doc: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every example value anywhere in the document (media types and schemas), with where."""

    def walk(node: Any, where: str) -> Iterator[tuple[str, Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "example":
                    yield where, value
                elif key == "examples" and isinstance(value, list):
                    for item in value:
                        yield where, item
                elif key == "examples" and isinstance(value, dict):
                    for named in value.values():
                        yield where, named.get("value")
                else:
                    yield from walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, f"{where}/{i}")

    yield from walk(doc, "")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _keyed(value: Any, keys: set[str]) -> Iterator[Any]:
    """Values held under one of `keys`, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys:
                yield item
            yield from _keyed(item, keys)
    elif isinstance(value, list):
        for item in value:
            yield from _keyed(item, keys)


def _check_identifiers(strings: list[str], where: str) -> tuple[int, int]:
    """Every identity number and credit code among `strings` passes our validators; every
    masked number is the mask of a documented valid one. Returns how many of each were seen."""
    valid_masks = {
        mask_id_number(n)
        for n in (ex.WORKER_ID_NUMBER, ex.SECOND_WORKER_ID_NUMBER, ex.THIRD_WORKER_ID_NUMBER)
    }
    id_numbers = credit_codes = 0
    for text in strings:
        if ID_NUMBER.match(text):
            assert validate_id_number(text) == text, where
            id_numbers += 1
        elif CREDIT_CODE.match(text):
            assert validate_credit_code(text) == text, where
            credit_codes += 1
        for masked in MASKED.findall(text):
            assert masked in valid_masks, f"{where}: {masked} masks no valid example number"
    return id_numbers, credit_codes


def test_documented_numbers_are_built_with_correct_check_digits() -> None:
    """The numbers the issue found wrong, now built by stdnum: the check characters it named."""
    assert ex.ENTERPRISE_CREDIT_CODE == "91370100MA3C5X6L86"
    assert ex.WORKER_ID_NUMBER == "37010219850615003X"
    for number in (ex.WORKER_ID_NUMBER, ex.SECOND_WORKER_ID_NUMBER, ex.THIRD_WORKER_ID_NUMBER):
        assert validate_id_number(number) == number
    for code in (
        ex.ENTERPRISE_CREDIT_CODE,
        ex.SECOND_ENTERPRISE_CREDIT_CODE,
        ex.THIRD_ENTERPRISE_CREDIT_CODE,
    ):
        assert validate_credit_code(code) == code


@pytest.mark.parametrize("service", SERVICES)
def test_every_number_in_the_documented_examples_is_valid(
    documents: dict[str, dict[str, Any]], service: str
) -> None:
    strings = [s for where, value in _examples_in(documents[service]) for s in _strings(value)]
    id_numbers, credit_codes = _check_identifiers(strings, service)
    if service == "registry":  # the registry documents both: the walk must have found them
        assert id_numbers >= 1
        assert credit_codes >= 1


def test_import_templates_and_readme_carry_valid_numbers() -> None:
    for kind in ImportKind:
        rows = template_csv(kind).lstrip("\ufeff").splitlines()[1:]
        cells = [cell for row in rows for cell in row.split(",")]
        assert sum(_check_identifiers(cells, f"{kind} template")) >= 1
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert MASKED.search(readme), "the README's masked example moved: update this test"
    _check_identifiers(readme.split(), "README.md")


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_body_and_2xx_response_has_an_example(
    documents: dict[str, dict[str, Any]], service: str
) -> None:
    doc = documents[service]
    missing = []
    for name, operation in _operations(doc):
        for content_type, media in operation.get("requestBody", {}).get("content", {}).items():
            if content_type not in UPLOADS and not media.get("examples"):
                missing.append(f"{name} request {content_type}")
        for status, response in operation.get("responses", {}).items():
            for content_type, media in response.get("content", {}).items():
                documented = "example" in media or "examples" in media
                json_body = content_type.endswith("json") and media.get("schema")
                if status.startswith("2") and json_body and not documented:
                    missing.append(f"{name} {status} {content_type}")
    assert not missing
    # Composed response examples: every field had its own example or a rule in shared/examples.
    assert ex.response_example_gaps(doc) == []


def _decimal_multiple_of(
    validator: Any, multiple: float, instance: Any, schema: dict[str, Any]
) -> Any:
    """`multipleOf` on the decimal value the JSON text carries: jsonschema divides binary
    floats, so 92.35 fails `multipleOf: 0.001` (92.35 / 0.001 = 92350.00000000001)."""
    if not validator.is_type(instance, "number"):
        return
    if Decimal(str(instance)) % Decimal(str(multiple)) != 0:
        yield jsonschema.ValidationError(f"{instance} is not a multiple of {multiple}")


DecimalValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"multipleOf": _decimal_multiple_of}
)


@pytest.mark.parametrize("service", SERVICES)
def test_every_example_matches_its_schema(
    documents: dict[str, dict[str, Any]], service: str
) -> None:
    doc = documents[service]
    components = {"components": doc["components"]}
    checked = 0
    for name, operation in _operations(doc):
        media_types = [
            *operation.get("requestBody", {}).get("content", {}).values(),
            *(
                media
                for status, response in operation.get("responses", {}).items()
                if status.startswith("2")
                for media in response.get("content", {}).values()
            ),
        ]
        for media in media_types:
            if not media.get("schema"):
                continue
            values = [media["example"]] if "example" in media else []
            values += [named["value"] for named in media.get("examples", {}).values()]
            validator = DecimalValidator({**media["schema"], **components})
            for value in values:
                errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(value)]
                assert not errors, f"{name}: {errors}"
                checked += 1
    assert checked > 10


def _documented_codes(doc: dict[str, Any], keys: set[str]) -> set[str]:
    codes: set[str] = set()
    for _, value in _examples_in(doc):
        for held in _keyed(value, keys):
            codes.update(s for s in _strings(held) if s)
    return codes


LOCALITY_KEYS = {
    "locality_code",
    "organiser_locality_code",
    "parent_code",
    "allowed_locality_codes",
}


async def test_documented_localities_and_honours_exist(
    services: Services, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    """Localities in GB/T 2260 as seeded, honours in the seeded catalogue (not ones an example
    creates: those are created before use by the replay)."""
    documents = {name: app.openapi() for name, app in services.apps.items()}
    created_by_examples = {"jinan_golden_craftsman"}
    localities: set[str] = set()
    honours: set[str] = set()
    for doc in documents.values():
        localities |= _documented_codes(doc, LOCALITY_KEYS)
        honours |= _documented_codes(doc, {"honour_code", "honours"}) - created_by_examples
    assert ex.COUNTY_CODE in localities
    assert ex.PROVINCIAL_HONOUR_CODE in honours
    for code in sorted(localities):
        response = await services.registry.get(f"/v1/localities/{code}", headers=admin_headers)
        assert response.status_code == 200, f"locality {code}: {response.text}"
    for code in sorted(honours):
        response = await services.registry.get(f"/v1/honours/{code}", headers=admin_headers)
        assert response.status_code == 200, f"honour {code}: {response.text}"
