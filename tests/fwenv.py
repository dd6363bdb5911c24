"""Running firmware code from tests: in-process under CPython, or MicroPython's unix port
as a subprocess with firmware/ as the working directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
DRIVER = Path(__file__).with_name("fw_driver.py")

for p in (str(FIRMWARE / "cpython"), str(FIRMWARE)):
    if p not in sys.path:
        sys.path.insert(0, p)


def micropython_binary() -> str | None:
    local = Path(sys.executable).with_name("micropython")
    return str(local) if local.exists() else shutil.which("micropython")


needs_micropython = pytest.mark.skipif(micropython_binary() is None, reason="no micropython binary")


def run_driver(lines: list[str], *, micropython: bool, timeout: float = 60) -> list[str]:
    """Output lines of tests/fw_driver.py fed `lines`, under MicroPython or CPython."""
    exe = micropython_binary() if micropython else sys.executable
    assert exe, "no micropython binary"
    proc = subprocess.run([exe, str(DRIVER)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                          cwd=FIRMWARE, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()
