"""Zones in the HIL rig: scenario keys and their errors, the zone checks measured on made-up
timelines (so each is seen to fail as well as pass), the map, and the bundled geofence
scenarios end to end with their events and map."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from keigov import paths
from keigov.checks.kinds import run_checks
from keigov.errors import InputError
from keigov.gnss import offset_deg
from keigov.report.plot import STATE_COLOURS
from keigov.report.trackmap import plot_track_map
from keigov.simboard.runtimes import get_runtime
from keigov.timeline import Timeline
from keigov_hil.rig import RigOptions, RunData
from keigov_hil.scenario import SCENARIOS, load_scenario
from keigov_hil.session import run_scenario

DEMO = paths.ROOT / "hil" / "zones" / "demo.geojson"
START = (35.6812, 139.7671)
GEOFENCE = ("freeway_onramp", "frontage_road", "campus_15mph", "gnss_overpass", "gnss_spoof")


def scenario_file(tmp_path: Path, extra: str = "", zones: str | None = "zones.geojson", route: str = "") -> Path:
    if zones == "zones.geojson":
        (tmp_path / zones).write_text(DEMO.read_text())
    head = f'zones = "{zones}"\n' if zones else ""
    path = tmp_path / "sc.toml"
    route = route or "waypoints_m = [[0.0, 0.0], [0.0, 100.0]]"
    path.write_text(f"[scenario]\nduration_s = 10.0\n{head}\n[route]\n{route}\n"
                    f"\n[[driver]]\nt_s = 0.0\ntarget_kph = 30.0\n{extra}")
    return path


# -- scenario keys -------------------------------------------------------------------------

def test_a_scenario_names_its_zones_and_routes_in_metres(tmp_path: Path):
    sc = load_scenario(scenario_file(tmp_path, route="waypoints_m = [[0.0, 0.0], [300.0, 400.0]]\n[gnss]\n"
                                                   "jumps = [[5.0, 6.0, -2000.0, 10.0]]"))
    assert sc.zones is not None and sc.zones.path == tmp_path / "zones.geojson"
    assert sc.zones.table.blob[:4] == b"KGZ1" and "Campus" in sc.zones.names()
    assert sc.jumps == [(5.0, 6.0, -2000.0, 10.0)]
    (lat0, lon0), (lat1, lon1) = sc.waypoints
    assert (lat0, lon0) == pytest.approx(START)
    # 400 m north and 300 m east of the start, by an independent spherical formula
    r = 6371008.8
    assert (lat1 - START[0]) * math.pi / 180 * r == pytest.approx(400.0, abs=0.01)
    assert (lon1 - START[1]) * math.pi / 180 * r * math.cos(math.radians(START[0])) == pytest.approx(300.0, abs=0.01)


@pytest.mark.parametrize("setup, expected", [
    ({"zones": "missing.geojson"}, "'scenario.zones': no such file"),
    ({"zones_text": "{not json"}, "'scenario.zones' = 'zones.geojson': "),
    ({"zones_text": '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
                    '{"kind": "slow"}, "geometry": {"type": "Point", "coordinates": [139.7, 35.6]}}]}'},
     "features[0]"),
    ({"route": "waypoints = [[35.68, 139.76], [35.69, 139.76]]\nwaypoints_m = [[0.0, 0.0], [1.0, 1.0]]"},
     "not both"),
    ({"route": "waypoints_m = [[0.0, 0.0, 1.0]]"}, "'route.waypoints_m' must be a list"),
    ({"route": "waypoints_m = [[0.0, 0.0]]"}, "'route.waypoints_m' needs at least two points"),
    ({"route": "waypoints_m = [[0.0, 0.0], [0.0, 9.0]]\n[gnss]\njumps = [[1.0, 2.0, 3.0]]"}, "'gnss.jumps' must be"),
    ({"extra": '[[checks]]\nkind = "zone_applied"\nzone = "Moon base"'},
     "'checks[0].zone' = 'Moon base' is not a zone"),
    ({"zones": None, "extra": '[[checks]]\nkind = "zone_released"\nzone = "Campus"'}, "has no 'scenario.zones'"),
    ({"extra": '[[checks]]\nkind = "zone_applied"'}, "missing key 'checks[0].zone'"),
])
def test_bad_zone_settings_name_the_file_and_the_key(tmp_path: Path, setup: dict, expected: str):
    zones = setup.get("zones", "zones.geojson")
    path = scenario_file(tmp_path, setup.get("extra", ""), zones, setup.get("route", ""))
    if "zones_text" in setup:
        (tmp_path / "zones.geojson").write_text(setup["zones_text"])
    with pytest.raises(InputError) as err:
        load_scenario(path)
    message = str(err.value)
    assert expected in message
    assert str(path) in message or str(tmp_path / "zones.geojson") in message


def test_the_cli_refuses_a_bad_zones_file_with_exit_2(tmp_path: Path):
    path = scenario_file(tmp_path)
    (tmp_path / "zones.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    proc = subprocess.run([sys.executable, "-m", "keigov", "sim", str(path), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert str(tmp_path / "zones.geojson") in proc.stderr and "no features" in proc.stderr


# -- the checks on made-up runs ------------------------------------------------------------

CAMPUS_SOUTH, CAMPUS_NORTH = 250.0, 450.0      # metres north of START at 250 m west (drawn with offset_deg)


def made_up_run(tmp_path: Path, checks: str, state_of, limit_of=None, *, kph: float = 30.0, seconds: float = 60.0,
                outages: str = "", fix_kind=lambda t: 3, flags_of=lambda t: 0) -> list:
    """A straight run north at x = -250 m from y = 150 m; `state_of(t, y)` gives (state, zone) on the
    bus, `limit_of(t, y)` the commanded limit, `flags_of(t)` the status flags. Returns the check results."""
    path = scenario_file(tmp_path, checks, route=f"waypoints_m = [[-250.0, 150.0], [-250.0, 900.0]]{outages}")
    sc = load_scenario(path)
    tl = Timeline()
    fixes = []
    v = kph / 3.6
    for k in range(int(seconds * 100) + 1):
        t = k / 100
        y = 150.0 + v * t
        lat, lon = offset_deg(*START, y, -250.0)
        state, zone = state_of(t, y)
        limit = limit_of(t, y) if limit_of else 64.4
        tl.add(t, kph, limit, 30.0, 30.0, state, zone, 0.0, 0.0, 30.0, 3, flags_of(t), v * t, lat, lon, 0.0)
        if k % 10 == 0:
            fixes.append((t, lat, lon, fix_kind(t)))
    data = RunData(sc, tl, [], [], 1.0, 0, 0, fixes)
    return run_checks(data, sc)


def campus(enter_at: float, leave_at: float):
    return lambda t, y: ("LIMITING", 4) if enter_at <= y < leave_at else ("NORMAL", 0)


RELEASE_OK = CAMPUS_NORTH + 15 + 2.5 * 30 / 3.6 + 0.5


@pytest.mark.parametrize("enter_at, leave_at, verdicts", [
    (CAMPUS_SOUTH + 1.0, RELEASE_OK, ("pass", "pass")),
    (CAMPUS_SOUTH + 9.0, RELEASE_OK, ("fail", "pass")),           # applied 9 m in
    (CAMPUS_SOUTH - 8.0, RELEASE_OK, ("fail", "pass")),           # 8 m early
    (CAMPUS_SOUTH, CAMPUS_NORTH + 14.0, ("pass", "fail")),        # released inside the hysteresis
    (CAMPUS_SOUTH, CAMPUS_NORTH + 22.0, ("pass", "fail")),        # past it, but before the dwell
    (CAMPUS_SOUTH, RELEASE_OK + 30.0, ("pass", "fail")),          # late
    (CAMPUS_SOUTH, CAMPUS_NORTH - 50.0, ("pass", "fail")),        # released while inside
])
def test_zone_applied_and_released_against_the_boundary(tmp_path, enter_at, leave_at, verdicts):
    checks = '[[checks]]\nkind = "zone_applied"\nzone = "Campus"\n[[checks]]\nkind = "zone_released"\nzone = "Campus"\n'
    applied, released = made_up_run(tmp_path, checks, campus(enter_at, leave_at))
    assert (applied.verdict, released.verdict) == verdicts, (applied, released)
    assert applied.value == pytest.approx(abs(enter_at - CAMPUS_SOUTH), abs=0.2)


def test_limit_ramp_tells_a_bounded_ramp_from_a_cut(tmp_path):
    checks = '[[checks]]\nkind = "limit_ramp"\n'
    entry = 300.0

    def ramp(kph: float, per_s: float):
        t_in = (entry - 150.0) / (kph / 3.6)
        return lambda t, y: 64.4 if y < entry else max(24.1, kph - per_s * (t - t_in))

    (ok,) = made_up_run(tmp_path, checks, campus(entry, 900.0), ramp(30.0, 5.0))
    (cut,) = made_up_run(tmp_path, checks, campus(entry, 900.0), ramp(40.0, 12.0), kph=40.0)
    assert ok.verdict == "pass" and ok.value == pytest.approx(5.0, abs=0.11)
    # Above the configured ramp (fault_decel_ckph_s, 6.5 km/h/s): 12 km/h in a 1 s window.
    assert cut.verdict == "fail" and cut.value == pytest.approx(12.0, abs=0.2)


def test_hold_and_fallback_timing_against_the_configured_hold(tmp_path):
    """The last fix before the outage at 9.9 s: the hold (10 s) ends at 19.9 s."""
    checks = '[[checks]]\nkind = "zone_hold"\n[[checks]]\nkind = "zone_fallback"\n'
    outage = "\n[gnss]\noutages = [[10.0, 30.0]]"
    hold, fall = 1 << 9, 1 << 10
    for fallback_at, verdict in ((19.95, "pass"), (19.0, "fail"), (21.0, "fail")):
        h, f = made_up_run(tmp_path, checks, lambda t, y: ("NORMAL", 0), outages=outage, seconds=40.0,
                           fix_kind=lambda t: 0 if 10.0 <= t < 30.0 else 3,
                           flags_of=lambda t, at=fallback_at: ((hold if 11.5 <= t < at else 0)
                                                               | (fall if t >= at else 0)))
        assert h.verdict == "pass" and h.value == pytest.approx(1.5)
        assert f.verdict == verdict, (fallback_at, f)
    h, _f = made_up_run(tmp_path, checks, lambda t, y: ("NORMAL", 0), outages=outage, seconds=40.0,
                        flags_of=lambda t: fall if t >= 11.0 else 0)
    assert h.verdict == "fail"                                     # fell back without holding


# -- the map -------------------------------------------------------------------------------

def test_the_map_draws_the_track_by_state_from_degrees_or_metres(tmp_path: Path):
    from matplotlib.image import imread

    n = 400
    pts = [offset_deg(*START, 150.0 + k, -250.0) for k in range(n)]
    states = ["NORMAL"] * 100 + ["LOCKOUT"] * 300
    plot_track_map(tmp_path / "deg.png", DEMO, states, lon=[p[1] for p in pts], lat=[p[0] for p in pts],
                   fixes=[(p[1], p[0] - 0.02) for p in pts[:5]], marks=[(120, "lockout_engaged")], title="t")
    image = imread(tmp_path / "deg.png")[:, :, :3]
    purple = tuple(int(STATE_COLOURS["LOCKOUT"][i:i + 2], 16) / 255 for i in (1, 3, 5))
    near = ((abs(image - purple) < 0.03).all(axis=2)).sum()
    assert near > 200, "the LOCKOUT part of the track is drawn in its colour"

    from keigov.zones.shapes import zone_map

    zmap = zone_map(DEMO)
    xy = [zmap.to_local(p[1], p[0]) for p in pts]
    plot_track_map(tmp_path / "m.png", zmap, states, x_m=[p[0] for p in xy], y_m=[p[1] for p in xy])
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="lon and lat, or as x_m and y_m"):
        plot_track_map(tmp_path / "x.png", zmap, states, lon=[0.0] * n)
    with pytest.raises(ValueError, match="states for"):
        plot_track_map(tmp_path / "x.png", zmap, states[:3], x_m=[0.0] * n, y_m=[0.0] * n)


# -- the bundled scenarios ---------------------------------------------------------------------

def test_every_geofence_scenario_is_bundled_with_zones_and_measured():
    for name in GEOFENCE:
        sc = load_scenario(SCENARIOS / f"{name}.toml")
        assert sc.zones is not None and sc.zones.path.name == "demo.geojson"
        assert len(sc.checks) >= 3


@pytest.mark.micropython
def test_the_on_ramp_runs_the_same_on_both_runtimes_with_its_map_and_positioned_events(tmp_path: Path):
    """The bundled on-ramp scenario cut short after the lockout (the bundled run is in test_hil_rig)."""
    text = (SCENARIOS / "freeway_onramp.toml").read_text().replace("duration_s = 90.0", "duration_s = 32.0")
    sc = tmp_path / "short.toml"
    sc.write_text(text.replace('zones = "../zones/demo.geojson"', f'zones = "{DEMO}"'))
    mpy, cpy = tmp_path / "micropython", tmp_path / "cpython"
    result = run_scenario(sc, mpy, RigOptions(get_runtime("micropython")))
    assert {c.name: c.verdict for c in result.checks}["zone_applied_2"] == "pass"
    run_scenario(sc, cpy, RigOptions(get_runtime("cpython")), plot=False)
    assert (mpy / "timeline.csv").read_bytes() == (cpy / "timeline.csv").read_bytes()
    assert (mpy / "events.json").read_bytes() == (cpy / "events.json").read_bytes()
    assert b"LOCKOUT" in (mpy / "timeline.csv").read_bytes()
    assert (mpy / "map.png").read_bytes()[:4] == b"\x89PNG"
    events = json.loads((mpy / "events.json").read_text())
    engaged = next(e for e in events if e["name"] == "lockout_engaged")
    assert engaged["value"] == 2                                   # the on-ramp's zone id
    lat, lon = engaged["position"]["lat"], engaged["position"]["lon"]
    north = (lat - START[0]) * math.pi / 180 * 6371008.8
    east = (lon - START[1]) * math.pi / 180 * 6371008.8 * math.cos(math.radians(START[0]))
    assert 215 <= east <= 228 and 10 <= north <= 20               # at the ramp's edge (220 m east), give or take a fix
    assert "position" not in events[0]                             # boot: no fix yet
    header = (mpy / "timeline.csv").read_text().splitlines()[0].split(",")
    assert header[12:16] == ["distance_m", "lat", "lon", "heading_deg"] and header[-1] == "regen_pct"
