"""The geofence and the zone state on MicroPython's unix port: the same answers as on
CPython, line for line, with the heap locked around every call (no allocation)."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import firmware_harness as fh

from core import events as ev
from keigov.gnss import offset_deg
from keigov.zones.projection import E7, split16
from test_zones_check import DEMO
from zones_support import CENTER, collection, compile_doc, feature, polygon_feature, to_lonlat

pytestmark = [
    pytest.mark.micropython,
    pytest.mark.skipif(fh.micropython_binary() is None, reason="no micropython binary"),
]
SCRIPT = fh.DEVICE_DIR / "zones_run.py"


def run_cpython(args: list[str]) -> str:
    path = os.pathsep.join([str(fh.FIRMWARE / "cpython"), str(fh.FIRMWARE)])
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=fh.FIRMWARE, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=path), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def on_both(args: list[str]) -> list[str]:
    device = fh.run_micropython(SCRIPT, tuple(args)).splitlines()
    host = run_cpython(args).splitlines()
    assert len(device) == len(host)
    for i, (d, h) in enumerate(zip(device, host)):
        assert d == h, f"line {i + 1}: micropython {d!r} != cpython {h!r}"
    return device


def e7_line(lat: float, lon: float) -> str:
    return "%d %d %d %d" % (*split16(round(lat * E7)), *split16(round(lon * E7)))


@pytest.fixture(scope="module")
def mixed_table(tmp_path_factory) -> Path:
    """The demo's zones and more: a multipolygon with holes, a long two-way corridor
    following its segments (split on the host), several circles."""
    demo = json.loads(DEMO.read_text())["features"]
    star = [(200 * math.cos(a / 14 * 2 * math.pi) * (0.6 if a % 2 else 1), 200 * math.sin(a / 14 * 2 * math.pi))
            for a in range(14)]
    extra = [
        {"type": "Feature", "properties": {"kind": "speed_limit", "limit_kph": 12, "name": "parts"},
         "geometry": {"type": "MultiPolygon", "coordinates": [
             polygon_feature([[(x + 900, y + 900) for x, y in star], [(880, 880), (920, 880), (900, 930)]])
             ["geometry"]["coordinates"],
             polygon_feature([[(x + 1400, y + 900) for x, y in star]])["geometry"]["coordinates"]]}},
        feature("LineString", [to_lonlat(p) for p in ((-2000.0, -800.0), (0.0, -600.0), (2500.0, -1500.0))],
                kind="freeway_lockout", width_m=30, heading_tolerance_deg=25, bidirectional=True),
        *[feature("Point", to_lonlat((300.0 * k - 900, -300.0)), kind="speed_limit", limit_mph=5 + 5 * k,
                  radius_m=40 + 30 * k) for k in range(5)],
    ]
    c = compile_doc(collection(*demo, *extra))
    path = tmp_path_factory.mktemp("zones") / "zones.bin"
    path.write_bytes(c.table.blob)
    return path


def test_lookups_agree(mixed_table: Path, tmp_path: Path):
    rng = random.Random(4)
    lines = []
    for _ in range(1500):
        east, north = rng.uniform(-2600, 2600), rng.uniform(-1800, 1600)
        lat, lon = offset_deg(CENTER[1], CENTER[0], north, east)
        lines.append(f"{e7_line(lat, lon)} {rng.choice([-1, rng.randrange(36000)])}")
    for lat, lon in ((CENTER[1] + 2.0, CENTER[0]), (CENTER[1], CENTER[0] - 5.0), (-CENTER[1], CENTER[0] - 179.0)):
        lines.append(f"{e7_line(lat, lon)} -1")                   # off the map
    src = tmp_path / "points.txt"
    src.write_text("\n".join(lines) + "\n")
    out = on_both([str(mixed_table), "look", str(src)])
    assert out[:2] == ["check 0", "table 0 12"]
    results = [line.split() for line in out[2:]]
    assert {r[2] for r in results[-3:]} == {"0"}                  # off the map, and said so
    assert len({r[5] for r in results}) >= 8                      # most zones were hit


def test_zone_state_agrees_through_a_drive(tmp_path: Path):
    """Campus, a GNSS dropout, poor fixes, a 2 km spoofed jump, the on-ramp."""
    table = tmp_path / "zones.bin"
    table.write_bytes(compile_doc(collection(*json.loads(DEMO.read_text())["features"])).table.blob)
    legs = [((-650.0, 150.0), (-650.0, 900.0), 20.0), ((-650.0, 900.0), (100.0, 30.0), 40.0),
            ((100.0, 30.0), (400.0, 4.0), 56.0)]
    lines, t = [], 0
    for (x0, y0), (x1, y1), kph in legs:
        length = math.hypot(x1 - x0, y1 - y0)
        heading = round(math.degrees(math.atan2(x1 - x0, y1 - y0)) * 100) % 36000
        for k in range(int(length / (kph / 3.6) * 100)):
            t += 10
            d = k * kph / 3.6 / 100
            lines.append(f"S {t} {round(kph * 100)}")
            if t % 200 or 60_000 <= t < 75_000:                    # 5 Hz; a 15 s dropout
                continue
            e, n = x0 + (x1 - x0) * d / length, y0 + (y1 - y0) * d / length
            if 120_000 <= t < 140_000:
                e += 2000.0                                         # spoofed
            lat, lon = offset_deg(CENTER[1], CENTER[0], n, e)
            sats = 3 if 90_000 <= t < 95_000 else 12
            lines.append(f"F {t} 3 {sats} 9 {e7_line(lat, lon)} {heading} {round(kph * 100)}")
    src = tmp_path / "drive.txt"
    src.write_text("\n".join(lines) + "\n")
    out = on_both([str(table), "drive", str(src)])
    events = {int(line.split()[1]) for line in out if line.startswith("E ")}
    assert {ev.ZONE_TIGHTENED, ev.ZONE_RELAXED, ev.GNSS_HOLD, ev.GNSS_FALLBACK, ev.GNSS_JUMP,
            ev.GNSS_REANCHORED, ev.LOCKOUT_ENGAGED} <= events
