"""keigov replay end to end: generated drives through the firmware on MicroPython.

A drive that crosses the cap gives the events the firmware's parameters predict, the same
drive in every log format gives the same timeline byte for byte, and a GPX track gives
the same zone events as the same positions on CAN.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fwenv import micropython_binary

from keigov import paths
from keigov.cli import main
from keigov.firmware_params import params
from keigov.gnss import offset_deg
from keigov_hil.drivelog import DriveProfile, drive_fixes, drive_frames, write_gpx, write_log

RUNTIME = "micropython" if micropython_binary() else "cpython"
MAP = str(paths.KEIGOV_MAP)
SLOPE_KPH_S = 4.0
CROSSING = DriveProfile([(0, 40), (10, 80), (16, 80), (26, 40), (30, 40)], pedal_pct=60.0, other_ids=(0x123,))


def replay(*args: object) -> int:
    return main(["replay", *map(str, args), "--runtime", RUNTIME, "--no-plot"])


def _events(out: Path) -> list[dict]:
    return json.loads((out / "events.json").read_text())


def _first(events: list[dict], name: str) -> dict:
    return next(e for e in events if e["name"] == name)


@pytest.fixture(scope="module")
def crossing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crossing")
    write_log(root / "drive.log", drive_frames(CROSSING))
    assert replay(root / "drive.log", "--map", MAP, "--out", root / "out", "--junit", root / "junit.xml") == 0
    return root


def test_a_drive_crossing_the_cap_gives_the_expected_events(crossing):
    fw = params()
    cap = fw["cap_ckph"][0] / 100
    target = cap - fw["setpoint_margin_ckph"][0] / 100
    lookahead = fw["lookahead_ms"][0] / 1000
    events = _events(crossing / "out")
    # The governor takes over when the predicted speed (speed + accel x lookahead) reaches
    # its target below the cap; it warns once the speed has stayed above the limit plus
    # the overspeed margin for overspeed_ms.
    engage = (target - SLOPE_KPH_S * lookahead - 40) / SLOPE_KPH_S
    overspeed = (cap + fw["overspeed_margin_ckph"][0] / 100 - 40) / SLOPE_KPH_S + fw["overspeed_ms"][0] / 1000
    assert abs(_first(events, "limit_engaged")["t_s"] - engage) < 0.15
    assert abs(_first(events, "overspeed")["t_s"] - overspeed) < 0.1
    released = _first(events, "limit_released")["t_s"]
    assert 16 + (80 - cap) / SLOPE_KPH_S - 1 < released < 26          # once back under the cap
    assert not [e for e in events if e["name"] in ("fault_entered", "input_invalid")]
    engaged = _first(events, "limit_engaged")
    assert engaged["position"]["lat"] == pytest.approx(35.6812, abs=1e-3) and engaged["speed_kph"] > 55


def test_the_command_limits_torque_while_above_the_cap(crossing):
    with (crossing / "out" / "timeline.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3002        # frames from 1.3 ms to 30.0073 s: periods at 0, 10 ms, .. 30.01 s
    over = [r for r in rows if float(r["speed_kph"]) > 65.4]
    assert over and all(float(r["torque_limit_pct"]) < float(r["pedal_pct"]) for r in over)
    assert {r["state"] for r in over} == {"LIMITING"}
    summary = json.loads((crossing / "out" / "summary.json").read_text())
    assert summary["frames_read"] == summary["frames_used"] + summary["frames_ignored"]
    assert summary["frames_ignored"] == 601                         # 0x123 at 20 Hz
    checks = {c["name"]: c for c in summary["checks"]}
    assert checks["torque_limited"]["verdict"] == "pass" and checks["never_fault"]["value"] == 0
    assert summary["sim_seconds"] == 30.02 and summary["runtime"] == RUNTIME
    assert 'testsuite name="keigov.' in (crossing / "junit.xml").read_text()


def test_a_rules_file_can_fail_the_drive(crossing, tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text('cap_kph = 50.0\n[[checks]]\nkind = "torque_limited"\nwithin_ms = 100\n'
                     '[[checks]]\nkind = "event"\nevent = "lockout_engaged"\n')
    assert replay(crossing / "drive.log", "--map", MAP, "--rules", rules, "--out", tmp_path / "out") == 1
    checks = {c["name"]: c for c in json.loads((tmp_path / "out" / "summary.json").read_text())["checks"]}
    assert checks["torque_limited"]["verdict"] == "fail"      # above 50 km/h long before the governor acts
    assert checks["event_lockout_engaged"]["verdict"] == "fail"


FORMATS = [".log", ".blf", ".csv", ".asc", ".trc"] + ([".mf4"] if __import__("importlib").util.find_spec("asammdf")
                                                      else [])


def test_the_same_drive_in_every_format_gives_the_same_timeline(tmp_path):
    profile = DriveProfile([(0, 55), (4, 75), (6, 75)], pedal_pct=80.0, other_ids=(0x7A0,))
    frames = list(drive_frames(profile))
    outputs = {}
    for suffix in FORMATS:
        write_log(tmp_path / f"drive{suffix}", iter(frames))
        out = tmp_path / f"out{suffix}"
        assert replay(tmp_path / f"drive{suffix}", "--map", MAP, "--out", out) == 0, suffix
        outputs[suffix] = ((out / "timeline.csv").read_bytes(), _events(out))
    reference = outputs[".log"]
    assert b"LIMITING" in reference[0]
    for suffix, got in outputs.items():
        assert got[0] == reference[0], suffix
        assert got[1] == reference[1], suffix


@pytest.fixture(scope="module")
def ramp(tmp_path_factory) -> Path:
    """A freeway-lockout polygon across the drive from 400 m to 600 m east of its start."""
    lat0, lon0 = CROSSING.start

    def point(east: float, north: float) -> list[float]:
        lat, lon = offset_deg(lat0, lon0, north, east)
        return [round(lon, 7), round(lat, 7)]

    ring = [point(400, -15), point(600, -15), point(600, 15), point(400, 15), point(400, -15)]
    path = tmp_path_factory.mktemp("zones") / "ramp.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Ramp", "kind": "freeway_lockout"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    return path


def test_a_lockout_zone_on_can_and_from_a_gpx_track_gives_the_same_events(tmp_path, crossing, ramp):
    write_gpx(tmp_path / "drive.gpx", drive_fixes(CROSSING))
    on_can, from_gpx = tmp_path / "can", tmp_path / "gpx"
    assert replay(crossing / "drive.log", "--map", MAP, "--zones", ramp, "--out", on_can) == 0
    assert replay(crossing / "drive.log", "--map", MAP, "--zones", ramp, "--gnss", tmp_path / "drive.gpx",
                  "--out", from_gpx) == 0
    # A track's fixes go out on the 100 ms grid, the log's 5 ms after it: events may come a
    # period or so apart (and carry that period's speed), the GNSS inputs' own ones more.
    a, b = ([e for e in _events(out) if not (e.get("message", "").startswith("GNSS") or e["name"].startswith("gnss"))]
            for out in (on_can, from_gpx))
    assert [e["name"] for e in a] == [e["name"] for e in b]
    for x, y in zip(a, b):
        assert abs(x["t_s"] - y["t_s"]) <= 0.11, (x, y)
        if x["name"].startswith(("zone", "lockout")):
            assert x["value"] == y["value"], (x, y)
    lockout = _first(a, "lockout_engaged")
    assert lockout["odometer_km"] == pytest.approx(0.4, abs=0.005)       # at the zone's edge
    assert lockout["position"]["lon"] == pytest.approx(_first(b, "lockout_engaged")["position"]["lon"], abs=3e-5)
    for out in (on_can, from_gpx):
        summary = json.loads((out / "summary.json").read_text())
        checks = {c["name"]: c for c in summary["checks"]}
        assert checks["lockout_distance"]["verdict"] == "pass" and checks["lockout_distance"]["value"] < 5
        assert summary["lockouts"] == 1
    assert json.loads((from_gpx / "summary.json").read_text())["gnss"] == "track"
    with (on_can / "timeline.csv").open() as f:
        states = {r["state"] for r in csv.DictReader(f) if float(r["distance_m"]) > 405}
    assert states == {"LOCKOUT"}


def test_zones_named_by_the_configuration_act_as_zones_given_with_the_flag(tmp_path, crossing, ramp):
    """Drawn, checked and installed alike: the file is found relative to CONFIG.toml."""
    (tmp_path / "fleet" / "lanes").mkdir(parents=True)
    (tmp_path / "fleet" / "lanes" / "ramp.geojson").write_bytes(ramp.read_bytes())
    config = tmp_path / "fleet" / "fleet.toml"
    config.write_text('version = 1\nzones = "lanes/ramp.geojson"\n')
    by_flag, by_config = tmp_path / "flag", tmp_path / "config"
    assert replay(crossing / "drive.log", "--map", MAP, "--zones", ramp, "--out", by_flag) == 0
    assert main(["replay", str(crossing / "drive.log"), "--map", MAP, "--config", str(config),
                 "--runtime", RUNTIME, "--out", str(by_config)]) == 0
    assert (by_config / "map.png").read_bytes().startswith(b"\x89PNG")
    assert _events(by_config) == _events(by_flag)
    assert any(e["name"] == "lockout_engaged" and e["position"] for e in _events(by_config))
    checks = [json.loads((out / "summary.json").read_text())["checks"] for out in (by_flag, by_config)]
    assert checks[1] == checks[0]
    assert any(c["name"] == "lockout_distance" and c["verdict"] == "pass" for c in checks[1])
