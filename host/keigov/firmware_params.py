"""Firmware tables read on the host: parameters (core/config.py), event names (and the merge of
the device's REPEATED summaries, `merge_repeated`), and any module
whose values the AST reader (keigov.fwsource) cannot evaluate, imported with a `micropython` stand-in.

Bounds live in one place, the firmware; the host validates configurations against the
very table the device will check them with.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Callable
from functools import lru_cache

from keigov import paths

CKPH_PER_MPH = 160.9344
CKPH_PER_KPH = 100


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


@lru_cache(maxsize=1)
def params() -> dict[str, tuple[int, int, int]]:
    """name -> (default, minimum, maximum), in firmware units (one reader: keigov.config.params)."""
    from keigov.config.params import firmware_params

    return {p.name: (p.default, p.minimum, p.maximum) for p in firmware_params().values()}


@lru_cache(maxsize=1)
def _events_module() -> types.ModuleType:
    return load_firmware_module("core/events.py")


@lru_cache(maxsize=1)
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
