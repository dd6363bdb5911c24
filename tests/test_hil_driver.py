"""The HIL driver model, driving the HIL vehicle in closed loop."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keigov_hil.driver import Driver, ProfilePoint
from keigov_hil.vehicle import Road, Vehicle

DT_S = 0.01


def closed_loop(
    profile: list[ProfilePoint], seconds: float, road: Road | None = None, speed_mps: float = 0.0
) -> list[tuple[float, float, float, float]]:
    """(t_s, speed_kph after the step, pedal_pct, brake_fraction) at each control period."""
    vehicle = Vehicle(road=road, speed_mps=speed_mps)
    driver = Driver(profile)
    rows = []
    for k in range(round(seconds / DT_S)):
        t = k * DT_S
        pedal = driver.pedal_pct(t, vehicle.speed_kph)
        brake = driver.brake_fraction(t, vehicle.speed_kph)
        vehicle.step(DT_S, pedal / 100.0, brake)
        rows.append((t, vehicle.speed_kph, pedal, brake))
    return rows


def speeds_between(rows: list[tuple[float, float, float, float]], t0: float, t1: float) -> list[float]:
    return [v for t, v, _, _ in rows if t0 <= t < t1]


@pytest.mark.parametrize("target_kph", [30.0, 50.0, 64.0, 100.0])
def test_driver_settles_within_1_kph_of_the_target_on_a_level_road(target_kph: float) -> None:
    rows = closed_loop([ProfilePoint(0.0, target_kph=target_kph)], 50.0)
    settled = speeds_between(rows, 30.0, 50.0)
    assert max(abs(v - target_kph) for v in settled) < 1.0
    assert max(v for _, v, _, _ in rows) < target_kph + 4.0  # a driver who overshoots by a little, not a lot


def test_driver_follows_steps_down_to_a_lower_target_and_to_a_stop() -> None:
    profile = [ProfilePoint(0.0, target_kph=80.0), ProfilePoint(40.0, target_kph=40.0),
               ProfilePoint(80.0, target_kph=0.0)]
    rows = closed_loop(profile, 100.0)
    assert max(abs(v - 80.0) for v in speeds_between(rows, 30.0, 40.0)) < 1.0
    assert max(abs(v - 40.0) for v in speeds_between(rows, 70.0, 80.0)) < 1.0
    assert max(speeds_between(rows, 95.0, 100.0)) == 0.0
    assert any(b > 0.0 for t, _, _, b in rows if 40.0 <= t < 45.0)  # braked on the way down


def test_driver_floors_it_with_pedal_100() -> None:
    rows = closed_loop([ProfilePoint(0.0, pedal_pct=100.0)], 10.0)
    assert all(p == 100.0 for _, _, p, _ in rows)
    assert all(b == 0.0 for _, _, _, b in rows)
    assert rows[-1][1] > 80.0


def test_driver_keeps_pressing_while_held_below_target_and_does_not_wind_up() -> None:
    # The car held at 50 km/h (by a governor, say) while the driver wants 100: the pedal floors.
    # When the target drops just below 50, the foot must come off at once: an integral wound up
    # while floored would keep the pedal down for tens of seconds.
    driver = Driver([ProfilePoint(0.0, target_kph=100.0), ProfilePoint(60.0, target_kph=48.0)])
    held = [driver.pedal_pct(k * DT_S, 50.0) for k in range(6000)]
    assert all(p == 100.0 for p in held[110:])
    released = [driver.pedal_pct(60.0 + k * DT_S, 50.0) for k in range(150)]
    assert released[-1] == 0.0
    assert driver.brake_fraction(61.0, 50.0) == 0.0  # only 2 km/h over: no braking yet


def test_driver_hands_back_from_a_floored_top_speed_run_to_a_lower_target() -> None:
    profile = [ProfilePoint(0.0, target_kph=150.0), ProfilePoint(60.0, target_kph=128.0)]
    rows = closed_loop(profile, 62.0)
    assert all(p == 100.0 for t, _, p, _ in rows if 40.0 <= t < 60.0)
    assert speeds_between(rows, 59.99, 60.0)[0] > 130.0
    assert max(p for t, _, p, _ in rows if 61.0 <= t < 62.0) < 20.0


def test_brake_point_brakes_with_the_foot_off_the_accelerator() -> None:
    profile = [ProfilePoint(0.0, pedal_pct=60.0), ProfilePoint(5.0, brake=True)]
    rows = closed_loop(profile, 10.0)
    after = [(v, p, b) for t, v, p, b in rows if t >= 5.0]
    assert all(p == 0.0 and b == Driver.BRAKE_POINT_FRACTION for _, p, b in after)
    assert after[-1][0] == 0.0


def test_driver_brakes_only_when_well_above_target() -> None:
    driver = Driver([ProfilePoint(0.0, target_kph=50.0)])
    assert driver.brake_fraction(1.0, 53.0) == 0.0
    assert driver.brake_fraction(1.0, 60.0) > 0.0
    assert driver.pedal_pct(1.0, 60.0) == 0.0


def test_before_the_first_point_and_on_a_coast_point_the_foot_is_off() -> None:
    driver = Driver([ProfilePoint(2.0, pedal_pct=50.0), ProfilePoint(4.0)])
    assert driver.pedal_pct(1.0, 0.0) == 0.0
    assert driver.pedal_pct(3.0, 0.0) == 50.0
    assert driver.pedal_pct(5.0, 30.0) == 0.0 and driver.brake_fraction(5.0, 30.0) == 0.0


def test_the_same_profile_drives_the_same_way() -> None:
    profile = [ProfilePoint(0.0, target_kph=60.0), ProfilePoint(20.0, pedal_pct=100.0),
               ProfilePoint(25.0, target_kph=30.0)]
    assert closed_loop(profile, 40.0) == closed_loop(profile, 40.0)


def test_profile_points_reject_ambiguity_and_nonsense() -> None:
    with pytest.raises(ValueError, match="not both"):
        ProfilePoint(0.0, target_kph=50.0, pedal_pct=20.0)
    with pytest.raises(ValueError, match="pedal_pct"):
        ProfilePoint(0.0, pedal_pct=120.0)
    with pytest.raises(ValueError, match="increase"):
        Driver([ProfilePoint(1.0), ProfilePoint(1.0)])


@given(
    st.lists(st.floats(0.0, 150.0), min_size=2, max_size=200),
    st.floats(0.0, 130.0),
)
def test_pedal_stays_in_range_and_moves_no_faster_than_a_foot(speeds: list[float], target_kph: float) -> None:
    driver = Driver([ProfilePoint(0.0, target_kph=target_kph)])
    pedals = [driver.pedal_pct(k * DT_S, v) for k, v in enumerate(speeds)]
    assert all(0.0 <= p <= 100.0 for p in pedals)
    # Only the foot coming off to brake may be faster than the rate limit.
    for k in range(1, len(pedals)):
        if driver.brake_fraction(k * DT_S, speeds[k]) == 0.0:
            assert abs(pedals[k] - pedals[k - 1]) <= Driver.PEDAL_RATE_PCT_PER_S * DT_S + 1e-9
