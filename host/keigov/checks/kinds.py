"""Measured checks over a run's timeline and events: a registry by kind.

A scenario lists its checks as `[[checks]] kind = "overshoot" max_kph = 2.0`; each kind
declares its parameters (validated like every other key) and measures one number from
what the bus showed and the vehicle did. Thresholds default to the figures in
docs/scenarios.md, chosen to beat the UN R89 speed-limiter test.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from keigov.checks.registry import CheckContext, CheckRegistry, CheckSpec, ScenarioContext
from keigov.checks.zones import ZONE_CHECKS, entry_and_exit, zone_limit_kph
from keigov.errors import InputError
from keigov.firmware_params import CKPH_PER_KPH, CKPH_PER_MPH, STATUS_FLAGS, occurrences
from keigov.gnss import in_windows
from keigov.report.results import FAIL, CheckResult, judge
from keigov.schema import Field

COMMAND_PERIOD_S = 0.02   # the governor command's cycle time: torque changes are seen per frame
QUANTUM_PCT = 0.1         # the command's torque resolution
_MOVING_KPH = 0.5         # slower counts as standing (max_decel's cut-off too)


CHECKS = CheckRegistry(ZONE_CHECKS)   # the geofence's kinds, then the others below
check = CHECKS.check


def validate_check(table: dict[str, Any], path: Path, prefix: str) -> CheckSpec:
    return CHECKS.validate(table, path, prefix)


def run_checks(data: Any, sc: CheckContext) -> list[CheckResult]:
    return CHECKS.run(data, sc, sc.checks)


# -- helpers -------------------------------------------------------------------------------

def _rows(data: Any, *names: str) -> list[tuple]:
    cols = [data.timeline.column(n) for n in names]
    return list(zip(*cols))


def _fault_start(sc: CheckContext, index: int, path_hint: str) -> float:
    if not sc.faults:
        raise InputError(f"{path_hint}: the scenario injects no fault to measure from", where=str(sc.path))
    if index >= len(sc.faults):
        raise InputError(f"{path_hint}: fault index {index} but only {len(sc.faults)} faults", where=str(sc.path))
    return sc.faults[index].start_s


def _first_time(rows: list[tuple], pred: Callable[[tuple], bool], after: float = 0.0) -> float | None:
    for row in rows:
        if row[0] >= after and pred(row):
            return row[0]
    return None


# -- kinds ---------------------------------------------------------------------------------

@check("overshoot", "highest speed above the cap", max_kph=Field(float, 2.0, 0, 50))
def _overshoot(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    top = max(data.timeline.column("speed_kph"))
    return judge("overshoot", "highest speed above the cap", top - sc.cap_kph, p["max_kph"], "km/h", "<=",
                 f"peak {top:.2f} km/h, cap {sc.cap_kph:.2f} km/h")


@check("stabilised_speed", "mean speed once settled, below the cap by at most below_kph",
       settle_s=Field(float, 10.0, 0, 600), window_s=Field(float, 20.0, 1, 3600), below_kph=Field(float, 1.0, 0, 20))
def _stabilised(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    # Euro NCAP / UN R89 style: the window starts settle_s after first reaching cap - 10 km/h.
    rows = _rows(data, "t_s", "speed_kph")
    reach = _first_time(rows, lambda r: r[1] >= sc.cap_kph - 10)
    desc = "cap minus mean speed over the stabilised window"
    if reach is None:
        return judge("stabilised_speed", desc, None, p["below_kph"], "km/h", "<=",
                     "never came within 10 km/h of the cap")
    t0, t1 = reach + p["settle_s"], reach + p["settle_s"] + p["window_s"]
    window = [v for t, v in rows if t0 <= t <= t1]
    if not window or rows[-1][0] < t1:
        return judge("stabilised_speed", desc, None, p["below_kph"], "km/h", "<=",
                     f"run ends before the window {t0:.1f}-{t1:.1f} s")
    mean = sum(window) / len(window)
    result = judge("stabilised_speed", desc, sc.cap_kph - mean, p["below_kph"], "km/h", "<=",
                   f"mean {mean:.2f} km/h over {t0:.1f}-{t1:.1f} s; spread {max(window) - min(window):.2f} km/h")
    if mean > sc.cap_kph:
        result.verdict = FAIL
        result.detail += " (above the cap)"
    return result


@check("torque_ramp", "largest governor-made torque change per command frame, against the ramps")
def _torque_ramp(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    down = sc.firmware_value("torque_ramp_down_pm_s") / 10 * COMMAND_PERIOD_S + QUANTUM_PCT
    up = sc.firmware_value("torque_ramp_up_pm_s") / 10 * COMMAND_PERIOD_S + QUANTUM_PCT
    rows = _rows(data, "t_s", "pedal_pct", "torque_limit_pct", "speed_kph", "state")
    worst_down = worst_up = 0.0
    worst_ratio = 0.0
    prev = prev_pedal = prev_state = None
    for _t, pedal, torque, speed, state in rows:
        if state == "INIT" and prev_state not in (None, "INIT"):
            prev = 0.0      # a reset ([[changes]]): the new boot's output starts from 0, as the first's
        prev_state = state
        # Governor-made: a change that ends below the pedal, or, while moving, a rise out of a
        # torque held below the pedal (a boot's step from 0 to the pedal included).
        held = prev is not None and prev_pedal is not None and prev < prev_pedal - QUANTUM_PCT / 2
        if prev is not None and torque != prev and (torque < pedal - QUANTUM_PCT / 2
                                                    or torque > prev and held and speed > _MOVING_KPH):
            step = torque - prev
            if step < 0:
                worst_down = max(worst_down, -step)
            else:
                worst_up = max(worst_up, step)
            worst_ratio = max(worst_ratio, -step / down if step < 0 else step / up)
        prev, prev_pedal = torque, pedal
    result = judge("torque_ramp", "largest governor-made torque decrease per command frame", worst_down, down, "%",
                   "<=", f"largest increase {worst_up:.1f}% (allowed {up:.1f}%)")
    if worst_up > up:
        result.verdict = FAIL
    return result


@check("demand_passthrough", "largest reduction of the driver's demand",
       tolerance_pct=Field(float, QUANTUM_PCT, 0, 100))
def _passthrough(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    """Counted from the first period after INIT whose torque limit meets the pedal: the boot's
    up-ramp from 0 before it is the governor's by design (torque_ramp bounds it)."""
    rows = [r for r in _rows(data, "pedal_pct", "torque_limit_pct", "state") if r[2] != "INIT"]
    start = next((i for i, (pedal, torque, _state) in enumerate(rows) if torque >= pedal - QUANTUM_PCT / 2), 0)
    cut = max((pedal - torque for pedal, torque, _state in rows[start:]), default=0.0)
    return judge("demand_passthrough", "largest reduction of the driver's demand", max(cut, 0.0),
                 p["tolerance_pct"], "%", "<=")


@check("fault_latency", "time from the injected fault to FAULT on the bus",
       max_ms=Field(float, 60.0, 0, 60000), fault=Field(int, 0, 0, 99))
def _fault_latency(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    start = _fault_start(sc, p["fault"], "fault_latency")
    t = _first_time(_rows(data, "t_s", "state"), lambda r: r[1] == "FAULT", after=start)
    value = None if t is None else round((t - start) * 1000, 1)
    return judge("fault_latency", "time from the injected fault to FAULT on the bus", value, p["max_ms"], "ms", "<=",
                 f"fault '{sc.faults[p['fault']].kind}' on {sc.faults[p['fault']].message} at {start:.2f} s")


@check("limp_reached", "time from the fault until the speed is at the limp cap",
       within_s=Field(float, 30.0, 0, 3600), tolerance_kph=Field(float, 1.0, 0, 20), fault=Field(int, 0, 0, 99))
def _limp(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    start = _fault_start(sc, p["fault"], "limp_reached")
    t = _first_time(_rows(data, "t_s", "speed_kph"), lambda r: r[1] <= sc.limp_kph + p["tolerance_kph"], after=start)
    return judge("limp_reached", "time from the fault until the speed is at the limp cap",
                 None if t is None else round(t - start, 2), p["within_s"], "s", "<=",
                 f"limp cap {sc.limp_kph:.1f} km/h")


@check("max_decel", "hardest deceleration without the driver braking", max_mps2=Field(float, 2.0, 0, 20),
       from_s=Field(float, 0.0, 0))
def _max_decel(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    rows = _rows(data, "t_s", "accel_mps2", "speed_kph")
    decel = max((-a for t, a, v in rows if t >= p["from_s"] and v > _MOVING_KPH), default=0.0)
    return judge("max_decel", "hardest deceleration (no service brakes)", round(max(decel, 0.0), 3), p["max_mps2"],
                 "m/s^2", "<=")


@check("torque_cut", "time from exceeding the limit until the torque limit is zero",
       max_s=Field(float, 2.0, 0, 600), margin_kph=Field(float, 0.5, 0, 50))
def _torque_cut(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    rows = _rows(data, "t_s", "speed_kph", "torque_limit_pct")
    over = _first_time(rows, lambda r: r[1] > sc.cap_kph + p["margin_kph"])
    desc = "time from exceeding the cap until torque is cut to zero"
    if over is None:
        return judge("torque_cut", desc, None, p["max_s"], "s", "<=", "speed never exceeded the cap")
    cut = _first_time(rows, lambda r: r[2] == 0.0, after=over)
    return judge("torque_cut", desc, None if cut is None else round(cut - over, 2), p["max_s"], "s", "<=",
                 f"cap exceeded at {over:.2f} s")


@check("flag", "a status flag is raised", flag=Field(str, required=True, choices=STATUS_FLAGS),
       within_s=Field(float, 1e9, 0))
def _flag(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    bit = 1 << STATUS_FLAGS.index(p["flag"])
    t = _first_time(_rows(data, "t_s", "flags"), lambda r: bool(r[1] & bit))
    return judge(f"flag_{p['flag'].lower()}", f"{p['flag']} raised in GOVERNOR_STATUS", t, p["within_s"], "s", "<=",
                 "never raised" if t is None else f"first at {t:.2f} s")


@check("event", "the firmware recorded an event", event=Field(str, required=True), min_count=Field(int, 1, 0))
def _event(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    hits = [e for e in data.events if e["name"] == p["event"]]
    detail = f"first at {hits[0]['t_s']:.2f} s" if hits else "not recorded"
    return judge(f"event_{p['event']}", f"'{p['event']}' events recorded", float(occurrences(hits)),
                 float(p["min_count"]), "", ">=", detail)


@check("never_state", "the governor never enters a state", state=Field(str, "FAULT",
       choices=("INIT", "NORMAL", "LIMITING", "FAULT", "LOCKOUT")), after_s=Field(float, 1.0, 0))
def _never_state(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    n = sum(1 for t, s in _rows(data, "t_s", "state") if t >= p["after_s"] and s == p["state"])
    return judge(f"never_{p['state'].lower()}", f"periods in {p['state']}", float(n), 0.0, "", "==")


@check("peak_over_cap", "how far above the cap the vehicle went (a figure, not a verdict)")
def _peak(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    top = max(data.timeline.column("speed_kph"))
    return judge("peak_over_cap", "highest speed above the cap", round(top - sc.cap_kph, 2), None, "km/h", "info",
                 f"peak {top:.2f} km/h")


def _gnss_good(sc: CheckContext, t_s: float) -> bool:
    """The scenario's GNSS has a fix at `t_s` (no outage): the speed it gives is the truth's."""
    return not in_windows(t_s, sc.outages)


@check("true_over_cap", "highest true speed above the cap while GNSS is good, past each excursion's grace",
       max_kph=Field(float, 2.0, 0, 50), grace_s=Field(float, 3.0, 0, 600))
def _true_over_cap(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    """An excursion is a stretch of periods above the cap with GNSS good; its first grace_s
    are the plausibility checks' time to notice (a disagreement must last 2 s)."""
    worst, worst_t, excursions, since = 0.0, None, 0, None
    for t, v in _rows(data, "t_s", "speed_kph"):
        if v > sc.cap_kph and _gnss_good(sc, t):
            if since is None:
                since, excursions = t, excursions + 1
            if t - since >= p["grace_s"] and v - sc.cap_kph > worst:
                worst, worst_t = v - sc.cap_kph, t
        else:
            since = None
    desc = f"highest true speed above the cap with GNSS good, {p['grace_s']:g} s into an excursion"
    return judge("true_over_cap", desc, round(worst, 2), p["max_kph"], "km/h", "<=",
                 f"{excursions} excursion(s) over {sc.cap_kph:.1f} km/h"
                 + ("" if worst_t is None else f"; worst at {worst_t:.2f} s"))


def _settle_source(p: dict[str, Any]) -> str | None:
    if (p["zone"] is None) == (p["at_s"] is None):
        return "give exactly one of zone or at_s"
    if p["limit_kph"] is not None and p["limit_mph"] is not None:
        return "give limit_kph or limit_mph, not both"
    if p["at_s"] is not None and p["limit_kph"] is None and p["limit_mph"] is None:
        return "at_s needs the new limit: limit_kph or limit_mph"
    return None


@check("limit_settle", "time from a limit change until the true speed is within tolerance of the new limit "
       "and stays there", _settle_source,
       zone=Field(str, None, help="the zone whose entry changes the limit"),
       at_s=Field(float, None, 0, help="or the time the limit changes (a fault, a configuration)"),
       limit_kph=Field(float, None, 0, 200), limit_mph=Field(float, None, 0, 125),
       tolerance_kph=Field(float, 1.0, 0, 20), max_s=Field(float, 8.0, 0, 3600))
def _limit_settle(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    """Measured on the true speed against the limit (the zone's own unless given), from the
    zone's boundary as the vehicle truly crossed it (keigov.checks.zones) or from at_s, until the
    speed is at or below limit + tolerance for good: to the end, or to leaving the zone."""
    t, speed = data.timeline.column("t_s"), data.timeline.column("speed_kph")
    if p["limit_kph"] is not None:
        limit = p["limit_kph"]
    elif p["limit_mph"] is not None:
        limit = p["limit_mph"] * CKPH_PER_MPH / CKPH_PER_KPH
    else:
        limit = zone_limit_kph(sc, p["zone"])
    if p["zone"] is not None:
        entry, leave = entry_and_exit(data, sc, p["zone"])
        what = f"entering {p['zone']}"
    else:
        entry = next((i for i, ti in enumerate(t) if ti >= p["at_s"]), None)
        leave, what = None, f"{p['at_s']:g} s"
    desc = f"time from {what} until the true speed stays within {p['tolerance_kph']:g} km/h of {limit:.1f} km/h"
    name = "limit_settle"
    if entry is None:
        return judge(name, desc, None, p["max_s"], "s", "<=", "the limit never changed (zone never entered)")
    end = len(t) if leave is None else leave
    over = [i for i in range(entry, end) if speed[i] > limit + p["tolerance_kph"]]
    settled = entry if not over else over[-1] + 1
    if settled >= end:
        return judge(name, desc, None, p["max_s"], "s", "<=",
                     f"from {speed[entry]:.1f} km/h at {t[entry]:.2f} s; never settled before {t[end - 1]:.2f} s")
    low = min(speed[settled:end])
    return judge(name, desc, round(t[settled] - t[entry], 2), p["max_s"], "s", "<=",
                 f"from {speed[entry]:.1f} km/h at {t[entry]:.2f} s, settled at {t[settled]:.2f} s; "
                 f"lowest after {low:.1f} km/h")


def _rate_threshold(p: dict[str, Any]) -> str | None:
    return None if p["max_count"] is not None or p["max_per_s"] is not None else "give max_count or max_per_s"


@check("events_rate", "event log entries recorded between from_s and to_s (coalesced repeats are one entry): "
       "total and per second", _rate_threshold,
       event=Field(str, None, help="count only events of this name"), max_count=Field(int, None, 0),
       max_per_s=Field(float, None, 0), from_s=Field(float, 0.0, 0), to_s=Field(float, None, 0))
def _events_rate(data: Any, sc: ScenarioContext, p: dict[str, Any]) -> CheckResult:
    end = sc.duration_s if p["to_s"] is None else min(p["to_s"], sc.duration_s)
    span = max(end - p["from_s"], 1e-9)
    hits = [e for e in data.events
            if p["from_s"] <= e["t_s"] <= end and (p["event"] is None or e["name"] == p["event"])]
    per_s = len(hits) / span
    which = f"'{p['event']}' events" if p["event"] else "events"
    desc = f"{which} recorded from {p['from_s']:g} s to {end:g} s"
    detail = (f"{len(hits)} entries in {span:g} s ({per_s:.2f}/s; {occurrences(hits)} occurrences with the coalesced "
              "repeats)")
    if p["max_count"] is None:
        return judge("events_rate", desc + " per second", round(per_s, 3), p["max_per_s"], "/s", "<=", detail)
    result = judge("events_rate", desc, float(len(hits)), float(p["max_count"]), "", "<=", detail)
    if p["max_per_s"] is not None and per_s > p["max_per_s"]:
        result.verdict = FAIL
        result.detail += f"; above {p['max_per_s']:g}/s"
    return result


@check("limit_start", "each boot's first commanded limit starts no lower than the true speed less tolerance_kph",
       tolerance_kph=Field(float, 1.0, 0, 50))
def _limit_start(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A limit below the speed is reached by slowing down, so the governor's first one after
    each INIT (the first boot, a reset's) starts at the speed it finds, not as a step down
    to the cap. The worst boot counts."""
    starts, prev_state = [], "INIT"
    for row in _rows(data, "t_s", "speed_kph", "limit_kph", "state"):
        if row[3] != "INIT" and prev_state == "INIT":
            starts.append(row)
        prev_state = row[3]
    desc = "true speed less the first commanded limit after a boot"
    if not starts:
        return judge("limit_start", desc, None, p["tolerance_kph"], "km/h", "<=", "the governor never left INIT")
    t, v, limit, _state = max(starts, key=lambda r: r[1] - r[2])
    more = f"; the worst of {len(starts)} boots" if len(starts) > 1 else ""
    return judge("limit_start", desc, round(max(0.0, v - limit), 2), p["tolerance_kph"], "km/h", "<=",
                 f"at {t:.2f} s: limit {limit:.1f} km/h at {v:.1f} km/h (cap {sc.cap_kph:.1f}){more}")

