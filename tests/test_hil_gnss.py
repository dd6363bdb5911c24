"""The HIL GNSS model: route geometry against an independent haversine, receiver noise and faults."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from keigov.gnss import GnssFix
from keigov_hil.gnss import GnssReceiver, Route

# Written out here rather than imported: the oracle must not share code with what it checks.
R_M = 6371008.8
TOKYO = (35.6812, 139.7671)


def reference_haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    s = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * R_M * math.atan2(math.sqrt(s), math.sqrt(1 - s))


def local_to_deg(origin: tuple[float, float], north_m: float, east_m: float) -> tuple[float, float]:
    lat0, lon0 = origin
    return lat0 + north_m / R_M * 180 / math.pi, lon0 + east_m / (R_M * math.cos(math.radians(lat0))) * 180 / math.pi


def deg_to_local(origin: tuple[float, float], lat: float, lon: float) -> tuple[float, float]:
    lat0, lon0 = origin
    return (lat - lat0) * math.pi / 180 * R_M, (lon - lon0) * math.pi / 180 * R_M * math.cos(math.radians(lat0))


SQUARE_ISH = [TOKYO, local_to_deg(TOKYO, 0, 800), local_to_deg(TOKYO, 600, 800), local_to_deg(TOKYO, 600, 2000)]


def test_route_length_is_the_sum_of_haversine_segments() -> None:
    route = Route(SQUARE_ISH)
    expected = sum(reference_haversine_m(a, b) for a, b in zip(SQUARE_ISH, SQUARE_ISH[1:]))
    assert route.length_m == pytest.approx(expected, abs=1e-6)
    assert route.length_m == pytest.approx(800 + 600 + 1200, rel=1e-4)  # the local-metre layout


@given(st.lists(st.floats(-2000.0, 5000.0), min_size=1, max_size=50))
@example([0.0, 800.0, 1400.0, 2600.0, -1.0, 1e6])   # waypoints, both sides of the ends
def test_positions_at_many_distances_are_position_at_each(distances: list[float]) -> None:
    """The timeline's columns (numpy, all rows at once) equal the per-period position."""
    route = Route(SQUARE_ISH)
    lats, lons, headings = route.positions_at(distances)
    for d, lat, lon, heading in zip(distances, lats, lons, headings, strict=True):
        one = route.position_at(d)
        assert (lat, lon) == pytest.approx(one[:2], abs=1e-12) and heading == one[2]


def test_positions_at_waypoint_distances_are_the_waypoints() -> None:
    route = Route(SQUARE_ISH)
    for (lat, lon), d in zip(SQUARE_ISH, route.waypoint_distances_m()):
        got_lat, got_lon, _ = route.position_at(d)
        assert reference_haversine_m((lat, lon), (got_lat, got_lon)) < 1e-6


def test_position_and_heading_inside_segments() -> None:
    route = Route(SQUARE_ISH)
    lat, lon, heading = route.position_at(300.0)  # on the eastbound first leg
    assert deg_to_local(TOKYO, lat, lon) == pytest.approx((0.0, 300.0), abs=0.05)
    assert heading == pytest.approx(90.0, abs=0.01)
    lat, lon, heading = route.position_at(800.0 + 250.0)  # northbound second leg
    assert deg_to_local(TOKYO, lat, lon) == pytest.approx((250.0, 800.0), abs=0.05)
    assert heading == pytest.approx(0.0, abs=0.01) or heading == pytest.approx(360.0, abs=0.01)


def test_route_goes_on_straight_beyond_its_end() -> None:
    route = Route.straight(*TOKYO, 0.0, 1000.0)  # due north
    lat, lon, heading = route.position_at(1500.0)
    assert lat == pytest.approx(TOKYO[0] + math.degrees(1500.0 / R_M), abs=1e-9)
    assert lon == pytest.approx(TOKYO[1], abs=1e-9)
    assert heading == pytest.approx(0.0, abs=1e-9)
    assert reference_haversine_m(TOKYO, route.position_at(5000.0)[:2]) == pytest.approx(5000.0, abs=1e-3)


def test_straight_route_has_its_length_and_heading() -> None:
    route = Route.straight(*TOKYO, 137.0, 2500.0)
    assert route.length_m == pytest.approx(2500.0, abs=1e-6)
    assert route.position_at(1.0)[2] == pytest.approx(137.0, abs=1e-9)


def test_route_drops_repeated_waypoints_and_rejects_nonsense() -> None:
    route = Route([TOKYO, TOKYO, local_to_deg(TOKYO, 100, 0)])
    assert len(route.waypoints) == 2
    with pytest.raises(ValueError, match="two distinct"):
        Route([TOKYO, TOKYO])
    with pytest.raises(ValueError, match="waypoint 1"):
        Route([TOKYO, (95.0, 0.0)])
    with pytest.raises(ValueError, match="longer than"):
        Route([(0.0, 0.0), (0.0, 90.0)])


local_offsets = st.tuples(st.floats(-3000, 3000), st.floats(-3000, 3000))


@given(st.lists(local_offsets, min_size=2, max_size=8), st.floats(0.0, 1.0), st.floats(-60.0, 60.0))
@example([(3000.0, -3000.0), (3000.0, 3000.0)], 0.5, 60.0)  # long east-west leg far north: biggest bulge
def test_positions_stay_inside_the_route_bounding_box(offsets: list[tuple[float, float]], frac: float,
                                                      lat0: float) -> None:
    origin = (lat0, 10.0)
    points = [local_to_deg(origin, n, e) for n, e in offsets]
    if all(reference_haversine_m(points[0], p) < 0.01 for p in points):
        return  # no distinct waypoints: not a route
    route = Route(points)
    lat, lon, _ = route.position_at(frac * route.length_m)
    # A great circle bulges poleward off the parallel by up to L^2 / (8 R) x tan(lat) metres (1.2 m
    # for 6 km at 60 deg); longitude along a short great-circle arc is monotonic, so no slack there.
    longest_m = max(reference_haversine_m(a, b) for a, b in zip(points, points[1:]))
    max_lat = max(abs(p[0]) for p in points)
    bulge_deg = math.degrees(longest_m**2 / (8 * R_M**2) * math.tan(math.radians(max_lat)) * 1.01) + 1e-9
    assert min(p[0] for p in points) - bulge_deg <= lat <= max(p[0] for p in points) + bulge_deg
    assert min(p[1] for p in points) - 1e-9 <= lon <= max(p[1] for p in points) + 1e-9


@given(
    st.floats(-60.0, 60.0),
    st.floats(-179.0, 179.0),
    st.floats(0.0, 359.9),
    st.lists(st.floats(0.0, 20000.0), min_size=2, max_size=20),
)
def test_distance_from_start_grows_with_distance_along_a_straight_route(
    lat: float, lon: float, heading: float, distances: list[float]
) -> None:
    route = Route.straight(lat, lon, heading, 5000.0)
    for d in sorted(distances):
        here = route.position_at(d)
        assert reference_haversine_m((lat, lon), here[:2]) == pytest.approx(d, abs=1e-3)


@given(st.lists(local_offsets, min_size=2, max_size=6), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_distance_between_two_points_on_one_segment_is_their_difference(
    offsets: list[tuple[float, float]], f1: float, f2: float
) -> None:
    points = [local_to_deg(TOKYO, n, e) for n, e in offsets]
    if all(reference_haversine_m(points[0], p) < 0.01 for p in points):
        return
    route = Route(points)
    starts = route.waypoint_distances_m()
    seg_start, seg_end = starts[0], starts[1]
    d1, d2 = seg_start + f1 * (seg_end - seg_start), seg_start + f2 * (seg_end - seg_start)
    gap = reference_haversine_m(route.position_at(d1)[:2], route.position_at(d2)[:2])
    assert gap == pytest.approx(abs(d2 - d1), abs=1e-4)


# --- receiver --------------------------------------------------------------------------------


def test_due_fires_once_per_period_without_float_drift() -> None:
    receiver = GnssReceiver(Route.straight(*TOKYO, 0.0, 100.0), rate_hz=10.0)
    t = 0.0
    fired = []
    for _ in range(100_00):  # 100 s of 10 ms steps, summed the drifting way
        if receiver.due(t):
            fired.append(round(t * 1000))
        t += 0.01
    assert len(fired) == 1000
    assert fired == list(range(0, 100_000, 100))


def test_due_keeps_its_grid_when_steps_are_coarser_than_the_period() -> None:
    receiver = GnssReceiver(Route.straight(*TOKYO, 0.0, 100.0), rate_hz=10.0)
    assert [receiver.due(t) for t in (0.0, 0.05, 0.25, 0.29, 0.3)] == [True, False, True, False, True]


def fixes(receiver: GnssReceiver, seconds: float, speed_mps: float = 10.0) -> list[tuple[float, GnssFix]]:
    out = []
    for k in range(round(seconds * 100)):
        t = k / 100
        if receiver.due(t):
            out.append((t, receiver.fix(t, speed_mps * t, speed_mps)))
    return out


def test_same_seed_same_fixes_and_another_seed_differs() -> None:
    route = Route(SQUARE_ISH)
    a = fixes(GnssReceiver(route, seed=7), 20.0)
    b = fixes(GnssReceiver(route, seed=7), 20.0)
    c = fixes(GnssReceiver(route, seed=8), 20.0)
    assert a == b
    assert a != c


def test_position_noise_has_the_configured_standard_deviation() -> None:
    route = Route.straight(*TOKYO, 90.0, 1000.0)
    receiver = GnssReceiver(route, noise_m=1.5, seed=3)
    truth = route.position_at(100.0)
    fixes = (receiver.fix(0.0, 100.0, 0.0) for _ in range(4000))
    offsets = [deg_to_local(truth[:2], f.lat_deg, f.lon_deg) for f in fixes]
    north = [n for n, _ in offsets]
    east = [e for _, e in offsets]
    for axis in (north, east):
        assert abs(statistics.fmean(axis)) < 0.1
        assert statistics.stdev(axis) == pytest.approx(1.5, rel=0.05)


def test_a_clean_fix_reports_route_position_speed_and_quality() -> None:
    route = Route.straight(*TOKYO, 45.0, 1000.0)
    receiver = GnssReceiver(route, noise_m=0.0, satellites=9, hdop=1.3)
    fix = receiver.fix(1.0, 300.0, 20.0)
    lat, lon, heading = route.position_at(300.0)
    assert (fix.lat_deg, fix.lon_deg) == pytest.approx((lat, lon), abs=1e-12)
    assert (fix.fix_type, fix.satellites, fix.hdop) == (3, 9, 1.3)
    assert fix.speed_kph == pytest.approx(72.0, abs=1.0)
    assert fix.heading_deg == pytest.approx(heading, abs=5.0)


def test_outage_reports_no_fix_and_claims_no_new_position() -> None:
    route = Route.straight(*TOKYO, 0.0, 1000.0)
    receiver = GnssReceiver(route, outages=((2.0, 3.0),))
    by_time = dict(fixes(receiver, 4.0))
    last_good = by_time[1.9]
    for t in (2.0, 2.5, 2.9):
        fix = by_time[t]
        assert (fix.fix_type, fix.satellites, fix.hdop) == (0, 0, 99.9)
        assert (fix.lat_deg, fix.lon_deg) == (last_good.lat_deg, last_good.lon_deg)
    assert by_time[3.0].fix_type == 3
    assert by_time[3.0].lat_deg > last_good.lat_deg  # moving north again


def test_jump_offsets_the_position_only_inside_its_window() -> None:
    route = Route.straight(*TOKYO, 0.0, 1000.0)
    clean = GnssReceiver(route, noise_m=0.0)
    jumping = GnssReceiver(route, noise_m=0.0, jumps=((1.0, 2.0, 30.0, -40.0),))
    for t in (0.5, 1.0, 1.5, 2.0):
        a, b = clean.fix(t, 10.0 * t, 10.0), jumping.fix(t, 10.0 * t, 10.0)
        moved = deg_to_local((a.lat_deg, a.lon_deg), b.lat_deg, b.lon_deg)
        expected = (30.0, -40.0) if 1.0 <= t < 2.0 else (0.0, 0.0)
        assert moved == pytest.approx(expected, abs=0.01)


def test_windows_do_not_shift_the_noise_of_later_fixes() -> None:
    route = Route(SQUARE_ISH)
    plain = fixes(GnssReceiver(route, seed=5), 6.0)
    with_outage = fixes(GnssReceiver(route, seed=5, outages=((1.0, 2.0),)), 6.0)
    assert [f for t, f in plain if t >= 2.0] == [f for t, f in with_outage if t >= 2.0]


def test_receiver_rejects_bad_settings() -> None:
    route = Route.straight(*TOKYO, 0.0, 100.0)
    with pytest.raises(ValueError, match="rate_hz"):
        GnssReceiver(route, rate_hz=0.0)
    with pytest.raises(ValueError, match="outages"):
        GnssReceiver(route, outages=((3.0, 2.0),))
