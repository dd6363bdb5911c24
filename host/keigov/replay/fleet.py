"""Many drives: replayed in parallel processes, then one table with a row per drive.

Everything a replay needs is checked once up front (map and DBCs, rules, track, every log
file's presence and format), so a typo fails before hours of replay. Then each drive is
a job: a worker process builds the vehicle's tables once (`_vehicle`) and replays its
drives one after the other, each with its own device process. A drive that fails on bad
input or a crashed device becomes a row with its error; the others go on.

fleet.json and fleet.csv hold the table's rows for machines (one per drive).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from keigov.errors import KeigovError
from keigov.fileio import write_atomic
from keigov.replay.drive import Drive
from keigov.replay.gnss import FixTimeline
from keigov.replay.outputs import finish_drive
from keigov.replay.progress import Progress
from keigov.replay.rules import Rules
from keigov.replay.runner import RunOptions, replay_drive
from keigov.replay.vehicle import HostView, Vehicle, VehicleSpec, build_vehicle
from keigov.report.results import FAIL, RunResult
from keigov.report.table import render_table

FLEET_COLUMNS = ("drive", "start_utc", "minutes", "km", "max_kph", "s_over_cap", "limit_engaged", "lockouts",
                 "faults", "input_failures", "checks_failed", "verdict")


@dataclass(frozen=True)
class Job:
    drive: Drive
    spec: VehicleSpec
    rules: Rules
    opts: RunOptions
    track: FixTimeline | None
    out_dir: Path
    plot: bool


@lru_cache(maxsize=2)
def _vehicle(spec: VehicleSpec) -> tuple[Vehicle, HostView]:
    vehicle = build_vehicle(spec)
    return vehicle, HostView(vehicle)


def run_job(job: Job) -> RunResult:
    """One drive, start to outputs; bad input or a device crash becomes the row's error."""
    try:
        vehicle, view = _vehicle(job.spec)
        run = replay_drive(job.drive, vehicle, view, job.opts, job.track)
        return finish_drive(run, vehicle, job.rules, job.out_dir, plot=job.plot)
    except KeigovError as exc:
        return RunResult(job.drive.name, job.opts.runtime.name, 0.0, 0.0, [], job.out_dir, error=str(exc),
                         extra={"exit_code": exc.exit_code})


def run_jobs(jobs: list[Job], workers: int, progress: bool) -> list[RunResult]:
    """Results in the order of `jobs`. One job runs here (its own progress bar); several
    run in `workers` processes with one bar counting drives."""
    if len(jobs) == 1:
        job = jobs[0]
        return [run_job(Job(job.drive, job.spec, job.rules, _with_progress(job.opts, progress), job.track,
                            job.out_dir, job.plot))]
    results: dict[int, RunResult] = {}
    bar = Progress(f"{len(jobs)} drives", progress)
    run: Callable[[Job], RunResult] = run_job
    if workers <= 1:
        for i, job in enumerate(jobs):
            results[i] = run(job)
            bar.update((i + 1) / len(jobs), f"{i + 1}/{len(jobs)}")
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(run, job): i for i, job in enumerate(jobs)}
            for n, future in enumerate(as_completed(futures), 1):
                results[futures[future]] = future.result()
                bar.update(n / len(jobs), f"{n}/{len(jobs)}")
    bar.close()
    return [results[i] for i in range(len(jobs))]


def _with_progress(opts: RunOptions, progress: bool) -> RunOptions:
    return RunOptions(opts.runtime, opts.params, opts.zones, opts.channels, progress)


def exit_status(results: list[RunResult]) -> int:
    """3 if a device or the machine failed, 2 if an input was bad (including a damaged log),
    1 if a check failed, else 0."""
    status = 0
    for r in results:
        if r.error is not None:
            status = max(status, int(r.extra.get("exit_code", 2)))
        elif any(c.name == "log_intact" and c.verdict == FAIL for c in r.checks):
            status = max(status, 2)
        elif not r.passed:
            status = max(status, 1)
    return status


def fleet_rows(results: list[RunResult]) -> list[dict]:
    rows = []
    for r in results:
        e = r.extra
        rows.append({
            "drive": r.scenario, "start_utc": e.get("start_utc", ""),
            "minutes": round(r.sim_seconds / 60, 2), "km": e.get("distance_km", 0.0),
            "max_kph": e.get("max_speed_kph", 0.0), "s_over_cap": e.get("seconds_over_cap", 0.0),
            "limit_engaged": e.get("limit_engaged", 0), "lockouts": e.get("lockouts", 0),
            "faults": e.get("faults", 0), "input_failures": e.get("input_failures", 0),
            "checks_failed": ", ".join(c.name for c in r.checks if c.verdict == FAIL),
            "verdict": "ERROR" if r.error is not None else ("PASS" if r.passed else "FAIL"),
            "error": r.error, "out_dir": str(r.out_dir) if r.out_dir else None,
        })
    return rows


def format_fleet(results: list[RunResult], color: bool) -> str:
    rows = fleet_rows(results)
    cells = [[str(row[c]) if c != "checks_failed" else (row[c] or "-") for c in FLEET_COLUMNS] for row in rows]
    for cell, row in zip(cells, rows):
        if row["error"]:
            cell[FLEET_COLUMNS.index("checks_failed")] = row["error"].splitlines()[0][:60]
    lines = render_table(list(FLEET_COLUMNS), cells, color, right=frozenset(range(2, 10)))
    bad = sum(row["verdict"] != "PASS" for row in rows)
    km = sum(row["km"] for row in rows)
    hours = sum(r.sim_seconds for r in results) / 3600
    wall = sum(r.wall_seconds for r in results)
    lines.append(f"{len(rows)} drive(s), {km:.1f} km, {hours:.2f} h replayed in {wall:.1f} s of device time; "
                 f"{bad} not passed")
    return "\n".join(lines)


def write_fleet(results: list[RunResult], out_dir: Path) -> None:
    rows = fleet_rows(results)
    write_atomic(out_dir / "fleet.json", (json.dumps(rows, indent=1) + "\n").encode())
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[*FLEET_COLUMNS, "error", "out_dir"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_atomic(out_dir / "fleet.csv", buf.getvalue().encode())


def print_errors(results: list[RunResult]) -> None:
    for r in results:
        if r.error is not None:
            print(f"keigov: error: {r.scenario}: {r.error}", file=sys.stderr)
        for f in r.extra.get("files", []):
            if f.get("damage"):
                print(f"keigov: damaged log: {f['path']}: {f['damage']} (the frames before it were replayed)",
                      file=sys.stderr)
