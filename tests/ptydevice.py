"""The firmware's link served by MicroPython behind a pseudo-terminal, for host clients.

The device side is tests/fw_driver.py in `pty` mode with the pty master inherited; the
host opens the slave's path with pyserial like any serial port."""

from __future__ import annotations

import os
import subprocess
import tty
from collections.abc import Iterator
from contextlib import contextmanager

from fwenv import DRIVER, FIRMWARE, micropython_binary


@contextmanager
def pty_device(setup: list[str], *, micropython: bool = True, period_ms: int = 0) -> Iterator[str]:
    """Yields the port path of a device prepared by the driver commands in `setup`."""
    import sys

    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)  # shared with the device process: its reads return what is there
    exe = micropython_binary() if micropython else sys.executable
    proc = subprocess.Popen([exe, str(DRIVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=FIRMWARE, pass_fds=[master], text=True)
    try:
        os.close(master)
        assert proc.stdin and proc.stdout
        proc.stdin.write("\n".join(setup + [f"pty {master} {period_ms}"]) + "\n")
        proc.stdin.flush()
        for line in proc.stdout:
            if line.startswith("ready"):
                break
        else:
            raise RuntimeError("device did not start: " + (proc.stderr.read() if proc.stderr else ""))
        yield os.ttyname(slave)
    finally:
        proc.kill()
        proc.wait()
        os.close(slave)
