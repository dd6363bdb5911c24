"""A replayed drive's outputs: the timeline, events and track, checked and written to DIR.

    timeline.csv   one row per 10 ms period, the columns of `keigov sim` (keigov.timeline):
                   the recorded speed and pedal beside the governor's command as its frames
                   showed it; grade is unknown (nan), the applied torque is what a motor
                   controller obeying the command would have applied, min(pedal, limit),
                   distance the integrated speed and lat/lon/heading the GNSS's (nan without),
                   the regen request the command's (0 for a map without the regen_request role)
    events.json    the firmware's events with time, odometer, speed and position (where
                   GNSS is known); input check events name the message and the reason;
                   repeats the device coalesced are one entry with count, first_t_s, last_t_s
    map.png        with zones: the zones and the drive coloured by governor state
    track.csv      the GNSS fixes with the governor's state there (for a map of the drive)
    summary.json   runtime, sim_seconds, wall_seconds, frames read / used / supplied, the
                   files with any damage, and every check with value, threshold and verdict
    report.png     speed against the limit, pedal and command, and the state over time
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

from keigov.fileio import write_atomic
from keigov.firmware_params import STATE_NAMES, consts, event_names, merge_repeated, occurrences
from keigov.replay.rules import Rules, run_rules
from keigov.replay.runner import ReplayRun
from keigov.replay.sides import PERIOD_MS
from keigov.replay.vehicle import Vehicle
from keigov.report.plot import Timeline as PlotTimeline
from keigov.report.plot import plot_timeline
from keigov.report.results import RunResult
from keigov.report.summary import write_summary
from keigov.timeline import Timeline
from keigov.zones.checked import CompiledZones

TRACK_COLUMNS = ("t_s", "lat_deg", "lon_deg", "speed_kph", "fix_type", "state", "zone")


@dataclass
class ReplayData:
    """What the checks read (as keigov.checks.kinds reads a scenario run's data)."""

    timeline: Timeline
    events: list[dict]
    damages: list[str]


def _filled(values: list[float]) -> list[float]:
    """Periods before the first sample take the first sample (the drive's start)."""
    first = next((v for v in values if not math.isnan(v)), math.nan)
    out = []
    seen = False
    for v in values:
        seen = seen or not math.isnan(v)
        out.append(v if seen else first)
    return out


def _speeds(run: ReplayRun) -> list[float]:
    speed = _filled(run.inputs.speed_kph)
    if all(math.isnan(v) for v in speed) and run.fixes:
        # No speed signal mapped: the GNSS speed, as the firmware would fall back to.
        speed = [f.speed_kph if (f := run.fixes.at(run.start_t + k * PERIOD_MS / 1000)) else math.nan
                 for k in range(run.periods)]
    return speed


def build_timeline(run: ReplayRun) -> Timeline:
    """One row per period; where the vehicle was comes from its GNSS (nan without a fix)."""
    inp, out = run.inputs, run.outputs
    speed = _speeds(run)
    timeline = Timeline()
    rows = timeline.rows
    nan = math.nan
    names = STATE_NAMES
    n = run.periods
    if run.fixes:
        lat, lon, heading = run.fixes.positions(run.start_t, PERIOD_MS, n)
    else:
        lat = lon = heading = [nan] * n
    metres = 0.0
    for k in range(n):
        pedal = inp.pedal_pct[k]
        torque = out.torque_pct[k]
        rows.append((k * PERIOD_MS / 1000, speed[k], out.limit_kph[k], pedal, torque, names.get(out.state[k], "?"),
                     out.zone[k], inp.accel_mps2[k], nan, min(pedal, torque), inp.gnss_fix[k], out.flags[k],
                     metres, lat[k], lon[k], heading[k], out.regen_pct[k]))
        if not math.isnan(speed[k]):
            metres += speed[k] * PERIOD_MS / 3600
    return timeline


def build_events(run: ReplayRun, vehicle: Vehicle, timeline: Timeline, zones: CompiledZones | None) -> list[dict]:
    """The device's events with odometer, speed and position: where the device put itself
    (through the zone table's origin) where it says, else the GNSS fix at the time."""
    names = event_names()
    reasons = {v: k.removeprefix("ERR_").lower() for k, v in consts("core/rx.py").items() if k.startswith("ERR_")}
    rx_names = [e.name for e in vehicle.fast.rx]
    metres, speed = timeline.column("distance_m"), timeline.column("speed_kph")
    events = []
    for ev in run.outputs.events:
        k = min(max(ev.t_ms // PERIOD_MS, 0), run.periods - 1)
        name = names.get(ev.code, f"event_{ev.code}")
        event = {"t_s": round(ev.t_ms / 1000, 3), "name": name, "code": ev.code, "value": ev.value,
                 "odometer_km": round(metres[k] / 1000, 3),
                 "speed_kph": None if math.isnan(speed[k]) else round(speed[k], 2)}
        if name in ("input_invalid", "input_recovered"):
            index = ev.value // 256 if name == "input_invalid" else ev.value
            event["message"] = rx_names[index] if 0 <= index < len(rx_names) else f"#{index}"
            if name == "input_invalid":
                event["reason"] = reasons.get(ev.value % 256, str(ev.value % 256))
        if ev.position_dm is not None and zones is not None:
            event["position"] = zones.table.projection.position(*ev.position_dm)
        else:
            fix = run.fixes.latest(run.start_t + ev.t_ms / 1000) if run.fixes else None
            if fix is not None and fix.fix_type:
                event["position"] = {"lat": round(fix.lat_deg, 7), "lon": round(fix.lon_deg, 7)}
        events.append(event)
    return merge_repeated(events)


def _track_csv(run: ReplayRun, timeline: Timeline) -> str:
    states, zones = timeline.column("state"), timeline.column("zone")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TRACK_COLUMNS)
    end = run.start_t + run.periods * PERIOD_MS / 1000
    for t, fix in zip(run.fixes.times, run.fixes.fixes):
        if run.start_t <= t < end:
            k = int((t - run.start_t) * 1000 // PERIOD_MS)
            w.writerow((f"{t - run.start_t:.3f}", f"{fix.lat_deg:.7f}", f"{fix.lon_deg:.7f}", f"{fix.speed_kph:.2f}",
                        fix.fix_type, states[k], zones[k]))
    return buf.getvalue()


def _plot_map(run: ReplayRun, timeline: Timeline, events: list[dict], zones: CompiledZones, out: Path) -> None:
    """The zones, the drive coloured by governor state, the geofence's events where they happened."""
    from keigov.report.trackmap import MAP_EVENTS, plot_track_map

    known = [i for i, lat in enumerate(timeline.column("lat")) if not math.isnan(lat)]
    if len(known) < 2:
        return
    lat, lon, state = timeline.column("lat"), timeline.column("lon"), timeline.column("state")
    index = {k: n for n, k in enumerate(known)}
    marks = [(index[k], e["name"]) for e in events if e["name"] in MAP_EVENTS
             and (k := min(int(e["t_s"] * 1000) // PERIOD_MS, run.periods - 1)) in index]
    plot_track_map(out, zones.map, [state[i] for i in known], lon=[lon[i] for i in known],
                   lat=[lat[i] for i in known], fixes=[(f.lon_deg, f.lat_deg) for f in run.fixes.fixes if f.fix_type],
                   marks=marks, title=f"{run.drive.name} ({run.runtime}, replay)")


def _count(events: list[dict], name: str) -> int:
    """Occurrences, repeats the device coalesced included."""
    return occurrences([e for e in events if e["name"] == name])


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def finish_drive(run: ReplayRun, vehicle: Vehicle, rules: Rules, out_dir: Path | None, *, plot: bool = True
                 ) -> RunResult:
    """Check a replayed drive and write its outputs to out_dir (none when None)."""
    timeline = build_timeline(run)
    speed = timeline.column("speed_kph")
    events = build_events(run, vehicle, timeline, rules.zones)
    damages = [text for f in run.files if (text := f.damage_text())]
    data = ReplayData(timeline, events, damages)
    checks = run_rules(data, rules)
    steps = sorted(run.outputs.step_us)
    extra = {
        "drive": run.drive.name,
        "start_utc": _utc(run.start_t),
        "frames_read": run.frames_read,
        "frames_used": run.frames_used,
        "frames_ignored": run.frames_read - run.frames_used,
        "frames_supplied": run.frames_supplied,
        "frames_from_device": run.outputs.frames,
        "device_queue_overflow": run.queue_overflow,
        "cpu_seconds": run.cpu_seconds,
        "distance_km": round(timeline.column("distance_m")[-1] / 1000, 3) if timeline.rows else 0.0,
        "gnss": vehicle.gnss,
        "gnss_fixes": len(run.fixes.fixes),
        "notes": vehicle.notes,
        "events": len(events),
        "max_speed_kph": round(max((v for v in speed if not math.isnan(v)), default=0.0), 2),
        "seconds_over_cap": round(sum(v > rules.cap_kph for v in speed) * PERIOD_MS / 1000, 2),
        "limit_engaged": _count(events, "limit_engaged"),
        "lockouts": _count(events, "lockout_engaged"),
        "faults": _count(events, "fault_entered"),
        "input_failures": _count(events, "input_invalid"),
        "files": [{"path": str(f.path), "format": f.format, "frames": f.stats.frames, "used": f.stats.kept,
                   "damage": None if f.damage is None else str(f.damage)} for f in run.files],
    }
    if steps:
        extra["device_step_us"] = {"mean": round(sum(steps) / len(steps), 1),
                                   "p99": steps[int(0.99 * (len(steps) - 1))], "max": steps[-1]}
    result = RunResult(scenario=run.drive.name, runtime=run.runtime, sim_seconds=run.sim_seconds,
                       wall_seconds=run.wall_seconds, checks=checks, out_dir=out_dir, extra=extra)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        timeline.write(out_dir / "timeline.csv")
        write_atomic(out_dir / "events.json", (json.dumps(events, indent=1) + "\n").encode())
        if run.fixes:
            write_atomic(out_dir / "track.csv", _track_csv(run, timeline).encode())
        write_summary(result, out_dir / "summary.json")
        if plot:
            plot_timeline(PlotTimeline.of(timeline.column), out_dir / "report.png",
                          f"{run.drive.name} ({run.runtime}, cap {rules.cap_kph:.1f} km/h, replay)", events)
            if rules.zones is not None and run.fixes:
                _plot_map(run, timeline, events, rules.zones, out_dir / "map.png")
    return result
