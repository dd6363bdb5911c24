"""HIL scenario files (TOML): what is driven where, what goes wrong, what is checked.

The schema is documented in docs/scenarios.md; every key is validated here, and an
unknown key, a wrong type or an out-of-range value is an error naming file and key.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keigov import paths
from keigov.checks.registry import CheckSpec
from keigov.errors import InputError
from keigov.firmware_params import CKPH_PER_KPH, CKPH_PER_MPH, params
from keigov.gnss import offset_deg
from keigov.schema import Field, load_toml, number_pairs, validate
from keigov.zones.checked import CompiledZones, read_zones
from keigov_hil.driver import Driver, ProfilePoint
from keigov_hil.gnss import GnssReceiver, Route
from keigov_hil.vehicle import MotorController, Road, Vehicle, VehicleParams

# The bundled scenarios: hil/scenarios in a checkout, package data of keigov_hil installed.
SCENARIOS = (paths.ROOT / "hil" / "scenarios" if paths.ROOT
             else Path(str(importlib.resources.files("keigov_hil") / "scenarios")))

SCENARIO = {
    "name": Field(str, help="scenario name"),
    "description": Field(str, ""),
    "duration_s": Field(float, required=True, minimum=0.1, maximum=86400, help="simulated seconds"),
    "seed": Field(int, 0, minimum=0),
    "zones": Field(str, None, help="GeoJSON zones file, relative to the scenario file"),
}
VEHICLE = {
    "mass_kg": Field(float, None, 300, 3500),
    "motor_peak_torque_nm": Field(float, None, 10, 2000),
    "motor_peak_power_w": Field(float, None, 1000, 500000),
    "drag_area_m2": Field(float, None, 0.1, 5),
    "rolling_resistance": Field(float, None, 0.001, 0.1),
    "wheel_speed_error_pct": Field(list, None, help="four per-wheel indicated-speed errors"),
    "initial_speed_kph": Field(float, 0.0, 0, 200),
    "command_latency_ms": Field(int, 20, 10, 100, help="governor command to applied torque, whole 10 ms periods"),
    "regen_max_torque_nm": Field(float, None, 0, 2000, help="the motor's regen torque (0: no regen)"),
}
ROAD = {"grade": Field(list, [[0.0, 0.0]], help="[[start_m, grade_pct], ...]")}
ROUTE = {
    "start": Field(list, [35.6812, 139.7671], help="[lat, lon] of the start"),
    "heading_deg": Field(float, 90.0, 0, 360),
    "waypoints": Field(list, None, help="[[lat, lon], ...]; overrides start/heading"),
    "waypoints_m": Field(list, None, help="[[east_m, north_m], ...] from start; overrides heading"),
}
GNSS = {
    "rate_hz": Field(float, 10.0, 1, 50),
    "noise_m": Field(float, 1.5, 0, 100),
    "satellites": Field(int, 12, 0, 63),
    "hdop": Field(float, 0.9, 0.5, 99),
    "outages": Field(list, [], help="[[start_s, end_s], ...]"),
    "jumps": Field(list, [], help="[[start_s, end_s, north_m, east_m], ...]: fixes offset (a spoofer)"),
}
DRIVER_POINT = {
    "t_s": Field(float, required=True, minimum=0),
    "target_kph": Field(float, None, 0, 200),
    "pedal_pct": Field(float, None, 0, 100),
    "brake": Field(bool, False),
}
FAULT_KINDS = ("stop", "bad_checksum", "bad_counter", "freeze", "wheel_bias", "freeze_valid", "scale", "drop",
               "jitter", "forge")
VALUE_FAULTS = ("wheel_bias", "scale")      # change the wheel speeds the VCU measures, not its frames
FORGEABLE = ("WHEEL_SPEEDS", "GNSS_VELOCITY")   # messages with a speed a forged frame can claim
FAULT = {
    "kind": Field(str, required=True, choices=FAULT_KINDS),
    "message": Field(str, "WHEEL_SPEEDS"),
    "start_s": Field(float, required=True, minimum=0),
    "end_s": Field(float, None, minimum=0),
    "wheel": Field(int, 0, -1, 3, help="wheel index for wheel_bias and scale (0 FL, 1 FR, 2 RL, 3 RR; -1 all four)"),
    "bias_kph": Field(float, 0.0, -200, 200),
    "scale_pct": Field(float, 0.0, -90, 300, help="scale: wheel speed error in percent"),
    "ramp_s": Field(float, 0.0, 0, 86400, help="scale: seconds for the error to grow from 0 to scale_pct"),
    "every_n": Field(int, 0, 0, 100000, help="drop: lose every Nth frame (0: not by count)"),
    "probability": Field(float, 0.0, 0, 1, help="drop: chance of losing each frame (seeded)"),
    "burst": Field(int, 1, 1, 1000, help="drop: frames lost in a row at each loss"),
    "jitter_ms": Field(int, 0, 0, 1000, help="jitter: largest delay, whole 10 ms periods"),
    "reorder": Field(bool, False, help="jitter: a later frame may overtake an earlier one"),
    "value_kph": Field(float, 0.0, 0, 200, help="forge: the speed a forged frame claims"),
    "counter": Field(str, "next", choices=("next", "same", "random"), help="forge: the forged frame's counter"),
}
GOVERNOR_UNITS = {
    "cap_mph": ("cap_ckph", CKPH_PER_MPH),
    "cap_kph": ("cap_ckph", CKPH_PER_KPH),
    "limp_mph": ("limp_ckph", CKPH_PER_MPH),
    "limp_kph": ("limp_ckph", CKPH_PER_KPH),
}
CHANGE = {   # a [[changes]] entry's own keys; the rest are [governor]'s
    "t_s": Field(float, required=True, help="when the configuration is pushed and the device reset"),
    "zones": Field(str, None, help="GeoJSON zones file, relative to the scenario file"),
}


@dataclass
class FaultSpec:
    kind: str
    message: str
    start_s: float
    end_s: float | None
    wheel: int = 0
    bias_kph: float = 0.0
    scale_pct: float = 0.0
    ramp_s: float = 0.0
    every_n: int = 0
    probability: float = 0.0
    burst: int = 1
    jitter_ms: int = 0
    reorder: bool = False
    value_kph: float = 0.0
    counter: str = "next"

    def active(self, t_s: float) -> bool:
        return t_s >= self.start_s and (self.end_s is None or t_s < self.end_s)

    def wheels(self) -> range:
        """The wheels a wheel fault acts on: its `wheel`, or all four for -1."""
        return range(4) if self.wheel == -1 else range(self.wheel, self.wheel + 1)

    def scale_at(self, t_s: float) -> float:
        """A scale fault's factor at `t_s`: the error grows linearly over `ramp_s` (a drift)."""
        pct = self.scale_pct if self.ramp_s <= 0.0 else self.scale_pct * min(1.0, (t_s - self.start_s) / self.ramp_s)
        return 1.0 + pct / 100.0


def _fault(table: Any, path: Path, n: int) -> FaultSpec:
    """One [[faults]] entry: the schema's checks, then what depends on its kind."""
    f = FaultSpec(**validate(table, FAULT, path, f"faults[{n}]"))
    where, key = str(path), f"faults[{n}]"
    if f.end_s is not None and f.end_s <= f.start_s:
        raise InputError(f"'{key}.end_s' = {f.end_s} is not after start_s = {f.start_s}", where=where)
    if f.kind in VALUE_FAULTS and f.message != "WHEEL_SPEEDS":
        raise InputError(f"'{key}.message' = {f.message!r}: a {f.kind} fault acts on WHEEL_SPEEDS only", where=where)
    if f.kind == "drop" and (f.every_n > 0) == (f.probability > 0):
        raise InputError(f"'{key}' (drop) needs exactly one of every_n or probability", where=where)
    if f.kind == "jitter" and (f.jitter_ms <= 0 or f.jitter_ms % 10):
        raise InputError(f"'{key}.jitter_ms' = {f.jitter_ms} is not a positive whole number of 10 ms periods",
                         where=where)
    if f.kind == "forge" and f.message not in FORGEABLE:
        raise InputError(f"'{key}.message' = {f.message!r}: forge needs a message with a speed "
                         f"({', '.join(FORGEABLE)})", where=where)
    return f


@dataclass
class ChangeSpec:
    """A [[changes]] entry: the configuration pushed at `t_s` and run from the reset that
    follows, the scenario's [governor] and zones with every change up to this one merged in."""

    t_s: float
    firmware_config: dict[str, int]
    zones: CompiledZones | None


@dataclass
class Scenario:
    path: Path
    name: str
    description: str
    duration_s: float
    seed: int
    vehicle: dict[str, Any]
    initial_speed_kph: float
    command_latency_ms: int
    grade: list[tuple[float, ...]]
    waypoints: list[tuple[float, float]] | None
    start: tuple[float, float]
    heading_deg: float
    gnss: dict[str, Any]
    outages: list[tuple[float, ...]]
    jumps: list[tuple[float, ...]]
    driver: list[ProfilePoint]
    faults: list[FaultSpec]
    firmware_config: dict[str, int]
    checks: list[CheckSpec] = field(default_factory=list)
    zones: CompiledZones | None = None
    changes: list[ChangeSpec] = field(default_factory=list)

    @property
    def cap_kph(self) -> float:
        return self.firmware_config.get("cap_ckph", params()["cap_ckph"][0]) / CKPH_PER_KPH

    @property
    def limp_kph(self) -> float:
        return self.firmware_config.get("limp_ckph", params()["limp_ckph"][0]) / CKPH_PER_KPH

    def firmware_value(self, name: str) -> int:
        return self.firmware_config.get(name, params()[name][0])


TOP_LEVEL = ("scenario", "vehicle", "road", "route", "gnss", "driver", "faults", "governor", "checks", "changes")


def _governor(table: Any, path: Path, prefix: str = "governor", other_keys: tuple[str, ...] = ()) -> dict[str, int]:
    """Firmware configuration from [governor] (or a change's keys, `prefix`, whose own
    `other_keys` an error lists too): user units, or firmware PARAMS by name."""
    if not isinstance(table, dict):
        raise InputError(f"[{prefix}] must be a table", where=str(path))
    fw = params()
    out: dict[str, int] = {}
    for key, value in table.items():
        name = f"{prefix}.{key}"
        if key in GOVERNOR_UNITS:
            target, factor = GOVERNOR_UNITS[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(f"'{name}' must be a number, not {value!r}", where=str(path))
            if target in out:
                raise InputError(f"'{name}' sets {target} twice (give mph or kph, not both)", where=str(path))
            raw = round(value * factor)
        elif key in fw:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InputError(f"'{name}' must be an integer (firmware units), not {value!r}", where=str(path))
            target, raw = key, value
        else:
            known = ", ".join([*other_keys, *GOVERNOR_UNITS, *fw])
            raise InputError(f"unknown key '{name}' (known: {known})", where=str(path))
        _default, lo, hi = fw[target]
        if not lo <= raw <= hi:
            raise InputError(f"'{name}' = {value} is outside the firmware's bounds for {target} "
                             f"({lo}..{hi} firmware units)", where=str(path))
        out[target] = raw
    return out


def _table_list(doc: dict[str, Any], key: str, path: Path) -> list[dict[str, Any]]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError(f"'{key}' must be an array of tables ([[{key}]])", where=str(path))
    return value


def bundled_scenarios() -> list[Path]:
    """The scenario files that come with keigov (hil/scenarios, or the wheel's copy), by name."""
    return sorted(SCENARIOS.glob("*.toml"))


def find_scenario(name_or_path: str | Path) -> Path:
    """A scenario file: the path given, or a bundled scenario by its name (`full_throttle`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = {p.stem: p for p in bundled_scenarios()}
    if path.suffix == "" and len(path.parts) == 1 and path.name in bundled:
        return bundled[path.name]
    raise InputError(f"no such file, and no bundled scenario of that name (bundled: {', '.join(bundled)}; "
                     "`keigov scenarios` lists them)", where=str(name_or_path))


def load_scenario(path: Path) -> Scenario:
    from keigov.checks.kinds import validate_check  # the check registry owns check schemas

    doc = load_toml(path)
    for key in doc:
        if key not in TOP_LEVEL:
            raise InputError(f"unknown section '{key}' (known: {', '.join(TOP_LEVEL)})", where=str(path))
    if "scenario" not in doc:
        raise InputError("missing [scenario] section", where=str(path))
    sc = validate(doc["scenario"], SCENARIO, path, "scenario")
    veh = validate(doc.get("vehicle", {}), VEHICLE, path, "vehicle")
    road = validate(doc.get("road", {}), ROAD, path, "road")
    route = validate(doc.get("route", {}), ROUTE, path, "route")
    gnss = validate(doc.get("gnss", {}), GNSS, path, "gnss")
    grade = number_pairs(road["grade"], "road.grade", path)
    outages = number_pairs(gnss.pop("outages"), "gnss.outages", path)
    jumps = number_pairs(gnss.pop("jumps"), "gnss.jumps", path, width=4)
    start = number_pairs([route["start"]], "route.start", path)[0]
    if not (-90 <= start[0] <= 90 and -180 <= start[1] <= 180):
        raise InputError(f"'route.start' {list(start)} is not a valid [lat, lon]", where=str(path))
    waypoints = _waypoints(route, start, path)
    wheel_err = veh.pop("wheel_speed_error_pct")
    if wheel_err is not None:
        if len(wheel_err) != 4 or not all(isinstance(x, (int, float)) for x in wheel_err):
            raise InputError("'vehicle.wheel_speed_error_pct' must be four numbers", where=str(path))
        veh["wheel_speed_error_pct"] = tuple(float(x) for x in wheel_err)
    initial = veh.pop("initial_speed_kph")
    latency = veh.pop("command_latency_ms")
    if latency % 10:
        raise InputError(f"'vehicle.command_latency_ms' = {latency} is not a whole number of 10 ms control periods",
                         where=str(path))
    driver = []
    for n, point in enumerate(_table_list(doc, "driver", path)):
        p = validate(point, DRIVER_POINT, path, f"driver[{n}]")
        if (p["target_kph"] is None) == (p["pedal_pct"] is None) and not p["brake"]:
            raise InputError(f"'driver[{n}]' needs exactly one of target_kph or pedal_pct", where=str(path))
        driver.append(ProfilePoint(p["t_s"], p["target_kph"], p["pedal_pct"], p["brake"]))
    if not driver:
        raise InputError("no [[driver]] points: the driver needs a profile", where=str(path))
    if any(b.t_s < a.t_s for a, b in zip(driver, driver[1:])):
        raise InputError("[[driver]] points must be in time order", where=str(path))
    faults = [_fault(f, path, n) for n, f in enumerate(_table_list(doc, "faults", path))]
    firmware_config = _governor(doc.get("governor", {}), path)
    zones = _zones(sc["zones"], path)
    changes = _changes(_table_list(doc, "changes", path), firmware_config, zones, sc["duration_s"], path)
    checks = [validate_check(c, path, f"checks[{n}]") for n, c in enumerate(_table_list(doc, "checks", path))]
    scenario = Scenario(
        path=path,
        name=sc["name"] or path.stem,
        description=sc["description"],
        duration_s=sc["duration_s"],
        seed=sc["seed"],
        vehicle={k: v for k, v in veh.items() if v is not None},
        initial_speed_kph=initial,
        command_latency_ms=latency,
        grade=grade,
        waypoints=waypoints,
        start=(start[0], start[1]),
        heading_deg=route["heading_deg"],
        gnss={k: v for k, v in gnss.items()},
        outages=outages,
        jumps=jumps,
        driver=driver,
        faults=faults,
        firmware_config=firmware_config,
        checks=checks,
        zones=zones,
        changes=changes,
    )
    _check_zone_names(scenario)
    _check_models(scenario)
    return scenario


def _changes(tables: list[dict[str, Any]], firmware_config: dict[str, int], zones: CompiledZones | None,
             duration_s: float, path: Path) -> list[ChangeSpec]:
    """[[changes]]: each a time, [governor] keys and zones, merged over the configuration
    before it (the scenario's for the first)."""
    out: list[ChangeSpec] = []
    for n, table in enumerate(tables):
        key = f"changes[{n}]"
        own = validate({k: v for k, v in table.items() if k in CHANGE}, CHANGE, path, key)
        t_s = own["t_s"]
        if not 0 < t_s < duration_s:
            raise InputError(f"'{key}.t_s' = {t_s:g} is not inside the run (0 < t_s < duration_s = {duration_s:g})",
                             where=str(path))
        if out and t_s <= out[-1].t_s:
            raise InputError(f"'{key}.t_s' = {t_s:g} is not after the change before it ({out[-1].t_s:g} s): "
                             "[[changes]] must be in time order", where=str(path))
        governor = _governor({k: v for k, v in table.items() if k not in CHANGE}, path, key, tuple(CHANGE))
        firmware_config = {**firmware_config, **governor}
        zones = zones if own["zones"] is None else _zones(own["zones"], path, f"{key}.zones")
        out.append(ChangeSpec(t_s, firmware_config, zones))
    return out


def _check_zone_names(sc: Scenario) -> None:
    """A check naming a zone must name one of the scenario's zones."""
    for n, spec in enumerate(sc.checks):
        name = spec.params.get("zone")
        if name is None:
            continue
        if sc.zones is None:
            raise InputError(f"'checks[{n}].zone' = {name!r} but the scenario has no 'scenario.zones'",
                             where=str(sc.path))
        if name not in sc.zones.names():
            raise InputError(f"'checks[{n}].zone' = {name!r} is not a zone in {sc.zones.path.name} "
                             f"(zones: {', '.join(sc.zones.names())})", where=str(sc.path))


def _waypoints(route: dict[str, Any], start: tuple[float, ...], path: Path) -> list[tuple[float, float]] | None:
    """[lat, lon] waypoints, or metres east/north of the start (as zones are often drawn)."""
    if route["waypoints"] is not None and route["waypoints_m"] is not None:
        raise InputError("give 'route.waypoints' or 'route.waypoints_m', not both", where=str(path))
    if route["waypoints"] is not None:
        key, points = "route.waypoints", [(a, b) for a, b in number_pairs(route["waypoints"], "route.waypoints", path)]
    elif route["waypoints_m"] is not None:
        key = "route.waypoints_m"
        points = [offset_deg(start[0], start[1], north, east)
                  for east, north in number_pairs(route["waypoints_m"], key, path)]
    else:
        return None
    if len(points) < 2:
        raise InputError(f"'{key}' needs at least two points", where=str(path))
    return points


def _zones(name: str | None, path: Path, key: str = "scenario.zones") -> CompiledZones | None:
    """The zones file named by `key` ('scenario.zones', a change's), checked and compiled;
    every problem in it is an error naming the zones file and the feature."""
    if name is None:
        return None
    zones_path = path.parent / name
    if not zones_path.is_file():
        raise InputError(f"'{key}': no such file: {zones_path}", where=str(path))
    return read_zones(zones_path, f"'{key}' = {name!r}", path)


def _check_models(sc: Scenario) -> None:
    """Let the models judge what the schema cannot (time order, grades, route geometry)."""
    try:
        build_world(sc)
    except ValueError as exc:
        raise InputError(f"invalid scenario: {exc}", where=str(sc.path)) from None


def build_world(sc: Scenario) -> tuple[Vehicle, Driver, GnssReceiver, MotorController]:
    # The pairs' widths were checked at load (number_pairs); unpacked here for the models' types.
    grade = [(start, pct) for start, pct in sc.grade]
    vehicle = Vehicle(VehicleParams(**sc.vehicle), Road(grade), speed_mps=sc.initial_speed_kph / 3.6)
    route = Route(sc.waypoints) if sc.waypoints else Route.straight(sc.start[0], sc.start[1], sc.heading_deg, 200_000)
    gnss = GnssReceiver(route, rate_hz=sc.gnss["rate_hz"], noise_m=sc.gnss["noise_m"], seed=sc.seed,
                        satellites=sc.gnss["satellites"], hdop=sc.gnss["hdop"],
                        outages=tuple((a, b) for a, b in sc.outages),
                        jumps=tuple((a, b, north, east) for a, b, north, east in sc.jumps))
    return vehicle, Driver(sc.driver), gnss, MotorController()
