"""Load a generated table module on the host without installing it as a file.

A generated module imports nothing at import time; its decode() and encode() import
keigov.dbc.decode on first use, so nothing goes on sys.path.
"""

from __future__ import annotations

import types
from pathlib import Path


def load_source(source: str, name: str = "generated_tables") -> types.ModuleType:
    """A module object from generated source (not registered in sys.modules)."""
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def load_path(path: Path) -> types.ModuleType:
    return load_source(path.read_text(encoding="utf-8"), path.stem)
