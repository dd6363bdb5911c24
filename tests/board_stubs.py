"""Which micropython-stubs package each board backend is type-checked against, and
installing them: every port's stubs define the same module names (machine, time, ...),
so each goes into a directory of its own (`make install` runs this with --install).

    python tests/board_stubs.py --install .venv/mpy-stubs

The root `mypy` run (the [tool.mypy] configuration) types host/, hil/ and the firmware's
portable code in one process with CPython's standard library, so it cannot take a port's
directory whole: mypy_path is searched before typeshed, and the stubs' time.pyi, struct.pyi,
... would shadow CPython's for the host too. It takes OVERLAY instead: the one MicroPython
module the portable code imports (`micropython`, which firmware/cpython stands in for under
CPython) and what that stub imports, copied from stm32's stubs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

# port: (pip requirement, firmware files checked against it). mimxrt's stubs (1.26) predate
# machine.CAN, so boards/mcan.py is checked against stm32's, the same machine.CAN API.
PORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "stm32": ("micropython-stm32-stubs==1.29.*", ("boards/pyboard.py", "boards/mcan.py", "boards/realboard.py")),
    "rp2": ("micropython-rp2-stubs==1.29.*", ("boards/mcp.py", "drivers/mcp2515.py", "boards/realboard.py")),
    "esp32": ("micropython-esp32-stubs==1.29.*", ("boards/mcp.py", "drivers/mcp2515.py", "boards/realboard.py")),
}
STUBS_DIR = Path(sys.executable).parent.parent / "mpy-stubs"
OVERLAY = ("stm32", ("micropython.pyi", "_mpy_shed"), "overlay")   # from port, entries, into


def install(root: Path) -> None:
    for port, (requirement, _files) in PORTS.items():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", "--target",
                        str(root / port), requirement], check=True)
    install_overlay(root)


def install_overlay(root: Path) -> None:
    port, entries, name = OVERLAY
    overlay = root / name
    shutil.rmtree(overlay, ignore_errors=True)
    overlay.mkdir(parents=True)
    for entry in entries:
        src = root / port / entry
        if src.is_dir():
            shutil.copytree(src, overlay / entry)
        else:
            shutil.copy2(src, overlay / entry)


if __name__ == "__main__":
    if sys.argv[1:2] != ["--install"] or len(sys.argv) != 3:
        sys.exit("usage: board_stubs.py --install DIR")
    install(Path(sys.argv[2]))
