"""GNSS on the governor's bus: a receiver's fix, its messages in dbc/keigov.dbc, and the
great-circle geometry the rig, the replay and the checks share (haversine formulas on a
sphere: within ~0.5 % of the ellipsoid, far below GNSS noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_M = 6371008.8  # IUGG mean radius


def haversine_m(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Great-circle distance in metres between two points."""
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dp, dl = p2 - p1, math.radians(lon2_deg - lon1_deg)
    h = math.sin(dp / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def initial_bearing_deg(lat1_deg: float, lon1_deg: float, lat2_deg: float, lon2_deg: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, degrees clockwise from north in [0, 360)."""
    p1, p2 = math.radians(lat1_deg), math.radians(lat2_deg)
    dl = math.radians(lon2_deg - lon1_deg)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


def destination(lat_deg: float, lon_deg: float, bearing_deg: float, distance_m: float) -> tuple[float, float]:
    """Point reached by going `distance_m` along a great circle from a point at `bearing_deg`."""
    p1, l1 = math.radians(lat_deg), math.radians(lon_deg)
    b, d = math.radians(bearing_deg), distance_m / EARTH_RADIUS_M
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), _wrap_lon(math.degrees(l2))


def offset_deg(lat_deg: float, lon_deg: float, north_m: float, east_m: float) -> tuple[float, float]:
    """Shift a point by small local north/east offsets in metres (flat-earth tangent plane)."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat_deg))))
    return lat_deg + dlat, _wrap_lon(lon_deg + dlon)


def in_windows(t_s: float, windows: Sequence[tuple[float, ...]]) -> bool:
    """Whether `t_s` falls in any [start_s, end_s) window (an outage, a jump)."""
    return any(w[0] <= t_s < w[1] for w in windows)


def _wrap_lon(lon_deg: float) -> float:
    return (lon_deg + 180.0) % 360.0 - 180.0


@dataclass(slots=True)
class GnssFix:
    """One receiver solution. fix_type: 0 none, 1 dead reckoning, 2 2D, 3 3D (as in the DBC)."""

    lat_deg: float
    lon_deg: float
    fix_type: int
    satellites: int
    hdop: float
    speed_kph: float
    heading_deg: float


# GNSS_FIX_LON and GNSS_VELOCITY carry GNSS_FIX_LAT's counter: the device pairs the
# messages of one fix by it.
PAIRED_WITH_LAT = ("GNSS_FIX_LON", "GNSS_VELOCITY")


def gnss_messages(fix: GnssFix) -> list[tuple[str, dict[str, float]]]:
    """The governor's GNSS messages (dbc/keigov.dbc) for one fix, in sending order."""
    return [
        ("GNSS_FIX_LAT", {"LATITUDE": round(fix.lat_deg, 7), "FIX_TYPE": fix.fix_type,
                          "NUM_SATELLITES": fix.satellites}),
        ("GNSS_FIX_LON", {"LONGITUDE": round(fix.lon_deg, 7), "HDOP": round(_clip(fix.hdop, 0, 102.3), 1)}),
        ("GNSS_VELOCITY", {"GNSS_SPEED": round(_clip(fix.speed_kph, 0, 655.35), 2),
                           "GNSS_HEADING": _heading(fix.heading_deg)}),
    ]


def _heading(deg: float) -> float:
    """Course in the DBC's 0..359.99 range (360 wraps to 0)."""
    h = round(deg % 360, 2)
    return 0.0 if h >= 360 else min(h, 359.99)


def _clip(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v
