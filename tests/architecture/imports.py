"""The import rules of the code base, checked on the code (tests/architecture/test_imports.py).

An *area* is one unit of the public interface:
- `services/<service>/<area>/` (a package: `services.judging.appeals`), or a top-level module
  of a service (`services.registry.cli`), or a module directly under `services/`
  (`services.run`);
- a top-level module or package of `shared/` (`shared.db`, `shared.auth`).

The rules:
1. no cycle between areas, nor between modules: the import graph is acyclic, so it shows the
   real coupling (a deferred import inside a function counts like any other, so a cycle
   cannot hide in one);
2. no private names across areas: `from services.x.y.service import _helper` and
   `service._helper` (on a module imported from another area) are refused; an area offers
   public names (or an `api.py`), everything starting with one underscore is its own;
3. the kit never imports the services: no module of `shared/` imports `services/`;
4. routers are HTTP only: a `router` module never imports another area's `router` (what two
   routers share is a dependency or a service function, in the area that owns it).

The module graph comes from grimp (imports inside functions and under TYPE_CHECKING
included); the names imported come from a small AST pass over the same files, since grimp
records modules, not names.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grimp

#: The top-level packages checked, and the one that must not import the other.
PACKAGES = ("services", "shared")
KIT, APPS = "shared", "services"


def area_of(module: str, kit: str = KIT, apps: str = APPS) -> str:
    """The area a module belongs to (see the module docstring)."""
    parts = module.split(".")
    if parts[0] == apps:
        return ".".join(parts[:3])  # services.<service>.<area>, services.<service>, services.run
    if parts[0] == kit:
        return ".".join(parts[:2])
    return parts[0]


def _is_router(module: str) -> bool:
    return module.rsplit(".", 1)[-1] == "router"


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


@dataclass(frozen=True, order=True)
class Violation:
    rule: str
    where: str  # module (and line) that breaks the rule
    what: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.where}: {self.what}"


def _module_file(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    if level == 0:
        return target or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, target] if target else base)


def _imported_names(module: str, path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, module, name) for every `from module import name`, and for `alias._name` where
    `alias` is a module imported here; modules imported as a whole give name ""."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
                yield node.lineno, source, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                yield node.lineno, alias.name, ""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and is_private(node.attr)
        ):
            yield node.lineno, aliases[node.value.id], node.attr


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one area (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for node in sorted(edges):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def _edge_witnesses(edges: dict[tuple[str, str], list[str]], component: Iterable[str]) -> list[str]:
    members = set(component)
    return [
        f"{a} -> {b} ({', '.join(sorted(mods)[:3])})"
        for (a, b), mods in sorted(edges.items())
        if a in members and b in members
    ]


def check(packages: Iterable[str] = PACKAGES, kit: str = KIT, apps: str = APPS) -> list[Violation]:
    """Every violation of the rules in `packages` (empty when the code keeps them)."""
    packages = tuple(packages)
    graph = grimp.build_graph(*packages, cache_dir=None)
    violations: list[Violation] = []

    area_edges: dict[tuple[str, str], list[str]] = {}
    for importer in sorted(graph.modules):
        source = area_of(importer, kit, apps)
        for imported in graph.find_modules_directly_imported_by(importer):
            target = area_of(imported, kit, apps)
            if source.split(".")[0] == kit and target.split(".")[0] == apps:
                violations.append(
                    Violation("kit imports services", importer, f"imports {imported}")
                )
            if source != target:
                area_edges.setdefault((source, target), []).append(f"{importer}->{imported}")
                if _is_router(importer) and _is_router(imported):
                    violations.append(
                        Violation("router imports a router", importer, f"imports {imported}")
                    )

    module_edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    for component in _cycles(module_edges):
        violations.append(Violation("cycle between modules", " <-> ".join(component), ""))

    successors: dict[str, set[str]] = {}
    for a, b in area_edges:
        successors.setdefault(a, set()).add(b)
    for component in _cycles(successors):
        violations.append(
            Violation(
                "cycle between areas",
                " <-> ".join(component),
                "; ".join(_edge_witnesses(area_edges, component)),
            )
        )

    for module in sorted(graph.modules):
        path = _module_file(module)
        if path is None:
            continue
        source = area_of(module, kit, apps)
        for line, imported, name in _imported_names(module, path):
            if imported.split(".")[0] not in packages:
                continue
            # A private module on the way (`pkg._impl.name`) is as private as a private name.
            dotted = [p for p in [*imported.split("."), name] if p]
            private = [p for p in dotted if is_private(p)]
            if private and area_of(imported, kit, apps) != source:
                violations.append(
                    Violation(
                        "private name across areas",
                        f"{module}:{line}",
                        f"uses {imported}{'.' + name if name else ''}",
                    )
                )
    return sorted(set(violations))
