"""The shape of the code: imports run downward only, and no module imports itself back.

    cli → runtime → web → workflow → handlers → channels → reading → rules → store → base

(base: bot/config.py, errors.py, clock.py, files.py.) A module may import from its own
package and from any package below it, never from one above; and nothing may import its way
round to itself. The README's "How it is built" draws the same picture.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Each package's place, lowest first; a module may import its own rank and below.
RANKS = {
    "bot": 0,  # bot/config.py, errors.py, clock.py, files.py, __init__.py
    "bot.store": 1,
    "bot.rules": 2,
    "bot.reading": 3,
    "bot.channels": 4,
    "bot.sources": 4,
    "handlers": 5,
    "bot.workflow": 6,
    "bot.web": 7,
    "bot.runtime": 8,
    "bot.cli": 9,
    "bot.__main__": 10,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    paths = [*ROOT.glob("bot/**/*.py"), *ROOT.glob("handlers/**/*.py")]
    return {
        _module_name(p): p
        for p in paths
        if "migrations" not in p.parts  # Alembic loads those itself
    }


def _package(module: str) -> str:
    best = ""
    for package in RANKS:
        if (module == package or module.startswith(package + ".")) and len(package) > len(best):
            best = package
    return best


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every project module `module` imports, anywhere in it (functions included)."""
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {module: _imports(module, path, known) for module, path in known.items()}


def test_imports_run_downward_only():
    upward = []
    for module, imported in _graph().items():
        rank = RANKS[_package(module)]
        for target in imported:
            if RANKS[_package(target)] > rank:
                upward.append(f"{module} imports {target}")
    assert upward == [], "an import that points up the layers"


def test_no_module_imports_its_way_round_to_itself():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert circles == [], "modules that import each other in a circle"


def test_every_module_belongs_to_a_layer_and_bot_top_holds_only_a_few():
    top = sorted(p.name for p in (ROOT / "bot").glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "clock.py", "config.py", "errors.py", "files.py"]
    assert all(_package(m) for m in _modules())
