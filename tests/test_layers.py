"""Imports run one way: commands -> pipeline/jobs -> sources/synth/flow/train -> models/shards/io
-> errors/utils, with no cycle. Read from the source (every import, at any depth), not from
what happens to be imported at run time."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "blurgen"

# Lowest first. A module may import from its own layer or a lower one.
LAYERS: list[tuple[str, ...]] = [
    ("blurgen", "blurgen.errors", "blurgen.utils"),
    ("blurgen.io", "blurgen.shards", "blurgen.models", "blurgen.resources", "blurgen.zoo", "blurgen.download"),
    ("blurgen.sources", "blurgen.synth", "blurgen.flow", "blurgen.train", "blurgen.manifest", "blurgen.recipe",
     "blurgen.report", "blurgen.quality"),
    ("blurgen.jobs", "blurgen.pipeline", "blurgen.parallel"),
    ("blurgen.demo",),
    ("blurgen.commands", "blurgen.cli", "blurgen.__main__"),
]
# Within a layer, one direction only: the loop uses jobs, jobs never use the loop.
FORBIDDEN = {"blurgen.jobs": ("blurgen.pipeline", "blurgen.parallel")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").is_file() or (PACKAGE.parent / rel / "__init__.py").is_file()


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                continue
            todo.append(child)


def imports(path: Path) -> set[str]:
    """blurgen modules ``path`` imports (``from pkg import submodule`` counts as the submodule)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "blurgen"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "blurgen":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if _is_module(sub) else base)
    out.discard(me)
    return out


def layer_of(name: str) -> int:
    best, level = -1, None
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), i
    assert level is not None, f"{name} is in no layer: add it to LAYERS"
    return level


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_imports_never_go_up_a_layer():
    bad = []
    for mod, deps in graph().items():
        for dep in deps:
            if layer_of(dep) > layer_of(mod):
                bad.append(f"{mod} imports {dep} (layer {layer_of(dep)} above {layer_of(mod)})")
            for prefix, banned in FORBIDDEN.items():
                if (mod == prefix or mod.startswith(prefix + ".")) and dep.startswith(banned):
                    bad.append(f"{mod} imports {dep}: {prefix} must not depend on {', '.join(banned)}")
    assert bad == []


def test_no_import_cycles():
    g = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    assert cycles == []


def test_the_checker_sees_an_upward_import(tmp_path):
    p = PACKAGE / "io" / "frames.py"
    assert "blurgen.errors" in imports(p)
    assert layer_of("blurgen.commands.real") > layer_of("blurgen.pipeline.loop") > layer_of("blurgen.flow.base")
    assert layer_of("blurgen.flow.base") > layer_of("blurgen.io.frames") > layer_of("blurgen.utils")
