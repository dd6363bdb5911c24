"""The governor with zones on MicroPython's unix port: a drive recorded on the CPython bench
(campus, a GNSS outage, a spoofed jump, the on-ramp lockout, a wheel fault while locked
out) replays to the same frames byte for byte, and allocates nothing per step."""

from __future__ import annotations

from pathlib import Path

import pytest

import firmware_harness as fh

from core.safety import FAULT, LIMITING, LOCKOUT, NORMAL
from test_fw_zones import RAMP_PATH, demo, drive  # noqa: F401  (demo is a fixture)

pytestmark = [
    pytest.mark.micropython,
    pytest.mark.skipif(fh.micropython_binary() is None, reason="no micropython binary"),
]
REPLAY = fh.DEVICE_DIR / "replay.py"
ROUTE = [(-250.0, 150.0), (-250.0, 520.0), (100.0, 30.0), *RAMP_PATH[1:]]


@pytest.fixture(scope="module")
def zone_drive(demo, tmp_path_factory) -> tuple[fh.Bench, Path, Path, int]:  # noqa: F811  (the imported fixture)
    """The recorded drive: (bench, trace file, zone table file, steps of warm-up)."""
    bench = fh.Bench(fence=demo.fence)
    periods = drive(bench, ROUTE, 60.0, settle_ms=3000, gnss_off=(25000, 38000), spoof=(45000, 50000, -2000.0))
    warmup = 0
    for _ in periods:
        warmup = warmup or len(bench.trace)
    bench.car.wheels_on = False
    bench.run(1000)
    bench.car.wheels_on = True
    bench.run(2000)
    folder = tmp_path_factory.mktemp("zones_replay")
    trace, table = folder / "trace.txt", folder / "zones.bin"
    trace.write_text(fh.encode_trace(bench.trace))
    table.write_bytes(demo.table.blob)
    return bench, trace, table, warmup


def test_the_drive_visits_every_zone_behaviour(zone_drive):
    bench, _trace, _table, _warmup = zone_drive
    states = {s.signals["GOVERNOR_STATE"] for s in bench.sent if s.name == "GOVERNOR_STATUS"}
    assert {NORMAL, LIMITING, LOCKOUT, FAULT} <= states
    zs = bench.app.safety.zones
    assert zs.jumps > 0 and zs.fixes > 500
    for flag in ("ZONE_HOLD", "ZONE_FALLBACK", "LOCKOUT_ACTIVE"):
        assert any(s.signals[flag] for s in bench.sent if s.name == "GOVERNOR_STATUS"), flag


def test_same_frames_on_micropython(zone_drive):
    bench, trace, table, _warmup = zone_drive
    out = fh.run_micropython(REPLAY, (str(trace), "frames", str(table)), timeout=300).splitlines()
    expected = [f"{s.t} {s.frame_id} {s.data.hex()}" for s in bench.sent]
    assert len(out) == len(expected)
    for k, (got, want) in enumerate(zip(out, expected)):
        assert got == want, f"frame {k} differs (MicroPython != CPython)"


def test_no_heap_allocation_per_step_with_zones(zone_drive):
    _bench, trace, table, warmup = zone_drive
    out = fh.run_micropython(REPLAY, (str(trace), "alloc", str(warmup), str(table)), timeout=300)
    figures = dict(line.split(" ", 1) for line in out.splitlines())
    assert figures["lock_armed"] == "1", "heap_lock() does not refuse allocations on this build"
    assert int(figures["mem_alloc_delta"]) == 0
    states = [int(n) for n in figures["states"].split()]
    assert states[LOCKOUT] >= 1000 and states[FAULT] >= 10 and states[NORMAL] + states[LIMITING] >= 1000, states
