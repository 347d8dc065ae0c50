"""The import graph of facewise: no cycles, and imports run one way between the layers.

Every module under src/facewise is read with ``ast`` (nothing is imported), and every
``import x`` / ``from x import y`` counts: relative ones, those under ``if TYPE_CHECKING:``
and those inside functions. ``from facewise.pkg import name`` where ``name`` is a submodule
is an import of that submodule; a name looked up lazily from a string (the root's
``__getattr__``) is not an import.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# The layers of DESIGN.md §1 ("Imports run one way only"), as ranks: a module may import
# only packages of its own rank or lower. A module under src/facewise that no entry covers
# fails test_every_module_is_in_a_layer, so a new package has to be placed here first.
LAYERS: dict[str, int] = {
    "facewise.errors": 0,
    "facewise.types": 0,
    "facewise.settings": 0,
    "facewise": 0,  # the package root itself, for its __version__ only (see ROOT)
    "facewise.imaging": 1,
    "facewise.store": 1,
    "facewise.models": 2,
    "facewise.pipeline": 3,
    "facewise.video": 4,  # DESIGN.md §6; not written yet
    "facewise.service": 5,
    "facewise.api": 6,
    "facewise.cli": 7,
}

# The root re-exports the library verbs lazily (a string table and __getattr__), importing
# them only under TYPE_CHECKING to type them. Those imports of its own are left out of both
# checks; instead `from facewise import detect_faces` elsewhere counts as an import of the
# module the root takes `detect_faces` from, so nothing can climb the layers through it.
ROOT = "facewise"
SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass(frozen=True)
class Import:
    """One facewise module importing another, and where it says so (path:line)."""

    importer: str
    imported: str
    where: str


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _base(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a ``from ... import`` reads from (relative levels resolved)."""
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    if node.level > len(parts):
        raise ValueError(f"relative import beyond the top-level package in {package}")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _from_target(
    base: str, name: str, modules: frozenset[str], reexports: Mapping[str, str]
) -> str:
    if f"{base}.{name}" in modules:
        return f"{base}.{name}"  # a submodule
    if base == ROOT and name in reexports:
        return reexports[name]
    return base


def imports_in(
    module: str,
    tree: ast.Module,
    modules: frozenset[str],
    *,
    is_package: bool,
    path: str,
    reexports: Mapping[str, str] | None = None,
) -> list[Import]:
    """Every import of a facewise module anywhere in ``tree`` (the source of ``module``)."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(node, package)
            targets = [_from_target(base, a.name, modules, reexports or {}) for a in node.names]
        else:
            continue
        found += [
            Import(module, target, f"{path}:{node.lineno}")
            for target in targets
            if target == ROOT or target.startswith(ROOT + ".")
        ]
    return sorted(found, key=lambda i: (int(i.where.rpartition(":")[2]), i.imported))


@functools.cache
def facewise_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((SRC / ROOT).rglob("*.py"))}


@functools.cache
def facewise_imports() -> tuple[Import, ...]:
    """Every import between facewise modules, the root's own left out (see ROOT)."""
    paths = facewise_modules()
    modules = frozenset(paths)
    trees = {name: ast.parse(path.read_text(), str(path)) for name, path in paths.items()}
    reexports = {
        alias.asname or alias.name: _from_target(_base(node, ROOT), alias.name, modules, {})
        for node in ast.walk(trees[ROOT])
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    found: list[Import] = []
    for name, tree in trees.items():
        if name == ROOT:
            continue
        path = paths[name]
        found += imports_in(
            name,
            tree,
            modules,
            is_package=path.name == "__init__.py",
            path=str(path.relative_to(SRC.parent)),
            reexports=reexports,
        )
    return tuple(found)


def layer_of(module: str) -> str | None:
    """The LAYERS entry that covers ``module``: its longest package prefix (the root, only
    the root itself)."""
    if module == ROOT:
        return ROOT
    covering = [
        name
        for name in LAYERS
        if name != ROOT and (module == name or module.startswith(name + "."))
    ]
    return max(covering, key=len, default=None)


def layer_violations(imports: Iterable[Import]) -> list[str]:
    """One line per import from a lower layer into a higher one (or into no layer)."""
    problems = []
    for found in imports:
        own, theirs = layer_of(found.importer), layer_of(found.imported)
        if own is None:
            continue  # test_every_module_is_in_a_layer names it
        importer = f"{found.importer} (layer {own}, rank {LAYERS[own]})"
        if theirs is None:
            problems.append(
                f"{found.where}: {importer} imports {found.imported}, which is in no layer"
            )
        elif LAYERS[theirs] > LAYERS[own]:
            problems.append(
                f"{found.where}: {importer} imports {found.imported} "
                f"(layer {theirs}, rank {LAYERS[theirs]}): a lower layer imports a higher one"
            )
    return problems


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The modules that import each other in a ring: every strongly connected component of
    more than one module, or of one that imports itself (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


# --- the checks ---------------------------------------------------------------------------


def test_no_import_cycle_among_facewise_modules() -> None:
    imports = facewise_imports()
    graph: dict[str, set[str]] = {}
    for found in imports:
        graph.setdefault(found.importer, set()).add(found.imported)
    rings = cycles(graph)
    report = []
    for ring in rings:
        report.append(f"import cycle among {', '.join(ring)}:")
        report += [
            f"  {found.where}: {found.importer} imports {found.imported}"
            for found in imports
            if found.importer in ring and found.imported in ring
        ]
    assert not rings, "\n".join(report)


def test_imports_run_down_the_layers() -> None:
    problems = layer_violations(facewise_imports())
    assert not problems, "\n".join(problems)


def test_every_module_is_in_a_layer() -> None:
    unplaced = [name for name in facewise_modules() if layer_of(name) is None]
    assert not unplaced, (
        f"{unplaced} belong to no layer: add their package to LAYERS in tests/test_layers.py "
        "with its rank from DESIGN.md §1"
    )


# --- the checks can fail ------------------------------------------------------------------


def test_cycle_detector_finds_a_known_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"a"}}
    assert cycles(graph) == [["a", "b", "c"], ["e"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_parser_sees_every_kind_of_import() -> None:
    source = """
from __future__ import annotations
import os
from typing import TYPE_CHECKING
import facewise.types
from facewise import errors, __version__, detect_faces
from . import sibling
from .sibling import thing
from ..store import records
if TYPE_CHECKING:
    from facewise.service.users import Users

def later():
    from facewise.api import shapes
"""
    modules = frozenset(
        {
            "facewise",
            "facewise.types",
            "facewise.errors",
            "facewise.pipeline",
            "facewise.pipeline.sibling",
            "facewise.store",
            "facewise.store.records",
            "facewise.service.users",
            "facewise.api",
            "facewise.api.shapes",
        }
    )
    found = imports_in(
        "facewise.pipeline.sample",
        ast.parse(source),
        modules,
        is_package=False,
        path="sample.py",
        reexports={"detect_faces": "facewise.service.faces"},
    )
    assert [(i.imported, i.where) for i in found] == [
        ("facewise.types", "sample.py:5"),
        ("facewise", "sample.py:6"),
        ("facewise.errors", "sample.py:6"),
        ("facewise.service.faces", "sample.py:6"),
        ("facewise.pipeline.sibling", "sample.py:7"),
        ("facewise.pipeline.sibling", "sample.py:8"),
        ("facewise.store.records", "sample.py:9"),
        ("facewise.service.users", "sample.py:11"),
        ("facewise.api.shapes", "sample.py:14"),
    ]
    assert layer_violations(found) == [
        "sample.py:6: facewise.pipeline.sample (layer facewise.pipeline, rank 3) imports "
        "facewise.service.faces (layer facewise.service, rank 5): "
        "a lower layer imports a higher one",
        "sample.py:11: facewise.pipeline.sample (layer facewise.pipeline, rank 3) imports "
        "facewise.service.users (layer facewise.service, rank 5): "
        "a lower layer imports a higher one",
        "sample.py:14: facewise.pipeline.sample (layer facewise.pipeline, rank 3) imports "
        "facewise.api.shapes (layer facewise.api, rank 6): a lower layer imports a higher one",
    ]
    assert layer_of("facewise.newpackage.module") is None
    assert layer_of("facewise.errors_of_mine") is None
