"""The package graph stays as docs/ARCHITECTURE.md draws it: layers only import downwards,
no module imports itself back through others (lazy imports inside functions count), and no
module grows past 500 lines."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "edgeopt"

# bottom to top: a package may import packages in its own layer or below, never above
LAYERS: list[set[str]] = [
    {"edgeopt", "errors"},  # the package root (its version) and the error types
    {"core"},
    {"formats"},
    {"artifacts"},
    {"runtimes"},
    {"data"},
    {"metrics"},
    {"models"},
    {"optimize"},
    {"targets"},
    {"package"},
    {"devices"},
    {"bench"},
    {"run"},
    {"cli", "__main__"},
]
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        parts = list(p.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _resolve(name: str, modules: dict) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> the edgeopt modules it imports anywhere in its code (lazy imports included)."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                if not t.startswith("edgeopt"):
                    continue
                resolved = t if t in modules else _resolve(t, modules)
                if resolved and resolved != mod:
                    graph[mod].add(resolved)
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "edgeopt"
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"package {top} is in no layer of tests/test_architecture.py")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_layers_only_import_downwards():
    upward = [
        f"{a} -> {b}"
        for a, targets in import_graph().items()
        for b in targets
        if _layer(b) > _layer(a)
    ]
    assert not upward, "imports that climb a layer:\n" + "\n".join(sorted(upward))


def test_no_import_cycles_between_modules():
    assert _cycles(import_graph()) == []


def test_no_module_over_500_lines():
    big = {
        str(p.relative_to(ROOT.parent)): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not big, f"split these by responsibility: {big}"


def test_the_checker_sees_lazy_and_upward_imports(tmp_path, monkeypatch):
    """The rules above can fail: a lazy import of a higher layer is caught as such."""
    graph = import_graph()
    assert "edgeopt.formats" in graph["edgeopt.runtimes"]  # a top-level import is seen
    # optimize.export imports torch_rt lazily inside a function: still an edge
    assert "edgeopt.runtimes.torch_rt" in graph["edgeopt.optimize.export"]
    assert _layer("edgeopt.cli.main") > _layer("edgeopt.core.spec")
    assert _cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b"]]
