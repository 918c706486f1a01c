"""The import graph of services/ and shared/ keeps the rules of tests/architecture/imports.py:
no cycles between areas or modules, no private names across areas, the kit never imports the
services, no router imports another area's router. The checker is itself tested on small
synthetic packages, each breaking one rule."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.architecture.imports import Violation, area_of, check

#: Known violations, each to be removed (never added to): none left. The test fails when one
#: listed here is fixed, so that it is taken off the list.
KNOWN: set[tuple[str, str]] = set()


def test_the_code_keeps_the_import_rules() -> None:
    found = check()
    new = [v for v in found if (v.rule, v.where) not in KNOWN]
    assert not new, "\n".join(map(str, new))
    fixed = KNOWN - {(v.rule, v.where) for v in found}
    assert not fixed, f"fixed, take them off KNOWN: {sorted(fixed)}"


# --- the checker on synthetic packages ---------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """Two fresh top-level packages, `kitx` (the kit) and `appx` (the services), on sys.path."""
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.split(".")[0] in ("kitx", "appx")]:
        del sys.modules[name]


def write(root: Path, files: dict[str, str]) -> None:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if parent != Path("."):
                (root / parent / "__init__.py").touch()
        path.write_text(textwrap.dedent(source))


#: A clean layout: two areas of one service using the kit and each other's public names.
CLEAN = {
    "kitx/db.py": "def session(): ...\n",
    "kitx/errors.py": "class NotFound(Exception): ...\n",
    "appx/svc/main.py": "from appx.svc.alpha import router\n"
    "from appx.svc.beta import router as b\n",
    "appx/svc/alpha/service.py": "from kitx.db import session\n\ndef helper(): ...\n"
    "def _own(): ...\n",
    "appx/svc/alpha/router.py": "from appx.svc.alpha.service import _own, helper\n",
    "appx/svc/beta/service.py": "from appx.svc.alpha import service as alpha\n\n"
    "def use():\n    return alpha.helper()\n",
    "appx/svc/beta/router.py": "from appx.svc.beta.service import use\n"
    "from kitx.errors import NotFound\n",
}


def violations(root: Path, extra: dict[str, str]) -> list[Violation]:
    write(root, {**CLEAN, **extra})
    return check(("appx", "kitx"), kit="kitx", apps="appx")


def test_a_clean_tree_passes(tree: Path) -> None:
    assert violations(tree, {}) == []


def test_a_private_name_from_another_area_is_refused(tree: Path) -> None:
    found = violations(
        tree, {"appx/svc/beta/flows.py": "from appx.svc.alpha.service import _own\n"}
    )
    assert [(v.rule, v.where) for v in found] == [
        ("private name across areas", "appx.svc.beta.flows:1")
    ]


def test_a_private_attribute_of_another_areas_module_is_refused(tree: Path) -> None:
    found = violations(
        tree,
        {
            "appx/svc/beta/flows.py": "from appx.svc.alpha import service as alpha\n\n"
            "def f():\n    return alpha._own()\n"
        },
    )
    assert [(v.rule, v.where) for v in found] == [
        ("private name across areas", "appx.svc.beta.flows:4")
    ]


def test_a_relative_import_of_a_private_name_is_resolved(tree: Path) -> None:
    found = violations(tree, {"appx/svc/beta/flows.py": "from ..alpha.service import _own\n"})
    assert [v.rule for v in found] == ["private name across areas"]


def test_a_cycle_between_areas_is_refused_even_when_deferred(tree: Path) -> None:
    found = violations(
        tree,
        {
            "appx/svc/alpha/extra.py": "def f():\n    from appx.svc.beta.service import use\n"
            "    return use()\n"
        },
    )
    rules = sorted(v.rule for v in found)
    assert rules == ["cycle between areas"]
    assert "appx.svc.alpha <-> appx.svc.beta" in found[0].where


def test_a_deferred_cycle_between_modules_of_one_area_is_refused(tree: Path) -> None:
    found = violations(
        tree,
        {
            "appx/svc/alpha/service.py": "def helper():\n    from appx.svc.alpha import flows\n"
            "    return flows\n\ndef _own(): ...\n",
            "appx/svc/alpha/flows.py": "from appx.svc.alpha.service import helper\n",
        },
    )
    assert [(v.rule, v.where) for v in found] == [
        ("cycle between modules", "appx.svc.alpha.flows <-> appx.svc.alpha.service")
    ]


def test_the_kit_importing_the_services_is_refused(tree: Path) -> None:
    found = violations(tree, {"kitx/run.py": "import appx.svc.main\n"})
    assert ("kit imports services", "kitx.run") in [(v.rule, v.where) for v in found]


def test_a_router_importing_another_areas_router_is_refused(tree: Path) -> None:
    found = violations(
        tree, {"appx/svc/beta/router.py": "from appx.svc.alpha.router import helper\n"}
    )
    assert [(v.rule, v.where) for v in found] == [
        ("router imports a router", "appx.svc.beta.router")
    ]


def test_areas() -> None:
    assert area_of("services.judging.appeals.flows") == "services.judging.appeals"
    assert area_of("services.registry.cli") == "services.registry.cli"
    assert area_of("services.run") == "services.run"
    assert area_of("shared.auth.principal") == "shared.auth"
    assert area_of("shared.db") == "shared.db"
