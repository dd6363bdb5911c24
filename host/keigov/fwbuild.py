"""The firmware as it goes onto a board: which files each board backend needs, and those
files compiled by mpy-cross for its architecture (`keigov flash` copies them; the HIL
rig's MicroPython runtime runs the sim board's)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from keigov import mpycross, paths
from keigov.errors import InputError
from keigov.fwsource import literal


@dataclass(frozen=True)
class Target:
    """A board backend (firmware/boards/__init__.py BOARDS) and how to build for it."""

    name: str
    march: str                 # mpy-cross -march
    modules: tuple[str, ...]   # board-specific files under firmware/, beside core/ and tables/
    description: str


_REAL = ("boards/realboard.py",)
_MCP = ("boards/mcp.py", "drivers/__init__.py", "drivers/mcp2515.py") + _REAL
TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("sim", "x64", ("boards/sim.py", "boards/ramcan.py", "core/memstorage.py"),
           "the virtual dev board (keigov board): MicroPython's unix port on x86-64"),
    Target("pyboard", "armv7emsp", ("boards/pyboard.py",) + _REAL, "STM32 pyboard, pyb.CAN (Cortex-M4F)"),
    Target("stm32", "armv7emsp", ("boards/mcan.py",) + _REAL, "STM32 with machine.CAN, MicroPython >= 1.28"),
    Target("mimxrt", "armv7emdp", ("boards/mcan.py",) + _REAL, "MIMXRT with machine.CAN (Cortex-M7)"),
    Target("rp2-mcp2515", "armv6m", _MCP, "RP2040 + MCP2515 on SPI (Cortex-M0+)"),
    Target("esp32-mcp2515", "xtensawin", _MCP, "ESP32 + MCP2515 on SPI"),
)}


def target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise InputError(f"unknown board {name!r}; known: {', '.join(sorted(TARGETS))}", where="--board") from None


def firmware_version() -> str:
    return str(literal("core/node.py", "FIRMWARE_VERSION"))


def sources(t: Target) -> list[str]:
    """Firmware files (relative to firmware/) the board needs."""
    fw = paths.FIRMWARE
    core = sorted(str(p.relative_to(fw)) for p in (fw / "core").glob("*.py") if p.name != "memstorage.py")
    tables = sorted(str(p.relative_to(fw)) for p in (fw / "tables").glob("*.py"))
    return ["main.py", "boards/__init__.py", *core, *tables, *t.modules]


def stage(t: Target, out: Path) -> dict[str, str]:
    """Compile into `out` what goes on the device; {device path: SHA-256 hex}."""
    files: dict[str, str] = {}
    for rel in sources(t):
        src = paths.FIRMWARE / rel
        dest_rel = rel if rel == "main.py" else rel[:-3] + ".mpy"  # a board runs main.py from source
        dest = out / dest_rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if rel == "main.py":
            dest.write_bytes(src.read_bytes())
        else:
            mpycross.compile_file(src, dest, march=t.march, source_name=rel)
        files[dest_rel] = hashlib.sha256(dest.read_bytes()).hexdigest()
    (out / "board.txt").write_text(t.name + "\n")
    files["board.txt"] = hashlib.sha256((out / "board.txt").read_bytes()).hexdigest()
    return files
