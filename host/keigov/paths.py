"""Where the repository's firmware, DBCs and bundled scenarios live."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("KEIGOV_ROOT", Path(__file__).resolve().parents[2]))
FIRMWARE = ROOT / "firmware"
DBC_DIR = ROOT / "dbc"
KEIGOV_DBC = DBC_DIR / "keigov.dbc"
KEIGOV_MAP = DBC_DIR / "maps" / "keigov.toml"
SCENARIOS = ROOT / "hil" / "scenarios"
KEIGOV_TABLES = FIRMWARE / "tables" / "keigov_bus.py"
# Real recordings with their DBCs (CSS Electronics, MIT): beside the repository unless
# KEIGOV_DATA says where; tests that need them skip when they are absent.
SHARED_DATA = Path(os.environ.get("KEIGOV_DATA", ROOT.parent / "shared" / "data"))
