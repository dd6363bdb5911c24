"""Load a generated table module on the host, as the firmware would import it.

The module's decode/encode import core.dbcdecode from the firmware tree; this puts the
firmware (and, under CPython, its `micropython` stand-in) on sys.path first.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

from keigov.paths import FIRMWARE


def firmware_on_path() -> None:
    for entry in (str(FIRMWARE / "cpython"), str(FIRMWARE)):
        if entry not in sys.path:
            sys.path.insert(0, entry)


def load_source(source: str, name: str = "generated_tables") -> types.ModuleType:
    """A module object from generated source (not registered in sys.modules)."""
    firmware_on_path()
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def load_path(path: Path) -> types.ModuleType:
    return load_source(path.read_text(encoding="utf-8"), path.stem)
