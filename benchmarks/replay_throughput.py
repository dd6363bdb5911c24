"""Replay throughput of `keigov replay` with the MicroPython device (goal: a one-hour drive
of a typical bus, about 2,000 frames/s with a handful of ids for the governor, in under
30 s), against bare playback of the same log by `python -m can.player
--ignore-timestamps -g 0` onto a virtual bus in the same run.

The drive (hil/keigov_hil/drivelog.py) is on the governor's own bus: wheel speeds and driver inputs
at 50 Hz and GNSS at 10 Hz (130 frames/s the governor uses), plus 40 other ids making up
2,000 frames/s, speed cycling across the 40 mph cap, written as candump -L by python-can.
Both commands run as a user runs them (new processes, imports included); keigov's replay
loop alone is also shown (summary.json wall_seconds). Not a test: it prints figures.

    python benchmarks/replay_throughput.py [--minutes 60] [--format log] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from keigov import paths
from keigov_hil.drivelog import DriveProfile, drive_frames, write_log

FRAMES_PER_S = 2000
USED_PER_S = 130                    # wheel speeds and driver inputs at 50 Hz, 3 GNSS messages at 10 Hz
OTHER_IDS = tuple(range(0x400, 0x428))


def profile(minutes: float) -> DriveProfile:
    """Up to 90 km/h and back to 40, every four minutes."""
    duration = minutes * 60
    speeds, t = [(0.0, 0.0)], 0.0
    while t < duration:
        speeds += [(t + 60, 90.0), (t + 120, 90.0), (t + 180, 40.0), (t + 240, 40.0)]
        t += 240
    speeds = [p for p in speeds if p[0] < duration] + [(duration, 40.0)]
    return DriveProfile(speeds, other_ids=OTHER_IDS, other_rate_hz=(FRAMES_PER_S - USED_PER_S) / len(OTHER_IDS))


def timed(cmd: list[str]) -> float:
    """Wall time of a command run as a user runs it (its output captured: no progress bar)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--format", default="log", help="log suffix python-can writes (log, blf, csv, ...)")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the generated log in this directory")
    parser.add_argument("--runtime", default="micropython")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keigov-bench-") as tmp:
        where = args.keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        log = where / f"drive-{args.minutes:g}min.{args.format}"
        if not log.exists():
            t0 = time.perf_counter()
            frames = write_log(log, drive_frames(profile(args.minutes)))
            print(f"wrote {log.name}: {frames:,} frames, {log.stat().st_size / 1e6:.0f} MB "
                  f"in {time.perf_counter() - t0:.0f} s (not timed)")
        player = timed([sys.executable, "-m", "can.player", "--ignore-timestamps", "-g", "0", "-i", "virtual",
                        "-c", f"bench-{uuid.uuid4().hex[:6]}", str(log)])
        out = Path(tmp) / "out"
        keigov = [sys.executable, "-m", "keigov", "replay", str(log), "--map", str(paths.KEIGOV_MAP),
                  "--runtime", args.runtime, "--out", str(out)]
        with_outputs = timed(keigov)
        summary = json.loads((out / "summary.json").read_text())
        no_plot = timed(keigov + ["--no-plot"])
        loop = json.loads((out / "summary.json").read_text())["wall_seconds"]
    sim = summary["sim_seconds"]
    read = summary["frames_read"]
    print(f"drive: {sim / 60:.1f} min, {read:,} frames ({read / sim:,.0f}/s), "
          f"{summary['frames_used']:,} used by the governor; device {args.runtime}, "
          f"step {summary['device_step_us']['mean']} us mean")
    print(f"{'what':<44} {'wall s':>7} {'frames/s':>10} {'x real time':>12} {'vs can.player':>14}")
    for name, wall in (("python -m can.player --ignore-timestamps -g 0", player),
                       ("keigov replay (all outputs, report.png)", with_outputs),
                       ("keigov replay --no-plot", no_plot),
                       ("  of which the replay loop (summary.json)", loop)):
        print(f"{name:<44} {wall:>7.1f} {read / wall:>10,.0f} {sim / wall:>11.0f}x {wall / player:>13.2f}x")
    hour = no_plot * 3600 / sim
    print(f"one hour of this bus: {hour:.1f} s with --no-plot (goal < 30 s: {'met' if hour < 30 else 'NOT met'})")
    cpu = summary["cpu_seconds"]
    load = os.getloadavg()[0]
    print(f"CPU time of the replay loop: host {cpu['host']:.1f} s, device {cpu['device'] or float('nan'):.1f} s "
          f"(they run in parallel: on two otherwise idle cores the loop takes about the larger); "
          f"load average {load:.1f} on {os.cpu_count()} cores during the run")


if __name__ == "__main__":
    main()
