"""GNSS tracks for keigov replay (GPX, NMEA 0183) and the fix timeline the device's GNSS
frames are sampled from."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keigov.errors import InputError
from keigov.gnss import GnssFix, haversine_m
from keigov.replay.gnss import MAX_GAP_S, FixAssembler, FixTimeline
from keigov.replay.track import read_track
from keigov_hil.drivelog import DriveProfile, drive_fixes, write_gpx

T0 = datetime(2021, 7, 26, 4, 50, 0, tzinfo=UTC).timestamp()


def _nmea(body: str) -> str:
    value = 0
    for ch in body:
        value ^= ord(ch)
    return f"${body}*{value:02X}"


def test_gpx_written_from_fixes_reads_back_the_same_fixes(tmp_path):
    fixes = drive_fixes(DriveProfile([(0, 30), (5, 60)]))
    path = tmp_path / "drive.gpx"
    write_gpx(path, fixes)
    track = read_track(path)
    assert len(track.fixes) == len(fixes)
    for (t, got), (t_ref, ref) in zip(track.fixes, fixes):
        assert abs(t - t_ref) < 1e-5
        assert haversine_m(got.lat_deg, got.lon_deg, ref.lat_deg, ref.lon_deg) < 0.01
        assert (got.fix_type, got.satellites, got.hdop) == (3, ref.satellites, ref.hdop)
    # Speed and course come from the positions: the track has none.
    assert abs(track.fixes[20][1].speed_kph - fixes[20][1].speed_kph) < 1.0
    assert abs(track.fixes[20][1].heading_deg - 90.0) < 0.5


def test_gpx_problems_name_the_point(tmp_path):
    path = tmp_path / "bad.gpx"
    path.write_text('<gpx><trk><trkseg><trkpt lat="55.1" lon="9.1"><time>2021-07-26T04:50:00Z</time></trkpt>'
                    '<trkpt lat="55.1" lon="9.1"></trkpt></trkseg></trk></gpx>')
    with pytest.raises(InputError, match=r"bad.gpx: trkpt 2: has no <time>"):
        read_track(path)
    path.write_text("<gpx><trk>")
    with pytest.raises(InputError, match="not a GPX file"):
        read_track(path)


def test_nmea_rmc_and_gga_make_one_fix(tmp_path):
    lines = [
        "junk before the first sentence",
        _nmea("GPGGA,045000.00,5546.1234,N,00912.5000,E,1,09,1.2,12.0,M,40.0,M,,"),
        _nmea("GPRMC,045000.00,A,5546.1234,N,00912.5000,E,20.0,45.0,260721,,,A"),
        _nmea("GNRMC,045001.00,A,5546.1300,N,00912.5100,E,21.0,46.0,260721,,,A"),
        _nmea("GNGGA,045001.00,5546.1300,N,00912.5100,E,0,00,99.9,12.0,M,40.0,M,,"),
    ]
    path = tmp_path / "drive.nmea"
    path.write_text("\n".join(lines) + "\n")
    track = read_track(path)
    (t1, a), (t2, b) = track.fixes
    assert t1 == T0 and t2 == T0 + 1
    assert math.isclose(a.lat_deg, 55 + 46.1234 / 60) and math.isclose(a.lon_deg, 9 + 12.5 / 60)
    assert (a.fix_type, a.satellites, a.hdop) == (3, 9, 1.2)
    assert math.isclose(a.speed_kph, 20.0 * 1.852) and a.heading_deg == 45.0
    assert b.fix_type == 0          # GGA quality 0: no fix


def test_nmea_problems_name_the_line(tmp_path):
    path = tmp_path / "bad.nmea"
    good = _nmea("GPRMC,045000.00,A,5546.1234,N,00912.5000,E,20.0,45.0,260721,,,A")
    path.write_text(good + "\n" + good[:-2] + "00\n")
    with pytest.raises(InputError, match=r"bad.nmea:2: checksum mismatch"):
        read_track(path)
    path.write_text(_nmea("GPGGA,045000.00,5546.1234,N,00912.5000,E,1,09,1.2,12.0,M,40.0,M,,") + "\n")
    with pytest.raises(InputError, match=r"no \$--RMC"):
        read_track(path)
    with pytest.raises(InputError, match=r"unknown track format '.kml'"):
        read_track(tmp_path / "drive.kml")


def _fix(lat: float, lon: float, fix_type: int = 3, speed: float = 36.0, heading: float = 350.0) -> GnssFix:
    return GnssFix(lat, lon, fix_type, 10, 1.0, speed, heading)


def test_timeline_interpolates_between_fixes_and_holds_the_last_one_interval():
    timeline = FixTimeline([(100.0, _fix(55.0, 9.0, heading=350.0)), (101.0, _fix(55.001, 9.002, heading=10.0)),
                            (102.0, _fix(55.002, 9.004))])
    mid = timeline.at(100.25)
    assert math.isclose(mid.lat_deg, 55.00025) and math.isclose(mid.lon_deg, 9.0005)
    assert math.isclose(mid.heading_deg, 355.0)          # across north, the short way
    assert timeline.at(99.99) is None                     # before the first fix
    assert timeline.at(102.9) is not None and timeline.at(103.1) is None
    gap = FixTimeline([(0.0, _fix(55.0, 9.0)), (MAX_GAP_S + 0.5, _fix(55.0, 9.0))])
    assert gap.at(1.0) is None                            # an outage, not a straight line
    no_fix = FixTimeline([(0.0, _fix(55.0, 9.0)), (1.0, _fix(55.0, 9.0, fix_type=0))])
    assert no_fix.at(0.5).fix_type == 0


def test_assembler_pairs_coordinates_and_fills_what_the_map_lacks():
    asm = FixAssembler()
    assert asm.update(0.0, {"gnss_latitude": 55.0}) is None
    fix = asm.update(0.01, {"gnss_longitude": 9.0, "gnss_satellites": 70})
    assert (fix.lat_deg, fix.lon_deg, fix.fix_type, fix.satellites) == (55.0, 9.0, 3, 63)
    asm.update(1.0, {"gnss_latitude": 55.0001, "gnss_longitude": 9.0})
    (_, a), (_, b) = asm.result()
    assert 35 < a.speed_kph < 41 and abs(a.heading_deg) < 1e-6      # 11.1 m north in ~1 s


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(0.05, 4.0), st.floats(-80, 80), st.floats(-179, 179), st.floats(0, 359.99),
                          st.sampled_from([0, 2, 3])), min_size=1, max_size=40),
       st.floats(-2.0, 3.0), st.integers(1, 3000))
def test_positions_for_a_timeline_are_what_at_gives_period_by_period(steps, start, n) -> None:
    """The timeline's one-pass positions equal `at` for every period: interpolation,
    heading across north, outages longer than MAX_GAP_S, the hold after the last fix."""
    t, fixes = 0.0, []
    for gap, lat, lon, heading, fix_type in steps:
        t += gap
        fixes.append((t, GnssFix(lat, lon, fix_type, 9, 0.8, 30.0, heading)))
    timeline = FixTimeline(fixes)
    lat, lon, heading = timeline.positions(start, 10, n)
    for k in range(n):
        fix = timeline.at(start + k * 10 / 1000)
        got = (lat[k], lon[k], heading[k])
        if fix is None:
            assert all(math.isnan(v) for v in got), k
        else:
            assert got == (fix.lat_deg, fix.lon_deg, fix.heading_deg), k
