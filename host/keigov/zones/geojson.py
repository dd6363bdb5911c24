"""Reading zones from GeoJSON: the schema, checked feature by feature.

Every problem is collected as a `ZoneIssue` naming the feature (index in `features` and
its `name`) and the reason, so one run reports all of them. Properties other than the
ones below are ignored (drawing tools add their own, such as `stroke` or `fill`).

    kind                   "speed_limit" or "freeway_lockout" (required)
    name                   text used in messages and reports (optional)
    limit_mph | limit_kph  the speed limit of a speed_limit zone (exactly one)
    width_m                full width of a LineString / MultiLineString corridor
    heading_deg            corridor: matches vehicles heading this way (0 = north, clockwise)
    heading_tolerance_deg  corridor: allowed deviation (default 30); without heading_deg
                           the corridor matches vehicles moving along its drawn direction
    bidirectional          corridor with a heading: the opposite direction matches too
    radius_m               radius of a Point circle
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keigov.errors import InputError
from keigov.firmware_params import CKPH_PER_KPH, CKPH_PER_MPH

KINDS = ("speed_limit", "freeway_lockout")
DEFAULT_TOLERANCE_DEG = 30.0
MAX_ZONES = 255            # zone ids travel in an 8-bit signal
MAX_WIDTH_M = 800.0        # the device's integer bounds (core/geofence.py)
MAX_RADIUS_M = 1000.0
LIMIT_KPH_RANGE = (1.0, 130.0)

LonLat = tuple[float, float]


@dataclass(frozen=True)
class ZoneIssue:
    """One problem with the input: `feature` is the index in `features` (None: the file)."""

    feature: int | None
    name: str | None
    reason: str

    def __str__(self) -> str:
        if self.feature is None:
            return self.reason
        label = f"features[{self.feature}]" + (f" {self.name!r}" if self.name else "")
        return f"{label}: {self.reason}"


@dataclass
class ZoneSpec:
    """A zone as drawn: one feature, coordinates in degrees."""

    index: int
    name: str | None
    kind: str
    limit_ckph: int                      # 0 for a lockout
    shape: str                           # "polygon", "corridor" or "circle"
    polygons: list[list[list[LonLat]]] = field(default_factory=list)  # part -> ring -> point
    lines: list[list[LonLat]] = field(default_factory=list)
    center: LonLat | None = None
    radius_m: float = 0.0
    width_m: float = 0.0
    heading_deg: float | None = None
    tolerance_deg: float | None = None   # set: the corridor matches headings
    bidirectional: bool = False

    @property
    def zone_id(self) -> int:
        return self.index + 1

    @property
    def lockout(self) -> bool:
        return self.kind == "freeway_lockout"

    def positions(self) -> list[LonLat]:
        pts = [p for part in self.polygons for ring in part for p in ring]
        pts += [p for line in self.lines for p in line]
        if self.center is not None:
            pts.append(self.center)
        return pts


class _Feature:
    """Collects the issues of one feature while it is read."""

    def __init__(self, index: int, name: str | None, issues: list[ZoneIssue]) -> None:
        self.index, self.name, self.issues = index, name, issues
        self.ok = True

    def fail(self, reason: str) -> None:
        self.issues.append(ZoneIssue(self.index, self.name, reason))
        self.ok = False


def read_geojson(path: Path) -> tuple[list[ZoneSpec], list[ZoneIssue]]:
    """Zones that passed the schema checks, and every issue found."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", where=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason})", where=str(path)) from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg} (column {exc.colno})", where=f"{path}:{exc.lineno}") from exc
    return parse_collection(doc)


def parse_collection(doc: Any) -> tuple[list[ZoneSpec], list[ZoneIssue]]:
    issues: list[ZoneIssue] = []
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        return [], [ZoneIssue(None, None, 'expected a GeoJSON object with "type": "FeatureCollection"')]
    features = doc.get("features")
    if not isinstance(features, list):
        return [], [ZoneIssue(None, None, '"features" must be a list')]
    if len(features) > MAX_ZONES:
        issues.append(ZoneIssue(None, None, f"{len(features)} features; a table holds at most {MAX_ZONES}"))
    zones = []
    for index, feature in enumerate(features):
        zone = _parse_feature(index, feature, issues)
        if zone is not None:
            zones.append(zone)
    if not features:
        issues.append(ZoneIssue(None, None, "no features: an empty zones file is almost certainly a mistake"))
    return zones, issues


def _parse_feature(index: int, feature: Any, issues: list[ZoneIssue]) -> ZoneSpec | None:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        issues.append(ZoneIssue(index, None, 'not a GeoJSON Feature ("type": "Feature")'))
        return None
    props = feature.get("properties")
    props = props if isinstance(props, dict) else {}
    name = props.get("name")
    f = _Feature(index, name if isinstance(name, str) and name else None, issues)
    if "name" in props and not (isinstance(name, str) and name):
        f.fail("name must be non-empty text")
    kind = props.get("kind")
    if kind is None:
        f.fail(f"no kind property (one of {', '.join(KINDS)})")
    elif kind not in KINDS:
        f.fail(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    limit = _limit(props, kind, f)
    zone = ZoneSpec(index, f.name, kind if kind in KINDS else "speed_limit", limit, "polygon")
    geometry = feature.get("geometry")
    gtype = geometry.get("type") if isinstance(geometry, dict) else None
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if gtype in ("Polygon", "MultiPolygon"):
        zone.polygons = _polygons(coords if gtype == "MultiPolygon" else [coords], gtype, f)
    elif gtype in ("LineString", "MultiLineString"):
        zone.shape = "corridor"
        zone.lines = _lines(coords if gtype == "MultiLineString" else [coords], gtype, f)
    elif gtype == "Point":
        zone.shape = "circle"
        zone.center = _position(coords, "the point", f)
    elif geometry is None:
        f.fail("no geometry")
    else:
        f.fail(f"geometry type {gtype!r} is not a zone (Polygon, MultiPolygon, LineString, "
               "MultiLineString or Point)")
    _shape_properties(zone, props, f)
    return zone if f.ok else None


def _limit(props: dict[str, Any], kind: Any, f: _Feature) -> int:
    given = [k for k in ("limit_mph", "limit_kph") if k in props]
    if kind == "freeway_lockout":
        if given:
            f.fail(f"{given[0]} does not apply to a freeway_lockout (its speed is the governor's "
                   "zone_lockout_ckph setting)")
        return 0
    if kind != "speed_limit":
        return 0
    if not given:
        f.fail("a speed_limit needs limit_mph or limit_kph")
        return 0
    if len(given) > 1:
        f.fail("give limit_mph or limit_kph, not both")
        return 0
    key = given[0]
    value = _number(props, key, f)
    if value is None:
        return 0
    kph = value * (CKPH_PER_MPH / CKPH_PER_KPH if key == "limit_mph" else 1.0)
    lo, hi = LIMIT_KPH_RANGE
    if not lo <= kph <= hi:
        f.fail(f"{key} {value:g} is outside {lo:g}..{hi:g} km/h")
        return 0
    return round(kph * CKPH_PER_KPH)


def _shape_properties(zone: ZoneSpec, props: dict[str, Any], f: _Feature) -> None:
    own = {"corridor": {"width_m", "heading_deg", "heading_tolerance_deg", "bidirectional"},
           "circle": {"radius_m"}}.get(zone.shape, set())
    for key in ("width_m", "heading_deg", "heading_tolerance_deg", "bidirectional", "radius_m"):
        if key in props and key not in own:
            f.fail(f"{key} does not apply to a {zone.shape}")
    if zone.shape == "corridor":
        width = _number(props, "width_m", f, required="a LineString corridor needs width_m")
        if width is not None:
            if not 0 < width <= MAX_WIDTH_M:
                f.fail(f"width_m {width:g} must be above 0 and at most {MAX_WIDTH_M:g}")
            zone.width_m = width
        _heading(zone, props, f)
    elif zone.shape == "circle":
        radius = _number(props, "radius_m", f, required="a Point zone needs radius_m")
        if radius is not None:
            if not 0 < radius <= MAX_RADIUS_M:
                f.fail(f"radius_m {radius:g} must be above 0 and at most {MAX_RADIUS_M:g} "
                       "(draw a polygon for a larger area)")
            zone.radius_m = radius


def _heading(zone: ZoneSpec, props: dict[str, Any], f: _Feature) -> None:
    heading = _number(props, "heading_deg", f)
    tolerance = _number(props, "heading_tolerance_deg", f)
    if heading is not None and not 0 <= heading <= 360:
        f.fail(f"heading_deg {heading:g} must be within 0..360")
    if tolerance is not None and not 0 < tolerance <= 90:
        f.fail(f"heading_tolerance_deg {tolerance:g} must be above 0 and at most 90")
    bidirectional = props.get("bidirectional", False)
    if not isinstance(bidirectional, bool):
        f.fail("bidirectional must be true or false")
        bidirectional = False
    if bidirectional and heading is None and tolerance is None:
        f.fail("bidirectional needs heading_deg or heading_tolerance_deg")
    zone.heading_deg = heading % 360 if heading is not None else None
    if heading is not None or tolerance is not None:
        zone.tolerance_deg = tolerance if tolerance is not None else DEFAULT_TOLERANCE_DEG
    zone.bidirectional = bidirectional


def _number(props: dict[str, Any], key: str, f: _Feature, required: str | None = None) -> float | None:
    if key not in props:
        if required:
            f.fail(required)
        return None
    value = props[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        f.fail(f"{key} must be a number, not {value!r}")
        return None
    return float(value)


def _position(p: Any, where: str, f: _Feature) -> LonLat | None:
    if (not isinstance(p, list) or not 2 <= len(p) <= 3
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in p)):
        f.fail(f"{where}: a position is [longitude, latitude], not {json.dumps(p)[:60]}")
        return None
    lon, lat = float(p[0]), float(p[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        f.fail(f"{where}: [{lon:g}, {lat:g}] is out of range (longitude -180..180, latitude -90..90; "
               "GeoJSON puts longitude first)")
        return None
    return lon, lat


def _positions(coords: Any, where: str, f: _Feature) -> list[LonLat] | None:
    if not isinstance(coords, list):
        f.fail(f"{where}: expected a list of positions")
        return None
    out = [_position(p, where, f) for p in coords]
    positions = [p for p in out if p is not None]
    return positions if len(positions) == len(out) else None


def _members(coords: Any, gtype: str, f: _Feature) -> list[Any]:
    """The non-empty list a geometry's coordinates must be ([] after a failure)."""
    if isinstance(coords, list) and coords:
        return coords
    f.fail(f"{gtype} without coordinates")
    return []


def _polygons(parts: Any, gtype: str, f: _Feature) -> list[list[list[LonLat]]]:
    out = []
    for pi, rings in enumerate(_members(parts, gtype, f)):
        label = f"polygon {pi} " if gtype == "MultiPolygon" else ""
        if not isinstance(rings, list) or not rings:
            f.fail(f"{label}has no rings")
            continue
        part = []
        for ri, coords in enumerate(rings):
            where = f"{label}ring {ri}" + (" (outer)" if ri == 0 else " (hole)")
            ring = _positions(coords, where, f)
            if ring is None:
                continue
            if len(ring) < 4:
                f.fail(f"{where} has {len(ring)} positions; a ring needs at least 4 (the first repeated last)")
            elif ring[0] != ring[-1]:
                f.fail(f"{where} is not closed: it ends at {_fmt(ring[-1])}, not at its start {_fmt(ring[0])}")
            part.append(ring)
        out.append(part)
    return out


def _lines(lines: Any, gtype: str, f: _Feature) -> list[list[LonLat]]:
    out = []
    for li, coords in enumerate(_members(lines, gtype, f)):
        where = f"line {li}" if gtype == "MultiLineString" else "the line"
        line = _positions(coords, where, f)
        if line is None:
            continue
        if len(line) < 2:
            f.fail(f"{where} has {len(line)} position(s); a corridor needs at least 2")
        out.append(line)
    return out


def _fmt(p: LonLat) -> str:
    return f"[{p[0]:.7f}, {p[1]:.7f}]"
