"""GNSS tracks for `--gnss TRACK`: time-stamped fixes from a GPX file or NMEA 0183 sentences.

A registry by suffix, like the log formats. Times are UTC seconds since the epoch, the
clock CAN loggers stamp frames with, so a track lines up with a log by time alone.

GPX: every <trkpt> with a <time>; <speed>/<course> (GPX 1.0), <sat>, <hdop> and <fix>
are used where present; speed and course otherwise come from consecutive points.
NMEA 0183: $--RMC (date, validity, position, speed, course) and $--GGA (quality,
satellites, HDOP) of any talker (GP, GN, GL, GA, BD); a GGA joins the RMC of the same
second. Checksums are verified; a bad sentence is an error naming its line.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from keigov.errors import InputError
from keigov.gnss import GnssFix, haversine_m, initial_bearing_deg

DEFAULT_SATELLITES = 10      # a track that does not say: a good fix, as a logger keeps only those
DEFAULT_HDOP = 1.0
KNOTS_KPH = 1.852
_GPX_FIX = {"none": 0, "2d": 2, "3d": 3, "dgps": 3, "pps": 3}


@dataclass(frozen=True)
class Track:
    path: Path
    fixes: list[tuple[float, GnssFix]]     # (UTC seconds, fix), in time order

    @property
    def span(self) -> tuple[float, float]:
        return self.fixes[0][0], self.fixes[-1][0]


TrackReader = Callable[[Path], list[tuple[float, GnssFix]]]
TRACK_FORMATS: dict[str, TrackReader] = {}


def track_format(*suffixes: str) -> Callable[[TrackReader], TrackReader]:
    def add(reader: TrackReader) -> TrackReader:
        for suffix in suffixes:
            TRACK_FORMATS[suffix] = reader
        return reader

    return add


def read_track(path: Path) -> Track:
    reader = TRACK_FORMATS.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"unknown track format {path.suffix or '(no suffix)'!r}; known: "
                         f"{', '.join(sorted(TRACK_FORMATS))}", where=str(path))
    if not path.is_file():
        raise InputError("no such file", where=str(path))
    fixes = sorted(reader(path), key=lambda f: f[0])
    if len(fixes) < 2:
        raise InputError(f"a track needs at least two time-stamped fixes, found {len(fixes)}", where=str(path))
    return Track(path, fixes)


def _utc(text: str, where: str) -> float:
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"not an ISO 8601 time: {text!r}", where=where) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def with_motion(fixes: list[tuple[float, GnssFix]], known_speed: list[bool], known_course: list[bool]
                ) -> list[tuple[float, GnssFix]]:
    """Speed and course from consecutive points where the track did not record them."""
    out = []
    for i, (t, fix) in enumerate(fixes):
        j = i + 1 if i + 1 < len(fixes) else i - 1
        if j < 0:
            out.append((t, fix))
            continue
        a, b = (fixes[i], fixes[j]) if j > i else (fixes[j], fixes[i])
        dt = b[0] - a[0]
        dist = haversine_m(a[1].lat_deg, a[1].lon_deg, b[1].lat_deg, b[1].lon_deg)
        speed = fix.speed_kph if known_speed[i] else (dist / dt * 3.6 if dt > 0 else 0.0)
        course = fix.heading_deg if known_course[i] else (
            initial_bearing_deg(a[1].lat_deg, a[1].lon_deg, b[1].lat_deg, b[1].lon_deg) if dist > 0.5 else 0.0)
        out.append((t, replace(fix, speed_kph=speed, heading_deg=course)))
    return out


# -- GPX -------------------------------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@track_format(".gpx")
def read_gpx(path: Path) -> list[tuple[float, GnssFix]]:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InputError(f"not a GPX file: {exc}", where=str(path)) from None
    fixes: list[tuple[float, GnssFix]] = []
    known_speed: list[bool] = []
    known_course: list[bool] = []
    for n, pt in enumerate((e for e in root.iter() if _local(e.tag) == "trkpt"), 1):
        where = f"{path}: trkpt {n}"
        fields = {_local(child.tag): (child.text or "").strip() for child in pt.iter() if child is not pt}
        try:
            lat, lon = float(pt.attrib["lat"]), float(pt.attrib["lon"])
        except (KeyError, ValueError):
            raise InputError("needs numeric lat and lon attributes", where=where) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputError(f"({lat}, {lon}) is not a latitude/longitude", where=where)
        if "time" not in fields:
            raise InputError("has no <time>: a track is aligned with the log by time", where=where)
        try:
            speed = float(fields["speed"]) * 3.6 if "speed" in fields else 0.0
            course = float(fields["course"]) % 360 if "course" in fields else 0.0
            sats = min(int(fields.get("sat", DEFAULT_SATELLITES)), 63)
            hdop = float(fields.get("hdop", DEFAULT_HDOP))
        except ValueError as exc:
            raise InputError(f"bad number: {exc}", where=where) from None
        fix_type = _GPX_FIX.get(fields.get("fix", "3d").lower(), 3)
        fixes.append((_utc(fields["time"], where), GnssFix(lat, lon, fix_type, sats, hdop, speed, course)))
        known_speed.append("speed" in fields)
        known_course.append("course" in fields)
    if not fixes:
        raise InputError("no <trkpt> in the GPX file", where=str(path))
    return with_motion(fixes, known_speed, known_course)


# -- NMEA 0183 -------------------------------------------------------------------------------

def _nmea_checksum_ok(sentence: str) -> bool:
    body, _, given = sentence[1:].partition("*")
    if not given:
        return True      # the checksum is optional in NMEA 0183
    value = 0
    for ch in body:
        value ^= ord(ch)
    return given[:2].upper() == f"{value:02X}"


def _degrees(value: str, hemisphere: str, width: int) -> float:
    """ddmm.mmmm (dddmm.mmmm for longitude) and N/S/E/W as signed degrees."""
    deg = int(value[:width]) + float(value[width:]) / 60.0
    return -deg if hemisphere in ("S", "W") else deg


def _seconds_of_day(hhmmss: str) -> float:
    return int(hhmmss[0:2]) * 3600 + int(hhmmss[2:4]) * 60 + float(hhmmss[4:])


@track_format(".nmea", ".nma", ".txt")
def read_nmea(path: Path) -> list[tuple[float, GnssFix]]:
    fixes: dict[float, GnssFix] = {}
    gga: dict[float, tuple[int, int, float]] = {}      # second of day -> (quality, sats, hdop)
    day_start: float | None = None
    try:
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), where=str(path)) from None
    for number, line in enumerate(lines, 1):
        at = line.find("$")
        if at < 0:
            continue
        sentence = line[at:].strip()
        kind = sentence[3:6]
        if kind not in ("RMC", "GGA"):
            continue
        where = f"{path}:{number}"
        if not _nmea_checksum_ok(sentence):
            raise InputError(f"checksum mismatch: {sentence[:60]!r}", where=where)
        f = sentence.split("*")[0].split(",")
        try:
            if kind == "RMC":
                if len(f) < 10:
                    raise ValueError("too few fields")
                date = datetime.strptime(f[9], "%d%m%y").replace(tzinfo=UTC)
                day_start = date.timestamp()
                if not f[3] or not f[5]:
                    continue              # no position yet (receiver starting)
                t = day_start + _seconds_of_day(f[1])
                fixes[t] = GnssFix(_degrees(f[3], f[4], 2), _degrees(f[5], f[6], 3), 3 if f[2] == "A" else 0,
                                   DEFAULT_SATELLITES, DEFAULT_HDOP, float(f[7] or 0) * KNOTS_KPH,
                                   float(f[8] or 0) % 360)
            else:
                if len(f) < 9:
                    raise ValueError("too few fields")
                if f[6] and f[1]:
                    gga[round(_seconds_of_day(f[1]), 3)] = (int(f[6]), int(f[7] or 0), float(f[8] or DEFAULT_HDOP))
        except (ValueError, IndexError) as exc:
            raise InputError(f"malformed ${sentence[1:6]}: {exc}", where=where) from None
    if not fixes:
        raise InputError("no $--RMC sentences with a position (they carry the date a track needs)",
                         where=str(path))
    out = []
    for t, fix in sorted(fixes.items()):
        quality = gga.get(round(t % 86400, 3))
        if quality is not None:
            q, sats, hdop = quality
            fix_type = 0 if q == 0 or fix.fix_type == 0 else (1 if q == 6 else 3)
            fix = replace(fix, fix_type=fix_type, satellites=min(sats, 63), hdop=hdop)
        out.append((t, fix))
    return out
