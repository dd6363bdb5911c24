"""The HIL vehicle plant and motor controller: physics measured against figures a kei EV shows."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keigov_hil.vehicle import GRAVITY_MPS2, MotorController, Road, Vehicle, VehicleParams

DT_S = 0.01


def drive(vehicle: Vehicle, seconds: float, torque_fraction: float, brake_fraction: float = 0.0) -> list[float]:
    """Step at the control period; returns the speed in km/h after each step."""
    speeds = []
    for _ in range(round(seconds / DT_S)):
        vehicle.step(DT_S, torque_fraction, brake_fraction)
        speeds.append(vehicle.speed_kph)
    return speeds


def time_to_kph(speeds: list[float], kph: float) -> float:
    return next(i for i, v in enumerate(speeds) if v >= kph) * DT_S + DT_S


def test_full_throttle_0_to_60_kph_takes_a_plausible_kei_ev_time() -> None:
    speeds = drive(Vehicle(), 10.0, 1.0)
    assert 4.0 <= time_to_kph(speeds, 60.0) <= 8.0


def test_top_speed_is_set_by_max_motor_rpm_and_holds_steady() -> None:
    vehicle = Vehicle()
    speeds = drive(vehicle, 60.0, 1.0)
    top = max(speeds)
    assert 120.0 <= top <= 140.0
    assert top <= vehicle.params.max_speed_mps * 3.6 + 0.1
    last_10_s = speeds[-1000:]
    assert max(last_10_s) - min(last_10_s) < 0.5


def test_coast_down_at_60_kph_matches_the_resistance_forces() -> None:
    vehicle = Vehicle(speed_mps=60.0 / 3.6)
    speeds = drive(vehicle, 1.0, 0.0)
    decel = (60.0 - speeds[-1]) / 3.6 / 1.0
    p = vehicle.params
    v = 60.0 / 3.6
    expected = (
        0.5 * p.air_density_kgpm3 * p.drag_area_m2 * v * v
        + p.rolling_resistance * p.mass_kg * GRAVITY_MPS2
        + p.drivetrain_drag_n
    ) / p.mass_kg
    assert 0.2 <= decel <= 0.8
    assert decel == pytest.approx(expected, rel=0.02)


def test_steep_downhill_accelerates_the_car_with_no_torque_above_60_kph() -> None:
    vehicle = Vehicle(road=Road(((0.0, -12.0),)), speed_mps=61.0 / 3.6)
    speeds = drive(vehicle, 5.0, 0.0)
    assert all(b > a for a, b in zip(speeds, speeds[1:]))
    assert speeds[-1] > 61.0 + 10.0


def test_uphill_slows_the_car_more_than_level_road() -> None:
    level = drive(Vehicle(speed_mps=15.0), 2.0, 0.0)[-1]
    uphill = drive(Vehicle(road=Road(((0.0, 8.0),)), speed_mps=15.0), 2.0, 0.0)[-1]
    assert uphill < level - 5.0


def test_car_at_rest_on_a_hill_never_rolls_backwards() -> None:
    vehicle = Vehicle(road=Road(((0.0, 20.0),)))
    drive(vehicle, 2.0, 0.0)
    assert vehicle.speed_mps == 0.0 and vehicle.distance_m == 0.0


def test_car_at_rest_stays_put_when_the_push_is_below_rolling_resistance() -> None:
    vehicle = Vehicle(road=Road(((0.0, -0.5),)))  # 0.5 % pull < 1.1 % rolling + drivetrain drag
    drive(vehicle, 2.0, 0.0)
    assert vehicle.speed_mps == 0.0


def test_road_grade_follows_segments_and_is_level_before_the_first() -> None:
    road = Road(((100.0, 5.0), (200.0, -3.0)))
    assert [road.grade_pct(d) for d in (0.0, 99.9, 100.0, 150.0, 200.0, 1e6)] == [0.0, 0.0, 5.0, 5.0, -3.0, -3.0]
    with pytest.raises(ValueError, match="segment 1"):
        Road(((0.0, 0.0), (0.0, 1.0)))
    with pytest.raises(ValueError, match="steeper"):
        Road(((0.0, 60.0),))


def test_the_grade_changes_where_the_car_is() -> None:
    vehicle = Vehicle(road=Road(((0.0, 0.0), (50.0, -15.0))), speed_mps=10.0)
    drive(vehicle, 6.0, 0.0)  # first 50 m level, then downhill
    assert vehicle.distance_m > 50.0 and vehicle.accel_mps2 > 0.5


def test_torque_is_flat_up_to_base_speed_then_limited_by_power_then_zero_above_max_rpm() -> None:
    p = VehicleParams()
    base = p.base_speed_mps
    for v in (0.0, 1.0, base * 0.5, base * 0.999):
        assert Vehicle(p, speed_mps=v).max_motor_torque_nm() == p.motor_peak_torque_nm
    powers = []
    torques = []
    for v in (base * 1.01, 15.0, 20.0, 30.0, p.max_speed_mps * 0.999):
        vehicle = Vehicle(p, speed_mps=v)
        omega = vehicle.motor_rpm() * 2.0 * math.pi / 60.0
        torques.append(vehicle.max_motor_torque_nm())
        powers.append(torques[-1] * omega)
    assert powers == pytest.approx([p.motor_peak_power_w] * len(powers), rel=1e-9)
    assert all(b < a for a, b in zip(torques, torques[1:]))
    assert Vehicle(p, speed_mps=p.max_speed_mps * 1.001).max_motor_torque_nm() == 0.0
    assert 25.0 <= base * 3.6 <= 35.0


def test_motor_torque_lags_with_its_time_constant() -> None:
    vehicle = Vehicle()
    for _ in range(5):  # one time constant
        vehicle.step(DT_S, 1.0)
    assert vehicle.motor_torque_nm == pytest.approx(195.0 * (1.0 - math.exp(-1.0)), rel=1e-6)
    drive(vehicle, 0.5, 1.0)
    assert vehicle.motor_torque_nm == pytest.approx(vehicle.max_motor_torque_nm(), rel=1e-3)


def test_full_brake_stops_the_car_at_about_max_decel_and_holds_it() -> None:
    vehicle = Vehicle(speed_mps=50.0 / 3.6)
    vehicle.step(DT_S, 0.0, 1.0)
    assert -8.6 < vehicle.accel_mps2 < -8.0
    drive(vehicle, 3.0, 0.0, 1.0)
    assert vehicle.speed_mps == 0.0
    assert 0.5 * (50.0 / 3.6) ** 2 / 8.6 < vehicle.distance_m < 0.5 * (50.0 / 3.6) ** 2 / 8.0 + 0.2


def test_wheel_speeds_carry_their_bias() -> None:
    params = VehicleParams(wheel_speed_error_pct=(2.0, 0.0, -1.0, 0.0))
    fl, fr, rl, rr = Vehicle(params, speed_mps=10.0).wheel_speeds_kph()
    assert (fl, fr, rl, rr) == pytest.approx((36.72, 36.0, 35.64, 36.0))


def test_params_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="mass_kg"):
        VehicleParams(mass_kg=0.0)
    with pytest.raises(ValueError, match="wheel_speed_error_pct"):
        VehicleParams(wheel_speed_error_pct=(0.0, 0.0, 0.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dt_s"):
        Vehicle().step(0.0, 1.0)


@given(
    st.lists(
        st.tuples(
            st.floats(-1.0, 2.0) | st.just(math.nan),
            st.floats(-1.0, 2.0),
            st.floats(-30.0, 30.0),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_any_inputs_keep_speed_finite_non_negative_and_torque_within_the_curve(
    steps: list[tuple[float, float, float]],
) -> None:
    vehicle = Vehicle(speed_mps=20.0)
    for torque, brake, grade in steps:
        vehicle.road = Road(((0.0, grade),))
        vehicle.step(0.1, torque, brake)
        assert math.isfinite(vehicle.speed_mps) and vehicle.speed_mps >= 0.0
        assert 0.0 <= vehicle.motor_torque_nm <= vehicle.params.motor_peak_torque_nm


# --- motor controller --------------------------------------------------------------------------


def test_motor_controller_denies_torque_before_the_first_command() -> None:
    mcu = MotorController()
    assert [mcu.torque_fraction(t, 100.0) for t in (0.0, 0.5, 5.0)] == [0.0, 0.0, 0.0]


def test_motor_controller_applies_the_lower_of_pedal_and_limit() -> None:
    mcu = MotorController()
    mcu.on_command(0.0, 40.0)
    assert mcu.torque_fraction(0.01, 100.0) == pytest.approx(0.40)
    assert mcu.torque_fraction(0.02, 25.0) == pytest.approx(0.25)
    mcu.on_command(0.03, 250.0)  # out of range: clipped, not trusted beyond full torque
    assert mcu.torque_fraction(0.04, 100.0) == 1.0
    mcu.on_command(0.05, float("nan"))
    assert mcu.torque_fraction(0.06, 100.0) == 0.0


def test_motor_controller_ramps_down_at_50_pct_per_s_after_a_command_timeout() -> None:
    mcu = MotorController()
    mcu.on_command(0.0, 100.0)
    fractions = [mcu.torque_fraction(k * DT_S, 100.0) for k in range(0, 260)]
    assert fractions[10] == 1.0  # 100 ms: still in time
    assert fractions[11] < 1.0  # 110 ms: timed out
    drops = [a - b for a, b in zip(fractions, fractions[1:])]
    assert max(drops) == pytest.approx(0.5 * DT_S)
    assert min(drops) >= 0.0
    # Reaches zero 2 s after the timeout, and stays there.
    assert fractions[210] == pytest.approx(0.0, abs=1e-9)
    assert fractions[-1] == 0.0
    mcu.on_command(2.6, 60.0)  # the governor is back
    assert mcu.torque_fraction(2.61, 100.0) == pytest.approx(0.60)


def test_motor_controller_fail_safe_follows_the_driver_lifting_off() -> None:
    mcu = MotorController()
    mcu.on_command(0.0, 100.0)
    mcu.torque_fraction(0.0, 80.0)
    assert mcu.torque_fraction(0.5, 80.0) < 0.8  # ramping
    assert mcu.torque_fraction(0.51, 10.0) == pytest.approx(0.10)
    assert mcu.torque_fraction(0.52, 80.0) <= 0.10  # no coming back up while timed out


@given(
    st.lists(
        st.tuples(st.floats(0.001, 0.3), st.floats(-10.0, 110.0), st.booleans(), st.floats(-10.0, 110.0)),
        max_size=60,
    )
)
def test_motor_controller_never_exceeds_pedal_or_ramp(steps: list[tuple[float, float, bool, float]]) -> None:
    mcu = MotorController()
    t = 0.0
    previous = 0.0
    for dt, pedal, command, limit in steps:
        t += dt
        if command:
            mcu.on_command(t, limit)
        timed_out = mcu.timed_out(t)
        fraction = mcu.torque_fraction(t, pedal)
        assert 0.0 <= fraction <= max(0.0, min(1.0, pedal / 100.0))
        if timed_out:
            assert fraction <= previous + 1e-12
            assert fraction >= min(max(0.0, pedal / 100.0), previous - 0.5 * dt) - 1e-12
        previous = fraction


# --- regen -----------------------------------------------------------------------------------

REGEN = VehicleParams(regen_max_torque_nm=120.0)


def test_regen_at_the_request_the_forces_need_holds_a_10_pct_descent() -> None:
    v = 60.0 / 3.6
    vehicle = Vehicle(REGEN, Road(((0.0, -10.0),)), speed_mps=v)
    p = vehicle.params
    sin_theta, cos_theta = vehicle.road.slope(0.0)
    pull_n = (p.mass_kg * GRAVITY_MPS2 * (-sin_theta - p.rolling_resistance * cos_theta) - p.drivetrain_drag_n
              - 0.5 * p.air_density_kgpm3 * p.drag_area_m2 * v * v)
    per_request_n = vehicle.max_regen_torque_nm() * p.gear_ratio * p.drivetrain_efficiency / p.wheel_radius_m
    request = pull_n / per_request_n
    assert 0.2 < request < 0.5, "120 N m is about three times what a 10 % grade at 60 km/h needs"
    speeds = []
    for _ in range(1000):
        vehicle.step(DT_S, 0.0, 0.0, request)
        speeds.append(vehicle.speed_kph)
    assert max(speeds) - 60.0 < 0.3 and 60.0 - min(speeds) < 0.3
    coasting = drive(Vehicle(REGEN, Road(((0.0, -10.0),)), speed_mps=v), 10.0, 0.0)
    assert coasting[-1] > 60.0 + 10.0


def test_regen_is_the_drive_power_envelope_and_fades_to_nothing_at_rest() -> None:
    assert Vehicle(REGEN, speed_mps=20.0 / 3.6).max_regen_torque_nm() == 120.0
    at_cap = Vehicle(REGEN, speed_mps=64.4 / 3.6)
    assert at_cap.max_regen_torque_nm() == pytest.approx(at_cap.max_motor_torque_nm())
    assert at_cap.max_motor_torque_nm() < 120.0
    assert Vehicle(REGEN, speed_mps=3.0 / 3.6).max_regen_torque_nm() == pytest.approx(120.0 * 3.0 / 5.0)
    assert Vehicle(REGEN).max_regen_torque_nm() == 0.0


def test_full_regen_brings_the_car_to_rest_softly_and_never_backwards() -> None:
    vehicle = Vehicle(REGEN, Road(((0.0, 3.0),)), speed_mps=15.0 / 3.6)    # uphill: gravity pulls back too
    decel_at = {}
    distance = 0.0
    for _ in range(800):
        vehicle.step(DT_S, 0.0, 0.0, 1.0)
        assert vehicle.speed_mps >= 0.0 and vehicle.distance_m >= distance
        distance = vehicle.distance_m
        decel_at.setdefault(round(vehicle.speed_kph), -vehicle.accel_mps2)
    assert vehicle.speed_mps == 0.0 and vehicle.motor_torque_nm == 0.0
    assert decel_at[10] > decel_at[2] + 1.0, "regen fades below 5 km/h"


def test_no_regen_param_means_a_regen_request_changes_nothing() -> None:
    plain = Vehicle(road=Road(((0.0, -8.0),)), speed_mps=15.0)
    asked = Vehicle(road=Road(((0.0, -8.0),)), speed_mps=15.0)
    for k in range(300):
        torque = 0.5 if k < 100 else 0.0
        plain.step(DT_S, torque)
        asked.step(DT_S, torque, 0.0, 1.0)
        assert (asked.speed_mps, asked.distance_m, asked.motor_torque_nm) == (plain.speed_mps, plain.distance_m,
                                                                              plain.motor_torque_nm)


def test_regen_waits_for_the_drive_torque_to_be_zero() -> None:
    vehicle = Vehicle(REGEN, speed_mps=50.0 / 3.6)
    vehicle.step(DT_S, 0.2, 0.0, 1.0)
    assert vehicle.motor_torque_nm > 0.0
    drive(vehicle, 0.5, 0.0)
    vehicle.step(DT_S, 0.0, 0.0, 1.0)
    assert vehicle.motor_torque_nm < 0.0


def test_motor_controller_applies_regen_only_without_drive_torque_and_ramps_it_down_on_a_timeout() -> None:
    mcu = MotorController()
    assert mcu.regen_fraction(0.0, 0.0) == 0.0, "nothing before the first command"
    mcu.on_command(0.0, 0.0, 40.0)
    torque = mcu.torque_fraction(0.01, 100.0)
    assert (torque, mcu.regen_fraction(0.01, torque)) == (0.0, pytest.approx(0.40))
    mcu.on_command(0.02, 30.0, 40.0)         # a command the DBC forbids: drive wins
    torque = mcu.torque_fraction(0.03, 100.0)
    assert torque == pytest.approx(0.30) and mcu.regen_fraction(0.03, torque) == 0.0
    mcu = MotorController()
    mcu.on_command(0.0, 0.0, 250.0)           # out of range: clipped to all the regen there is
    regen = [mcu.regen_fraction(k * DT_S, 0.0) for k in range(260)]
    drops = [a - b for a, b in zip(regen, regen[1:])]
    assert regen[10] == 1.0 and regen[11] < 1.0, "timed out 100 ms after the last command"
    assert max(drops) == pytest.approx(0.5 * DT_S) and min(drops) >= 0.0 and regen[-1] == 0.0
