"""The map projection the device uses, done on the host with the device's own integers.

Equirectangular about a local origin (lat0, lon0): y = M(lat0) * dlat, x = N(lat0) *
cos(lat0) * dlon, with M and N the WGS84 meridional and prime-vertical radii at lat0, so
scale is exact at the origin. Keeping cos(lat0) fixed bends the map away from it: the
error grows with the square of the distance from the origin (45 deg: 0.03 m at 1 km,
0.76 m at 5 km, 3 m at 10 km), which is why a table covers a limited area.

Zone vertices and GNSS fixes go through the same integer formula (`to_local` here and
`Fence.to_local` on the device), so the distortion moves both alike: containment is
decided as in lat/lon, and only metric distances (corridor widths, hysteresis) carry it.
Coordinates are decimetres, as offsets from the origin (always |v| < 2**24).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563
E7 = 10_000_000            # the device's coordinate unit is 1e-7 degree
WINDOW_E7 = 1 << 23        # the device treats fixes beyond this from the origin as off the map
Q20 = 1 << 20


def local_radii_m(lat_deg: float) -> tuple[float, float]:
    """(meridional, prime vertical) radii of curvature of WGS84 at a latitude."""
    e2 = WGS84_F * (2 - WGS84_F)
    s = math.sin(math.radians(lat_deg))
    w = 1 - e2 * s * s
    return WGS84_A * (1 - e2) / w**1.5, WGS84_A / math.sqrt(w)


def scale_q20(d: int, k: int) -> int:
    """The device's d * k / 2**20 (core/geofence.py scale_q20), bit for bit."""
    return ((d >> 10) * k + (((d & 1023) * k) >> 10)) >> 10


def split16(v: int) -> tuple[int, int]:
    """A 1e-7 deg value as the device receives it: signed high and unsigned low halves."""
    return v >> 16, v & 0xFFFF


def join16(hi: int, lo: int) -> int:
    """Inverse of split16."""
    return (hi << 16) | (lo & 0xFFFF)


@dataclass(frozen=True)
class Projection:
    lat0_e7: int
    lon0_e7: int
    kx_q20: int   # decimetres per 1e-7 deg of longitude, Q20
    ky_q20: int   # decimetres per 1e-7 deg of latitude, Q20

    @classmethod
    def about(cls, lat0_deg: float, lon0_deg: float) -> Projection:
        lat0_e7, lon0_e7 = round(lat0_deg * E7), round(lon0_deg * E7)
        m, n = local_radii_m(lat0_e7 / E7)
        dm_per_e7 = math.pi / 180 / E7 * 10
        kx = round(n * math.cos(math.radians(lat0_e7 / E7)) * dm_per_e7 * Q20)
        ky = round(m * dm_per_e7 * Q20)
        return cls(lat0_e7, lon0_e7, kx, ky)

    def offsets_e7(self, lon_deg: float, lat_deg: float) -> tuple[int, int]:
        """(dlon, dlat) in 1e-7 deg from the origin, as the device forms them."""
        return round(lon_deg * E7) - self.lon0_e7, round(lat_deg * E7) - self.lat0_e7

    def to_local(self, lon_deg: float, lat_deg: float) -> tuple[int, int]:
        """(x, y) in dm for a point inside the window (as the device computes it)."""
        dlon, dlat = self.offsets_e7(lon_deg, lat_deg)
        if abs(dlon) > WINDOW_E7 or abs(dlat) > WINDOW_E7:
            raise ValueError(f"({lon_deg}, {lat_deg}) is beyond the table's window")
        return scale_q20(dlon, self.kx_q20), scale_q20(dlat, self.ky_q20)

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        """Inverse of to_local, to within a fraction of a decimetre (for messages and maps)."""
        return (
            (self.lon0_e7 + x * Q20 / self.kx_q20) / E7,
            (self.lat0_e7 + y * Q20 / self.ky_q20) / E7,
        )

    def position(self, x: int, y: int) -> dict[str, float]:
        """A device position (dm) as reports give it: {"lat", "lon"} to 7 decimals (1 cm)."""
        lon, lat = self.to_lonlat(x, y)
        return {"lat": round(lat, 7), "lon": round(lon, 7)}

    def metres(self, lon_deg: float, lat_deg: float) -> tuple[float, float]:
        """(x, y) in metres east/north of the origin by the same formula, without the
        device's rounding or window (for maps and reports)."""
        dlon, dlat = lon_deg * E7 - self.lon0_e7, lat_deg * E7 - self.lat0_e7
        return dlon * self.kx_q20 / Q20 / 10, dlat * self.ky_q20 / Q20 / 10

    def dm_per_e7(self) -> tuple[float, float]:
        return self.kx_q20 / Q20, self.ky_q20 / Q20
