"""Polygon containment on the device (core/geofence.py under CPython) against shapely.

Three oracles, from strict to loose:
- the device's parity rule done by brute force over every edge (no grid): must agree at
  every point, on edges, vertices and cell corners too, since the grid walk is exact;
- shapely on the quantised rings the table holds: must agree at every point off the
  boundary (on it, shapely and the half-open rule have different conventions);
- shapely on the rings as drawn (lon/lat projected without rounding): must agree at
  points farther than QUANT_BAND_M from the boundary. Nearer, the answer legitimately
  depends on rounding: the device floors vertices and fixes to its decimetre grid
  (up to 0.1 m per axis, 0.14 m across), so a point 0.1 m inside a drawn edge can sit
  on the other side of the rounded one.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon

from keigov.zones.geometry import ray_parity
from zones_support import (
    Compiled,
    collection,
    compile_doc,
    compile_lattice_polygon,
    polygon_feature,
    polygon_with_holes,
    to_lonlat,
)

QUANT_BAND_M = 0.15
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _probes(c: Compiled, data: st.DataObject, count: int = 150) -> set[tuple[int, int]]:
    """Vertices and their neighbours, edge midpoints, cell corners, random points."""
    edges = [e for g in c.zones.geoms for e in g.edges()]
    probes: set[tuple[int, int]] = set()
    for a, b in edges:
        probes.add(a)
        probes.add(((a[0] + b[0]) // 2, (a[1] + b[1]) // 2))
        probes |= {(a[0] + dx, a[1] + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    zt = c.fence.zt
    for z in range(c.fence.n):
        b = z * 18
        gx, gy, cs, nx, ny = zt[b + 6], zt[b + 7], zt[b + 8], zt[b + 9], zt[b + 10]
        for i in range(nx + 1):
            for j in range(ny + 1):
                probes |= {(gx + i * cs, gy + j * cs), (gx + i * cs, gy + j * cs + cs // 3)}
    xs = [p[0] for a, _ in edges for p in (a,)]
    ys = [p[1] for a, _ in edges for p in (a,)]
    probes |= set(data.draw(st.lists(st.tuples(st.integers(min(xs) - 50, max(xs) + 50),
                                                st.integers(min(ys) - 50, max(ys) + 50)),
                                      min_size=count, max_size=count)))
    return probes


def _check_quantised(c: Compiled, data: st.DataObject) -> None:
    edges = [e for g in c.zones.geoms for e in g.edges()]
    shape = _shapely(c.zones.geoms)
    boundary = shape.boundary
    for p in _probes(c, data):
        inside = c.look(*p).limit != 0
        assert inside == bool(ray_parity(edges, *p)), f"grid walk and brute force differ at {p}"
        if boundary.distance(Point(p)) > 0:
            assert inside == shape.contains(Point(p)), f"shapely differs at {p}"


def _shapely(geoms):  # quantised rings of every zone, as one shapely geometry
    polys = []
    for g in geoms:
        for part in sorted({r.part for r in g.rings}):
            rings = [r.points for r in g.rings if r.part == part]
            polys.append(Polygon(rings[0], rings[1:]))
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


@SETTINGS
@given(rings=polygon_with_holes(), data=st.data())
def test_polygon_with_holes_exact_on_the_grid(rings, data):
    c = compile_doc(collection(polygon_feature(rings, kind="speed_limit", limit_mph=15)))
    _check_quantised(c, data)


@SETTINGS
@given(parts=st.lists(st.integers(0, 2), min_size=2, max_size=3).flatmap(
    lambda holes: st.tuples(*[polygon_with_holes(cx=800.0 * i, cy=0.0) for i in range(len(holes))])),
    data=st.data())
def test_multipolygon_exact_on_the_grid(parts, data):
    doc = collection({"type": "Feature", "properties": {"kind": "speed_limit", "limit_kph": 20},
                      "geometry": {"type": "MultiPolygon",
                                   "coordinates": [polygon_feature(p)["geometry"]["coordinates"] for p in parts]}})
    _check_quantised(compile_doc(doc), data)


@SETTINGS
@given(rings=polygon_with_holes(size=1500.0), data=st.data())
def test_polygon_as_drawn_outside_the_rounding_band(rings, data):
    """Large rings (edges over 600 m get split) against the unrounded drawing."""
    feat = polygon_feature(rings, kind="speed_limit", limit_mph=15)
    c = compile_doc(collection(feat))
    drawn = [c.exact_coords(r) for r in feat["geometry"]["coordinates"]]
    shape = Polygon(drawn[0], drawn[1:])
    # points near the drawn edges (where rounding matters most) and anywhere in the box
    pts = []
    for r in rings:
        for (ax, ay), (bx, by) in zip(r, r[1:] + r[:1]):
            t = data.draw(st.floats(0, 1))
            off = data.draw(st.floats(-2.0, 2.0))
            nx, ny = -(by - ay), bx - ax
            k = off / math.hypot(nx, ny)
            pts.append((ax + t * (bx - ax) + k * nx, ay + t * (by - ay) + k * ny))
    pts += data.draw(st.lists(st.tuples(st.floats(-1600, 1600), st.floats(-1600, 1600)), min_size=50, max_size=50))
    compared = 0
    for east, north in pts:
        lon, lat = to_lonlat((east, north))
        exact = Point(c.exact_xy(lon, lat))
        if shape.boundary.distance(exact) * 0.1 < QUANT_BAND_M:   # plane units are dm
            continue
        compared += 1
        assert (c.look(*c.device_xy(lon, lat)).limit != 0) == shape.contains(exact), (east, north)
    assert compared > len(pts) // 2


def test_points_on_a_shared_vertex_row_and_cell_lines():
    """Degenerate rays: a row of vertices at one y, an edge along a cell line."""
    square = [(0.0, 0.0), (200.0, 0.0), (200.0, 100.0), (100.0, 100.0), (100.0, 200.0), (0.0, 200.0)]
    notch = [(40.0, 40.0), (60.0, 40.0), (60.0, 60.0), (40.0, 60.0)]
    c = compile_doc(collection(polygon_feature([square, notch], kind="speed_limit", limit_mph=10)))
    g = c.zones.geoms[0]
    (x0, y0), (x1, _), (_, y2) = g.rings[0].points[0], g.rings[0].points[1], g.rings[0].points[2]
    edges = list(g.edges())
    for x in range(x0 - 3, x1 + 4):
        for y in (y0 - 1, y0, y0 + 1, y2 - 1, y2, y2 + 1):
            assert (c.look(x, y).limit != 0) == bool(ray_parity(edges, x, y)), (x, y)


@SETTINGS
@given(rings=polygon_with_holes(size=30.0), step=st.sampled_from([20, 40]))
def test_vertices_on_cell_lines_and_corners(rings, step):
    """Vertices snapped to a lattice that the grid lines pass through: vertical legs meet
    vertices exactly on x = xr, horizontal ones run along edges on cell lines. The
    cells are much narrower than the distance search (160 dm), which then walks rings
    of cells: clearances must still be exact to within the device's rounding."""
    snapped = []
    for r in rings:
        pts = [(round(x * 10 / step) * step, round(y * 10 / step) * step) for x, y in r]
        snapped.append([p for i, p in enumerate(pts) if p != pts[i - 1]])
    assume(all(len(r) >= 3 for r in snapped))
    c = compile_lattice_polygon(snapped, step, 160)
    assume(c is not None)
    edges = [e for g in c.zones.geoms for e in g.edges()]
    shape = _shapely(c.zones.geoms)
    xs = [p[0] for p in snapped[0]]
    ys = [p[1] for p in snapped[0]]
    for x in range(min(xs) - step, max(xs) + step + 1, step):
        for y in range(min(ys) - step, max(ys) + step + 1, step):
            for p in ((x, y), (x + 1, y), (x, y - 1)):
                assert (c.look(*p).limit != 0) == bool(ray_parity(edges, *p)), p
    for x in range(min(xs) - 180, max(xs) + 181, 3 * step + 1):
        for y in range(min(ys) - 180, max(ys) + 181, 3 * step + 1):
            if c.look(x, y).limit == 0:
                true = min(shape.distance(Point(x, y)), 160)
                assert true - 1.3 <= c.fence.clear_dm <= true + 1e-9, ((x, y), c.fence.clear_dm, true)
