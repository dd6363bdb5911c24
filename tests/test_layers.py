"""The house's floors, read from the code's imports (every import, function-level ones too):

    firmware core  <  firmware boards            (the control logic never imports a board)
    keigov library <  keigov.replay, keigov_hil  (peers: neither imports the other)
                   <  keigov.cli                 (the only floor that imports both)

and no import cycle between modules, nor between the packages they sit in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from keigov import paths

CHECKOUT = Path(__file__).resolve().parents[1]
PACKAGES = {"keigov": CHECKOUT / "host" / "keigov", "keigov_hil": CHECKOUT / "hil" / "keigov_hil"}


def _modules() -> dict[str, Path]:
    found = {}
    for top, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            if path.is_relative_to(root / "_firmware") or "__pycache__" in path.parts:
                continue
            parts = [top, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import names (a name imported from a package: the package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> set[str]:
    out = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names = [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        out |= {r for n in names if (r := _resolve(n)) and r != module}
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _floor(module: str) -> str:
    if module == "keigov_hil" or module.startswith("keigov_hil."):
        return "rig"
    for floor in ("cli", "replay"):
        if module == f"keigov.{floor}" or module.startswith(f"keigov.{floor}."):
            return floor
    return "commands" if module == "keigov.__main__" else "library"


ALLOWED = {
    "library": {"library"},
    "replay": {"library", "replay"},
    "rig": {"library", "rig"},
    "cli": {"library", "replay", "rig", "cli"},
    "commands": {"library", "cli"},
}


def test_the_graph_is_read():
    assert "keigov.bus" in GRAPH["keigov_hil.rig"] and "keigov_hil.rig" in GRAPH["keigov.cli.sim"]
    assert len(MODULES) > 100


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_floor_imports_only_the_floors_below_it(module):
    floor = _floor(module)
    above = sorted(m for m in GRAPH[module] if _floor(m) not in ALLOWED[floor])
    assert not above, f"{module} ({floor}) imports {above}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

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
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_modules():
    assert _cycles(GRAPH) == []


def _package(module: str) -> str:
    """The package a module sits in: keigov_hil, keigov.<subpackage>, or a keigov top-level module."""
    parts = module.split(".")
    if parts[0] == "keigov_hil":
        return "keigov_hil"
    if len(parts) > 2 or (len(parts) == 2 and MODULES[module].name == "__init__.py"):
        return ".".join(parts[:2])
    return module


def test_no_import_cycle_between_packages():
    packages: dict[str, set[str]] = {}
    for module, imported in GRAPH.items():
        home = _package(module)
        packages.setdefault(home, set()).update(_package(m) for m in imported if _package(m) != home)
    assert _cycles(packages) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_firmware_core_never_imports_a_board():
    firmware = paths.FIRMWARE
    for path in sorted((firmware / "core").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not [n for n in names if n.split(".")[0] in ("boards", "drivers", "main")], path.name
