"""The control loop's period while its serial link is flooded.

The device (tests/fw_flood.py: core.node.Node on 10 ms wall-clock periods, link on a pty)
runs on MicroPython's unix port while this process writes to the pty as fast as it
takes bytes: nothing, random garbage (without Ctrl-C, which would be a REPL break-in on
a development device), back-to-back valid STATUS requests, oversized frames, or a stream
of 0x00. Prints per mode the step time (median, p99, max), the longest period (start to
start) and the most bytes and replies the link handled in one step. The link's share is
bounded by construction (128 bytes, 16 port reads and one reply per step); p99 and max
on a shared host are mostly the scheduler's (compare the idle row).

    python benchmarks/link_flood_loop.py [SECONDS]
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import tty
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fwenv import FIRMWARE, micropython_binary  # noqa: E402

from keigov.link import framing  # noqa: E402
from keigov.link import protocol as P  # noqa: E402

FLOOD = Path(__file__).resolve().parents[1] / "tests" / "fw_flood.py"


def _garbage() -> bytes:
    return bytes(b for b in random.randbytes(4096) if b != 3)


def _requests() -> bytes:
    return b"".join(framing.encode_frame(P.STATUS, 1 + i % 255, b"") for i in range(300))


def _oversized() -> bytes:
    return b"\x00" + bytes([0xFF] + [0x55] * 254) * 4 + b"\x00"


MODES: dict[str, Callable[[], bytes] | None] = {
    "idle": None,
    "garbage": _garbage,
    "requests": _requests,
    "oversized": _oversized,
    "zeros": lambda: bytes(4096),
}


def run(mode: str, seconds: int) -> dict[str, int]:
    """One flooded run on MicroPython; the device's figures by name."""
    make = MODES[mode]
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    exe = micropython_binary()
    assert exe, "no micropython binary"
    proc = subprocess.Popen([exe, str(FLOOD), str(master), str(seconds * 100)], cwd=FIRMWARE, pass_fds=[master],
                            stdout=subprocess.PIPE, text=True)
    os.close(master)
    stop = threading.Event()

    def flood() -> None:
        while make and not stop.is_set():
            try:
                os.write(slave, make())
            except OSError:
                return

    def drain() -> None:  # the host reads the replies, as a client does
        while not stop.is_set():
            try:
                os.read(slave, 65536)
            except OSError:
                return

    threads = [threading.Thread(target=f, daemon=True) for f in (flood, drain)]
    for t in threads:
        t.start()
    out, _ = proc.communicate(timeout=seconds + 60)
    stop.set()  # the device closed the master with its exit: the threads' next read or write fails
    for t in threads:
        t.join()
    os.close(slave)  # only now: a thread still writing to a reused descriptor would flood the next run
    words = out.split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(f"control loop with the link flooded, MicroPython unix port, 10 ms periods, {seconds} s per mode")
    print(f"{'mode':<10} {'step median':>12} {'p90':>8} {'p99':>8} {'max':>8} {'period max':>11} {'bytes/step':>11} "
          f"{'replies/step':>13} {'answered':>9}")
    for mode in MODES:
        r = run(mode, seconds)
        print(f"{mode:<10} {r['median']:>9} us {r['p90']:>5} us {r['p99']:>5} us {r['max']:>5} us "
              f"{r['period_max']:>8} us {r['bytes_max']:>11} {r['replies_max']:>13} {r['frames']:>9}")


if __name__ == "__main__":
    main()
