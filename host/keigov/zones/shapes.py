"""Zones as shapely geometry in local metres: what maps draw and what HIL checks measure against.

The geometry is the drawn GeoJSON (not the device's 0.1 m grid) in the frame of the zone table:
metres east/north of its origin, by the device's projection without its rounding
(`Projection.metres`). It is the oracle the checks compare the firmware with, so it shares
nothing with the firmware's integer lookup: shapely decides containment and distances.

    zmap = zone_map(Path("hil/zones/demo.geojson"))      # or zone_map(load_zones(path))
    x, y = zmap.to_local(lon, lat)
    [z.spec.name for z in zmap.containing(x, y, heading_deg=92.0)]
    zmap.distance_m(zone, x, y)                           # 0 inside
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keigov.zones import Zones, ZonesInvalid, load_zones
from keigov.zones.geojson import ZoneSpec
from keigov.zones.projection import Projection


@dataclass
class ZoneShape:
    """One zone: its area (shapely Polygon or MultiPolygon, metres) and, for a corridor,
    its centrelines (for the direction along each segment)."""

    spec: ZoneSpec
    area: Any
    centrelines: list[Any]

    @property
    def label(self) -> str:
        name = self.spec.name or f"zone {self.spec.zone_id}"
        if self.spec.lockout:
            return f"{name} (lockout)"
        return f"{name} ({self.spec.limit_ckph / 160.9344:.0f} mph)"

    def matches_heading(self, x: float, y: float, heading_deg: float | None) -> bool:
        """Whether a vehicle at (x, y) moving this way counts for the zone (unknown: it does,
        the stricter reading, as on the device)."""
        spec = self.spec
        if spec.tolerance_deg is None or heading_deg is None:
            return True
        if spec.heading_deg is not None:
            ways = [spec.heading_deg]
        else:
            ways = [_bearing_along(self.centrelines, x, y)]
        if spec.bidirectional:
            ways += [w + 180.0 for w in ways]
        return any(_angle_between(heading_deg, w) <= spec.tolerance_deg for w in ways)


@dataclass
class ZoneMap:
    projection: Projection
    shapes: list[ZoneShape]

    def to_local(self, lon_deg: float, lat_deg: float) -> tuple[float, float]:
        return self.projection.metres(lon_deg, lat_deg)

    def by_name(self, name: str) -> ZoneShape | None:
        return next((z for z in self.shapes if z.spec.name == name), None)

    def containing(self, x: float, y: float, heading_deg: float | None = None) -> list[ZoneShape]:
        from shapely import Point

        p = Point(x, y)
        return [z for z in self.shapes if z.area.covers(p) and z.matches_heading(x, y, heading_deg)]

    def distance_m(self, zone: ZoneShape, x: float, y: float) -> float:
        from shapely import Point

        return float(zone.area.distance(Point(x, y)))

    def bounds(self) -> tuple[float, float, float, float]:
        boxes = [z.area.bounds for z in self.shapes]
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def zone_map(zones: Path | Zones) -> ZoneMap:
    """The zones of a GeoJSON file (checked: ZonesInvalid lists every problem) or of an
    already loaded `Zones`, as shapely geometry in the zone table's frame."""
    from shapely import LineString, MultiPolygon, Point, Polygon
    from shapely.ops import unary_union

    if isinstance(zones, Path):
        path, zones = zones, load_zones(zones)
        if zones.issues:
            raise ZonesInvalid(path, zones.issues)
    proj = zones.projection
    assert proj is not None, "zones without a projection have issues"

    def local(chain: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [proj.metres(lon, lat) for lon, lat in chain]

    shapes = []
    for spec in zones.specs:
        lines: list[Any] = []
        if spec.shape == "polygon":
            parts = [Polygon(local(part[0]), [local(h) for h in part[1:]]) for part in spec.polygons]
            area = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        elif spec.shape == "corridor":
            lines = [LineString(local(line)) for line in spec.lines]
            area = unary_union([line.buffer(spec.width_m / 2, quad_segs=16) for line in lines])
        else:
            assert spec.center is not None
            area = Point(*proj.metres(*spec.center)).buffer(spec.radius_m, quad_segs=32)
        shapes.append(ZoneShape(spec, area, lines))
    return ZoneMap(proj, shapes)


def _bearing_along(lines: list[Any], x: float, y: float) -> float:
    """Compass bearing of the centreline segment nearest to (x, y), in its drawn direction."""
    best, bearing = math.inf, 0.0
    for line in lines:
        pts = list(line.coords)
        for (ax, ay), (bx, by) in zip(pts, pts[1:]):
            dx, dy = bx - ax, by - ay
            t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / ((dx * dx + dy * dy) or 1.0)))
            d = math.hypot(ax + t * dx - x, ay + t * dy - y)
            if d < best:
                best, bearing = d, math.degrees(math.atan2(dx, dy)) % 360.0
    return bearing


def _angle_between(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)
