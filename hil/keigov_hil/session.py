"""One scenario run from file to report: the part `keigov sim` and `keigov demo` share.

Writes DIR/timeline.csv, DIR/events.json, DIR/summary.json and DIR/report.png, and for a
scenario with zones DIR/map.png (the zones, the route coloured by governor state, the GNSS
fixes, and the geofence's events where they happened).
"""

from __future__ import annotations

import json
from pathlib import Path

from keigov.checks.kinds import run_checks
from keigov.fileio import write_atomic
from keigov.report.plot import Timeline as PlotTimeline
from keigov.report.plot import plot_timeline
from keigov.report.results import RunResult
from keigov.report.summary import write_summary
from keigov_hil.rig import RigOptions, RunData, result_of, run
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
        plot_timeline(PlotTimeline.of(data.timeline.column), out_dir / "report.png",
                      f"{sc.name} ({opts.runtime.name}, cap {sc.cap_kph:.1f} km/h)", data.events)
        if sc.zones is not None:
            _plot_map(data, out_dir / "map.png", f"{sc.name} ({opts.runtime.name})")
    return result


def _plot_map(data: RunData, out: Path, title: str) -> None:
    from keigov.report.trackmap import MAP_EVENTS, plot_track_map

    sc = data.scenario
    assert sc.zones is not None
    tl = data.timeline
    t = tl.column("t_s")
    step = t[1] - t[0] if len(t) > 1 else 1.0
    marks = [(min(len(t) - 1, round(e["t_s"] / step)), e["name"]) for e in data.events if e["name"] in MAP_EVENTS]
    plot_track_map(out, sc.zones.map, tl.column("state"), lon=tl.column("lon"), lat=tl.column("lat"),
                   fixes=[(lon, lat) for _t, lat, lon, kind in data.fixes if kind > 0], marks=marks, title=title)
