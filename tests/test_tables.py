"""The generated firmware table and the host's mirror of the roles agree with their sources."""

from __future__ import annotations

import pytest

import firmware_harness  # noqa: F401  (firmware on sys.path)

from core import roles as fw
from keigov.dbc import checksums
from keigov.dbc import roles as host
from keigov.dbc.compile import compile_map
from keigov.paths import KEIGOV_MAP, KEIGOV_TABLES


def test_committed_table_is_what_the_compiler_produces_now():
    assert KEIGOV_TABLES.read_text() == compile_map(KEIGOV_MAP), (
        f"{KEIGOV_TABLES.name} is stale or edited by hand; regenerate it with "
        f"`keigov dbc compile --map dbc/maps/keigov.toml -o firmware/tables/keigov_bus.py`")


# Host role name -> firmware constant(s) in core/roles.py.
INPUT_CONSTANTS = {
    "wheel_speed_fl": ("IN_WHEEL_FL",),
    "wheel_speed_fr": ("IN_WHEEL_FR",),
    "wheel_speed_rl": ("IN_WHEEL_RL",),
    "wheel_speed_rr": ("IN_WHEEL_RR",),
    "pedal": ("IN_PEDAL",),
    "brake": ("IN_BRAKE",),
    "gnss_fix_type": ("IN_FIX_TYPE",),
    "gnss_satellites": ("IN_SATELLITES",),
    "gnss_hdop": ("IN_HDOP",),
    "gnss_latitude": ("IN_LAT_HI", "IN_LAT_LO"),
    "gnss_longitude": ("IN_LON_HI", "IN_LON_LO"),
    "gnss_speed": ("IN_GNSS_SPEED",),
    "gnss_heading": ("IN_GNSS_HEADING",),
    "vehicle_speed": ("IN_VEHICLE_SPEED",),
}
OUTPUT_CONSTANTS = {
    "torque_limit": "OUT_TORQUE_LIMIT",
    "speed_limit": "OUT_SPEED_LIMIT",
    "state": "OUT_STATE",
    "zone": "OUT_ZONE",
    "vehicle_speed": "OUT_VEHICLE_SPEED",
    "odometer": "OUT_ODOMETER_DAM",
    "event_count": "OUT_EVENT_COUNT",
    "loop_time_max": "OUT_LOOP_TIME_MAX",
    "regen_request": "OUT_REGEN_REQUEST",
    "active_limit": "OUT_ACTIVE_LIMIT",
}
MSG_CONSTANTS = {
    "wheel_speed_fl": "MSG_WHEEL_SPEED",
    "pedal": "MSG_DRIVER",
    "gnss_latitude": "MSG_GNSS_LAT",
    "gnss_longitude": "MSG_GNSS_LON",
    "gnss_speed": "MSG_GNSS_VELOCITY",
    "vehicle_speed": "MSG_VEHICLE_SPEED",
}


def _constants(prefix: str) -> dict[str, int]:
    return {k: v for k, v in vars(fw).items() if k.startswith(prefix) and isinstance(v, int)}


def test_input_roles_match_firmware_slots():
    assert set(host.INPUTS) == set(INPUT_CONSTANTS)
    for name, consts in INPUT_CONSTANTS.items():
        assert host.INPUTS[name].ids == tuple(getattr(fw, c) for c in consts), name
    slots = sorted(i for r in host.INPUTS.values() for i in r.ids)
    assert slots == list(range(fw.N_INPUTS)), "every firmware input slot has exactly one host role"
    assert set(_constants("IN_")) == {c for cs in INPUT_CONSTANTS.values() for c in cs}


def test_output_roles_match_firmware_slots():
    plain = {n: r for n, r in host.OUTPUTS.items() if not n.startswith("flag_")}
    assert set(plain) == set(OUTPUT_CONSTANTS)
    for name, const in OUTPUT_CONSTANTS.items():
        assert plain[name].ids == (getattr(fw, const),), name
    assert sorted(r.ids[0] for r in plain.values()) == list(range(fw.N_OUTPUTS - 1))
    assert fw.OUT_FLAGS == fw.N_OUTPUTS - 1, "OUT_FLAGS carries the flag bits, not a host role"


@pytest.mark.parametrize("bit, name", list(enumerate(host.FLAG_BITS)))
def test_flag_bits_match(bit, name):
    assert getattr(fw, name.upper()) == bit
    assert host.OUTPUTS[name].ids == (fw.FLAG_BASE + bit,)


def test_flag_sets_and_bases_match():
    assert host.FLAG_BASE == fw.FLAG_BASE
    assert set(_constants("FLAG_")) - {"FLAG_BASE"} == {n.upper() for n in host.FLAG_BITS}


def test_message_kinds_and_checksum_kinds_match():
    assert {role: getattr(fw, c) for role, c in MSG_CONSTANTS.items()} == host.MSG_KIND_BY_ROLE
    schemes = [s.name for s in checksums.table_schemes([checksums.BUILTIN["xor"]])]
    assert schemes.index("none") == fw.CHECKSUM_NONE
    assert schemes.index("crc8_j1850_id") == fw.CHECKSUM_CRC8_J1850_ID
