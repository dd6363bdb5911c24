"""keigov replay on bad input: each mistake names its file (and line) and exits 2, before
any drive where it can; a damaged log is replayed up to the damage and exits 2. And a
fleet: several drives in parallel, one table, fleet.json and fleet.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from fwenv import micropython_binary

from keigov import paths
from keigov.cli import main
from keigov_hil.drivelog import DriveProfile, drive_fixes, drive_frames, write_gpx, write_log

RUNTIME = "micropython" if micropython_binary() else "cpython"
MAP = paths.KEIGOV_MAP
SHORT = DriveProfile([(0, 30), (3, 50)], other_ids=(0x123,))


def replay(*args: object) -> int:
    return main(["replay", *map(str, args), "--runtime", RUNTIME, "--no-plot"])


@pytest.fixture(scope="module")
def drive(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("drive") / "drive.log"
    write_log(path, drive_frames(SHORT))
    return path


def _error(capsys) -> str:
    return capsys.readouterr().err


def test_missing_log_and_unknown_format(tmp_path, capsys):
    assert replay(tmp_path / "nope.log", "--map", MAP, "--out", tmp_path / "o") == 2
    assert f"{tmp_path / 'nope.log'}: no such file" in _error(capsys)
    (tmp_path / "drive.vsb").write_text("x")
    assert replay(tmp_path / "drive.vsb", "--map", MAP, "--out", tmp_path / "o") == 2
    assert f"{tmp_path / 'drive.vsb'}: unknown log format '.vsb'" in _error(capsys)


def test_a_dbc_that_does_not_fit_the_map_names_the_maps_line(drive, tmp_path, capsys):
    ev = paths.DBC_DIR / "vehicles" / "ev_mcu.dbc"
    assert replay(drive, "--dbc", ev, "--map", MAP, "--out", tmp_path / "o") == 2
    err = _error(capsys)
    assert f"{MAP}:" in err and "message 'WHEEL_SPEEDS' is not in ev_mcu.dbc" in err
    assert not (tmp_path / "o").exists()


def test_a_log_without_the_maps_frames_names_the_log(tmp_path, capsys):
    path = tmp_path / "other.log"
    write_log(path, (f for f in drive_frames(SHORT) if f[1] == 0x123))
    assert replay(path, "--map", MAP, "--out", tmp_path / "o") == 2
    err = _error(capsys)
    assert f"{path}: no frame the map needs (its inputs: WHEEL_SPEEDS, DRIVER_INPUTS, GNSS_FIX_LAT" in err


def test_a_track_from_another_day_names_the_track(drive, tmp_path, capsys):
    fixes = [(t - 86400 * 30, fix) for t, fix in drive_fixes(SHORT)]
    write_gpx(tmp_path / "old.gpx", fixes)
    assert replay(drive, "--map", MAP, "--gnss", tmp_path / "old.gpx", "--out", tmp_path / "o") == 2
    assert f"{tmp_path / 'old.gpx'}: the track ends before the log starts" in _error(capsys)
    later = [(t + 3600, fix) for t, fix in drive_fixes(SHORT)]
    write_gpx(tmp_path / "later.gpx", later)
    assert replay(drive, "--map", MAP, "--gnss", tmp_path / "later.gpx", "--out", tmp_path / "o") == 2
    assert f"{tmp_path / 'later.gpx'}: the track does not overlap the log in time" in _error(capsys)


def test_rules_and_arguments_are_checked_first(drive, tmp_path, capsys):
    rules = tmp_path / "rules.toml"
    rules.write_text('[[checks]]\nkind = "overshot"\n')
    assert replay(drive, "--map", MAP, "--rules", rules, "--out", tmp_path / "o") == 2
    assert f"{rules}: 'checks[0].kind' = 'overshot' is not a check kind" in _error(capsys)
    rules.write_text('[[checks]]\nkind = "torque_limited"\nwithin = 3\n')
    assert replay(drive, "--map", MAP, "--rules", rules, "--out", tmp_path / "o") == 2
    assert "unknown key 'checks[0].within'" in _error(capsys)
    assert replay(drive, "--map", MAP, "--assume-pedal", "50", "--out", tmp_path / "o") == 2
    assert "--assume-pedal is for maps without a pedal" in _error(capsys)
    rules.write_text('[[checks]]\nkind = "zone_applied"\nzone = "Ramp"\n')
    assert replay(drive, "--map", MAP, "--rules", rules, "--out", tmp_path / "o") == 2
    assert f"{rules}: 'checks[0].zone' = 'Ramp' is not a zone (no zones given: --zones, or zones in --config)" \
        in _error(capsys)


def test_a_damaged_log_is_replayed_to_the_damage_and_exits_2(drive, tmp_path, capsys):
    lines = drive.read_text().splitlines()
    cut = tmp_path / "cut.log"
    cut.write_text("\n".join(lines[:300]) + "\n(1700000001.9" + "\n")     # a line cut short
    assert replay(cut, "--map", MAP, "--out", tmp_path / "o") == 2
    assert f"{cut}: line 301: not a candump -L line" in _error(capsys)
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["files"][0]["damage"].startswith("line 301:")
    assert {c["name"]: c["verdict"] for c in summary["checks"]}["log_intact"] == "fail"
    assert (tmp_path / "o" / "timeline.csv").read_text().count("\n") > 100


def test_a_fleet_in_parallel_gives_one_row_per_drive(drive, tmp_path, capsys):
    second = tmp_path / "second.blf"
    write_log(second, drive_frames(DriveProfile([(0, 70), (3, 70)])))
    out = tmp_path / "fleet"
    assert replay(drive, second, "--map", MAP, "--jobs", "2", "--out", out, "--junit", out / "ci.xml") == 0
    table = capsys.readouterr().out
    assert "2 drive(s)" in table and "second" in table
    rows = json.loads((out / "fleet.json").read_text())
    assert [r["drive"] for r in rows] == ["drive", "second"]
    assert rows[1]["max_kph"] == 70.0 and rows[1]["limit_engaged"] == 1 and rows[0]["limit_engaged"] == 0
    with (out / "fleet.csv").open() as f:
        assert [r["verdict"] for r in csv.DictReader(f)] == ["PASS", "PASS"]
    assert (out / "drive" / "timeline.csv").exists() and (out / "second" / "events.json").exists()
    assert (out / "ci.xml").read_text().count("<testsuite ") == 2


def test_zones_in_the_configuration_are_named_by_its_file_and_key(drive, tmp_path, capsys):
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "speed_limit", "limit_kph": 20},
         "geometry": {"type": "Polygon", "coordinates": [[[139.7, 35.6], [139.71, 35.6], [139.7, 35.6]]]}}]}))
    config = tmp_path / "fleet.toml"
    config.write_text('version = 1\ncap_mph = 30\nzones = "bad.geojson"\n')
    assert replay(drive, "--map", MAP, "--config", config, "--out", tmp_path / "o") == 2
    assert f"{bad}: {config}:3: zones: 1 problem(s): " in _error(capsys)
    config.write_text('version = 1\nzones = "gone.geojson"\n')
    assert replay(drive, "--map", MAP, "--config", config, "--out", tmp_path / "o") == 2
    assert f"{config}:2: zones: no such file: {tmp_path / 'gone.geojson'}" in _error(capsys)
    config.write_text('version = 1\nzones = "bad.geojson"\n')
    assert replay(drive, "--map", MAP, "--config", config, "--zones", bad, "--out", tmp_path / "o") == 2
    assert f"{config}:2: zones: give the zones once: --zones, or zones in the configuration" in _error(capsys)
