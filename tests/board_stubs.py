"""Which micropython-stubs package each board backend is type-checked against, and
installing them: every port's stubs define the same module names (machine, time, ...),
so each goes into a directory of its own (`make install` runs this with --install).

    python tests/board_stubs.py --install .venv/mpy-stubs
"""

from __future__ import annotations

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


def install(root: Path) -> None:
    for port, (requirement, _files) in PORTS.items():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--upgrade", "--target",
                        str(root / port), requirement], check=True)


if __name__ == "__main__":
    if sys.argv[1:2] != ["--install"] or len(sys.argv) != 3:
        sys.exit("usage: board_stubs.py --install DIR")
    install(Path(sys.argv[2]))
