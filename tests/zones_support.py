"""Zones for tests: shapes drawn in metres, compiled by the host, looked up by the firmware.

Shapes are drawn in a local metric plane around a centre, turned into GeoJSON (lon/lat
with 7 decimals, what drawing tools export), compiled with `keigov.zones`, and loaded
into the firmware's `Fence` under CPython. Hypothesis strategies build random concave
(star-shaped) polygons whose holes and parts are simple and disjoint by construction.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

import firmware_harness  # noqa: F401  (firmware on sys.path)

from core import geofence
from keigov.zones import Table, Zones, check_collection, compile_checked
from keigov.zones.projection import E7, Projection, local_radii_m, split16

CENTER = (139.7671, 35.6812)   # lon, lat of the drawings

Metres = tuple[float, float]


def to_lonlat(p: Metres, center: tuple[float, float] = CENTER) -> list[float]:
    """A point east/north of `center` in metres, as GeoJSON [lon, lat] with 7 decimals."""
    m, n = local_radii_m(center[1])
    lon = center[0] + math.degrees(p[0] / (n * math.cos(math.radians(center[1]))))
    lat = center[1] + math.degrees(p[1] / m)
    return [round(lon, 7), round(lat, 7)]


def ring(points: list[Metres]) -> list[list[float]]:
    r = [to_lonlat(p) for p in points]
    return r + [r[0]]


def feature(geometry_type: str, coordinates: Any, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties,
            "geometry": {"type": geometry_type, "coordinates": coordinates}}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


@dataclass
class Compiled:
    zones: Zones
    table: Table
    fence: Any       # core.geofence.Fence

    @property
    def proj(self) -> Projection:
        return self.table.projection

    def device_xy(self, lon: float, lat: float) -> tuple[int, int]:
        """Where the device puts a fix (1e-7 deg), by its own to_local."""
        lat_e7, lon_e7 = round(lat * E7), round(lon * E7)
        assert self.fence.to_local(*split16(lat_e7), *split16(lon_e7))
        return self.fence.x, self.fence.y

    def exact_xy(self, lon: float, lat: float) -> tuple[float, float]:
        """The same point projected without the device's rounding (the oracle's plane)."""
        dlon, dlat = self.proj.offsets_e7(lon, lat)
        return dlon * self.proj.kx_q20 / (1 << 20), dlat * self.proj.ky_q20 / (1 << 20)

    def exact_coords(self, coords: list[list[float]]) -> list[tuple[float, float]]:
        return [self.exact_xy(lon, lat) for lon, lat in coords]

    def look(self, x: int, y: int, heading: int = -1) -> Any:
        self.fence.lookup(x, y, heading)
        return self.fence


def compile_doc(doc: dict[str, Any], near_m: float = 30.0) -> Compiled:
    zones = check_collection(doc)
    assert not zones.issues, [str(i) for i in zones.issues]
    table = compile_checked(zones, near_m)
    fence = geofence.Fence()
    assert fence.read(io.BytesIO(table.blob)) == geofence.OK
    return Compiled(zones, table, fence)


# -- random shapes ----------------------------------------------------------------------

@st.composite
def star(draw: Any, cx: float, cy: float, r_min: float, r_max: float, n_max: int = 14) -> list[Metres]:
    """A star-shaped ring around (cx, cy): concave, simple, every vertex at r_min..r_max.

    Angular gaps stay under 120 deg, so every edge keeps at least r_min / 2 from the
    centre: a disc of that radius is inside, where holes go."""
    n = draw(st.integers(5, n_max))
    gaps = draw(st.lists(st.floats(0.6, 1.0), min_size=n, max_size=n))
    start = draw(st.floats(0, 2 * math.pi))
    total = sum(gaps)
    radii = draw(st.lists(st.floats(r_min, r_max), min_size=n, max_size=n))
    out, angle = [], start
    for gap, r in zip(gaps, radii):
        out.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
        angle += gap / total * 2 * math.pi
    return out


@st.composite
def polygon_with_holes(draw: Any, cx: float = 0.0, cy: float = 0.0, size: float = 300.0) -> list[list[Metres]]:
    """An outer star ring and up to two star holes in disjoint discs inside it."""
    outer = draw(star(cx, cy, size * 0.6, size))
    rings = [outer]
    holes = draw(st.integers(0, 2))
    safe = size * 0.6 / 2 * 0.9                   # radius of the disc surely inside
    for k in range(holes):
        hx = cx + (safe / 2 if holes == 2 else 0.0) * (1 if k == 0 else -1)
        r = safe / 2 * 0.8 if holes == 2 else safe * 0.8
        rings.append(draw(star(hx, cy, r * 0.4, r, n_max=8)))
    return rings


def polygon_feature(rings: list[list[Metres]], **properties: Any) -> dict[str, Any]:
    return feature("Polygon", [ring(r) for r in rings], **properties)


def compile_lattice_polygon(rings: list[list[tuple[int, int]]], cell_dm: int, near_dm: int) -> Compiled | None:
    """A polygon given in device decimetres, with the grid forced to `cell_dm` cells whose
    lines pass through the polygon's lowest-left vertex when near_dm is a multiple of
    cell_dm: every vertex on a multiple of cell_dm then sits on a cell line or corner.
    None if the rings are not a valid polygon."""
    from keigov.zones import Zones, grid, table
    from keigov.zones.geojson import ZoneSpec
    from keigov.zones.quantise import Ring, ZoneGeom
    from keigov.zones.validate import check_polygon

    spec = ZoneSpec(0, "lattice", "speed_limit", 2414, "polygon", polygons=[[[] for _ in rings]])
    geom = ZoneGeom(spec, [Ring(r + [r[0]], 0, i) for i, r in enumerate(rings)])
    proj = Projection.about(CENTER[1], CENTER[0])
    if check_polygon(geom, proj):
        return None
    saved = grid.choose_cell_size
    grid.choose_cell_size = lambda *_: cell_dm
    try:
        tab = table.build_table([geom], proj, near_dm)
    finally:
        grid.choose_cell_size = saved
    fence = geofence.Fence()
    assert fence.read(io.BytesIO(tab.blob)) == geofence.OK
    return Compiled(Zones([spec], [geom], proj, []), tab, fence)
