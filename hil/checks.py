"""Measured checks over a run's timeline and events: a registry by kind.

A scenario lists its checks as `[[checks]] kind = "overshoot" max_kph = 2.0`; each kind
declares its parameters (validated like every other key) and measures one number from
what the bus showed and the vehicle did. Thresholds default to the figures in
docs/scenarios.md, chosen to beat the UN R89 speed-limiter test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keigov.errors import InputError
from keigov.report.results import FAIL, CheckResult, judge
from keigov_hil.ecus import STATUS_FLAGS
from keigov_hil.scenario import CheckSpec, Scenario
from keigov_hil.schema import Field, validate

COMMAND_PERIOD_S = 0.02   # the governor command's cycle time: torque changes are seen per frame
QUANTUM_PCT = 0.1         # the command's torque resolution


@dataclass(frozen=True)
class CheckKind:
    measure: Callable[[Any, Scenario, dict[str, Any]], CheckResult]
    params: dict[str, Field]
    summary: str


class CheckRegistry(dict[str, CheckKind]):
    """Check kinds by name. `keigov sim` has CHECKS; `keigov replay` its own registry
    (keigov.replay.rules) that takes some kinds from here and adds its own."""

    def check(self, kind: str, summary: str, **params: Field):
        def register(func: Callable[[Any, Any, dict[str, Any]], CheckResult]):
            self[kind] = CheckKind(func, params, summary)
            return func

        return register

    def validate(self, table: dict[str, Any], path: Path, prefix: str) -> CheckSpec:
        kind = table.get("kind")
        if kind not in self:
            raise InputError(f"'{prefix}.kind' = {kind!r} is not a check kind (known: {', '.join(sorted(self))})",
                             where=str(path))
        schema = {"kind": Field(str), "name": Field(str, None), **self[kind].params}
        params = validate(table, schema, path, prefix)
        return CheckSpec(kind, params)

    def run(self, data: Any, context: Any, specs: list[CheckSpec]) -> list[CheckResult]:
        """Measure each check; `context` is what the kinds read limits from (a Scenario)."""
        results = []
        for spec in specs:
            result = self[spec.kind].measure(data, context, spec.params)
            if spec.params.get("name"):
                result.name = spec.params["name"]
            results.append(result)
        return results


CHECKS = CheckRegistry()
check = CHECKS.check


def validate_check(table: dict[str, Any], path: Path, prefix: str) -> CheckSpec:
    return CHECKS.validate(table, path, prefix)


def run_checks(data: Any, sc: Scenario) -> list[CheckResult]:
    return CHECKS.run(data, sc, sc.checks)


# -- helpers -------------------------------------------------------------------------------

def _rows(data: Any, *names: str) -> list[tuple]:
    cols = [data.timeline.column(n) for n in names]
    return list(zip(*cols))


def _fault_start(sc: Scenario, index: int, path_hint: str) -> float:
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
def _overshoot(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
    top = max(data.timeline.column("speed_kph"))
    return judge("overshoot", "highest speed above the cap", top - sc.cap_kph, p["max_kph"], "km/h", "<=",
                 f"peak {top:.2f} km/h, cap {sc.cap_kph:.2f} km/h")


@check("stabilised_speed", "mean speed once settled, below the cap by at most below_kph",
       settle_s=Field(float, 10.0, 0, 600), window_s=Field(float, 20.0, 1, 3600), below_kph=Field(float, 1.0, 0, 20))
def _stabilised(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
    # Euro NCAP / UN R89 style: the window starts settle_s after first reaching cap - 10 km/h.
    rows = _rows(data, "t_s", "speed_kph")
    reach = _first_time(rows, lambda r: r[1] >= sc.cap_kph - 10)
    desc = "cap minus mean speed over the stabilised window"
    if reach is None:
        return judge("stabilised_speed", desc, None, p["below_kph"], "km/h", "<=", "never came within 10 km/h of the cap")
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
def _torque_ramp(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
    down = sc.firmware_value("torque_ramp_down_pm_s") / 10 * COMMAND_PERIOD_S + QUANTUM_PCT
    up = sc.firmware_value("torque_ramp_up_pm_s") / 10 * COMMAND_PERIOD_S + QUANTUM_PCT
    rows = _rows(data, "t_s", "pedal_pct", "torque_limit_pct")
    worst_down = worst_up = 0.0
    worst_ratio = 0.0
    prev = None
    for t, pedal, torque in rows:
        if prev is not None and torque != prev and torque < pedal - QUANTUM_PCT / 2:
            step = torque - prev
            if step < 0:
                worst_down = max(worst_down, -step)
            else:
                worst_up = max(worst_up, step)
            worst_ratio = max(worst_ratio, -step / down if step < 0 else step / up)
        prev = torque
    result = judge("torque_ramp", "largest governor-made torque decrease per command frame", worst_down, down, "%",
                   "<=", f"largest increase {worst_up:.1f}% (allowed {up:.1f}%)")
    if worst_up > up:
        result.verdict = FAIL
    return result


@check("demand_passthrough", "largest reduction of the driver's demand", tolerance_pct=Field(float, QUANTUM_PCT, 0, 100))
def _passthrough(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
    rows = _rows(data, "pedal_pct", "torque_limit_pct", "state")
    cut = max((pedal - torque for pedal, torque, state in rows if state != "INIT"), default=0.0)
    return judge("demand_passthrough", "largest reduction of the driver's demand", max(cut, 0.0),
                 p["tolerance_pct"], "%", "<=")


@check("fault_latency", "time from the injected fault to FAULT on the bus",
       max_ms=Field(float, 60.0, 0, 60000), fault=Field(int, 0, 0, 99))
def _fault_latency(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
    start = _fault_start(sc, p["fault"], "fault_latency")
    t = _first_time(_rows(data, "t_s", "state"), lambda r: r[1] == "FAULT", after=start)
    value = None if t is None else round((t - start) * 1000, 1)
    return judge("fault_latency", "time from the injected fault to FAULT on the bus", value, p["max_ms"], "ms", "<=",
                 f"fault '{sc.faults[p['fault']].kind}' on {sc.faults[p['fault']].message} at {start:.2f} s")


@check("limp_reached", "time from the fault until the speed is at the limp cap",
       within_s=Field(float, 30.0, 0, 3600), tolerance_kph=Field(float, 1.0, 0, 20), fault=Field(int, 0, 0, 99))
def _limp(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
    start = _fault_start(sc, p["fault"], "limp_reached")
    t = _first_time(_rows(data, "t_s", "speed_kph"), lambda r: r[1] <= sc.limp_kph + p["tolerance_kph"], after=start)
    return judge("limp_reached", "time from the fault until the speed is at the limp cap",
                 None if t is None else round(t - start, 2), p["within_s"], "s", "<=",
                 f"limp cap {sc.limp_kph:.1f} km/h")


@check("max_decel", "hardest deceleration without the driver braking", max_mps2=Field(float, 2.0, 0, 20),
       from_s=Field(float, 0.0, 0))
def _max_decel(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
    rows = _rows(data, "t_s", "accel_mps2", "speed_kph")
    decel = max((-a for t, a, v in rows if t >= p["from_s"] and v > 0.5), default=0.0)
    return judge("max_decel", "hardest deceleration (no service brakes)", round(max(decel, 0.0), 3), p["max_mps2"],
                 "m/s^2", "<=")


@check("torque_cut", "time from exceeding the limit until the torque limit is zero",
       max_s=Field(float, 2.0, 0, 600), margin_kph=Field(float, 0.5, 0, 50))
def _torque_cut(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
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
def _flag(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
    bit = 1 << STATUS_FLAGS.index(p["flag"])
    t = _first_time(_rows(data, "t_s", "flags"), lambda r: bool(r[1] & bit))
    return judge(f"flag_{p['flag'].lower()}", f"{p['flag']} raised in GOVERNOR_STATUS", t, p["within_s"], "s", "<=",
                 "never raised" if t is None else f"first at {t:.2f} s")


@check("event", "the firmware recorded an event", event=Field(str, required=True), min_count=Field(int, 1, 0))
def _event(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
    hits = [e for e in data.events if e["name"] == p["event"]]
    detail = f"first at {hits[0]['t_s']:.2f} s" if hits else "not recorded"
    return judge(f"event_{p['event']}", f"'{p['event']}' events recorded", float(len(hits)), float(p["min_count"]),
                 "", ">=", detail)


@check("never_state", "the governor never enters a state", state=Field(str, "FAULT",
       choices=("INIT", "NORMAL", "LIMITING", "FAULT", "LOCKOUT")), after_s=Field(float, 1.0, 0))
def _never_state(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
    n = sum(1 for t, s in _rows(data, "t_s", "state") if t >= p["after_s"] and s == p["state"])
    return judge(f"never_{p['state'].lower()}", f"periods in {p['state']}", float(n), 0.0, "", "==")


@check("peak_over_cap", "how far above the cap the vehicle went (a figure, not a verdict)")
def _peak(data: Any, sc: Scenario, p: dict[str, Any]) -> CheckResult:
    top = max(data.timeline.column("speed_kph"))
    return judge("peak_over_cap", "highest speed above the cap", round(top - sc.cap_kph, 2), None, "km/h", "info",
                 f"peak {top:.2f} km/h")


# The geofence's kinds live in their own module and register here.
from keigov_hil import zonechecks  # noqa: E402,F401
