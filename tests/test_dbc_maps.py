"""Signal maps: the shipped ones are clean; every kind of mistake is reported with the
map's line, all at once by `check-map`, and stops `compile`."""

from __future__ import annotations

import shutil
from pathlib import Path

import cantools
import pytest

from keigov.cli import main
from keigov.dbc.compile import compile_map, map_problems
from keigov.errors import InputError
from keigov.paths import DBC_DIR, KEIGOV_DBC

SHIPPED = sorted((DBC_DIR / "maps").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_maps_are_clean(path):
    assert map_problems(path)[1] == []
    assert "RX_ID" in compile_map(path)


def _map(tmp_path: Path, body: str, dbc: str = "ev_mcu.dbc") -> Path:
    shutil.copy(DBC_DIR / "vehicles" / dbc, tmp_path / dbc)
    path = tmp_path / "map.toml"
    path.write_text(f'dbc = "{dbc}"\n' + body)
    return path


def _problems(path: Path) -> list[tuple[int, str]]:
    return [(int(p.where.rsplit(":", 1)[1]), p.what) for p in map_problems(path)[1]]


def test_every_problem_with_its_line(tmp_path):
    path = _map(tmp_path, """
[inputs]
wheel_speed_fl = "ABS_WHEEL_SPEED.WHEEL_FL"
wheel_speed_fr = "ABS_WHEEL_SPEEDS.WHEEL_FRONT_RIGHT"
vehicle_speed = "MCU_STATUS.MOTOR_SPEED"
pedal = "VCU_PEDAL.ACCEL_PEDAL"
brake = { signal = "VCU_VEHICLE.BRAKE_PRESSED", unit = "bar" }
gnss_speed = "MCU_STATUS.DC_VOLTAGE"
warp_factor = "VCU_VEHICLE.GEAR"

[outputs]
speed_limit = [
    "MCU_TORQUE_LIMIT.TORQUE_LIMIT_PCT",
    { signal = "VCU_PEDAL.ACCEL_PEDAL_RAW_2", unit = "km/h" },
]
state = ["MCU_DIAG.FAULT_COUNT"]

[messages.VCU_VEHICLE]
checksum = "VCU_VEHICLE_CHECKSUM"
checksum_kind = "crc9"

[messages.GHOST]
counter = "X"
""")
    found = _problems(path)
    expected = [
        (4, "message 'ABS_WHEEL_SPEED' is not in ev_mcu.dbc (did you mean 'ABS_WHEEL_SPEEDS'?)"),
        (5, "signal ABS_WHEEL_SPEEDS.WHEEL_FRONT_RIGHT is not in"),
        (6, "MCU_STATUS.MOTOR_SPEED: unit 'rpm' cannot be converted to ckph"),
        (7, "VCU_PEDAL.ACCEL_PEDAL: unit '' cannot be converted to permille"),
        (8, "VCU_VEHICLE.BRAKE_PRESSED: map unit 'bar' cannot be converted to count"),
        (9, "MCU_STATUS.DC_VOLTAGE is an IEEE float"),
        (10, "[inputs] warp_factor: not a governor role"),
        (14, "MCU_TORQUE_LIMIT.TORQUE_LIMIT_PCT: unit '%' cannot be converted to ckph"),
        (15, "VCU_PEDAL.ACCEL_PEDAL_RAW_2 is too narrow for speed_limit: it carries 0..10000 ckph, "
             "the governor needs 0..13000 ckph"),
        (17, "MCU_DIAG.FAULT_COUNT is multiplexed"),
        (21, "unknown checksum_kind 'crc9'"),
        (23, "[messages.GHOST]: no role of this map uses message GHOST"),
    ]
    for line, text in expected:
        assert any(n == line and what.startswith(text) for n, what in found), (line, text, found)
    assert len(found) == len(expected), found


def test_checksum_layouts_and_addressing(tmp_path):
    path = _map(tmp_path, """
[inputs]
vehicle_speed = "CCVS1.WheelBasedVehicleSpeed"

[outputs]
torque_limit = ["TSC1.EngRqedTorque_TorqueLimit"]
speed_limit = ["TSC1.EngRqedSpeed_SpeedLimit"]

[messages.CCVS1]
any_source = true
source_address = 0x0B

[messages.TSC1]
checksum = "MessageCounter"
checksum_kind = "j1939"
constants = { EngOverrideCtrlMode = 5, NoSuchSignal = 1 }
""", dbc="j1939_truck.dbc")
    found = _problems(path)
    assert (11, "any_source and source_address exclude each other") in found
    assert any(n == 8 and "unit 'rpm' cannot be converted to ckph" in w for n, w in found)
    assert any(n == 16 and "the checksum must be the high nibble" in w for n, w in found)
    assert any(n == 17 and "EngOverrideCtrlMode = 5: outside its DBC range" in w for n, w in found)
    assert any(n == 17 and "NoSuchSignal: no such signal" in w for n, w in found)


def test_custom_checksum_scheme_problems(tmp_path):
    path = _map(tmp_path, """
[inputs]
pedal = { signal = "VCU_PEDAL.ACCEL_PEDAL", unit = "%" }

[messages.VCU_PEDAL]
checksum = "VCU_PEDAL_CHECKSUM"
checksum_kind = "mine"

[checksums.mine]
algorithm = "crc8"
init = 0xFF
""")
    assert [(n, w) for n, w in _problems(path)] == [(10, "checksum scheme mine: a crc8 scheme needs its polynomial "
                                                         "(poly = 0x..)")]


def test_compile_refuses_a_map_with_problems_naming_the_first(tmp_path):
    path = _map(tmp_path, '[inputs]\npedal = "VCU_PEDAL.NOPE"\n')
    with pytest.raises(InputError, match=r"map.toml:3: .*VCU_PEDAL.NOPE"):
        compile_map(path)


def test_malformed_map_toml_has_a_line(tmp_path, capsys):
    path = _map(tmp_path, '[inputs]\npedal = "VCU_PEDAL.ACCEL_PEDAL\n')
    assert main(["dbc", "check-map", str(path)]) == 2
    assert f"{path}:3" in capsys.readouterr().err


def test_check_map_cli_exit_status(tmp_path, capsys):
    assert main(["dbc", "check-map", str(DBC_DIR / "maps" / "j1939_truck.toml")]) == 0
    path = _map(tmp_path, '[inputs]\nvehicle_speed = "VCU_VEHICLE.GEAR"\n')
    assert main(["dbc", "check-map", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:3: VCU_VEHICLE.GEAR: unit '' cannot be converted to ckph" in out


def test_the_governor_bus_names_states_and_status_flags_as_the_firmware_numbers_them():
    """keigov.firmware_params reads STATE_NAMES from core/safety.py and STATUS_FLAGS from
    core/roles.py's bits through the governor map; pinned here, with the signals that carry
    them in dbc/keigov.dbc, and the plot's colour for each state."""
    from keigov.firmware_params import STATE_NAMES, STATUS_FLAGS
    from keigov.report.plot import STATE_COLOURS
    from keigov.report.plot import STATES as PLOTTED

    assert STATE_NAMES == {0: "INIT", 1: "NORMAL", 2: "LIMITING", 3: "FAULT", 4: "LOCKOUT"}
    assert STATUS_FLAGS == (
        "OVERSPEED_WARNING", "SPEED_TIMEOUT", "SPEED_CHECK_FAILED", "SPEED_IMPLAUSIBLE",
        "PEDAL_FAULT", "GNSS_INVALID", "SPEED_FROM_GNSS", "CONFIG_DEFAULTS",
        "LOCKOUT_ACTIVE", "ZONE_HOLD", "ZONE_FALLBACK", "WHEEL_OUTLIER", "WHEELS_DISAGREE", "SPEED_STALE",
        "DRIVER_ALERT",
    )
    assert PLOTTED == tuple(STATE_NAMES.values()) and set(STATE_COLOURS) == set(PLOTTED)
    status = cantools.database.load_file(str(KEIGOV_DBC)).get_message_by_name("GOVERNOR_STATUS")
    state = status.get_signal_by_name("GOVERNOR_STATE")
    assert (state.minimum, state.maximum) == (min(STATE_NAMES), max(STATE_NAMES))
    assert all(status.get_signal_by_name(name).length == 1 for name in STATUS_FLAGS)
