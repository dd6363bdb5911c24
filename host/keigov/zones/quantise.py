"""Zones on the device's grid: projected, rounded to decimetres, long edges split."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from keigov.zones.geojson import LonLat, ZoneIssue, ZoneSpec
from keigov.zones.geometry import Point, clean_chain
from keigov.zones.projection import E7, Projection

# Zones must lie within this of the table's origin (the device's window is 2**23 units,
# the rest is room for radii, half-widths and the distance search).
SPAN_E7 = 7_500_000
MAX_ABS_LAT = 80.0         # nearer the poles a fixed cos(lat0) distorts too much


@dataclass
class Ring:
    points: list[Point]    # closed: the last repeats the first
    part: int              # index of the polygon in a MultiPolygon
    index: int             # index of the ring in its polygon: 0 outer, then holes

    @property
    def hole(self) -> bool:
        return self.index > 0

    def edges(self) -> Iterator[tuple[Point, Point]]:
        pts = self.points
        return zip(pts, pts[1:])


@dataclass
class ZoneGeom:
    """One zone in decimetres from the origin."""

    spec: ZoneSpec
    rings: list[Ring] = field(default_factory=list)
    lines: list[list[Point]] = field(default_factory=list)
    center: Point = (0, 0)
    radius_dm: int = 0
    half_width_dm: int = 0
    drawn_vertices: int = 0

    def chains(self) -> list[list[Point]]:
        """Vertex chains as stored: rings (closed) or lines; an edge joins neighbours."""
        return [r.points for r in self.rings] if self.rings else self.lines

    def edges(self) -> Iterator[tuple[Point, Point]]:
        for chain in self.chains():
            yield from zip(chain, chain[1:])

    def box(self) -> tuple[int, int, int, int]:
        """Box of the zone's area (a corridor's widened by its half-width)."""
        if self.spec.shape == "circle":
            (cx, cy), r = self.center, self.radius_dm
            return cx - r, cy - r, cx + r, cy + r
        pts = [p for chain in self.chains() for p in chain]
        w = self.half_width_dm
        return (min(p[0] for p in pts) - w, min(p[1] for p in pts) - w,
                max(p[0] for p in pts) + w, max(p[1] for p in pts) + w)


def choose_projection(zones: list[ZoneSpec]) -> tuple[Projection | None, list[ZoneIssue]]:
    """A projection about the centre of everything drawn, and zones too far from it."""
    pts = [p for z in zones for p in z.positions()]
    if not pts:
        return None, []
    lon0 = (min(p[0] for p in pts) + max(p[0] for p in pts)) / 2
    lat0 = (min(p[1] for p in pts) + max(p[1] for p in pts)) / 2
    if abs(lat0) > MAX_ABS_LAT:
        return None, [ZoneIssue(None, None, f"zones at latitude {lat0:.1f}: tables cover |latitude| <= "
                                f"{MAX_ABS_LAT:g} (the projection distorts too much nearer the poles)")]
    proj = Projection.about(lat0, lon0)
    issues = []
    for z in zones:
        far = max(max(abs(d) for d in proj.offsets_e7(*p)) for p in z.positions())
        if far > SPAN_E7:
            issues.append(ZoneIssue(z.index, z.name, (
                f"lies {far / E7:.2f} deg from the centre of the zones ({lon0:.4f}, {lat0:.4f}); one table "
                f"covers {SPAN_E7 / E7:g} deg around its centre (split the file, or check for a "
                "swapped longitude/latitude or a zone across the antimeridian)")))
    return proj, issues


def quantise(spec: ZoneSpec, proj: Projection) -> tuple[ZoneGeom, list[ZoneIssue]]:
    geom = ZoneGeom(spec)
    issues: list[ZoneIssue] = []

    def local(chain: list[LonLat]) -> list[Point]:
        return [proj.to_local(lon, lat) for lon, lat in chain]

    if spec.shape == "polygon":
        multi = len(spec.polygons) > 1
        for pi, part in enumerate(spec.polygons):
            for ri, drawn in enumerate(part):
                points = clean_chain(local(drawn))
                if points[-1] != points[0]:
                    points.append(points[0])
                label = (f"polygon {pi} " if multi else "") + f"ring {ri}"
                distinct = len(set(points))
                geom.drawn_vertices += len(drawn) - 1
                if distinct < 3:
                    issues.append(ZoneIssue(spec.index, spec.name,
                                            f"{label} collapses to {distinct} point(s) at 0.1 m resolution"))
                else:
                    geom.rings.append(Ring(points, pi, ri))
    elif spec.shape == "corridor":
        geom.half_width_dm = max(1, round(spec.width_m * 5))
        for li, drawn in enumerate(spec.lines):
            points = clean_chain(local(drawn))
            geom.drawn_vertices += len(drawn)
            if len(points) < 2:
                issues.append(ZoneIssue(spec.index, spec.name, f"line {li} collapses to one point at 0.1 m resolution"))
            else:
                geom.lines.append(points)
    else:
        assert spec.center is not None
        geom.center = proj.to_local(*spec.center)
        geom.radius_dm = max(1, round(spec.radius_m * 10))
        geom.drawn_vertices = 1
    return geom, issues
