"""The host's role table (keigov.dbc.roles) mirrors firmware/core/roles.py."""

from __future__ import annotations

from keigov.dbc import checksums, roles
from keigov.dbc.generated import firmware_on_path

firmware_on_path()
from core import roles as fw  # noqa: E402  (firmware module: path set just above)

INPUT_CONSTANTS = {
    "wheel_speed_fl": "IN_WHEEL_FL", "wheel_speed_fr": "IN_WHEEL_FR", "wheel_speed_rl": "IN_WHEEL_RL",
    "wheel_speed_rr": "IN_WHEEL_RR", "pedal": "IN_PEDAL", "brake": "IN_BRAKE", "gnss_fix_type": "IN_FIX_TYPE",
    "gnss_satellites": "IN_SATELLITES", "gnss_hdop": "IN_HDOP", "gnss_latitude": "IN_LAT_HI",
    "gnss_longitude": "IN_LON_HI", "gnss_speed": "IN_GNSS_SPEED", "gnss_heading": "IN_GNSS_HEADING",
    "vehicle_speed": "IN_VEHICLE_SPEED",
}
OUTPUT_CONSTANTS = {
    "torque_limit": "OUT_TORQUE_LIMIT", "speed_limit": "OUT_SPEED_LIMIT", "state": "OUT_STATE", "zone": "OUT_ZONE",
    "vehicle_speed": "OUT_VEHICLE_SPEED", "odometer": "OUT_ODOMETER_DAM", "event_count": "OUT_EVENT_COUNT",
    "loop_time_max": "OUT_LOOP_TIME_MAX",
}


def test_input_slots_agree():
    assert INPUT_CONSTANTS.keys() == roles.INPUTS.keys()
    for name, const in INPUT_CONSTANTS.items():
        assert roles.INPUTS[name].ids[0] == getattr(fw, const)
    assert max(i for r in roles.INPUTS.values() for i in r.ids) + 1 == fw.N_INPUTS
    assert fw.IN_VEHICLE_SPEED == fw.N_INPUTS - 1          # appended: no earlier slot moved


def test_output_slots_flags_and_kinds_agree():
    for name, const in OUTPUT_CONSTANTS.items():
        assert roles.OUTPUTS[name].ids[0] == getattr(fw, const)
    assert roles.FLAG_BASE == fw.FLAG_BASE
    for bit, name in enumerate(roles.FLAG_BITS):
        assert getattr(fw, "FLAG_" + name.removeprefix("flag_").upper()) == bit
    assert roles.MSG_KIND_BY_ROLE == {"wheel_speed_fl": fw.MSG_WHEEL_SPEED, "pedal": fw.MSG_DRIVER,
                                      "gnss_latitude": fw.MSG_GNSS_LAT, "gnss_longitude": fw.MSG_GNSS_LON,
                                      "gnss_speed": fw.MSG_GNSS_VELOCITY, "vehicle_speed": fw.MSG_VEHICLE_SPEED}


def test_fixed_checksum_indices_agree():
    schemes = checksums.table_schemes([checksums.BUILTIN["xor"]])
    assert schemes[fw.CHECKSUM_NONE].name == "none"
    assert schemes[fw.CHECKSUM_CRC8_J1850_ID].name == "crc8_j1850_id"
