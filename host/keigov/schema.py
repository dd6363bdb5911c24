"""Validation of TOML documents against small declarative schemas.

Each error names the file, the dotted key and the reason, so a user can fix a scenario
without reading code. Unknown keys are errors: a misspelt key must never be ignored.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keigov.errors import InputError


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    choices: tuple[str, ...] | None = None
    help: str = ""


def load_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InputError("no such file", where=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", where=str(path)) from None


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false", list: "a list"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def validate(table: Any, schema: dict[str, Field], path: Path, prefix: str) -> dict[str, Any]:
    """Values of `table` checked against `schema`, with defaults filled in."""
    if not isinstance(table, dict):
        raise InputError(f"[{prefix}] must be a table", where=str(path))
    for key in table:
        if key not in schema:
            known = ", ".join(sorted(schema))
            raise InputError(f"unknown key '{prefix}.{key}' (known: {known})", where=str(path))
    out: dict[str, Any] = {}
    for key, spec in schema.items():
        name = f"{prefix}.{key}"
        if key not in table:
            if spec.required:
                raise InputError(f"missing key '{name}'" + (f": {spec.help}" if spec.help else ""), where=str(path))
            out[key] = spec.default
            continue
        value = table[key]
        kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise InputError(f"'{name}' must be {_type_name(spec.kind)}, not {value!r}", where=str(path))
        if spec.minimum is not None and isinstance(value, (int, float)) and value < spec.minimum:
            raise InputError(f"'{name}' = {value} is below the minimum {spec.minimum}", where=str(path))
        if spec.maximum is not None and isinstance(value, (int, float)) and value > spec.maximum:
            raise InputError(f"'{name}' = {value} is above the maximum {spec.maximum}", where=str(path))
        if spec.choices is not None and value not in spec.choices:
            raise InputError(f"'{name}' = {value!r} is not one of {', '.join(spec.choices)}", where=str(path))
        out[key] = value
    return out


def number_pairs(value: Any, name: str, path: Path, width: int = 2) -> list[tuple[float, ...]]:
    """A list of [a, b, ...] number lists, e.g. grade segments or outage windows."""
    if not isinstance(value, list) or not all(
        isinstance(p, list) and len(p) == width
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in p)
        for p in value
    ):
        raise InputError(f"'{name}' must be a list of [{', '.join('number' for _ in range(width))}] entries",
                         where=str(path))
    return [tuple(float(x) for x in p) for p in value]
