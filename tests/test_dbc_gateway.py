"""[gateway] roles of a signal map: GNSS signals the device cannot read itself reach it on
the governor's own GNSS messages; their mistakes are reported with the map's line."""

from __future__ import annotations

import shutil
from pathlib import Path

from keigov.dbc.compile import compile_map, map_problems
from keigov.dbc.generated import load_source
from keigov.paths import DBC_DIR


def _map(tmp_path: Path, body: str) -> Path:
    shutil.copy(DBC_DIR / "vehicles" / "canmod-gps.dbc", tmp_path / "canmod-gps.dbc")
    shutil.copy(DBC_DIR / "keigov.dbc", tmp_path / "keigov.dbc")
    path = tmp_path / "map.toml"
    path.write_text('dbc = ["canmod-gps.dbc", "keigov.dbc"]\n' + body)
    return path


_OUTPUTS = """
[outputs]
torque_limit = ["GOVERNOR_COMMAND.TORQUE_LIMIT"]
[messages.gnss_speed]
period_ms = 1000
"""


def test_gateway_roles_arrive_on_the_governors_gnss_messages():
    tables = load_source(compile_map(DBC_DIR / "maps" / "canedge_gps.toml"))
    names = dict(zip(tables._DB_MSG_ID, tables._DB_MSG_NAME))
    received = [names[i] for i in tables.RX_ID]
    assert received == ["gnss_speed", "GNSS_FIX_LAT", "GNSS_FIX_LON", "GNSS_VELOCITY"]
    # Received with the governor bus's counters and CRCs, as dbc/maps/keigov.toml protects them.
    assert all(tables.RX_CHECKSUM[i] >= 0 for i in range(1, 4))
    assert "canmod-gps.dbc + keigov.dbc + canedge_gps.toml" in tables.SOURCE


def test_gateway_problems_with_their_lines(tmp_path):
    path = _map(tmp_path, """[inputs]
vehicle_speed = "gnss_speed.Speed"
gnss_speed = "gnss_speed.Speed"

[gateway]
gnss_latitude = "gnss_pos.Latitud"
gnss_speed = "gnss_speed.Speed"
pedal = "gnss_imu.AccelerationX"
gnss_heading = { signal = "gnss_attitude.Heading", unit = "rad" }
""" + _OUTPUTS)
    found = {(int(p.where.rsplit(":", 1)[1]), p.what) for p in map_problems(path)[1]}
    assert (8, "[gateway] gnss_speed is also in [inputs] (gnss_speed.Speed)") in found
    path.write_text(path.read_text().replace('gnss_speed = "gnss_speed.Speed"\n\n[gateway]', "\n[gateway]"))
    found = {(int(p.where.rsplit(":", 1)[1]), p.what) for p in map_problems(path)[1]}
    assert any(n == 6 and "gnss_pos.Latitud is not in" in w and "'Latitude'" in w for n, w in found), found
    assert any(n == 8 and "a gateway sends GNSS roles only" in w for n, w in found), found
    assert any(n == 9 and "unit 'rad' cannot be converted to centideg" in w for n, w in found), found

