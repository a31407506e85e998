"""No import cycle in blocksnap, between modules or between packages, counting imports inside functions.

An import inside a function hides a cycle from the interpreter (it runs
late) but not from a reader: ``app → encryption → cli → app`` was one, with
each package needing the next. Read from the source with ``ast``, so every
import counts wherever it is written. Packages are ``app``, each module
directly in ``chalicelib/`` and each subpackage of it (``chalicelib.cli``,
``chalicelib.encryption``, ...); a package's own ``__init__`` is not an edge
of its submodules, since importing ``a.b`` runs ``a/__init__`` anyway.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules() -> dict[str, Path]:
    found = {"app": ROOT / "app.py"}
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The blocksnap modules ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name``, mod.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return module if parts[0] == "app" or len(parts) <= 2 else ".".join(parts[:2])


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
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
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _module_graph() -> dict[str, set[str]]:
    """Module edges, without a module's import of a package it is inside (its ``__init__`` runs anyway)."""
    return {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in GRAPH.items()}


def _package_graph() -> dict[str, set[str]]:
    packages: dict[str, set[str]] = {}
    for module, targets in _module_graph().items():
        edges = packages.setdefault(_package(module), set())
        edges.update(_package(t) for t in targets)
        edges.discard(_package(module))
    return packages


def test_the_graph_is_read():
    """The reader finds the edges it must, or the tests below would pass on an empty graph."""
    assert "chalicelib.encryption.lambda_entry" in GRAPH["app"]  # an import inside a function
    assert "chalicelib.wiring" in GRAPH["chalicelib.encryption.lambda_entry"]  # from .. import wiring
    assert "chalicelib.encryption.dispatch" in GRAPH["chalicelib.encryption.socket_server"]  # relative
    assert "app" in _package_graph()["chalicelib.cli"]  # the HTTP worker's import of the app, in a function


def test_no_cycle_between_modules():
    assert _cycles(_module_graph()) == []


def test_no_cycle_between_packages():
    assert _cycles(_package_graph()) == []


def test_a_cycle_is_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
