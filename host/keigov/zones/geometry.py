"""Exact integer geometry on the device's grid (decimetres): what the firmware will see.

Validation and table building work on the quantised coordinates, not on the drawn
floats, so a ring that only touches itself after rounding is caught, and the parity the
compiler stores per grid cell uses the very rule the device applies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

Point = tuple[int, int]

MAX_EDGE_DM = 6000         # longer edges are split (the device's products must fit 2**30)
_LEN_FRAC = 12             # packed length: (shift << 12) | (mantissa - 4096), see core/geofence.py


def orient(a: Point, b: Point, c: Point) -> int:
    """Sign of the turn a -> b -> c: 1 left, -1 right, 0 collinear."""
    v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    return (v > 0) - (v < 0)


def _on_segment(a: Point, b: Point, p: Point) -> bool:
    """p, known collinear with a-b, lies on the closed segment."""
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def segments_meet(a: Point, b: Point, c: Point, d: Point) -> bool:
    """The closed segments a-b and c-d share at least one point."""
    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    if o1 != o2 and o3 != o4 and o1 * o2 <= 0 and o3 * o4 <= 0:
        if o1 or o2 or o3 or o4:
            return True
    return ((o1 == 0 and _on_segment(a, b, c)) or (o2 == 0 and _on_segment(a, b, d))
            or (o3 == 0 and _on_segment(c, d, a)) or (o4 == 0 and _on_segment(c, d, b)))


def meeting_point(a: Point, b: Point, c: Point, d: Point) -> tuple[float, float]:
    """Where two meeting segments meet (one shared point when they overlap)."""
    den = (b[0] - a[0]) * (d[1] - c[1]) - (b[1] - a[1]) * (d[0] - c[0])
    if den:
        t = ((c[0] - a[0]) * (d[1] - c[1]) - (c[1] - a[1]) * (d[0] - c[0])) / den
        return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
    for p in (c, d, a, b):
        if _on_segment(a, b, p) and _on_segment(c, d, p):
            return float(p[0]), float(p[1])
    return float(c[0]), float(c[1])


def ray_crosses(a: Point, b: Point, px: int, py: int) -> bool:
    """The device's parity rule: edge a-b crosses the ray from (px, py) towards +x when it
    straddles y = py (an end exactly at py counts as below the ray) and meets the ray
    strictly right of px."""
    (x1, y1), (x2, y2) = a, b
    if (y1 > py) == (y2 > py):
        return False
    # x of the crossing minus px has the sign of s / (y2 - y1)
    s = (x1 - px) * (y2 - y1) + (py - y1) * (x2 - x1)
    return s > 0 if y2 > y1 else s < 0


def ray_parity(edges: Iterable[tuple[Point, Point]], px: int, py: int) -> int:
    """Even-odd parity of (px, py) over `edges` by the device's rule (brute force)."""
    return sum(ray_crosses(a, b, px, py) for a, b in edges) & 1


def crossing_ceil(a: Point, b: Point, y: int) -> int:
    """ceil(x) where edge a-b, straddling y by the ray rule, crosses y: for an integer X,
    the edge crosses the ray from (X, y) exactly when X < this."""
    (x1, y1), (x2, y2) = a, b
    num = x1 * (y2 - y1) + (y - y1) * (x2 - x1)
    den = y2 - y1
    if den < 0:
        num, den = -num, -den
    return -((-num) // den)


def segment_meets_box(a: Point, b: Point, box: tuple[int, int, int, int]) -> bool:
    """The closed segment a-b meets the closed box (xmin, ymin, xmax, ymax)."""
    xmin, ymin, xmax, ymax = box
    if max(a[0], b[0]) < xmin or min(a[0], b[0]) > xmax or max(a[1], b[1]) < ymin or min(a[1], b[1]) > ymax:
        return False
    sides = {orient(a, b, c) for c in ((xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax))}
    return not (sides == {1} or sides == {-1})


def ring_area2(ring: Sequence[Point]) -> int:
    """Twice the signed area of a closed ring (last point == first)."""
    return sum(ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1] for i in range(len(ring) - 1))


def clean_chain(points: Sequence[Point]) -> list[Point]:
    """Drop points that repeat the previous one (rounding merges close vertices), then
    split every edge longer than MAX_EDGE_DM at evenly spaced grid points."""
    out: list[Point] = []
    for p in points:
        if out and out[-1] == p:
            continue
        if out:
            a = out[-1]
            n = math.ceil(math.hypot(p[0] - a[0], p[1] - a[1]) / MAX_EDGE_DM)
            for j in range(1, n):
                out.append((a[0] + round((p[0] - a[0]) * j / n), a[1] + round((p[1] - a[1]) * j / n)))
        out.append(p)
    return out


def pack_length(dx: int, dy: int) -> int:
    """An edge's length for the device: a 13-bit mantissa rounded up and a shift, so that
    length = mantissa / 2**shift is never short (distances computed with it err low)."""
    length2 = dx * dx + dy * dy
    if not 0 < length2 <= 8191 * 8191:
        raise ValueError(f"edge length^2 {length2} outside what the device packs")
    shift = 0
    while (length2 << (2 * shift)) < (1 << 24):  # length * 2**shift < 4096
        shift += 1
    mantissa = _ceil_sqrt(length2 << (2 * shift))
    if mantissa >= 8192:  # rounding up spilled into the next power of two
        shift -= 1
        mantissa = _ceil_sqrt(length2 << (2 * shift))
    assert 4096 <= mantissa < 8192 and 0 <= shift < 16
    return (shift << _LEN_FRAC) | (mantissa - 4096)


def unpack_length(packed: int) -> float:
    return ((packed & 0xFFF) | 0x1000) / (1 << (packed >> _LEN_FRAC))


def _ceil_sqrt(n: int) -> int:
    r = math.isqrt(n)
    return r if r * r == n else r + 1
