"""`keigov zones check/compile`: every kind of bad input is reported, all of them at once,
naming the feature and the reason; good input compiles to a table the firmware loads."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import firmware_harness  # noqa: F401  (firmware on sys.path)

from core import geofence
from keigov.cli import main
from keigov.paths import ROOT
from keigov.zones import check_collection
from zones_support import collection, feature, ring, to_lonlat

DEMO = ROOT / "hil" / "zones" / "demo.geojson"
SQUARE = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)]


def square(**props):
    props.setdefault("kind", "speed_limit")
    if props["kind"] == "speed_limit":
        props.setdefault("limit_mph", 15)
    return feature("Polygon", [ring(SQUARE)], **props)


def line(**props):
    return feature("LineString", [to_lonlat((0.0, 0.0)), to_lonlat((500.0, 0.0))], kind="freeway_lockout", **props)


def circle(**props):
    return feature("Point", to_lonlat((0.0, 0.0)), kind="speed_limit", limit_kph=20, **props)


def poly(*rings, **props):
    return feature("Polygon", [ring(r) for r in rings], kind="speed_limit", limit_mph=10, **props)


def unclosed():
    f = square()
    f["geometry"]["coordinates"][0].pop()
    return f


BAD_FEATURES = [
    ({"type": "Feature"}, "no kind property"),
    (square(kind="school_zone"), "unknown kind 'school_zone'"),
    (square(name=""), "name must be non-empty text"),
    (feature("Polygon", [ring(SQUARE)], kind="speed_limit"), "needs limit_mph or limit_kph"),
    (square(limit_kph=30), "not both"),
    (square(limit_mph="fast"), "limit_mph must be a number"),
    (square(limit_mph=0), "outside 1..130 km/h"),
    (square(kind="freeway_lockout", limit_mph=10), "does not apply to a freeway_lockout"),
    ({"type": "Feature", "properties": {"kind": "freeway_lockout"}, "geometry": None}, "no geometry"),
    (feature("MultiPoint", [[0, 0]], kind="freeway_lockout"), "'MultiPoint' is not a zone"),
    (feature("Polygon", [[[139.7, 35.6], [139.8], [139.8, 35.7], [139.7, 35.6]]], kind="freeway_lockout"),
     "a position is [longitude, latitude]"),
    (feature("Point", [139.7, 95.0], kind="freeway_lockout", radius_m=5), "out of range"),
    (feature("Point", [35.6, 239.7], kind="freeway_lockout", radius_m=5), "GeoJSON puts longitude first"),
    (feature("Polygon", [ring(SQUARE)[:3]], kind="freeway_lockout"), "a ring needs at least 4"),
    (unclosed(), "ring 0 (outer) is not closed"),
    (poly([(0.0, 0.0), (100.0, 100.0), (100.0, 0.0), (0.0, 100.0)]), "ring 0 (outer) crosses or touches itself"),
    (poly([(0.0, 0.0), (100.0, 0.0), (50.0, 0.0), (50.0, 80.0)]), "folds back on itself"),
    (feature("Polygon", [[[139.7, 35.6], [139.70000001, 35.6], [139.7, 35.60000002], [139.7, 35.6]]],
             kind="freeway_lockout"), "collapses to 1 point(s) at 0.1 m resolution"),
    (poly(SQUARE, [(50.0, 50.0), (150.0, 50.0), (150.0, 60.0)]), "ring 0 (outer) and ring 1 (hole) cross or touch"),
    (poly(SQUARE, [(200.0, 0.0), (300.0, 0.0), (250.0, 50.0)]), "ring 1 (hole) lies outside its outer ring"),
    (poly(SQUARE, [(10.0, 10.0), (90.0, 10.0), (50.0, 90.0)], [(40.0, 30.0), (60.0, 30.0), (50.0, 50.0)]),
     "ring 2 (hole) lies inside ring 1 (hole)"),
    (feature("MultiPolygon", [[ring(SQUARE)], [ring([(20.0, 20.0), (80.0, 20.0), (50.0, 80.0)])]],
             kind="speed_limit", limit_mph=10), "polygons 0 and 1 overlap"),
    (line(), "needs width_m"),
    (line(width_m=0), "width_m 0 must be above 0"),
    (line(width_m=-5), "width_m -5 must be above 0"),
    (line(width_m=2000), "at most 800"),
    (feature("LineString", [to_lonlat((0.0, 0.0))], kind="freeway_lockout", width_m=10), "needs at least 2"),
    (feature("LineString", [[139.7, 35.6], [139.70000001, 35.6]], kind="freeway_lockout", width_m=10),
     "collapses to one point"),
    (line(width_m=10, heading_deg=400), "heading_deg 400 must be within 0..360"),
    (line(width_m=10, heading_tolerance_deg=0), "heading_tolerance_deg 0 must be above 0"),
    (line(width_m=10, heading_deg=90, bidirectional="yes"), "bidirectional must be true or false"),
    (line(width_m=10, bidirectional=True), "bidirectional needs heading_deg"),
    (circle(), "needs radius_m"),
    (circle(radius_m=0), "radius_m 0 must be above 0"),
    (circle(radius_m=-1), "radius_m -1 must be above 0"),
    (circle(radius_m=5000), "draw a polygon for a larger area"),
    (square(width_m=10), "width_m does not apply to a polygon"),
    (line(width_m=10, radius_m=3), "radius_m does not apply to a corridor"),
]


@pytest.mark.parametrize("bad,reason", BAD_FEATURES, ids=[r for _, r in BAD_FEATURES])
def test_each_bad_feature_is_named_with_its_reason(bad, reason):
    zones = check_collection(collection(square(name="fine"), bad))
    messages = [str(i) for i in zones.issues]
    assert any(m.startswith("features[1]") and reason in m for m in messages), messages
    assert not any(m.startswith("features[0]") for m in messages), messages


@pytest.mark.parametrize("doc,reason", [
    ([], "FeatureCollection"),
    ({"type": "FeatureCollection", "features": {}}, '"features" must be a list'),
    (collection(), "no features"),
    (collection(*[square()] * 256), "at most 255"),
    (collection(square(), feature("Point", to_lonlat((300_000.0, 0.0)), kind="freeway_lockout", radius_m=5)),
     "one table covers 0.75 deg"),
    (collection(feature("Point", [10.0, 85.0], kind="freeway_lockout", radius_m=5)), "|latitude| <= 80"),
])
def test_file_level_problems(doc, reason):
    assert any(reason in str(i) for i in check_collection(doc).issues)


def test_every_problem_is_reported_and_nothing_is_written(tmp_path: Path, capsys):
    src = tmp_path / "zones.geojson"
    src.write_text(json.dumps(collection(*(bad for bad, _ in BAD_FEATURES))))
    out = tmp_path / "zones.bin"
    out.write_bytes(b"previous table")
    assert main(["zones", "compile", str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    for index, (_, reason) in enumerate(BAD_FEATURES):
        assert any(f"features[{index}]" in e and reason in e for e in err), (index, reason)
    assert err[-1].startswith("keigov: error:") and "problem(s)" in err[-1]
    assert out.read_bytes() == b"previous table"
    assert main(["zones", "check", str(src)]) == 2


def test_not_json_names_the_line(tmp_path: Path, capsys):
    src = tmp_path / "zones.geojson"
    src.write_text('{"type": "FeatureCollection",\n "features": [,]}')
    assert main(["zones", "check", str(src)]) == 2
    assert f"{src}:2: not JSON" in capsys.readouterr().err


def test_missing_file(tmp_path: Path, capsys):
    assert main(["zones", "check", str(tmp_path / "nope.geojson")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_demo_checks_and_compiles_to_a_table_the_firmware_loads(tmp_path: Path, capsys):
    assert main(["zones", "check", str(DEMO)]) == 0
    assert "ok, 5 zones" in capsys.readouterr().out
    out = tmp_path / "zones.bin"
    assert main(["zones", "compile", str(DEMO), "-o", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["zones"] == 5 and summary["bytes"] == out.stat().st_size
    assert [z["name"] for z in summary["zone_table"]] == [
        "Route 9 eastbound", "Route 9 on-ramp", "Frontage road", "Campus", "Depot"]
    fence = geofence.Fence()
    assert fence.read(io.BytesIO(out.read_bytes())) == geofence.OK and fence.n == 5


@pytest.mark.parametrize("damage,error", [
    (lambda b: b[:-3], geofence.ERR_FORMAT),
    (lambda b: b + b"\0\0\0\0", geofence.ERR_FORMAT),
    (lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], geofence.ERR_CHECKSUM),
    (lambda b: b"XXXX" + b[4:], geofence.ERR_FORMAT),
    (lambda b: b[:4] + (99).to_bytes(4, "little") + b[8:], geofence.ERR_VERSION),
])
def test_a_damaged_table_is_refused_whole(tmp_path: Path, damage, error):
    out = tmp_path / "zones.bin"
    assert main(["zones", "compile", str(DEMO), "-o", str(out)]) == 0
    fence = geofence.Fence()
    assert fence.read(io.BytesIO(damage(out.read_bytes()))) == error
    assert fence.n == 0 and fence.error == error
    fence.lookup(0, 0, -1)
    assert (fence.limit, fence.lockout, fence.zone) == (0, 0, 0)


def test_no_zones_file_means_no_zones():
    class Empty:
        def read(self, name):
            return None

    fence = geofence.load(Empty())
    assert fence.error == geofence.ERR_MISSING and fence.n == 0
