"""Corridors, circles, headings, clearance and "lowest limit wins" on the device, against
shapely distances on the rounded geometry the table holds.

The device measures beside a segment as |cross| / length with the length rounded up to
a 13-bit mantissa and the result floored to 0.25 dm, so it never overstates a distance
and understates it by at most 0.25 dm + 0.03 %: a corridor reads up to that much wide
(the stricter way), a clearance up to that much short (relaxing a little later).
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, Point, Polygon

from zones_support import Compiled, collection, compile_doc, feature, polygon_feature, polygon_with_holes, to_lonlat

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLACK_DM = 0.25
REL = 3e-4


def _widest_miss(d: float) -> float:
    """A point this far from the centreline (dm) may still read inside: see module doc."""
    return SLACK_DM + REL * d + 1e-9


def _assert_clearance(c: Compiled, true_dm: float) -> None:
    near = c.table.near_dm
    clear = c.fence.clear_dm
    assert clear <= min(true_dm, near) + 1e-9, (clear, true_dm)          # never overstated
    assert clear >= min(true_dm, near) - 1 - _widest_miss(true_dm), (clear, true_dm)


@st.composite
def polylines(draw, max_vertices: int = 5) -> list[tuple[float, float]]:
    n = draw(st.integers(2, max_vertices))
    pts = [(0.0, 0.0)]
    angle = draw(st.floats(0, 2 * math.pi))
    for _ in range(n - 1):
        angle += draw(st.floats(-2.0, 2.0))
        length = draw(st.floats(20, 1500))
        x, y = pts[-1]
        pts.append((x + length * math.cos(angle), y + length * math.sin(angle)))
    return pts


@SETTINGS
@given(line=polylines(), width=st.floats(4, 120), data=st.data())
def test_corridor_membership_and_clearance(line, width, data):
    c = compile_doc(collection(feature("LineString", [to_lonlat(p) for p in line],
                                       kind="speed_limit", limit_mph=20, width_m=width)))
    geom = c.zones.geoms[0]
    centre = LineString(geom.lines[0]) if len(geom.lines) == 1 else MultiLineString(geom.lines)
    r = geom.half_width_dm
    probes = []
    pts = geom.lines[0]
    for _ in range(60):
        k = data.draw(st.integers(0, len(pts) - 1))
        (ax, ay), (bx, by) = pts[k], pts[min(k + 1, len(pts) - 1)]
        t = data.draw(st.floats(0, 1))
        ang = data.draw(st.floats(0, 2 * math.pi))
        dist = r + data.draw(st.floats(-3, 3)) if data.draw(st.booleans()) else data.draw(st.floats(0, r + 400))
        probes.append((round(ax + t * (bx - ax) + dist * math.cos(ang)),
                       round(ay + t * (by - ay) + dist * math.sin(ang))))
    for p in probes:
        d = centre.distance(Point(p))
        inside = c.look(*p).limit != 0
        if d <= r:
            assert inside, (p, d, r)
        elif d > r + _widest_miss(d):
            assert not inside, (p, d, r)
        if not inside:
            _assert_clearance(c, d - r)
        else:
            assert c.fence.clear_dm == c.table.near_dm   # nothing stricter around


@SETTINGS
@given(rings=polygon_with_holes(), data=st.data())
def test_polygon_clearance(rings, data):
    c = compile_doc(collection(polygon_feature(rings, kind="speed_limit", limit_mph=15)))
    g = c.zones.geoms[0]
    shape = Polygon(g.rings[0].points, [r.points for r in g.rings[1:]])
    xs = [p[0] for p in g.rings[0].points]
    ys = [p[1] for p in g.rings[0].points]
    pts = data.draw(st.lists(st.tuples(st.integers(min(xs) - 400, max(xs) + 400),
                                        st.integers(min(ys) - 400, max(ys) + 400)), min_size=80, max_size=80))
    for p in pts:
        if c.look(*p).limit == 0:
            _assert_clearance(c, shape.distance(Point(p)))


@SETTINGS
@given(radius=st.floats(1, 1000), data=st.data())
def test_circle_membership_and_clearance(radius, data):
    c = compile_doc(collection(feature("Point", to_lonlat((120.0, -40.0)), kind="speed_limit",
                                       limit_mph=25, radius_m=radius)))
    g = c.zones.geoms[0]
    (cx, cy), r = g.center, g.radius_dm
    for _ in range(60):
        ang = data.draw(st.floats(0, 2 * math.pi))
        dist = data.draw(st.floats(0, r + 400))
        p = (cx + round(dist * math.cos(ang)), cy + round(dist * math.sin(ang)))
        d2 = (p[0] - cx) ** 2 + (p[1] - cy) ** 2
        inside = c.look(*p).limit != 0
        assert inside == (d2 <= r * r), (p, r)
        if not inside:
            _assert_clearance(c, math.sqrt(d2) - r)


def _angle_off(a: float, b: float) -> float:
    d = abs(a - b) % 360
    return min(d, 360 - d)


@SETTINGS
@given(heading=st.floats(0, 359.99), tolerance=st.floats(5, 90), vehicle=st.integers(0, 35999),
       both=st.booleans())
def test_fixed_heading_corridor(heading, tolerance, vehicle, both):
    rad = math.radians(heading)
    line = [(-300 * math.sin(rad), -300 * math.cos(rad)), (300 * math.sin(rad), 300 * math.cos(rad))]
    c = compile_doc(collection(feature("LineString", [to_lonlat(p) for p in line], kind="freeway_lockout",
                                       width_m=20, heading_deg=heading, heading_tolerance_deg=tolerance,
                                       bidirectional=both)))
    mid = c.zones.geoms[0].lines[0][0]
    end = c.zones.geoms[0].lines[0][-1]
    p = ((mid[0] + end[0]) // 2, (mid[1] + end[1]) // 2)
    off = _angle_off(vehicle / 100, heading)
    if both:
        off = min(off, 180 - off)
    assume(abs(off - tolerance) > 0.05)          # the Q14 sine table is good to 0.01 deg
    assert c.look(*p, vehicle).lockout == (off < tolerance)
    assert c.look(*p, -1).lockout == 1           # heading unknown: the stricter reading


def test_heading_along_the_drawn_segments():
    """An L-shaped one-way corridor: east, then north; the vehicle must follow it."""
    line = [(-400.0, 0.0), (0.0, 0.0), (0.0, 400.0)]
    c = compile_doc(collection(feature("LineString", [to_lonlat(p) for p in line], kind="freeway_lockout",
                                       width_m=16, heading_tolerance_deg=30)))
    a, b, top = c.zones.geoms[0].lines[0]
    east_leg = ((a[0] + b[0]) // 2, (a[1] + b[1]) // 2)
    north_leg = ((b[0] + top[0]) // 2, (b[1] + top[1]) // 2)
    assert c.look(*east_leg, 9000).lockout == 1
    assert c.look(*east_leg, 12100).lockout == 0
    assert c.look(*east_leg, 27000).lockout == 0   # wrong way
    assert c.look(*north_leg, 0).lockout == 1
    assert c.look(*north_leg, 35000).lockout == 1
    assert c.look(*north_leg, 9000).lockout == 0
    assert c.look(*b, 7000).lockout == 1           # at the bend either leg's direction does
    assert c.look(*b, 2000).lockout == 1
    assert c.look(*b, 4500).lockout == 0           # ... but not halfway between them


def test_frontage_road_beside_the_freeway_is_not_the_freeway():
    """The demo's layout: a 20 m eastbound freeway and a frontage road 30 m north of it."""
    freeway = feature("LineString", [to_lonlat((-1500.0, 0.0)), to_lonlat((1500.0, 0.0))], name="freeway",
                      kind="freeway_lockout", width_m=20, heading_deg=90, heading_tolerance_deg=30)
    frontage = feature("LineString", [to_lonlat((-1500.0, 30.0)), to_lonlat((1500.0, 30.0))], name="frontage",
                       kind="speed_limit", limit_mph=35, width_m=12)
    c = compile_doc(collection(freeway, frontage))
    on_frontage = c.look(*c.device_xy(*to_lonlat((0.0, 30.0))), 9000)
    assert (on_frontage.lockout, on_frontage.limit, on_frontage.zone) == (0, 5633, 2)
    assert 195 <= on_frontage.clear_dm <= 205      # 20 m to the freeway's edge, give or take rounding
    on_freeway = c.look(*c.device_xy(*to_lonlat((0.0, 2.0))), 9000)
    assert (on_freeway.lockout, on_freeway.zone) == (1, 1)
    crossing = c.look(*c.device_xy(*to_lonlat((0.0, 2.0))), 0)     # an overpass crossing it
    assert crossing.lockout == 0 and crossing.clear_dm == 0


@SETTINGS
@given(zones=st.lists(st.tuples(st.floats(-150, 150), st.floats(-150, 150), st.floats(20, 150),
                                st.integers(5, 60), st.booleans()), min_size=1, max_size=5),
       data=st.data())
def test_lowest_limit_wins_and_lockout_beats_every_limit(zones, data):
    feats = [feature("Point", to_lonlat((x, y)), kind="freeway_lockout", radius_m=r) if lock else
             feature("Point", to_lonlat((x, y)), kind="speed_limit", limit_kph=kph, radius_m=r)
             for x, y, r, kph, lock in zones]
    c = compile_doc(collection(*feats))
    geoms = c.zones.geoms
    for p in data.draw(st.lists(st.tuples(st.integers(-3000, 3000), st.integers(-3000, 3000)),
                                min_size=40, max_size=40)):
        inside = [g for g in geoms if (p[0] - g.center[0]) ** 2 + (p[1] - g.center[1]) ** 2 <= g.radius_dm ** 2]
        got = c.look(*p)
        limits = [g.spec.limit_ckph for g in inside if not g.spec.lockout]
        assert got.limit == min(limits, default=0)
        locks = [g.spec.zone_id for g in inside if g.spec.lockout]
        assert got.lockout == (1 if locks else 0)
        if locks:
            assert got.zone == locks[0]
        elif limits:
            assert got.zone == min((g for g in inside), key=lambda g: (g.spec.limit_ckph, g.spec.zone_id)).spec.zone_id
        else:
            assert got.zone == 0
