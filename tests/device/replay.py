"""Replay a recorded frame trace through the governor app, on MicroPython or CPython.

  micropython replay.py TRACE frames [ZONES]          print every sent frame: "<t> <id> <hex>"
  micropython replay.py TRACE alloc WARMUP [ZONES]    after WARMUP steps, measure the heap: once
                                                      with gc.mem_alloc() (gc off), once inside
                                                      micropython.heap_lock() (any allocation
                                                      raises MemoryError)

ZONES: a compiled zone table (`keigov zones compile`) the governor runs with, as a device
with zones in its configuration does.

TRACE is tests/firmware_harness.encode_trace() output: "S <now>" starts a step, the
"F <id> <hex>" lines after it are the frames delivered before that step. Everything is
loaded into flat arrays first, so the replay loop itself allocates nothing.
"""
import gc
import sys
from array import array
from binascii import hexlify

import micropython

from boards.ramcan import RamCan
from boards.sim import SimWatchdog
from core import config, geofence
from core.app import Governor
from tables import keigov_bus


class Trace:
    """The trace in flat arrays sized by a first pass, so a long trace fits a small heap
    (and the collector has few objects to walk while the replay prints)."""

    def __init__(self, path):
        steps = frames = 0
        with open(path) as f:
            for line in f:
                if line[0] == "S":
                    steps += 1
                elif line[0] == "F":
                    frames += 1
        self.time = array("i", bytearray(4 * steps))
        self.first = array("i", bytearray(4 * (steps + 1)))   # a step's first frame; one extra at the end
        self.fid = array("i", bytearray(4 * frames))
        self.flen = bytearray(frames)
        self.data = bytearray(8 * frames)
        k = n = 0
        with open(path) as f:
            for line in f:
                parts = line.split()
                if not parts:
                    continue
                if parts[0] == "S":
                    self.time[k] = int(parts[1])
                    self.first[k] = n
                    k += 1
                else:
                    payload = bytes.fromhex(parts[2]) if len(parts) > 2 else b""
                    self.fid[n] = int(parts[1])
                    self.flen[n] = len(payload)
                    self.data[n * 8:n * 8 + len(payload)] = payload
                    n += 1
        self.first[k] = n
        self.steps = steps
        self.buf = bytearray(8)     # one frame on its way into the RAM CAN


class Counter:
    """After each step: drop the sent frames and count the states seen (no allocation)."""

    def __init__(self, app):
        self.app = app
        self.states = array("i", [0] * 8)
        self.frames = 0

    def after(self, k):
        self.frames += self.app.can.take_sent()
        self.states[self.app.safety.state] += 1


class Printer:
    def __init__(self, app, trace):
        self.app = app
        self.trace = trace

    def after(self, k):
        can = self.app.can
        t = self.trace.time[k]
        data = memoryview(can.tx_data)
        for i in range(can.take_sent()):
            base = i * 64   # one write per line: each is a system call on the unix port
            sys.stdout.write("%d %d %s\n" % (t, can.tx_id[i], hexlify(data[base:base + can.tx_len[i]]).decode()))


ZONES = None    # path of the zone table, from the command line


def build():
    fence = None
    if ZONES:
        fence = geofence.Fence()
        with open(ZONES, "rb") as f:
            if fence.read(f) != geofence.OK:
                raise SystemExit("zone table refused")
    return Governor(RamCan(), SimWatchdog(), keigov_bus, config.Config(), fence=fence)


def replay(app, trace, first, last, sink):
    can = app.can
    buf = trace.buf
    fid = trace.fid
    flen = trace.flen
    data = trace.data
    starts = trace.first
    times = trace.time
    for k in range(first, last):
        for f in range(starts[k], starts[k + 1]):
            n = flen[f]
            base = f * 8
            for b in range(n):
                buf[b] = data[base + b]
            can.deliver(fid[f], buf, n)
        app.step(times[k])
        sink.after(k)


def measure_alloc(trace, warmup):
    """gc.mem_alloc() growth over the steps after warm-up, with the collector off."""
    app = build()
    sink = Counter(app)
    replay(app, trace, 0, warmup, sink)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    replay(app, trace, warmup, trace.steps, sink)
    grown = gc.mem_alloc() - before
    gc.enable()
    return grown


def run_locked(trace, warmup):
    """The same steps inside heap_lock(); returns (lock armed, states seen, frames sent)."""
    app = build()
    sink = Counter(app)
    replay(app, trace, 0, warmup, sink)
    for i in range(len(sink.states)):
        sink.states[i] = 0
    sink.frames = 0
    gc.collect()
    micropython.heap_lock()
    armed = 0
    try:
        bytearray(1)
    except MemoryError:
        armed = 1
    try:
        replay(app, trace, warmup, trace.steps, sink)
    except MemoryError:
        micropython.heap_unlock()
        print("ALLOCATED in a locked step; state", app.safety.state, "steps done", app.steps)
        sys.exit(3)
    micropython.heap_unlock()
    return armed, sink.states, sink.frames


def main(argv):
    global ZONES
    trace = Trace(argv[1])
    if argv[2] == "frames":
        ZONES = argv[3] if len(argv) > 3 else None
        app = build()
        replay(app, trace, 0, trace.steps, Printer(app, trace))
        return
    ZONES = argv[4] if len(argv) > 4 else None
    warmup = int(argv[3])
    grown = measure_alloc(trace, warmup)
    armed, states, frames = run_locked(trace, warmup)
    print("steps", trace.steps - warmup)
    print("mem_alloc_delta", grown)
    print("lock_armed", armed)
    print("frames_sent", frames)
    print("states", " ".join(str(states[i]) for i in range(5)))


main(sys.argv)
