"""Polygon checks on the quantised rings, the geometry the device will test against.

Even-odd parity gives the intended area only if a zone's rings neither cross nor touch,
every hole lies inside its own outer ring and outside its other holes, and the polygons
of a MultiPolygon do not overlap. Anything else is an error naming where it happens.
"""

from __future__ import annotations

from collections import defaultdict

from keigov.zones.geojson import ZoneIssue
from keigov.zones.geometry import Point, meeting_point, orient, ray_parity, ring_area2, segments_meet
from keigov.zones.projection import Projection
from keigov.zones.quantise import Ring, ZoneGeom

MAX_REPORTED = 5           # crossings reported per zone; the rest are counted

Edge = tuple[int, int]     # (ring index, edge index in the ring)


def check_polygon(geom: ZoneGeom, proj: Projection) -> list[ZoneIssue]:
    spec = geom.spec
    multi = len(spec.polygons) > 1
    labels = [_label(r, multi) for r in geom.rings]
    problems: list[tuple[str, tuple[float, float]]] = []  # a vertex, or where two edges meet
    for (ra, ea), (rb, eb) in _candidate_pairs(geom.rings):
        ring_a, ring_b = geom.rings[ra], geom.rings[rb]
        a, b = ring_a.points[ea], ring_a.points[ea + 1]
        c, d = ring_b.points[eb], ring_b.points[eb + 1]
        if ra == rb and _adjacent(ea, eb, len(ring_a.points) - 1):
            # pairs come ordered (ea < eb): neighbours, or the ring's last and first edge
            shared, p, q = (b, a, d) if eb == ea + 1 else (a, b, c)
            if orient(p, shared, q) == 0 and _dot(p, shared, q) > 0:
                problems.append((f"{labels[ra]} folds back on itself", shared))
            continue
        if segments_meet(a, b, c, d):
            what = f"{labels[ra]} crosses or touches itself" if ra == rb else \
                f"{labels[ra]} and {labels[rb]} cross or touch"
            problems.append((what, meeting_point(a, b, c, d)))
    issues = [ZoneIssue(spec.index, spec.name, f"{what} near {_where(proj, p)}")
              for what, p in problems[:MAX_REPORTED]]
    if len(problems) > MAX_REPORTED:
        issues.append(ZoneIssue(spec.index, spec.name, f"... and {len(problems) - MAX_REPORTED} more crossings"))
    if problems:
        return issues
    flat = [ZoneIssue(spec.index, spec.name, f"{labels[i]} encloses no area (all its points on one line)")
            for i, r in enumerate(geom.rings) if ring_area2(r.points) == 0]
    return flat or _nesting(geom, labels, proj)


def _nesting(geom: ZoneGeom, labels: list[str], proj: Projection) -> list[ZoneIssue]:
    """With no crossings a ring lies wholly inside or outside another: one vertex tells."""
    spec = geom.spec
    rings = geom.rings
    parts: dict[int, list[int]] = defaultdict(list)
    for i, ring in enumerate(rings):
        parts[ring.part].append(i)
    outer = {r.part: i for i, r in enumerate(rings) if not r.hole}
    issues = []
    overlapping = set()
    for i, ring in enumerate(rings):
        probe = ring.points[0]
        if ring.hole:
            o = outer.get(ring.part)
            if o is not None and not _inside(rings[o], probe):
                issues.append(ZoneIssue(spec.index, spec.name,
                                        f"{labels[i]} lies outside its outer ring near {_where(proj, probe)}"))
            for j in parts[ring.part]:
                if j != i and rings[j].hole and _inside(rings[j], probe):
                    issues.append(ZoneIssue(spec.index, spec.name, f"{labels[i]} lies inside {labels[j]}"))
            continue
        for part, members in parts.items():
            pair = (min(part, ring.part), max(part, ring.part))
            if part != ring.part and pair not in overlapping and sum(_inside(rings[j], probe) for j in members) & 1:
                overlapping.add(pair)
                issues.append(ZoneIssue(spec.index, spec.name, f"polygons {pair[0]} and {pair[1]} overlap near "
                                        f"{_where(proj, probe)} (the parts of a MultiPolygon must be disjoint)"))
    return issues


def _inside(ring: Ring, p: Point) -> bool:
    return _box_holds(ring.points, p) and ray_parity(ring.edges(), *p) == 1


def _candidate_pairs(rings: list[Ring]) -> set[tuple[Edge, Edge]]:
    """Pairs of edges whose boxes share a bucket of a hash grid (each pair once)."""
    edges = [(ri, ei, r.points[ei], r.points[ei + 1]) for ri, r in enumerate(rings) for ei in range(len(r.points) - 1)]
    if not edges:
        return set()
    span = sum(abs(b[0] - a[0]) + abs(b[1] - a[1]) for _, _, a, b in edges) / len(edges)
    size = max(1, int(span) * 2)
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for k, (_, _, a, b) in enumerate(edges):
        for gx in range(min(a[0], b[0]) // size, max(a[0], b[0]) // size + 1):
            for gy in range(min(a[1], b[1]) // size, max(a[1], b[1]) // size + 1):
                buckets[gx, gy].append(k)
    pairs = set()
    for members in buckets.values():
        for i, k in enumerate(members):
            for m in members[i + 1:]:
                ka, kb = (k, m) if k < m else (m, k)
                if _boxes_meet(edges[ka], edges[kb]):
                    pairs.add(((edges[ka][0], edges[ka][1]), (edges[kb][0], edges[kb][1])))
    return pairs


def _boxes_meet(e: tuple[int, int, Point, Point], f: tuple[int, int, Point, Point]) -> bool:
    (_, _, a, b), (_, _, c, d) = e, f
    return (max(a[0], b[0]) >= min(c[0], d[0]) and max(c[0], d[0]) >= min(a[0], b[0])
            and max(a[1], b[1]) >= min(c[1], d[1]) and max(c[1], d[1]) >= min(a[1], b[1]))


def _adjacent(i: int, j: int, n: int) -> bool:
    """Edges i and j of a ring of n edges share a vertex."""
    return abs(i - j) == 1 or abs(i - j) == n - 1


def _dot(p: Point, o: Point, q: Point) -> int:
    return (p[0] - o[0]) * (q[0] - o[0]) + (p[1] - o[1]) * (q[1] - o[1])


def _box_holds(points: list[Point], p: Point) -> bool:
    xs = [q[0] for q in points]
    ys = [q[1] for q in points]
    return min(xs) <= p[0] <= max(xs) and min(ys) <= p[1] <= max(ys)


def _label(ring: Ring, multi: bool) -> str:
    return (f"polygon {ring.part} " if multi else "") + f"ring {ring.index}" + (" (hole)" if ring.hole else " (outer)")


def _where(proj: Projection, p: tuple[float, float]) -> str:
    lon, lat = proj.to_lonlat(*p)
    return f"[{lon:.7f}, {lat:.7f}]"
