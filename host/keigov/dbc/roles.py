"""The governor's roles as the host names them, mirroring firmware/core/roles.py.

A test imports the firmware module and checks that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Role:
    name: str
    ids: tuple[int, ...]   # firmware slot(s); two for coordinates split into hi/lo halves
    unit: str              # firmware unit


INPUTS = {
    r.name: r
    for r in (
        Role("wheel_speed_fl", (0,), "ckph"),
        Role("wheel_speed_fr", (1,), "ckph"),
        Role("wheel_speed_rl", (2,), "ckph"),
        Role("wheel_speed_rr", (3,), "ckph"),
        Role("pedal", (4,), "permille"),
        Role("brake", (5,), "count"),
        Role("gnss_fix_type", (6,), "count"),
        Role("gnss_satellites", (7,), "count"),
        Role("gnss_hdop", (8,), "deci"),
        Role("gnss_latitude", (9, 10), "deg_e7"),
        Role("gnss_longitude", (11, 12), "deg_e7"),
        Role("gnss_speed", (13,), "ckph"),
        Role("gnss_heading", (14,), "centideg"),
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
)

OUTPUTS = {
    r.name: r
    for r in (
        Role("torque_limit", (0,), "permille"),
        Role("speed_limit", (1,), "ckph"),
        Role("state", (2,), "count"),
        Role("zone", (3,), "count"),
        Role("vehicle_speed", (4,), "ckph"),
        Role("odometer", (5,), "dam"),
        Role("event_count", (6,), "count"),
        Role("loop_time_max", (7,), "us"),
        *(Role(name, (FLAG_BASE + bit,), "count") for bit, name in enumerate(FLAG_BITS)),
    )
}

# Message kinds, decided by the roles a message carries (firmware/core/roles.py MSG_*).
MSG_KIND_BY_ROLE = {
    "wheel_speed_fl": 1,
    "pedal": 2,
    "gnss_latitude": 3,
    "gnss_longitude": 4,
    "gnss_speed": 5,
}

CHECKSUM_KINDS = {"none": 0, "crc8_j1850_id": 1}

# Firmware unit -> {DBC unit: how many firmware units one DBC unit is}.
_UNITS: dict[str, dict[str, Fraction]] = {
    "ckph": {"km/h": Fraction(100), "kph": Fraction(100), "m/s": Fraction(360),
             "mph": Fraction(1609344, 10000)},
    "permille": {"%": Fraction(10)},
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
