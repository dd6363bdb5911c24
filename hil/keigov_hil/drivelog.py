"""Synthetic recorded drives on the governor's bus (dbc/keigov.dbc), for replay tests and
benchmarks: what a logger on a vehicle would have recorded, written by python-can.

A `DriveProfile` is a piecewise-linear speed over time along a straight route. The frames
are the vehicle's inputs to the governor as VehicleNodes sends them (wheel speeds and
driver inputs at 50 Hz, GNSS at 10 Hz with counters and CRCs, packed by cantools from
the DBC), plus frames of other ids the governor does not use. Time stamps sit a few
milliseconds off the 10 ms grid, so every format's rounding puts a frame in the same
control period. The GNSS fixes are available on their own for a GPX track.
"""

from __future__ import annotations

import bisect
import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from xml.sax.saxutils import escape

from keigov import paths
from keigov.dbc.e2e import FramePacker
from keigov.gnss import PAIRED_WITH_LAT, GnssFix, gnss_messages
from keigov_hil.gnss import Route

Frame = tuple[float, int, bytes, bool]     # (UTC seconds, id without flags, data, extended)
START_UTC = 1_700_000_000.0                # 2023-11-14 22:13:20 UTC


@dataclass
class DriveProfile:
    speeds: list[tuple[float, float]]          # (t_s, km/h) points, linear between them
    pedal_pct: float = 60.0
    start_utc: float = START_UTC
    start: tuple[float, float] = (35.6812, 139.7671)
    heading_deg: float = 90.0
    gnss_rate_hz: float = 10.0
    other_ids: tuple[int, ...] = ()            # ids the governor does not use
    other_rate_hz: float = 20.0
    seed: int = 1
    wheel_offset_kph: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    extended_other: bool = False
    _route: Route | None = field(default=None, repr=False)

    @property
    def duration_s(self) -> float:
        return self.speeds[-1][0]

    def speed_kph(self, t: float) -> float:
        times = [p[0] for p in self.speeds]
        i = min(max(bisect.bisect_right(times, t) - 1, 0), len(self.speeds) - 2)
        (t0, v0), (t1, v1) = self.speeds[i], self.speeds[i + 1]
        w = min(max((t - t0) / (t1 - t0), 0.0), 1.0) if t1 > t0 else 1.0
        return v0 + w * (v1 - v0)

    def distance_m(self, t: float) -> float:
        """Distance driven by time t (the speed integrated exactly: it is piecewise linear)."""
        d = 0.0
        for (t0, v0), (t1, v1) in zip(self.speeds, self.speeds[1:]):
            if t <= t0:
                break
            end = min(t, t1)
            v_end = v0 + (v1 - v0) * (end - t0) / (t1 - t0) if t1 > t0 else v1
            d += (v0 + v_end) / 2 / 3.6 * (end - t0)
        return d

    def route(self) -> Route:
        if self._route is None:
            self._route = Route.straight(*self.start, self.heading_deg, 200_000)
        return self._route


def drive_fixes(profile: DriveProfile) -> list[tuple[float, GnssFix]]:
    """The GNSS receiver's fixes along the drive: UTC time and fix."""
    fixes = []
    period = 1.0 / profile.gnss_rate_hz
    n = int(profile.duration_s / period)
    for k in range(n + 1):
        t = k * period + 0.005
        lat, lon, heading = profile.route().position_at(profile.distance_m(t))
        fixes.append((profile.start_utc + t, GnssFix(lat, lon, 3, 12, 0.9, profile.speed_kph(t), heading)))
    return fixes


def _vehicle_frames(profile: DriveProfile, packer: FramePacker) -> Iterator[Frame]:
    wheels = ("WHEEL_SPEED_FL", "WHEEL_SPEED_FR", "WHEEL_SPEED_RL", "WHEEL_SPEED_RR")
    n = int(profile.duration_s / 0.02)
    for k in range(n + 1):
        t = k * 0.02 + 0.003
        v = profile.speed_kph(t)
        fid, data = packer.pack("WHEEL_SPEEDS", {w: round(min(max(v + o, 0.0), 204.775) / 0.025) * 0.025
                                                 for w, o in zip(wheels, profile.wheel_offset_kph)})
        yield profile.start_utc + t, fid, data, False
        fid, data = packer.pack("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": profile.pedal_pct, "BRAKE_SWITCH": 0})
        yield profile.start_utc + t + 0.004, fid, data, False


def _gnss_frames(profile: DriveProfile, packer: FramePacker) -> Iterator[Frame]:
    for t, fix in drive_fixes(profile):
        seq = packer.counters.get("GNSS_FIX_LAT", -1) + 1
        for n, (name, values) in enumerate(gnss_messages(fix)):
            fid, data = packer.pack(name, values, counter=seq if name in PAIRED_WITH_LAT else None)
            yield t + n * 0.0002, fid, data, False


def _other_frames(profile: DriveProfile) -> Iterator[Frame]:
    if not profile.other_ids:
        return
    rng = random.Random(profile.seed)
    step = 1.0 / profile.other_rate_hz
    n = int(profile.duration_s / step)
    payloads = [bytes(rng.randrange(256) for _ in range(8)) for _ in range(16)]
    for k in range(n + 1):
        base = profile.start_utc + k * step + 0.0013
        for j, fid in enumerate(profile.other_ids):
            yield base + j * 0.00001, fid, payloads[(k + j) % 16], profile.extended_other


def drive_frames(profile: DriveProfile) -> Iterator[Frame]:
    """Every frame of the drive in time order."""
    packer = FramePacker.from_map(paths.KEIGOV_MAP)
    return heapq.merge(_vehicle_frames(profile, packer), _gnss_frames(profile, packer), _other_frames(profile),
                       key=lambda f: f[0])


def write_log(path: Path, frames: Iterator[Frame], channel: int | str = 0) -> int:
    """Write frames with python-can's writer for the file's suffix; returns how many."""
    import can

    n = 0
    with can.Logger(str(path)) as log:
        for t, fid, data, ext in frames:
            log.on_message_received(can.Message(timestamp=t, arbitration_id=fid, data=data, is_extended_id=ext,
                                                channel=channel))
            n += 1
    return n


def write_gpx(path: Path, fixes: list[tuple[float, GnssFix]]) -> None:
    from datetime import datetime

    points = []
    for t, fix in fixes:
        stamp = datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        points.append(f'   <trkpt lat="{fix.lat_deg:.8f}" lon="{fix.lon_deg:.8f}"><time>{escape(stamp)}</time>'
                      f"<sat>{fix.satellites}</sat><hdop>{fix.hdop}</hdop></trkpt>")
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<gpx version="1.1" creator="keigov" xmlns="http://www.topografix.com/GPX/1/1">\n'
                    " <trk><trkseg>\n" + "\n".join(points) + "\n </trkseg></trk>\n</gpx>\n")
