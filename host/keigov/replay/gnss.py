"""GNSS fixes over a drive: assembled from decoded signals, looked up at any time.

`FixAssembler` turns the GNSS roles decoded from frames (a map's gnss_* signals) into
fixes: one per position, with the latest fix type, satellites, HDOP, speed and course
(defaults where the map binds none). `FixTimeline` answers "where was the vehicle at
time t": between two fixes at most MAX_GAP_S apart the position is interpolated in time;
across a longer gap, before the first fix or after the last has aged by a fix interval,
there is none (an outage).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable

from keigov.gnss import GnssFix
from keigov.replay.track import DEFAULT_HDOP, DEFAULT_SATELLITES, with_motion

MAX_GAP_S = 2.5          # a 1 Hz receiver may miss a fix; a longer gap is an outage

_DEFAULTS = {"gnss_fix_type": 3.0, "gnss_satellites": float(DEFAULT_SATELLITES), "gnss_hdop": DEFAULT_HDOP,
             "gnss_speed": 0.0, "gnss_heading": 0.0}


class FixAssembler:
    """Fixes from decoded GNSS roles: one each time both coordinates have been updated."""

    def __init__(self) -> None:
        self.latest: dict[str, float] = dict(_DEFAULTS)
        self._fresh: set[str] = set()
        self.fixes: list[tuple[float, GnssFix]] = []
        self.known_speed: list[bool] = []
        self.known_course: list[bool] = []
        self._seen: set[str] = set()

    def update(self, t: float, values: dict[str, float]) -> GnssFix | None:
        self.latest.update(values)
        self._seen.update(values)
        self._fresh.update(k for k in values if k in ("gnss_latitude", "gnss_longitude"))
        if len(self._fresh) < 2:
            return None
        self._fresh.clear()
        v = self.latest
        fix = GnssFix(v["gnss_latitude"], v["gnss_longitude"], int(v["gnss_fix_type"]),
                      min(int(v["gnss_satellites"]), 63), v["gnss_hdop"], v["gnss_speed"], v["gnss_heading"] % 360)
        self.fixes.append((t, fix))
        self.known_speed.append("gnss_speed" in self._seen)
        self.known_course.append("gnss_heading" in self._seen)
        return fix

    def result(self) -> list[tuple[float, GnssFix]]:
        """The fixes, with speed and course from the positions where no signal gave them."""
        if len(self.fixes) < 2:
            return list(self.fixes)
        return with_motion(self.fixes, self.known_speed, self.known_course)


def _position(a: GnssFix, b: GnssFix, w: float) -> tuple[float, float, float]:
    """Latitude, longitude and heading a share w of the way from fix a to fix b."""
    return (a.lat_deg + w * (b.lat_deg - a.lat_deg), a.lon_deg + w * (b.lon_deg - a.lon_deg),
            _lerp_angle(a.heading_deg, b.heading_deg, w))


def _lerp_angle(a: float, b: float, w: float) -> float:
    d = (b - a + 180.0) % 360.0 - 180.0
    return (a + w * d) % 360.0


class FixTimeline:
    def __init__(self, fixes: Iterable[tuple[float, GnssFix]]) -> None:
        pairs = sorted(fixes, key=lambda f: f[0])
        self.times = [t for t, _ in pairs]
        self.fixes = [f for _, f in pairs]
        # The last fix stands until the receiver's next one would have come (one typical
        # interval): a recording that ends between fixes is not a GNSS outage.
        gaps = sorted(b - a for a, b in zip(self.times, self.times[1:]))
        self.hold_s = min(gaps[len(gaps) // 2], MAX_GAP_S) if gaps else 0.0

    def __bool__(self) -> bool:
        return bool(self.fixes)

    @property
    def span(self) -> tuple[float, float] | None:
        return (self.times[0], self.times[-1]) if self.times else None

    def at(self, t: float) -> GnssFix | None:
        """The fix at time t, interpolated between fixes; None in an outage."""
        found = self._between(bisect.bisect_right(self.times, t) - 1, t)
        if found is None:
            return None
        a, b, w = found
        if b is None:
            return a
        lat, lon, heading = _position(a, b, w)
        fix_type = a.fix_type if b.fix_type else 0      # no fix at either end: none between
        return GnssFix(lat, lon, fix_type, a.satellites, a.hdop, a.speed_kph + w * (b.speed_kph - a.speed_kph), heading)

    def positions(self, start: float, step_ms: int, n: int) -> tuple[list[float], list[float], list[float]]:
        """Latitude, longitude and heading at start + k x step_ms for k < n, as `at` gives
        them (nan where it gives None): one pass with a cursor, for a timeline's rows."""
        nan = math.nan
        lat, lon, heading = [nan] * n, [nan] * n, [nan] * n
        times = self.times
        last = len(times) - 1
        i = -1
        for k in range(n):
            t = start + k * step_ms / 1000
            while i < last and times[i + 1] <= t:
                i += 1
            found = self._between(i, t)
            if found is not None:
                a, b, w = found
                lat[k], lon[k], heading[k] = (a.lat_deg, a.lon_deg, a.heading_deg) if b is None else _position(a, b, w)
        return lat, lon, heading

    def _between(self, i: int, t: float) -> tuple[GnssFix, GnssFix | None, float] | None:
        """For t at or after fix i and before fix i + 1: those two fixes and t's weight
        between them; (fix i, None, 0) in the hold after the last fix; None before the
        first fix or in an outage (a gap longer than MAX_GAP_S)."""
        if i < 0:
            return None
        a = self.fixes[i]
        if i + 1 >= len(self.fixes):
            return (a, None, 0.0) if t - self.times[i] <= self.hold_s else None
        ta, tb = self.times[i], self.times[i + 1]
        if tb - ta > MAX_GAP_S:
            return None
        return a, self.fixes[i + 1], (t - ta) / (tb - ta) if tb > ta else 0.0

    def latest(self, t: float) -> GnssFix | None:
        """The last fix at or before t (no interpolation), for positions of events."""
        i = bisect.bisect_right(self.times, t) - 1
        return self.fixes[i] if i >= 0 else None
