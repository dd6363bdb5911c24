"""Plant model of a kei-class EV and the motor controller ECU that sits between it and the bus.

The governor never sees this module: it only sees wheel speeds and GNSS frames computed from it,
and its torque limit reaches the wheels only through `MotorController`, as on a real car.
Longitudinal dynamics only, one lumped mass, SI units throughout (names carry the unit).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

GRAVITY_MPS2 = 9.80665
_RAD_PER_S_PER_RPM = 2.0 * math.pi / 60.0
# Steeper than any public road (the steepest streets are about 35 %): a larger figure is a typo.
_MAX_ABS_GRADE_PCT = 40.0


@dataclass(frozen=True)
class VehicleParams:
    """A Nissan Sakura / Mitsubishi eK X EV class kei EV with its driver aboard.

    The gear ratio puts max motor speed at ~132 km/h. `drivetrain_drag_n` is the motor and reducer
    spin loss felt when coasting with no regen; with it the coast-down at 60 km/h is ~0.26 m/s^2,
    in line with small cars (aero and tyres alone would give 0.22).

    `regen_max_torque_nm` is the motor's regenerative braking torque at the shaft, within the same
    power envelope as its drive torque; 0 (the default) is a drivetrain without regen, where the
    motor only pushes (torque >= 0) and steep downhills are a governor problem. Regen fades
    linearly to nothing below `regen_fade_kph`, as an EV's does near standstill.
    """

    mass_kg: float = 1150.0
    wheel_radius_m: float = 0.28
    gear_ratio: float = 8.0
    drivetrain_efficiency: float = 0.92
    motor_peak_torque_nm: float = 195.0
    motor_peak_power_w: float = 47000.0
    max_motor_rpm: float = 10000.0
    drag_area_m2: float = 0.75
    rolling_resistance: float = 0.011
    drivetrain_drag_n: float = 50.0
    air_density_kgpm3: float = 1.2
    motor_time_constant_s: float = 0.05
    max_brake_decel_mps2: float = 8.0
    wheel_speed_error_pct: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    regen_max_torque_nm: float = 0.0
    regen_fade_kph: float = 5.0

    def __post_init__(self) -> None:
        positive = (
            "mass_kg", "wheel_radius_m", "gear_ratio", "drivetrain_efficiency", "motor_peak_torque_nm",
            "motor_peak_power_w", "max_motor_rpm", "air_density_kgpm3", "max_brake_decel_mps2",
        )
        for name in positive:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"VehicleParams.{name}: must be a finite number > 0, got {value!r}")
        for name in ("drag_area_m2", "rolling_resistance", "drivetrain_drag_n", "motor_time_constant_s",
                     "regen_max_torque_nm", "regen_fade_kph"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"VehicleParams.{name}: must be a finite number >= 0, got {value!r}")
        if self.drivetrain_efficiency > 1.0:
            raise ValueError(f"VehicleParams.drivetrain_efficiency: must be <= 1, got {self.drivetrain_efficiency!r}")
        errors = self.wheel_speed_error_pct
        if len(errors) != 4 or not all(math.isfinite(e) and -50.0 < e < 50.0 for e in errors):
            raise ValueError(f"VehicleParams.wheel_speed_error_pct: need 4 biases in (-50, 50) %, got {errors!r}")

    @property
    def base_speed_mps(self) -> float:
        """Road speed where peak torque meets peak power (~30 km/h): above it the motor is power-limited."""
        return self.motor_peak_power_w / self.motor_peak_torque_nm / self.gear_ratio * self.wheel_radius_m

    @property
    def max_speed_mps(self) -> float:
        """Road speed at max motor rpm: the motor gives no torque above it."""
        return self.max_motor_rpm * _RAD_PER_S_PER_RPM / self.gear_ratio * self.wheel_radius_m


class Road:
    """Road grade as a step function of distance along the route.

    `segments` are (start_m, grade_pct) pairs in increasing start order; each grade holds from its
    start to the next one (positive = uphill). Before the first start the road is level.
    """

    def __init__(self, segments: Sequence[tuple[float, float]] = ((0.0, 0.0),)) -> None:
        starts: list[float] = []
        grades: list[float] = []
        for i, (start_m, grade_pct) in enumerate(segments):
            if not (math.isfinite(start_m) and math.isfinite(grade_pct)):
                raise ValueError(f"Road segment {i}: start and grade must be finite, got {(start_m, grade_pct)!r}")
            if abs(grade_pct) > _MAX_ABS_GRADE_PCT:
                raise ValueError(f"Road segment {i}: grade {grade_pct} % is steeper than +/-{_MAX_ABS_GRADE_PCT} %")
            if starts and start_m <= starts[-1]:
                raise ValueError(f"Road segment {i}: start {start_m} m does not follow {starts[-1]} m")
            starts.append(float(start_m))
            grades.append(float(grade_pct))
        self._starts = starts
        self._grades = grades
        # (sin, cos) of each segment's slope angle, for the vehicle's every step
        self._slopes = [(math.sin(a), math.cos(a)) for a in (math.atan(g / 100.0) for g in grades)]

    def grade_pct(self, distance_m: float) -> float:
        """Grade in percent (rise over run x 100) at `distance_m` along the route."""
        i = bisect.bisect_right(self._starts, distance_m) - 1
        return self._grades[i] if i >= 0 else 0.0

    def slope(self, distance_m: float) -> tuple[float, float]:
        """(sin, cos) of the slope angle at `distance_m` (level before the first start)."""
        i = bisect.bisect_right(self._starts, distance_m) - 1
        return self._slopes[i] if i >= 0 else _LEVEL


_LEVEL = (0.0, 1.0)


class Vehicle:
    """Longitudinal dynamics of one vehicle: state advanced by `step`, read by the rig's bus models."""

    def __init__(self, params: VehicleParams | None = None, road: Road | None = None, speed_mps: float = 0.0) -> None:
        if not (math.isfinite(speed_mps) and speed_mps >= 0.0):
            raise ValueError(f"Vehicle: initial speed must be finite and >= 0 m/s, got {speed_mps!r}")
        self.params = params if params is not None else VehicleParams()
        self.road = road if road is not None else Road()
        self.speed_mps = float(speed_mps)
        self.distance_m = 0.0
        self.accel_mps2 = 0.0
        self.motor_torque_nm = 0.0
        self._lag_dt_s = 0.0      # the step of _lag_alpha, the motor lag's factor
        self._lag_alpha = 0.0
        # step()'s constant factors, as it would compute them (the same floats)
        p = self.params
        self._weight_n = p.mass_kg * GRAVITY_MPS2
        self._rolling_n = p.rolling_resistance * self._weight_n     # on the level
        self._aero_n_per_mps2 = 0.5 * p.air_density_kgpm3 * p.drag_area_m2

    @property
    def speed_kph(self) -> float:
        return self.speed_mps * 3.6

    def motor_rpm(self) -> float:
        """Motor shaft speed: fixed reduction gear, no slip."""
        p = self.params
        return self.speed_mps / p.wheel_radius_m * p.gear_ratio / _RAD_PER_S_PER_RPM

    def max_motor_torque_nm(self) -> float:
        """Torque the motor can give at the current speed: peak torque up to base speed, then
        peak power / shaft speed, and nothing at or above max rpm (the inverter cuts out)."""
        p = self.params
        rpm = self.motor_rpm()
        if rpm >= p.max_motor_rpm:
            return 0.0
        omega = rpm * _RAD_PER_S_PER_RPM
        if omega * p.motor_peak_torque_nm <= p.motor_peak_power_w:
            return p.motor_peak_torque_nm
        return p.motor_peak_power_w / omega

    def max_regen_torque_nm(self) -> float:
        """Braking torque regen can give at the current speed: `regen_max_torque_nm` within the
        drive's power envelope, fading linearly to 0 below `regen_fade_kph` (none at rest, so
        regen can never roll the car backwards)."""
        p = self.params
        if p.regen_max_torque_nm == 0.0:
            return 0.0
        torque = min(p.regen_max_torque_nm, self.max_motor_torque_nm())
        v_kph = self.speed_mps * 3.6
        return torque if v_kph >= p.regen_fade_kph else torque * v_kph / p.regen_fade_kph

    def wheel_speeds_kph(self) -> tuple[float, float, float, float]:
        """Indicated speed of each wheel (FL, FR, RL, RR): true speed with the per-wheel bias."""
        v_kph = self.speed_kph
        e_fl, e_fr, e_rl, e_rr = self.params.wheel_speed_error_pct
        return (v_kph * (1.0 + e_fl / 100.0), v_kph * (1.0 + e_fr / 100.0),
                v_kph * (1.0 + e_rl / 100.0), v_kph * (1.0 + e_rr / 100.0))

    def step(self, dt_s: float, torque_fraction: float, brake_fraction: float = 0.0,
             regen_fraction: float = 0.0) -> None:
        """Advance `dt_s` seconds with the motor asked for `torque_fraction` of the torque available
        and the brakes for `brake_fraction` of their maximum deceleration (both clipped to [0, 1]);
        `regen_fraction` of the regen torque available brakes through the motor while no drive
        torque is asked for.

        Semi-implicit Euler: speed first, then distance with the new speed. The vehicle never rolls
        backwards: resistances, brakes and regen can only bring it to rest, and at rest they hold it
        unless the drive (plus a downhill pull) overcomes them.
        """
        if not (math.isfinite(dt_s) and dt_s > 0.0):
            raise ValueError(f"Vehicle.step: dt_s must be finite and > 0, got {dt_s!r}")
        p = self.params
        regen = _unit(regen_fraction)
        if regen > 0.0 and _unit(torque_fraction) == 0.0:
            self._lag_motor_torque(dt_s, 0.0, regen * self.max_regen_torque_nm())
        else:
            self._lag_motor_torque(dt_s, _unit(torque_fraction))
        sin_theta, cos_theta = self.road.slope(self.distance_m)
        drive_n = self.motor_torque_nm * p.gear_ratio * p.drivetrain_efficiency / p.wheel_radius_m
        push_n = drive_n - self._weight_n * sin_theta  # grade pulls forward downhill
        # Forces that only ever oppose motion (or, at rest, oppose the push up to their size).
        resist_n = (
            self._rolling_n * cos_theta
            + p.drivetrain_drag_n
            + self._aero_n_per_mps2 * self.speed_mps**2
            + _unit(brake_fraction) * p.max_brake_decel_mps2 * p.mass_kg
        )
        v0 = self.speed_mps
        if v0 > 0.0:
            v1 = max(0.0, v0 + (push_n - resist_n) / p.mass_kg * dt_s)
        else:
            v1 = max(0.0, push_n - resist_n) / p.mass_kg * dt_s
        self.speed_mps = v1
        self.distance_m += v1 * dt_s
        self.accel_mps2 = (v1 - v0) / dt_s

    def _lag_motor_torque(self, dt_s: float, torque_fraction: float, regen_nm: float = 0.0) -> None:
        """First-order lag towards the requested torque (exact for a constant request over dt),
        then clipped to what the motor can give at this speed: the power limit is not lagged.
        Regen is the same motor torque below zero (`regen_nm` of braking asked for), clipped to
        the regen available now, so it fades with the speed however it was asked."""
        available = self.max_motor_torque_nm()
        if dt_s != self._lag_dt_s:   # the rig's step never changes: the exponential once
            tau = self.params.motor_time_constant_s
            self._lag_dt_s, self._lag_alpha = dt_s, 1.0 if tau == 0.0 else 1.0 - math.exp(-dt_s / tau)
        alpha = self._lag_alpha
        target = torque_fraction * available - regen_nm
        torque = min(available, self.motor_torque_nm + (target - self.motor_torque_nm) * alpha)
        if torque < 0.0:
            torque = max(torque, -self.max_regen_torque_nm())
        self.motor_torque_nm = torque


class MotorController:
    """The motor controller ECU: applies the driver's pedal, never more than the governor allows,
    and the governor's regen request while it applies no drive torque.

    Deny by default: before the first governor command it gives no torque and no regen. If the
    governor goes silent for longer than `command_timeout_s`, it ramps torque and regen down to zero
    at `failsafe_ramp_per_s` (fraction of full torque or regen per second) instead of cutting them,
    so the car does not lurch at speed. A fresh command ends the fail-safe.
    """

    def __init__(self, command_timeout_s: float = 0.1, failsafe_ramp_per_s: float = 0.5) -> None:
        if not (command_timeout_s > 0.0 and failsafe_ramp_per_s > 0.0):
            raise ValueError("MotorController: timeout and ramp must be > 0")
        self.command_timeout_s = command_timeout_s
        self.failsafe_ramp_per_s = failsafe_ramp_per_s
        self._command_t_s: float | None = None
        self._torque_limit_pct = 0.0
        self._regen_pct = 0.0
        self._last_t_s: float | None = None
        self._last_fraction = 0.0
        self._regen_t_s: float | None = None
        self._last_regen = 0.0

    def on_command(self, t_s: float, torque_limit_pct: float, regen_pct: float = 0.0) -> None:
        """Record the governor's latest torque limit and regen request (percent of full torque,
        of the regen available) received at `t_s`."""
        self._command_t_s = t_s
        self._torque_limit_pct = _clip_pct(torque_limit_pct)
        self._regen_pct = _clip_pct(regen_pct)

    def timed_out(self, t_s: float) -> bool:
        """True once a command has been seen and none arrived in the last `command_timeout_s`."""
        return self._command_t_s is not None and t_s - self._command_t_s > self.command_timeout_s

    def torque_fraction(self, t_s: float, pedal_pct: float) -> float:
        """Fraction of available motor torque to apply at `t_s` for the driver's `pedal_pct`."""
        if self._command_t_s is None:
            fraction = 0.0
        else:
            fraction = min(_clip_pct(pedal_pct), self._torque_limit_pct) / 100.0
            if self.timed_out(t_s):
                fraction = self._ramped_down(t_s, fraction, self._last_fraction, self._last_t_s)
        self._last_t_s = t_s
        self._last_fraction = fraction
        return fraction

    def regen_fraction(self, t_s: float, torque_fraction: float) -> float:
        """Fraction of the available regen to apply at `t_s` beside the drive `torque_fraction`
        (torque_fraction's answer for the same period): none while it drives the wheels."""
        if self._command_t_s is None or torque_fraction > 0.0:
            fraction = 0.0
        else:
            fraction = self._regen_pct / 100.0
            if self.timed_out(t_s):
                fraction = self._ramped_down(t_s, fraction, self._last_regen, self._regen_t_s)
        self._regen_t_s = t_s
        self._last_regen = fraction
        return fraction

    def _ramped_down(self, t_s: float, fraction: float, last: float, last_t_s: float | None) -> float:
        """The fail-safe: `fraction`, but no more than `last` (applied at `last_t_s`) ramped down."""
        elapsed_s = 0.0 if last_t_s is None else max(0.0, t_s - last_t_s)
        return min(fraction, max(0.0, last - self.failsafe_ramp_per_s * elapsed_s))


def _unit(x: float) -> float:
    """Clip to [0, 1]; NaN counts as 0 (no torque, no brake) so a bad number cannot push the car."""
    return x if 0.0 < x <= 1.0 else 1.0 if x > 1.0 else 0.0


def _clip_pct(x: float) -> float:
    return 100.0 * _unit(x / 100.0)
