"""GNSS receiver model: where the vehicle is along a route, as a noisy receiver would report it.

The vehicle model only knows the distance driven; `Route` turns that into a WGS84 position on a
sphere (keigov.gnss's great-circle geometry), and `GnssReceiver` adds what the governor must
cope with: noise, outages and position jumps.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence

from keigov.gnss import EARTH_RADIUS_M, GnssFix, destination, haversine_m, in_windows, initial_bearing_deg, offset_deg

# A route is a road: a longer segment is a typo, and a near-antipodal one has no defined path.
_MAX_SEGMENT_M = 1_000_000.0
# Waypoints closer than this are one point recorded twice; keeping them would make headings noise.
_MIN_SEGMENT_M = 0.001

Vec3 = tuple[float, float, float]


class Route:
    """A polyline of (lat, lon) waypoints in degrees, driven from the first to the last.

    Repeated consecutive waypoints (within 1 mm; common in recorded tracks) are dropped. Positions between
    waypoints lie on the great circle through them; beyond either end the route goes on straight
    along its end segment, so a vehicle that drives past the end still gets a position.
    """

    def __init__(self, waypoints: Sequence[tuple[float, float]]) -> None:
        points: list[tuple[float, float]] = []
        for i, (lat, lon) in enumerate(waypoints):
            if not (math.isfinite(lat) and math.isfinite(lon) and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
                raise ValueError(f"Route waypoint {i}: ({lat!r}, {lon!r}) is not a latitude/longitude in degrees")
            if not points or haversine_m(*points[-1], lat, lon) >= _MIN_SEGMENT_M:
                points.append((float(lat), float(lon)))
        if len(points) < 2:
            raise ValueError("Route: need at least two distinct waypoints")
        self.waypoints: tuple[tuple[float, float], ...] = tuple(points)
        self._starts_m = [0.0]
        # What position_at needs of each segment, worked out once (the rig asks every period):
        # its start, its end vectors, its angle at the earth's centre, that angle's sine, its heading.
        self._segments: list[tuple[float, Vec3, Vec3, float, float, float]] = []
        vectors = [_to_vec(lat, lon) for lat, lon in points]
        for i, (a, b) in enumerate(zip(points, points[1:])):
            seg_m = haversine_m(*a, *b)
            if seg_m > _MAX_SEGMENT_M:
                raise ValueError(f"Route segment {i}: {seg_m / 1000:.0f} km is longer than "
                                 f"{_MAX_SEGMENT_M / 1000:.0f} km")
            start = self._starts_m[-1]
            self._starts_m.append(start + seg_m)
            delta = (self._starts_m[-1] - start) / EARTH_RADIUS_M
            self._segments.append((start, vectors[i], vectors[i + 1], delta, math.sin(delta),
                                   initial_bearing_deg(*a, *b)))

    @classmethod
    def straight(cls, lat_deg: float, lon_deg: float, heading_deg: float, length_m: float) -> Route:
        """A single straight segment of `length_m` from a start point at `heading_deg`."""
        if not (math.isfinite(length_m) and length_m > 0.0):
            raise ValueError(f"Route.straight: length must be finite and > 0 m, got {length_m!r}")
        return cls([(lat_deg, lon_deg), destination(lat_deg, lon_deg, heading_deg, length_m)])

    @property
    def length_m(self) -> float:
        return self._starts_m[-1]

    def waypoint_distances_m(self) -> tuple[float, ...]:
        """Distance along the route of each waypoint (0 for the first, `length_m` for the last)."""
        return tuple(self._starts_m)

    def position_at(self, distance_m: float) -> tuple[float, float, float]:
        """(lat_deg, lon_deg, heading_deg) at `distance_m` along the route; heading is the initial
        bearing of the segment the point lies on (or is extrapolated from, outside the route)."""
        i = min(max(bisect.bisect_right(self._starts_m, distance_m) - 1, 0), len(self._segments) - 1)
        start, a, b, delta, sin_delta, heading = self._segments[i]
        # The point that far from a on the great circle through a and b (any sign, past b included).
        along = (distance_m - start) / EARTH_RADIUS_M
        wa = math.sin(delta - along) / sin_delta
        wb = math.sin(along) / sin_delta
        x, y, z = wa * a[0] + wb * b[0], wa * a[1] + wb * b[1], wa * a[2] + wb * b[2]
        return math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x)), heading

    def positions_at(self, distances_m: Sequence[float]) -> tuple[list[float], list[float], list[float]]:
        """position_at for many distances at once, as columns (latitudes, longitudes,
        headings): the same arithmetic in numpy, for a run's timeline (one row a period),
        where it took a twentieth of the rig's loop one row at a time. Equal to position_at
        within 1e-14 degrees (numpy's hypot may round the last bit otherwise than math's)."""
        import numpy as np

        d = np.asarray(distances_m, dtype=float)
        i = np.clip(np.searchsorted(self._starts_m, d, side="right") - 1, 0, len(self._segments) - 1)
        start, ax, ay, az, bx, by, bz, delta, sin_delta, heading = np.array(
            [(s, *a, *b, dl, sd, h) for s, a, b, dl, sd, h in self._segments], dtype=float)[i].T
        along = (d - start) / EARTH_RADIUS_M
        wa = np.sin(delta - along) / sin_delta
        wb = np.sin(along) / sin_delta
        x, y, z = wa * ax + wb * bx, wa * ay + wb * by, wa * az + wb * bz
        return (np.degrees(np.arctan2(z, np.hypot(x, y))).tolist(), np.degrees(np.arctan2(y, x)).tolist(),
                heading.tolist())


class GnssReceiver:
    """A receiver riding on the vehicle along `route`, producing `rate_hz` fixes.

    Position noise is white gaussian with standard deviation `noise_m` on each of north and east
    (so CEP ~1.18 x noise_m; 1.5 m gives ~1.8 m, a consumer receiver under open sky). `outages`
    are (t0_s, t1_s) windows without a fix; `jumps` are (t0_s, t1_s, north_m, east_m) windows in
    which the solution is offset (multipath, a spoofer). Windows are half-open [t0, t1).
    The noise stream is drawn identically for every fix, in or out of a window, so the same
    seed gives the same noise whatever windows a scenario adds.
    """

    HDOP_NO_FIX = 99.9
    SPEED_NOISE_KPH = 0.2
    HEADING_NOISE_DEG = 1.0

    def __init__(
        self,
        route: Route,
        rate_hz: float = 10.0,
        noise_m: float = 1.5,
        seed: int = 0,
        satellites: int = 12,
        hdop: float = 0.9,
        outages: Sequence[tuple[float, float]] = (),
        jumps: Sequence[tuple[float, float, float, float]] = (),
    ) -> None:
        if not (math.isfinite(rate_hz) and 0.0 < rate_hz <= 1000.0):
            raise ValueError(f"GnssReceiver.rate_hz: must be in (0, 1000], got {rate_hz!r}")
        if not (math.isfinite(noise_m) and noise_m >= 0.0):
            raise ValueError(f"GnssReceiver.noise_m: must be finite and >= 0, got {noise_m!r}")
        for name, windows in (("outages", outages), ("jumps", jumps)):
            for w in windows:
                if not w[1] > w[0]:
                    raise ValueError(f"GnssReceiver.{name}: window {tuple(w)!r} must end after it starts")
        self.route = route
        self.period_ms = max(1, round(1000.0 / rate_hz))
        self.noise_m = noise_m
        self.satellites = satellites
        self.hdop = hdop
        self.outages = tuple((float(a), float(b)) for a, b in outages)
        self.jumps = tuple((float(a), float(b), float(n), float(e)) for a, b, n, e in jumps)
        self._rng = random.Random(seed)
        self._next_due_ms = 0
        self._last_position: tuple[float, float, float] = (*route.waypoints[0], 0.0)

    def due(self, t_s: float) -> bool:
        """True at most once per period: at the first call at or after each multiple of the
        period. Time is rounded to whole milliseconds so summed float steps cannot drift."""
        return self.due_ms(round(t_s * 1000.0))

    def due_ms(self, t_ms: int) -> bool:
        """due() for a time in whole milliseconds (the rig's clock)."""
        if t_ms < self._next_due_ms:
            return False
        self._next_due_ms = (t_ms // self.period_ms + 1) * self.period_ms
        return True

    def fix(self, t_s: float, distance_m: float, speed_mps: float) -> GnssFix:
        """The receiver's solution at `t_s` for a vehicle `distance_m` along the route at `speed_mps`."""
        gauss = self._rng.gauss
        north_m = gauss(0.0, 1.0) * self.noise_m
        east_m = gauss(0.0, 1.0) * self.noise_m
        speed_kph = max(0.0, speed_mps * 3.6 + gauss(0.0, self.SPEED_NOISE_KPH))
        heading_noise_deg = gauss(0.0, self.HEADING_NOISE_DEG)
        if self.outages and in_windows(t_s, self.outages):
            # No fix: the receiver repeats its last solution and says it is worthless.
            lat, lon, heading = self._last_position
            return GnssFix(lat, lon, 0, 0, self.HDOP_NO_FIX, 0.0, heading)
        lat, lon, heading = self.route.position_at(distance_m)
        for t0, t1, jump_north_m, jump_east_m in self.jumps:
            if t0 <= t_s < t1:
                north_m += jump_north_m
                east_m += jump_east_m
        lat, lon = offset_deg(lat, lon, north_m, east_m)
        heading = (heading + heading_noise_deg) % 360.0
        self._last_position = (lat, lon, heading)
        return GnssFix(lat, lon, 3, self.satellites, self.hdop, speed_kph, heading)


def _to_vec(lat_deg: float, lon_deg: float) -> Vec3:
    p, lam = math.radians(lat_deg), math.radians(lon_deg)
    return (math.cos(p) * math.cos(lam), math.cos(p) * math.sin(lam), math.sin(p))
