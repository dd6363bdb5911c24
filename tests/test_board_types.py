"""Every board backend type-checks with mypy against its port's micropython-stubs: the
pyb, machine and time calls it makes exist with those arguments on that port. The portable
firmware does against MicroPython's own standard library too (the root `mypy` run checks
it against CPython's, which it also runs on)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fwenv import FIRMWARE

from board_stubs import PORTS, STUBS_DIR

# Firmware every board runs, MicroPython's standard library included (stm32's stubs stand for
# it). Not boards/sim.py: its CPython fallbacks (time.monotonic, ...) exist only there.
PORTABLE = ("main.py", "core", "boards/__init__.py", "boards/ramcan.py")


def mypy(port: str, files: tuple[str, ...] | list[str]) -> list[str]:
    """mypy's errors in `files` (the stubs' own errors are not ours), with the port's
    stubs as the whole standard library, as on the board."""
    stubs = STUBS_DIR / port
    if not stubs.is_dir():
        pytest.fail(f"no stubs in {stubs}: run `make install` (tests/board_stubs.py --install)")
    env = dict(os.environ, MYPYPATH=f"{stubs}{os.pathsep}{FIRMWARE}")
    out = subprocess.run([sys.executable, "-m", "mypy", "--custom-typeshed-dir", str(stubs), "--check-untyped-defs",
                          "--follow-imports=silent", "--no-incremental", "--cache-dir", os.devnull,
                          "--platform", "linux", *files], cwd=FIRMWARE, env=env, capture_output=True, text=True,
                         timeout=600)
    ours = tuple(f + ":" if f.endswith(".py") else f + "/" for f in files)
    return [line for line in out.stdout.splitlines() if line.startswith(ours)]


@pytest.mark.parametrize("port", sorted(PORTS))
def test_board_backend_matches_its_ports_stubs(port):
    assert mypy(port, PORTS[port][1]) == []


def test_portable_firmware_matches_micropythons_standard_library():
    assert mypy("stm32", PORTABLE) == []


def test_the_check_sees_a_call_the_port_does_not_have(tmp_path):
    bad = FIRMWARE / "boards" / "_typo_check.py"
    bad.write_text("import pyb\n\n\ndef f():\n    pyb.CAN(1, pyb.CAN.NORMAL).setfilters(None)\n")
    try:
        errors = mypy("stm32", ["boards/_typo_check.py"])
    finally:
        bad.unlink()
    assert errors and "setfilters" in errors[0]
