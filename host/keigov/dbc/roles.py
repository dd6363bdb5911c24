"""The governor's roles as the host names them, mirroring firmware/core/roles.py.

A test imports the firmware module and checks that both agree. Each role has the
firmware unit its value is converted into and the span of values the governor must be
able to carry in it (`keigov dbc check-map` reports a signal too narrow for its span).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

CAP_MAX_CKPH = 13000        # highest configurable cap (firmware/core/config.py cap_ckph)


@dataclass(frozen=True)
class Role:
    name: str
    ids: tuple[int, ...]      # firmware slot(s); two for coordinates split into hi/lo halves
    unit: str                 # firmware unit
    span: tuple[int, int]     # values the governor must be able to carry, firmware units


INPUTS = {
    r.name: r
    for r in (
        Role("wheel_speed_fl", (0,), "ckph", (0, CAP_MAX_CKPH)),
        Role("wheel_speed_fr", (1,), "ckph", (0, CAP_MAX_CKPH)),
        Role("wheel_speed_rl", (2,), "ckph", (0, CAP_MAX_CKPH)),
        Role("wheel_speed_rr", (3,), "ckph", (0, CAP_MAX_CKPH)),
        Role("pedal", (4,), "permille", (0, 1000)),
        Role("brake", (5,), "count", (0, 1)),
        Role("gnss_fix_type", (6,), "count", (0, 5)),
        Role("gnss_satellites", (7,), "count", (0, 31)),
        Role("gnss_hdop", (8,), "deci", (0, 1000)),
        Role("gnss_latitude", (9, 10), "deg_e7", (-900_000_000, 900_000_000)),
        Role("gnss_longitude", (11, 12), "deg_e7", (-1_800_000_000, 1_800_000_000)),
        Role("gnss_speed", (13,), "ckph", (0, CAP_MAX_CKPH)),
        Role("gnss_heading", (14,), "centideg", (0, 35999)),
        Role("vehicle_speed", (15,), "ckph", (0, CAP_MAX_CKPH)),
    )
}

FLAG_BASE = 32
FLAG_BITS = (
    "flag_overspeed",
    "flag_speed_timeout",
    "flag_speed_check",
    "flag_speed_implausible",
    "flag_pedal_fault",
    "flag_gnss_invalid",
    "flag_speed_from_gnss",
    "flag_config_defaults",
    "flag_lockout",
    "flag_zone_hold",
    "flag_zone_fallback",
    "flag_wheel_outlier",
    "flag_wheels_disagree",
    "flag_speed_stale",
    "flag_driver_alert",
)

OUTPUTS = {
    r.name: r
    for r in (
        Role("torque_limit", (0,), "permille", (0, 1000)),
        Role("speed_limit", (1,), "ckph", (0, CAP_MAX_CKPH)),
        Role("state", (2,), "count", (0, 4)),
        Role("zone", (3,), "count", (0, 250)),       # a J1939 byte carries 0..250
        Role("vehicle_speed", (4,), "ckph", (0, CAP_MAX_CKPH)),
        Role("odometer", (5,), "dam", (0, 1_000_000)),
        Role("event_count", (6,), "count", (0, 255)),
        Role("loop_time_max", (7,), "us", (0, 65535)),
        Role("regen_request", (8,), "permille", (0, 1000)),
        Role("active_limit", (9,), "ckph", (0, CAP_MAX_CKPH)),
        *(Role(name, (FLAG_BASE + bit,), "count", (0, 1)) for bit, name in enumerate(FLAG_BITS)),
    )
}

# Message kinds, decided by the roles a message carries (firmware/core/roles.py MSG_*).
MSG_KIND_BY_ROLE = {
    "wheel_speed_fl": 1,
    "pedal": 2,
    "gnss_latitude": 3,
    "gnss_longitude": 4,
    "gnss_speed": 5,
    "vehicle_speed": 6,
}

# Firmware unit -> {DBC unit: how many firmware units one DBC unit is}.
_UNITS: dict[str, dict[str, Fraction]] = {
    "ckph": {"km/h": Fraction(100), "kph": Fraction(100), "kmh": Fraction(100), "m/s": Fraction(360),
             "mph": Fraction(1609344, 10000)},
    "permille": {"%": Fraction(10), "permille": Fraction(1)},
    "deci": {"": Fraction(10)},
    "centideg": {"deg": Fraction(100), "°": Fraction(100)},
    "deg_e7": {"deg": Fraction(10**7), "°": Fraction(10**7)},
    "dam": {"km": Fraction(100), "m": Fraction(1, 10)},
    "us": {"us": Fraction(1), "ms": Fraction(1000)},
    "count": {"": Fraction(1)},
}


def unit_factor(firmware_unit: str, dbc_unit: str) -> Fraction | None:
    """Firmware units per DBC unit, or None when the DBC unit cannot be converted."""
    return _UNITS[firmware_unit].get(dbc_unit.strip())


def units_for(firmware_unit: str) -> list[str]:
    """DBC units convertible into a firmware unit ('' means none)."""
    return list(_UNITS[firmware_unit])
