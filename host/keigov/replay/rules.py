"""The rules a replayed drive is held to: a TOML file of checks, with defaults.

    cap_kph = 64.4              # optional: the cap the checks use (default: the configured cap)
    [[checks]]
    kind = "torque_limited"     # a kind from REPLAY_CHECKS, with its parameters
    within_ms = 200

Kinds live in a registry like keigov.checks.kinds (the same CheckRegistry: declared
parameters, validated keys, one measured value and a verdict each). The replay takes
`never_state`, `event`, `flag` and `peak_over_cap` from the scenario checks, which read
the same timeline and events, and adds the kinds below. Without a rules file a drive is
held to DEFAULT_CHECKS. Schema and meaning: docs/replay.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keigov.checks.kinds import CHECKS
from keigov.checks.registry import CheckRegistry, CheckSpec
from keigov.checks.zones import entered
from keigov.errors import InputError
from keigov.firmware_params import CKPH_PER_KPH, occurrences, params
from keigov.report.results import CheckResult, judge
from keigov.schema import Field, load_toml, validate
from keigov.zones.checked import CompiledZones

# Scenario kinds that judge the governor alone (not how the vehicle responds, which a
# recording cannot show: overshoot, stabilised speed, lockout speed, decelerations).
ADOPTED = ("never_state", "event", "no_event", "flag", "peak_over_cap", "zone_applied", "zone_released", "limit_ramp",
           "limit_steady", "zone_hold", "zone_fallback")
REPLAY_CHECKS = CheckRegistry({k: CHECKS[k] for k in ADOPTED})
check = REPLAY_CHECKS.check

DEFAULT_CHECKS: list[dict[str, Any]] = [
    {"kind": "log_intact"},
    {"kind": "torque_limited"},
    {"kind": "never_state", "state": "FAULT"},
    {"kind": "input_checks"},
    {"kind": "peak_over_cap"},
]
QUANTUM_PCT = 0.05         # half the command's torque resolution (0.1 %)
LOCKOUT_WITHIN_M = 30.0    # GNSS error and a fix interval at speed, on top of the zone state's own margin


@dataclass
class Rules:
    """What the checks of a replay read their limits from (the role a Scenario plays in
    `keigov sim`): the firmware configuration and the rules file."""

    path: Path
    firmware_config: dict[str, int]
    checks: list[CheckSpec]
    cap_override_kph: float | None = None
    zones: CompiledZones | None = None               # --zones: the zone checks' geometry
    faults: list = field(default_factory=list)       # a replay injects none
    outages: list = field(default_factory=list)      # nor GNSS outages
    # The zone checks allow one GNSS cycle of error: the governor's GNSS messages come at 10 Hz.
    gnss: dict[str, float] = field(default_factory=lambda: {"rate_hz": 10.0})

    def firmware_value(self, name: str) -> int:
        return self.firmware_config.get(name, params()[name][0])

    @property
    def cap_kph(self) -> float:
        if self.cap_override_kph is not None:
            return self.cap_override_kph
        return self.firmware_value("cap_ckph") / CKPH_PER_KPH

    @property
    def limp_kph(self) -> float:
        return self.firmware_value("limp_ckph") / CKPH_PER_KPH


def load_rules(path: Path | None, firmware_config: dict[str, int], zones: CompiledZones | None = None) -> Rules:
    """The rules file (or the defaults); every key checked, errors name file and key. A
    check naming a zone must name one of `zones`."""
    if path is None:
        where = Path("(default rules)")
        defaults = DEFAULT_CHECKS + (_lockout_defaults(zones) if zones else [])
        return Rules(where, firmware_config,
                     [REPLAY_CHECKS.validate(c, where, f"checks[{n}]") for n, c in enumerate(defaults)], zones=zones)
    doc = load_toml(path)
    top = validate({k: v for k, v in doc.items() if k != "checks"},
                   {"cap_kph": Field(float, None, 5, 130), "description": Field(str, "")}, path, "rules")
    tables = doc.get("checks", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise InputError("'checks' must be an array of tables ([[checks]])", where=str(path))
    if not tables:
        raise InputError("no [[checks]]: a rules file lists the checks to hold the drives to", where=str(path))
    specs = [REPLAY_CHECKS.validate(c, path, f"checks[{n}]") for n, c in enumerate(tables)]
    for n, spec in enumerate(specs):
        zone = spec.params.get("zone")
        if zone is not None and (zones is None or zone not in zones.names()):
            known = (f"zones in {zones.path.name}: {', '.join(zones.names())}" if zones
                     else "no zones given: --zones, or zones in --config")
            raise InputError(f"'checks[{n}].zone' = {zone!r} is not a zone ({known})", where=str(path))
    return Rules(path, firmware_config, specs, top["cap_kph"], zones)


def _lockout_defaults(zones: CompiledZones) -> list[dict[str, Any]]:
    """With zones and no rules file: each named lockout zone the drive enters must be
    locked out within LOCKOUT_WITHIN_M of its boundary (`lockout_distance`)."""
    return [{"kind": "lockout_distance"}]


def run_rules(data: Any, rules: Rules) -> list[CheckResult]:
    return REPLAY_CHECKS.run(data, rules, rules.checks)


# -- kinds ---------------------------------------------------------------------------------

@check("log_intact", "every log file read to its end")
def _log_intact(data: Any, rules: Rules, p: dict[str, Any]) -> CheckResult:
    damages = data.damages
    return judge("log_intact", "log files with damage (the frames before it are replayed)", float(len(damages)),
                 0.0, "", "==", "; ".join(damages))


def overspeed_episodes(rows: list[tuple], cap_kph: float, margin_kph: float) -> list[tuple[int, int]]:
    """(first, end) row indices of the runs of rows with speed above cap + margin."""
    episodes = []
    start = None
    for i, row in enumerate(rows):
        over = row[1] > cap_kph + margin_kph
        if over and start is None:
            start = i
        elif not over and start is not None:
            episodes.append((start, i))
            start = None
    if start is not None:
        episodes.append((start, len(rows)))
    return episodes


@check("torque_limited", "the command limits torque soon after the speed exceeds the cap, every time",
       within_ms=Field(float, 200.0, 0, 60000), margin_kph=Field(float, 1.0, 0, 50))
def _torque_limited(data: Any, rules: Rules, p: dict[str, Any]) -> CheckResult:
    # Limited: the torque limit is below the driver's demand, or zero. Measured from the
    # first period above cap + margin to the first period the command limits.
    rows = list(zip(*(data.timeline.column(c) for c in ("t_s", "speed_kph", "pedal_pct", "torque_limit_pct"))))
    desc = "longest time above the cap before the command limited torque"
    episodes = overspeed_episodes(rows, rules.cap_kph, p["margin_kph"])
    if not episodes:
        return judge("torque_limited", desc, 0.0, p["within_ms"], "ms", "<=",
                     f"the speed never exceeded {rules.cap_kph + p['margin_kph']:.1f} km/h")
    worst, worst_at, never = 0.0, 0.0, []
    for first, end in episodes:
        hit = next((rows[i][0] for i in range(first, end)
                    if rows[i][3] <= QUANTUM_PCT or rows[i][3] < rows[i][2] - QUANTUM_PCT), None)
        if hit is None:
            never.append(rows[first][0])
            continue
        latency = (hit - rows[first][0]) * 1000
        if latency > worst:
            worst, worst_at = latency, rows[first][0]
    detail = f"{len(episodes)} time(s) above {rules.cap_kph + p['margin_kph']:.1f} km/h"
    if never:
        return judge("torque_limited", desc, None, p["within_ms"], "ms", "<=",
                     detail + f"; not limited at all from {', '.join(f'{t:.2f} s' for t in never[:5])}")
    return judge("torque_limited", desc, round(worst, 1), p["within_ms"], "ms", "<=",
                 detail + (f"; the longest from {worst_at:.2f} s" if worst else ""))


@check("input_checks", "input frames refused by the firmware's checks (checksum, counter, length, range, "
       "timeout)", max_failures=Field(int, 0, 0))
def _input_checks(data: Any, rules: Rules, p: dict[str, Any]) -> CheckResult:
    failures = [e for e in data.events if e["name"] == "input_invalid"]
    kinds: dict[str, int] = {}
    for e in failures:
        key = f"{e.get('message', '?')}: {e.get('reason', '?')}"
        kinds[key] = kinds.get(key, 0) + occurrences([e])     # repeats the device coalesced count too
    detail = ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:4])
    if failures:
        detail += f"; first at {failures[0]['t_s']:.2f} s"
    return judge("input_checks", "input check failures (runs of refused frames, timeouts)", float(sum(kinds.values())),
                 float(p["max_failures"]), "", "<=", detail)


@check("lockout_distance", "every lockout zone the drive enters is locked out within max_m of its boundary",
       max_m=Field(float, LOCKOUT_WITHIN_M, 0, 5000))
def _lockout_distance(data: Any, rules: Rules, p: dict[str, Any]) -> CheckResult:
    desc = "longest distance from entering a lockout zone to LOCKOUT on the bus"
    if rules.zones is None:
        raise InputError("lockout_distance needs zones: give --zones ZONES.geojson, or zones in --config",
                         where=str(rules.path))
    lockouts = [s.name for s in rules.zones.zones.specs if s.lockout and s.name]
    applied = [REPLAY_CHECKS["zone_applied"].measure(data, rules, {"zone": name, "max_m": p["max_m"]})
               for name in lockouts if entered(data, rules, name)]
    if not applied:
        return judge("lockout_distance", desc, 0.0, p["max_m"], "m", "<=",
                     f"no lockout zone entered ({len(lockouts)} named in {rules.zones.path.name})")
    worst = max(applied, key=lambda r: float("inf") if r.value is None else r.value)
    result = judge("lockout_distance", desc, worst.value, p["max_m"], "m", "<=",
                   f"{len(applied)} lockout zone(s) entered; the farthest: {worst.detail}")
    return result
