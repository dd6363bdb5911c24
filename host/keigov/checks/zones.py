"""Checks of the geofence: where a zone applied and released against its drawn geometry, the
lockout speed, the limit ramp, GNSS hold and fallback timing (ZONE_CHECKS, part of
keigov.checks.kinds.CHECKS).

The geometry is the oracle's (keigov.zones.shapes: shapely on the drawn GeoJSON) and the
vehicle's position the route's (the timeline's lat/lon, not what the GNSS reported), so
a check measures the firmware against where the vehicle truly was. Distances along the
route come from the timeline's distance_m.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keigov.checks.registry import CheckContext, CheckRegistry
from keigov.errors import InputError
from keigov.firmware_params import CKPH_PER_KPH, STATUS_FLAGS
from keigov.report.results import FAIL, CheckResult, judge
from keigov.schema import Field
from keigov.zones.shapes import ZoneMap, ZoneShape

_HOLD = 1 << STATUS_FLAGS.index("ZONE_HOLD")
_FALLBACK = 1 << STATUS_FLAGS.index("ZONE_FALLBACK")
_LIMIT_QUANTUM_KPH = 0.1      # SPEED_LIMIT's resolution on the bus

ZONE_CHECKS = CheckRegistry()
check = ZONE_CHECKS.check


@dataclass
class Track:
    """The timeline's columns a zone check needs, with the position in the zones' frame."""

    t: list[float]
    x: list[float]
    y: list[float]
    heading: list[float]
    speed: list[float]
    dist: list[float]
    state: list[str]
    zone: list[int]
    flags: list[int]
    limit: list[float]


def _zone_map(sc: CheckContext) -> ZoneMap:
    if sc.zones is None:
        raise InputError("a zone check needs zones: set 'scenario.zones'", where=str(sc.path))
    return sc.zones.map


def _track(data: Any, zmap: ZoneMap) -> Track:
    tl = data.timeline
    xy = [zmap.to_local(lon, lat) for lat, lon in zip(tl.column("lat"), tl.column("lon"))]
    return Track(tl.column("t_s"), [p[0] for p in xy], [p[1] for p in xy], tl.column("heading_deg"),
                 tl.column("speed_kph"), tl.column("distance_m"), tl.column("state"), tl.column("zone"),
                 tl.column("flags"), tl.column("limit_kph"))


def _zone(sc: CheckContext, zmap: ZoneMap, name: str) -> ZoneShape:
    zone = zmap.by_name(name)
    if zone is None:
        raise InputError(f"no zone named {name!r} in {sc.zones.path if sc.zones else 'the scenario'}",
                         where=str(sc.path))
    return zone


def _inside(sc: CheckContext, zone: ZoneShape, tr: Track) -> list[bool]:
    """Per period: the vehicle truly inside the zone (heading matched; unknown when slow)."""
    import shapely

    covered = shapely.contains_xy(zone.area, tr.x, tr.y) | shapely.intersects_xy(zone.area.boundary, tr.x, tr.y)
    slow_kph = sc.firmware_value("zone_heading_min_ckph") / 100
    return [bool(c) and zone.matches_heading(x, y, h if v >= slow_kph else None)
            for c, x, y, h, v in zip(covered, tr.x, tr.y, tr.heading, tr.speed)]


def _pass_through(data: Any, sc: CheckContext, name: str) -> tuple[ZoneMap, ZoneShape, Track, list[bool]]:
    """The zone named by a check, the track, and per period whether the vehicle was in it."""
    zmap = _zone_map(sc)
    zone = _zone(sc, zmap, name)
    tr = _track(data, zmap)
    return zmap, zone, tr, _inside(sc, zone, tr)


def entered(data: Any, sc: CheckContext, name: str) -> bool:
    """Whether the vehicle was ever inside the named zone (for checks over every zone)."""
    return any(_pass_through(data, sc, name)[3])


def entry_and_exit(data: Any, sc: CheckContext, name: str) -> tuple[int | None, int | None]:
    """The rows where the vehicle first truly entered the named zone and then first left it
    (None for never)."""
    inside = _pass_through(data, sc, name)[3]
    entry = _first(range(len(inside)), lambda i: inside[i])
    if entry is None:
        return None, None
    return entry, _first(range(entry, len(inside)), lambda i: not inside[i])


def zone_limit_kph(sc: CheckContext, name: str) -> float:
    """The speed the named zone holds the vehicle to: its limit, or the lockout speed."""
    spec = _zone(sc, _zone_map(sc), name).spec
    return (sc.firmware_value("lockout_ckph") if spec.lockout else spec.limit_ckph) / CKPH_PER_KPH


def _shown(zone: ZoneShape, tr: Track, i: int) -> bool:
    """The bus shows the zone in force: LOCKOUT for a lockout, its id for a speed zone."""
    if zone.spec.lockout:
        return tr.state[i] == "LOCKOUT"
    return tr.zone[i] == zone.spec.zone_id


def _first(seq: range, pred: Any) -> int | None:
    return next((i for i in seq if pred(i)), None)


def _failed(result: CheckResult, why: str) -> CheckResult:
    """A measured value that passes its threshold but fails on another count."""
    result.verdict = FAIL
    result.detail += why
    return result


@check("zone_applied", "where the governor applied a zone, against the boundary the vehicle crossed",
       zone=Field(str, required=True, help="the zone's name in the zones file"), max_m=Field(float, 5.0, 0, 1000))
def _zone_applied(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    zmap, zone, tr, inside = _pass_through(data, sc, p["zone"])
    n = range(len(tr.t))
    name = f"zone_applied_{zone.spec.zone_id}"
    desc = f"distance from entering {zone.label} to the governor applying it"
    entry = _first(n, lambda i: inside[i])
    applied = _first(n, lambda i: _shown(zone, tr, i))
    if entry is None:
        return judge(name, desc, None, p["max_m"], "m", "<=", "the vehicle never entered the zone")
    if applied is None:
        return judge(name, desc, None, p["max_m"], "m", "<=", f"entered at {tr.t[entry]:.2f} s, never applied")
    signed = tr.dist[applied] - tr.dist[entry]
    where = "after" if signed >= 0 else "before"
    return judge(name, desc, round(abs(signed), 2), p["max_m"], "m", "<=",
                 f"entered at {tr.t[entry]:.2f} s, applied at {tr.t[applied]:.2f} s, "
                 f"{abs(signed):.2f} m {where} the boundary")


@check("zone_released", "a zone is released only after the hysteresis and the dwell, and not late",
       zone=Field(str, required=True, help="the zone's name in the zones file"),
       noise_m=Field(float, 5.0, 0, 100, help="GNSS error allowed on the hysteresis distance"),
       late_s=Field(float, 1.0, 0, 600))
def _zone_released(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    zmap, zone, tr, inside = _pass_through(data, sc, p["zone"])
    n = range(len(tr.t))
    hyst = sc.firmware_value("zone_hysteresis_m")
    dwell = sc.firmware_value("zone_dwell_ms") / 1000
    period = 1 / sc.gnss["rate_hz"]
    name = f"zone_released_{zone.spec.zone_id}"
    desc = f"time from {hyst:g} m past {zone.label} (less the GNSS noise) to its release"
    applied = _first(n, lambda i: _shown(zone, tr, i))
    entry = _first(n, lambda i: inside[i])
    if applied is None or entry is None:
        return judge(name, desc, None, dwell - period, "s", ">=", "the zone was never entered and applied")
    left = _first(range(max(applied, entry), len(tr.t)), lambda i: not inside[i])
    release = _first(range(applied, len(tr.t)), lambda i: not _shown(zone, tr, i))
    if release is None:
        return judge(name, desc, None, dwell - period, "s", ">=", "never released")
    if left is None or release < left:
        return _failed(judge(name, desc, 0.0, dwell - period, "s", ">=", ""),
                       f"released at {tr.t[release]:.2f} s, still inside")
    past = [zmap.distance_m(zone, tr.x[i], tr.y[i]) for i in range(left, len(tr.t))]
    clear = _first(range(len(past)), lambda k: past[k] >= hyst - p["noise_m"])
    surely = _first(range(len(past)), lambda k: past[k] >= hyst + p["noise_m"])
    at = past[release - left]
    if clear is None or left + clear > release:
        return _failed(judge(name, desc, 0.0, dwell - period, "s", ">=", ""),
                       f"released {at:.1f} m past the boundary: inside the hysteresis")
    waited = round(tr.t[release] - tr.t[left + clear], 2)
    result = judge(name, desc, waited, round(dwell - period, 2), "s", ">=",
                   f"left at {tr.t[left]:.2f} s, released at {tr.t[release]:.2f} s, {at:.1f} m past the boundary")
    if surely is not None and tr.t[release] - tr.t[left + surely] > dwell + p["late_s"]:
        return _failed(result, f"; late: more than the dwell + {p['late_s']:g} s after {hyst + p['noise_m']:g} m past")
    return result


@check("lockout_speed", "time from LOCKOUT until the speed is at the lockout speed",
       within_s=Field(float, 60.0, 0, 3600), tolerance_kph=Field(float, 1.0, 0, 20))
def _lockout_speed(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    t, speed, state = (data.timeline.column(c) for c in ("t_s", "speed_kph", "state"))
    target = sc.firmware_value("lockout_ckph") / 100
    desc = f"time from LOCKOUT until the speed is within {p['tolerance_kph']:g} km/h of {target:.1f} km/h"
    n = range(len(t))
    locked = _first(n, lambda i: state[i] == "LOCKOUT")
    if locked is None:
        return judge("lockout_speed", desc, None, p["within_s"], "s", "<=", "never in LOCKOUT")
    reached = _first(range(locked, len(t)), lambda i: speed[i] <= target + p["tolerance_kph"])
    if reached is None:
        return judge("lockout_speed", desc, None, p["within_s"], "s", "<=",
                     f"LOCKOUT at {t[locked]:.2f} s at {speed[locked]:.1f} km/h, never reached")
    after = max(speed[reached:])
    result = judge("lockout_speed", desc, round(t[reached] - t[locked], 2), p["within_s"], "s", "<=",
                   f"from {speed[locked]:.1f} km/h at {t[locked]:.2f} s; highest after: {after:.1f} km/h")
    if after > target + 2 * p["tolerance_kph"]:
        return _failed(result, " (not held)")
    return result


@check("limit_ramp", "steepest fall of the commanded limit below the vehicle's speed, against the "
       "configured deceleration", window_s=Field(float, 1.0, 0.1, 60))
def _limit_ramp(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    """A lower limit starts at the vehicle's speed (a limit above it asks for nothing) and
    must fall from there no faster than fault_decel: measured over windows that start where
    the commanded limit is at or below the speed."""
    t, limit, speed = (data.timeline.column(c) for c in ("t_s", "limit_kph", "speed_kph"))
    w = p["window_s"]
    allowed = sc.firmware_value("fault_decel_ckph_s") / 100 + _LIMIT_QUANTUM_KPH / w
    steepest, at, j = 0.0, 0.0, 0
    for i in range(len(t)):
        while j < len(t) and t[j] < t[i] + w - 1e-9:
            j += 1
        if j == len(t):
            break
        fall = (limit[i] - limit[j]) / w
        if limit[i] <= speed[i] and fall > steepest:
            steepest, at = fall, t[i]
    return judge("limit_ramp", f"steepest fall of the commanded limit over {w:g} s", round(steepest, 2),
                 round(allowed, 2), "km/h/s", "<=",
                 f"at {at:.2f} s" if steepest else "the limit never fell below the speed")


def _outage(sc: CheckContext, index: int, kind: str) -> tuple[float, float]:
    if index >= len(sc.outages):
        raise InputError(f"{kind}: outage index {index} but the scenario has {len(sc.outages)} 'gnss.outages'",
                         where=str(sc.path))
    start, end = sc.outages[index]
    return start, end


def _flag_time(data: Any, bit: int, after: float) -> float | None:
    for t, flags in zip(data.timeline.column("t_s"), data.timeline.column("flags")):
        if t >= after and flags & bit:
            return t
    return None


@check("zone_hold", "time from a GNSS outage to the zone state being held (ZONE_HOLD)",
       outage=Field(int, 0, 0, 99), max_s=Field(float, 2.0, 0, 600))
def _zone_hold(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    start, _end = _outage(sc, p["outage"], "zone_hold")
    t = _flag_time(data, _HOLD, start)
    fell = _flag_time(data, _FALLBACK, start)
    desc = "time from the outage to ZONE_HOLD"
    result = judge("zone_hold", desc, None if t is None else round(t - start, 2), p["max_s"], "s", "<=",
                   f"outage {p['outage']} from {start:g} s" + ("" if t is None else f"; held at {t:.2f} s"))
    if t is not None and fell is not None and fell < t:
        return _failed(result, f"; fell back at {fell:.2f} s without holding first")
    return result


@check("zone_fallback", "time from a GNSS outage to the fallback limit, against the configured hold",
       outage=Field(int, 0, 0, 99), tolerance_s=Field(float, 0.3, 0, 60))
def _zone_fallback(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    start, _end = _outage(sc, p["outage"], "zone_fallback")
    good = [t for t, _lat, _lon, kind in data.fixes if t < start and kind >= sc.firmware_value("gnss_min_fix")]
    last = good[-1] if good else 0.0
    by_time = last + sc.firmware_value("zone_hold_ms") / 1000
    ts, dist = data.timeline.column("t_s"), data.timeline.column("distance_m")
    d0 = next((d for t, d in zip(ts, dist) if t >= last), 0.0)
    hold_m = sc.firmware_value("zone_hold_m")
    by_dist = next((t for t, d in zip(ts, dist) if t >= last and d - d0 > hold_m), None)
    expected, why = (by_time, "time") if by_dist is None or by_time <= by_dist else (by_dist, "distance")
    t = _flag_time(data, _FALLBACK, start)
    value = None if t is None else round(t - start, 2)
    result = judge("zone_fallback", "time from the outage to ZONE_FALLBACK", value,
                   round(expected - start + p["tolerance_s"], 2), "s", "<=",
                   f"expected {expected - start:.2f} s (hold {why}, last fix at {last:.2f} s)")
    if value is not None and value < expected - start - p["tolerance_s"]:
        return _failed(result, "; too early")
    return result


@check("limit_steady", "the commanded limit does not change over a time window",
       from_s=Field(float, required=True, minimum=0), to_s=Field(float, required=True, minimum=0),
       tolerance_kph=Field(float, 0.05, 0, 50))
def _limit_steady(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    rows = [(t, v) for t, v in zip(data.timeline.column("t_s"), data.timeline.column("limit_kph"))
            if p["from_s"] <= t <= p["to_s"]]
    desc = f"largest change of the commanded limit from {p['from_s']:g} s to {p['to_s']:g} s"
    if not rows:
        return judge("limit_steady", desc, None, p["tolerance_kph"], "km/h", "<=", "the run has no such window")
    base = rows[0][1]
    worst = max(abs(v - base) for _t, v in rows)
    return judge("limit_steady", desc, round(worst, 2), p["tolerance_kph"], "km/h", "<=", f"limit {base:.1f} km/h")


@check("no_event", "the firmware never recorded an event", event=Field(str, required=True))
def _no_event(data: Any, sc: CheckContext, p: dict[str, Any]) -> CheckResult:
    hits = [e for e in data.events if e["name"] == p["event"]]
    return judge(f"no_{p['event']}", f"'{p['event']}' events recorded", float(len(hits)), 0.0, "", "==",
                 f"first at {hits[0]['t_s']:.2f} s" if hits else "")
