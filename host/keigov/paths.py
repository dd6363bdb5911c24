"""Where keigov's firmware and DBCs live.

In a source checkout (and an editable install of one) they are the repository's own
folders: firmware/ and dbc/. Installed from the wheel they are the package data it
carries (keigov/_firmware, keigov/_dbc), found through importlib.resources. KEIGOV_ROOT
names another checkout to use instead. (The rig's bundled scenarios are keigov_hil's:
keigov_hil.scenario.SCENARIOS.)
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]
_PACKAGE = Path(__file__).resolve().parent


def _checkout() -> Path | None:
    """The source tree this package runs from, or None when it is installed."""
    if os.environ.get("KEIGOV_ROOT"):
        return Path(os.environ["KEIGOV_ROOT"])
    return _CHECKOUT if (_CHECKOUT / "firmware" / "core").is_dir() else None


def package_data(name: str) -> Path:
    """A folder of package data in the installed keigov (installed wheels are folders)."""
    return Path(str(importlib.resources.files("keigov") / name))


ROOT = _checkout()
FIRMWARE = ROOT / "firmware" if ROOT else package_data("_firmware")
DBC_DIR = ROOT / "dbc" if ROOT else package_data("_dbc")
KEIGOV_DBC = DBC_DIR / "keigov.dbc"
KEIGOV_MAP = DBC_DIR / "maps" / "keigov.toml"
KEIGOV_TABLES = FIRMWARE / "tables" / "keigov_bus.py"
# Real recordings with their DBCs (CSS Electronics, MIT): KEIGOV_DATA, else beside the
# checkout; tests that need them skip when they are absent.
SHARED_DATA = Path(os.environ.get("KEIGOV_DATA") or (ROOT or _PACKAGE).parent / "shared" / "data")
