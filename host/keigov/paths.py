"""Where keigov's firmware, DBCs and bundled scenarios live.

In a source checkout (and an editable install of one) they are the repository's own
folders: firmware/, dbc/, hil/scenarios/. Installed from the wheel they are the package
data it carries: keigov/_firmware, keigov/_dbc and keigov_hil/scenarios. KEIGOV_ROOT
names another checkout to use instead.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]
_PACKAGE = Path(__file__).resolve().parent


def _checkout() -> Path | None:
    """The source tree this package runs from, or None when it is installed."""
    if os.environ.get("KEIGOV_ROOT"):
        return Path(os.environ["KEIGOV_ROOT"])
    return _CHECKOUT if (_CHECKOUT / "firmware" / "core").is_dir() else None


def _hil_package() -> Path:
    """keigov_hil's folder, found without importing it (the rig sits above this module)."""
    spec = importlib.util.find_spec("keigov_hil")
    if spec is None or not spec.submodule_search_locations:
        return _PACKAGE.parent / "keigov_hil"
    return Path(next(iter(spec.submodule_search_locations)))


ROOT = _checkout()
FIRMWARE = ROOT / "firmware" if ROOT else _PACKAGE / "_firmware"
DBC_DIR = ROOT / "dbc" if ROOT else _PACKAGE / "_dbc"
KEIGOV_DBC = DBC_DIR / "keigov.dbc"
KEIGOV_MAP = DBC_DIR / "maps" / "keigov.toml"
SCENARIOS = (ROOT / "hil" if ROOT else _hil_package()) / "scenarios"
KEIGOV_TABLES = FIRMWARE / "tables" / "keigov_bus.py"
# Real recordings with their DBCs (CSS Electronics, MIT): KEIGOV_DATA, else beside the
# checkout; tests that need them skip when they are absent.
SHARED_DATA = Path(os.environ.get("KEIGOV_DATA") or (ROOT or _PACKAGE).parent / "shared" / "data")
