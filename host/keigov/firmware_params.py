"""Firmware tables read on the host: parameters (core/config.py) and event names.

Bounds live in one place, the firmware; the host validates configurations against the
very table the device will check them with.
"""

from __future__ import annotations

import importlib.util
import sys
import types
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
    """name -> (default, minimum, maximum), in firmware units."""
    module = load_firmware_module("core/config.py")
    return {name: (default, lo, hi) for name, default, lo, hi in module.PARAMS}


@lru_cache(maxsize=1)
def event_names() -> dict[int, str]:
    """Event code -> name, from firmware/core/events.py."""
    return dict(load_firmware_module("core/events.py").NAMES)
