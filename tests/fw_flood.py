"""The device's control loop with its link on a pty the host floods: MicroPython (or
CPython) runs core.node.Node on 10 ms periods of the wall clock, as a board does, and
reports what each period cost. Run from firmware/:

    micropython fw_flood.py SOURCE STEPS [PACED]

SOURCE is the pty master's file descriptor (non-blocking), or `garbage`, `requests` or
`zeros` for an in-memory port that never runs dry. With PACED=0 the steps run back to
back (a test of the work per step, not of the host's scheduler). Prints one line of
figures, all in microseconds except the counts: steps, step time median / p90 / p99 / max,
period max (start to start), most bytes, port reads and replies in one step, link
counters.
"""
import sys

if __name__ == "__main__":
    sys.path[:0] = [".", "cpython"] if sys.implementation.name != "micropython" else ["."]

import time  # noqa: E402
from array import array  # noqa: E402

from boards.ramcan import RamCan  # noqa: E402
from boards.sim import SimWatchdog, open_port  # noqa: E402
from core import persist  # noqa: E402
from core.memstorage import MemStorage  # noqa: E402
from core.node import Node  # noqa: E402
from tables import keigov_bus  # noqa: E402

_PERIOD_MS = 10


def _us():
    if hasattr(time, "ticks_us"):
        return time.ticks_us()
    return time.perf_counter_ns() // 1000


def _diff(a, b):
    return time.ticks_diff(a, b) if hasattr(time, "ticks_diff") else a - b


class MemFlood:
    """A port whose input never runs dry: one pattern, over and over."""

    def __init__(self, pattern):
        self.pattern = pattern
        self.at = 0

    def readinto(self, buf, n):
        p = self.pattern
        for i in range(n):
            buf[i] = p[self.at]
            self.at = (self.at + 1) % len(p)
        return n

    def write(self, buf, n):
        return n


def _status_requests():
    """STATUS requests with sequence numbers 1..255, wire-encoded (docs/link-protocol.md)."""
    from core import link
    from core.crc16 import INIT, update

    out = bytearray()
    for seq in range(1, 256):
        body = bytearray([link.VERSION, 2, seq, 0, 0, 0, 0])
        crc = update(INIT, body, 0, 5)
        body[5] = crc >> 8
        body[6] = crc & 0xFF
        out += b"\x00"
        at = len(out)
        out.append(0)
        for b in body:  # COBS
            if b:
                out.append(b)
            else:
                out[at] = len(out) - at
                at = len(out)
                out.append(0)
        out[at] = len(out) - at
        out += b"\x00"
    return bytes(out)


def flood_port(source):
    if source == "garbage":  # no Ctrl-C: that is a REPL break-in on a development device
        return MemFlood(bytes((i * 131 + 7) % 256 for i in range(4093) if (i * 131 + 7) % 256 != 3))
    if source == "requests":
        return MemFlood(_status_requests())
    if source == "zeros":
        return MemFlood(bytes(64))
    return open_port(source)


class CountingPort:
    def __init__(self, port):
        self.port = port
        self.read = 0
        self.reads = 0

    def readinto(self, buf, n):
        got = self.port.readinto(buf, n)
        self.read += got
        self.reads += 1
        return got

    def write(self, buf, n):
        return self.port.write(buf, n)


def main(source, n, paced):
    port = CountingPort(flood_port(source))
    flash = MemStorage(1024, persist.device_blocks(1024, 8, 3))
    node = Node(RamCan(), SimWatchdog(), flash, keigov_bus, port=port, slot_blocks=8, event_blocks=3)
    steps = array("i", [0] * n)
    period_max = 0
    bytes_max = 0
    replies_max = 0
    reads_max = 0
    last_start = 0
    next_t = _us()
    for k in range(n):
        wait = _diff(next_t, _us()) if paced else 0
        if wait > 1500:  # sleep most of the wait, spin the rest: wake-ups are late on a busy host
            time.sleep((wait - 1000) / 1000000)
        while paced and _diff(_us(), next_t) < 0:
            pass
        t0 = _us()
        read0 = port.read
        reads0 = port.reads
        frames0 = node.link.frames + node.link.retries
        node.step((k * _PERIOD_MS) & 0x3FFFFFFF)
        t1 = _us()
        steps[k] = _diff(t1, t0)
        if k:
            period_max = max(period_max, _diff(t0, last_start))
        last_start = t0
        bytes_max = max(bytes_max, port.read - read0)
        reads_max = max(reads_max, port.reads - reads0)
        replies_max = max(replies_max, node.link.frames + node.link.retries - frames0)
        next_t += _PERIOD_MS * 1000
        if node.break_requested:
            break
    s = sorted(steps)
    lk = node.link
    print("steps", n, "median", s[n // 2], "p90", s[n * 9 // 10], "p99", s[n * 99 // 100], "max", s[-1],
          "period_max", period_max, "bytes_max", bytes_max, "reads_max", reads_max, "replies_max", replies_max,
          "frames", lk.frames, "bad_crc", lk.bad_crc, "bad_frame", lk.bad_frame, "oversized", lk.oversized,
          "break", int(node.break_requested))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), len(sys.argv) < 4 or sys.argv[3] != "0")
