"""Numbers read from the firmware's own source, so host and device share one definition.

`ast` reads the MicroPython modules without importing them (they need `micropython`).
"""

from __future__ import annotations

import ast
from pathlib import Path

from keigov import paths
from keigov.errors import EnvironmentProblem


def _module(relpath: str) -> tuple[Path, ast.Module]:
    path = paths.FIRMWARE / relpath
    try:
        return path, ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError) as exc:
        raise EnvironmentProblem(f"cannot read the firmware source: {exc}", where=str(path)) from exc


def literal(relpath: str, name: str) -> object:
    """The literal value assigned to `name` at the top of a firmware module."""
    path, tree = _module(relpath)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise EnvironmentProblem(f"no {name} in the firmware source", where=str(path))


def consts(relpath: str) -> dict[str, int]:
    """Every `NAME = const(N)` at the top of a firmware module."""
    _path, tree = _module(relpath)
    out = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "const"):
            out[node.targets[0].id] = ast.literal_eval(node.value.args[0])
    return out
