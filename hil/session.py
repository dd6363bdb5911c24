"""One scenario run from file to report: the part `keigov sim` and `keigov demo` share.

Writes DIR/timeline.csv, DIR/events.json, DIR/summary.json and DIR/report.png.
"""

from __future__ import annotations

import json
from pathlib import Path

from keigov.fileio import write_atomic
from keigov.report.plot import plot_timeline
from keigov.report.results import RunResult
from keigov.report.summary import write_summary
from keigov_hil.checks import run_checks
from keigov_hil.rig import RigOptions, result_of, run
from keigov_hil.scenario import Scenario, load_scenario


def run_scenario(scenario: Scenario | Path, out_dir: Path, opts: RigOptions, *, plot: bool = True) -> RunResult:
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = run(sc, opts)
    checks = run_checks(data, sc)
    result = result_of(data, opts.runtime.name, checks, out_dir)
    data.timeline.write(out_dir / "timeline.csv")
    write_atomic(out_dir / "events.json", (json.dumps(data.events, indent=1) + "\n").encode())
    write_summary(result, out_dir / "summary.json")
    if plot:
        plot_timeline(out_dir / "timeline.csv", out_dir / "report.png",
                      f"{sc.name} ({opts.runtime.name}, cap {sc.cap_kph:.1f} km/h)", data.events)
    return result
