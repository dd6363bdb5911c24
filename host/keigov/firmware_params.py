"""The one reader of firmware constants on the host: the firmware defines them once, the
host reads them from its sources.

- `literal(file, NAME)` and `consts(file)`: values at the top of a firmware module, read
  by `ast` without importing it (firmware modules need `micropython`).
- `load_firmware_module(file)`: a module whose values `ast` cannot evaluate, imported under
  CPython with a `micropython` stand-in and never registered under its firmware name.
- The tables built on them: the parameters (core/config.py PARAMS: `firmware_params`,
  `params`), the event names (core/events.py) with the merge of the device's REPEATED
  summaries (`merge_repeated`, `occurrences`), the governor states (core/safety.py:
  `STATE_NAMES`) and the status flags by the names the governor bus gives their bits
  (core/roles.py FLAG_* through dbc/maps/keigov.toml: `STATUS_FLAGS`).

Bounds live in one place, the firmware; the host validates configurations against the
very table the device will check them with.
"""

from __future__ import annotations

import ast
import importlib.util
import operator
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from keigov import paths
from keigov.errors import EnvironmentProblem

CKPH_PER_MPH = 160.9344
CKPH_PER_KPH = 100


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


_OPERATORS: dict[type, Callable[[int, int], int]] = {
    ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.BitXor: operator.xor, ast.LShift: operator.lshift,
    ast.RShift: operator.rshift, ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}


def _const_value(node: ast.expr, known: dict[str, int], where: str) -> int:
    """An integer expression as MicroPython's const() takes it: literals, earlier consts
    of the module, and integer operators."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name) and node.id in known:
        return known[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Invert)):
        v = _const_value(node.operand, known, where)
        return -v if isinstance(node.op, ast.USub) else ~v if isinstance(node.op, ast.Invert) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_const_value(node.left, known, where), _const_value(node.right, known, where))
    raise EnvironmentProblem(f"line {node.lineno}: a const() the host cannot evaluate", where=where)


def consts(relpath: str) -> dict[str, int]:
    """Every `NAME = const(...)` at the top of a firmware module, evaluated."""
    path, tree = _module(relpath)
    out: dict[str, int] = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "const"):
            out[node.targets[0].id] = _const_value(node.value.args[0], out, str(path))
    return out


def load_firmware_module(relative: str) -> types.ModuleType:
    """Import one firmware file under CPython with the `micropython` stand-in."""
    shim = types.ModuleType("micropython")
    shim.const = lambda x: x  # type: ignore[attr-defined]
    saved = sys.modules.get("micropython")
    sys.modules["micropython"] = shim
    try:
        name = "_keigov_fw_" + relative.replace("/", "_").removesuffix(".py")
        spec = importlib.util.spec_from_file_location(name, paths.FIRMWARE / relative)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            del sys.modules["micropython"]
        else:
            sys.modules["micropython"] = saved
    return module


@dataclass(frozen=True)
class Param:
    index: int
    name: str
    default: int
    minimum: int
    maximum: int


def firmware_params() -> dict[str, Param]:
    """core/config.py PARAMS by name, in the firmware's order (`index`)."""
    rows = literal("core/config.py", "PARAMS")
    if not isinstance(rows, tuple):
        raise EnvironmentProblem("core/config.py: PARAMS is not a tuple")
    return {name: Param(i, name, d, lo, hi) for i, (name, d, lo, hi) in enumerate(rows)}


@cache
def params() -> dict[str, tuple[int, int, int]]:
    """name -> (default, minimum, maximum), in firmware units."""
    return {p.name: (p.default, p.minimum, p.maximum) for p in firmware_params().values()}


@cache
def state_names() -> dict[int, str]:
    """Governor state code -> name: the public constants of core/safety.py (INIT = const(0), ...)."""
    return {v: k for k, v in sorted(consts("core/safety.py").items(), key=lambda kv: kv[1]) if not k.startswith("_")}


@cache
def status_flags() -> tuple[str, ...]:
    """The status flags in bit order (bit n of the status's flags is element n), named as
    the governor bus names them: core/roles.py's FLAG_* bits, each through its output
    role (flag_overspeed for FLAG_OVERSPEED) to its signal in dbc/maps/keigov.toml."""
    from keigov.dbc.smap import load_map

    bits = {v: k.lower() for k, v in consts("core/roles.py").items() if k.startswith("FLAG_") and k != "FLAG_BASE"}
    if sorted(bits) != list(range(len(bits))):
        raise EnvironmentProblem("core/roles.py: the FLAG_* bits are not 0..n-1")
    outputs = load_map(paths.KEIGOV_MAP).outputs
    missing = [bits[b] for b in sorted(bits) if bits[b] not in outputs]
    if missing:
        raise EnvironmentProblem(f"the governor map carries no {', '.join(missing)}", where=str(paths.KEIGOV_MAP))
    return tuple(outputs[bits[b]][0].split(".", 1)[1] for b in sorted(bits))


STATE_NAMES: dict[int, str]          # state_names(), read on first use (module __getattr__)
STATUS_FLAGS: tuple[str, ...]        # status_flags(), read on first use


def __getattr__(name: str) -> object:
    if name == "STATE_NAMES":
        return state_names()
    if name == "STATUS_FLAGS":
        return status_flags()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _events_module() -> types.ModuleType:
    return load_firmware_module("core/events.py")


@cache
def event_names() -> dict[int, str]:
    """Event code -> name, from firmware/core/events.py."""
    return dict(_events_module().NAMES)


def occurrences(events: list[dict]) -> int:
    """How many times the events happened, the repeats merge_repeated folded in included."""
    return sum(e.get("count", 1) for e in events)


def merge_repeated(events: list[dict], time_s: Callable[[dict], float] = lambda e: e["t_s"]) -> list[dict]:
    """A device's events (dicts with "code" and "value", oldest first) with every REPEATED
    summary merged into the record it summarises, which gets "count" (1 + repeats),
    "first_t_s" (its own time) and "last_t_s" (the summary's); every other record gets
    count 1 and both times its own. A summary whose record was not among `events` (read
    from the middle of the log, or lost) stays, named "repeated", with "repeats" and
    "repeated" (the name of what it counts) beside the same keys.

    The pairing is the firmware's (core/events.py): the newest earlier record of the
    repeated code whose repeat_tag matches the summary's."""
    ev = _events_module()
    names = event_names()
    out: list[dict] = []
    newest: dict[tuple[int, int], dict] = {}     # (code, tag) -> record a summary would merge into
    for e in events:
        t = time_s(e)
        if e["code"] != ev.REPEATED:
            record = {**e, "count": 1, "first_t_s": t, "last_t_s": t}
            newest[(e["code"], ev.repeat_tag(e["value"]))] = record
            out.append(record)
            continue
        code, tag, repeats = ev.unpack_repeated(e["value"])
        target = newest.pop((code, tag), None)
        if target is not None:
            target["count"] += repeats
            target["last_t_s"] = t
        else:
            out.append({**e, "count": 1, "first_t_s": t, "last_t_s": t, "repeats": repeats,
                        "repeated": names.get(code, f"event_{code}")})
    return out
