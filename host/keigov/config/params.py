"""The firmware's parameter table (core/config.py PARAMS), read from its source.

The host validates an operator's values against the very bounds the device will check,
so both sides read one table; `ast` reads it without importing MicroPython code.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from keigov import paths
from keigov.errors import EnvironmentProblem


@dataclass(frozen=True)
class Param:
    index: int
    name: str
    default: int
    minimum: int
    maximum: int


def firmware_params(source: Path | None = None) -> dict[str, Param]:
    path = source or paths.FIRMWARE / "core" / "config.py"
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError) as exc:
        raise EnvironmentProblem(f"cannot read the firmware's parameter table: {exc}", where=str(path)) from exc
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PARAMS" for t in node.targets):
            rows = ast.literal_eval(node.value)
            return {name: Param(i, name, d, lo, hi) for i, (name, d, lo, hi) in enumerate(rows)}
    raise EnvironmentProblem("no PARAMS table", where=str(path))
