"""The package's import graph has no cycle, counting imports under ``TYPE_CHECKING`` and inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2] / "src"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, current: str, is_package: bool, known: set[str]) -> set[str]:
    """Project modules one file imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = current.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join(anchor + ([base] if base else []))
            # ``from pkg import mod`` imports the module ``pkg.mod`` when there is one, else a name of pkg.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != current:
                found.add(name)
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    files = {module_name(path, root): path for path in (root / package).rglob("*.py")}
    known = set(files)
    return {
        name: imported_modules(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py", known)
        for name, path in files.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path that starts and ends on the same module, or None."""
    visiting: list[str] = []
    on_path: set[str] = set()
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        visiting.append(node)
        on_path.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                return visiting[visiting.index(nxt) :] + [nxt]
            if nxt not in done:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        visiting.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph(PACKAGE_ROOT, "travel_agent"))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_walk_sees_a_cycle_hidden_under_type_checking(tmp_path: Path) -> None:
    """The checker itself: a deliberately broken tree, the last arrow only under TYPE_CHECKING."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from pkg import c\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import thing\n")
    assert find_cycle(import_graph(tmp_path, "pkg")) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]
    (package / "c.py").write_text("")
    assert find_cycle(import_graph(tmp_path, "pkg")) is None


LOWER = ("backends", "agent", "chat", "observability")
UPPER = ("web", "api", "console", "runtime", "services", "app")


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_lower_layers_never_import_the_upper_ones() -> None:
    graph = import_graph(PACKAGE_ROOT, "travel_agent")
    wrong = sorted(
        f"{module} -> {imported}"
        for module, imports in graph.items()
        if layer(module) in LOWER
        for imported in imports
        if layer(imported) in UPPER
    )
    assert wrong == []


# Modules at the bottom of the package: anything may import them, they import nothing of ours (as
# flask/globals.py in Flask), so no layer above can leak into them.
BOTTOM = ("travel_agent.request_context", "travel_agent.formats", "travel_agent.cooperative")


def test_the_bottom_modules_import_nothing_of_ours() -> None:
    graph = import_graph(PACKAGE_ROOT, "travel_agent")
    assert {module: sorted(graph[module]) for module in BOTTOM if graph[module]} == {}


def test_the_store_does_not_depend_on_the_agent_and_the_exceptions_on_no_web_framework() -> None:
    graph = import_graph(PACKAGE_ROOT, "travel_agent")
    assert [m for m in graph["travel_agent.chat.store"] if layer(m) == "agent"] == []
    source = (PACKAGE_ROOT / "travel_agent" / "errors.py").read_text(encoding="utf-8")
    frameworks = {"flask", "werkzeug", "gunicorn", "flask_smorest"}
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported & frameworks == set()
