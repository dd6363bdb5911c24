"""The firmware's parameter table (core/config.py PARAMS), read from its source: the
host validates an operator's values against the very bounds the device checks."""

from __future__ import annotations

from dataclasses import dataclass

from keigov.errors import EnvironmentProblem
from keigov.fwsource import literal


@dataclass(frozen=True)
class Param:
    index: int
    name: str
    default: int
    minimum: int
    maximum: int


def firmware_params() -> dict[str, Param]:
    rows = literal("core/config.py", "PARAMS")
    if not isinstance(rows, tuple):
        raise EnvironmentProblem("core/config.py: PARAMS is not a tuple")
    return {name: Param(i, name, d, lo, hi) for i, (name, d, lo, hi) in enumerate(rows)}
