"""Driver model: follows a speed profile through the accelerator pedal, or floors it on request.

Built to exercise the governor the way a person does: a speed follower that keeps pressing while
the car is held below its target (so the governor, not the driver, sets the speed), pedal moves a
foot can make (rate-limited), and braking only when clearly too fast. Deterministic: the same
calls give the same answers.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ProfilePoint:
    """What the driver does from `t_s` until the next point's `t_s`.

    Exactly one way of driving per point: `pedal_pct` (held as is; 100 = floor it), or `target_kph`
    (speed followed through the pedal), or neither (foot off, coasting). `brake=True` brakes firmly
    with the foot off the accelerator.
    """

    t_s: float
    target_kph: float | None = None
    pedal_pct: float | None = None
    brake: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.t_s) and self.t_s >= 0.0):
            raise ValueError(f"ProfilePoint.t_s: must be finite and >= 0 s, got {self.t_s!r}")
        if self.target_kph is not None and self.pedal_pct is not None:
            raise ValueError(f"ProfilePoint at {self.t_s} s: give target_kph or pedal_pct, not both")
        if self.target_kph is not None and not (math.isfinite(self.target_kph) and self.target_kph >= 0.0):
            raise ValueError(f"ProfilePoint at {self.t_s} s: target_kph must be finite and >= 0, "
                             f"got {self.target_kph!r}")
        if self.pedal_pct is not None and not (0.0 <= self.pedal_pct <= 100.0):
            raise ValueError(f"ProfilePoint at {self.t_s} s: pedal_pct must be in [0, 100], got {self.pedal_pct!r}")


class Driver:
    """Pedal and brake for a profile of `ProfilePoint`s (before the first point: foot off)."""

    # Speed follower gains, tuned for the default kei EV: critically damped, settling in ~10-15 s,
    # the unhurried way a person settles on a speed (1 % pedal is ~0.16 km/h/s of acceleration).
    KP_PCT_PER_KPH = 5.0
    KI_PCT_PER_KPH_S = 1.0
    PEDAL_RATE_PCT_PER_S = 100.0
    # Braking: only when this far above target, then harder the further above; a brake point
    # presses firmly (0.5 x max brake = ~4 m/s^2, a determined stop, not an emergency).
    BRAKE_MARGIN_KPH = 4.0
    BRAKE_GAIN_PER_KPH = 0.05
    MAX_FOLLOW_BRAKE = 0.3
    BRAKE_POINT_FRACTION = 0.5

    def __init__(self, profile: Sequence[ProfilePoint]) -> None:
        times = [p.t_s for p in profile]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError(f"Driver profile: point times must increase strictly, got {times!r}")
        self._profile = tuple(profile)
        self._times = times
        self._pedal_pct = 0.0
        self._integral_pct = 0.0
        self._last_t_s: float | None = None
        self._following = False

    def point_at(self, t_s: float) -> ProfilePoint | None:
        """The profile point in force at `t_s`, or None before the first one."""
        i = bisect.bisect_right(self._times, t_s) - 1
        return self._profile[i] if i >= 0 else None

    def controls(self, t_s: float, speed_kph: float) -> tuple[float, float]:
        """(pedal %, brake fraction) at `t_s`: what `pedal_pct` and `brake_fraction` give,
        from one lookup of the profile (the rig asks for both every period)."""
        point = self.point_at(t_s)
        brake = self._brake(point, speed_kph)
        return self._pedal(t_s, point, brake, speed_kph), brake

    def pedal_pct(self, t_s: float, speed_kph: float) -> float:
        """Accelerator pedal position in percent at `t_s`, given the speed the driver sees.

        Call once per simulation step in time order: the speed follower integrates between calls.
        """
        return self.controls(t_s, speed_kph)[0]

    def brake_fraction(self, t_s: float, speed_kph: float) -> float:
        """Brake demand as a fraction of the vehicle's maximum deceleration at `t_s`."""
        return self._brake(self.point_at(t_s), speed_kph)

    def _pedal(self, t_s: float, point: ProfilePoint | None, brake: float, speed_kph: float) -> float:
        dt_s = 0.0 if self._last_t_s is None else max(0.0, t_s - self._last_t_s)
        self._last_t_s = t_s
        if point is None or point.brake or brake > 0.0:
            pedal = 0.0
            self._following = False
        elif point.pedal_pct is not None:
            pedal = point.pedal_pct
            self._following = False
        elif point.target_kph is not None:
            pedal = self._follow(dt_s, point.target_kph - speed_kph)
        else:
            pedal = 0.0
            self._following = False
        self._pedal_pct = pedal
        return pedal

    def _brake(self, point: ProfilePoint | None, speed_kph: float) -> float:
        if point is None:
            return 0.0
        if point.brake:
            return self.BRAKE_POINT_FRACTION
        if point.target_kph is None:
            return 0.0
        over_kph = speed_kph - point.target_kph
        if point.target_kph == 0.0 and speed_kph > 0.0:
            over_kph = max(over_kph, self.BRAKE_MARGIN_KPH + self.MAX_FOLLOW_BRAKE / self.BRAKE_GAIN_PER_KPH)
        if over_kph <= self.BRAKE_MARGIN_KPH:
            return 0.0
        return min(self.MAX_FOLLOW_BRAKE, (over_kph - self.BRAKE_MARGIN_KPH) * self.BRAKE_GAIN_PER_KPH)

    def _follow(self, dt_s: float, error_kph: float) -> float:
        """PI on speed error, rate-limited like a foot. Anti-windup by conditional integration:
        the integral does not grow while the pedal is held at a limit in the error's direction
        (floored with the car held back by a governor, or lifted while still too fast)."""
        if not self._following:
            # A fresh start forgets the old hold pedal; the rate limit already keeps the foot from
            # jumping. (Back-solving the integral from the current pedal would wind it far negative
            # when starting from rest with a large error, and the car would creep off.)
            self._integral_pct = 0.0
            self._following = True
        integral = self._integral_pct + self.KI_PCT_PER_KPH_S * error_kph * dt_s
        wanted = self.KP_PCT_PER_KPH * error_kph + integral
        step = self.PEDAL_RATE_PCT_PER_S * dt_s
        pedal = min(100.0, max(0.0, min(self._pedal_pct + step, max(self._pedal_pct - step, wanted))))
        held_back = (wanted - pedal) * error_kph > 0.0
        if not held_back:
            self._integral_pct = min(100.0, max(-100.0, integral))
        return pedal
