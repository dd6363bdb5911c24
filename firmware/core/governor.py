"""Speed governor control law: PI on predicted speed error, with anti-windup and ramps.

Pure integer arithmetic. The governor never raises torque above the driver's demand:
it computes the torque it allows and the command is the lower of the two. While the
governor allows more than the driver asks for, the demand passes through untouched and
the integrator tracks it, so the hand-over into limiting is bumpless. While limiting,
the command moves no faster than the configured ramps (no jolts).
"""
from micropython import const

_Q = const(10)            # integrator and gains are scaled by 2**_Q
_FULL = const(1000)       # 100.0 % torque in permille
# Beyond these the output saturates anyway; the bounds keep every product below 2**30
# (with kp_q10 <= 16384, ki_q10 <= 8192, lookahead <= 2 s: core/config.py), so no
# intermediate becomes a big int on a 32-bit port whatever the inputs say.
_ACCEL_MAX = const(100000)  # ckph/s (278 m/s^2: a glitch, not a vehicle)
ERR_MAX = const(8000)      # ckph


class SpeedGovernor:
    def __init__(self, cfg, period_ms):
        self.kp = cfg.kp_q10
        self.ki = cfg.ki_q10
        self.lookahead_ms = cfg.lookahead_ms
        self.down = cfg.torque_ramp_down_pm_s * period_ms // 1000
        self.up = cfg.torque_ramp_up_pm_s * period_ms // 1000
        self.period_ms = period_ms
        self.integ = _FULL << _Q   # integrator, permille << _Q
        self.command = 0           # last torque limit, permille
        self.binding = False       # the governor, not the driver, sets the command

    def step(self, target, speed, accel, demand):
        """Torque limit (permille) for this period.

        target: speed to hold (ckph); speed: measured (ckph); accel: filtered (ckph/s);
        demand: the driver's torque demand (permille, 0..1000).
        """
        if accel > _ACCEL_MAX:
            accel = _ACCEL_MAX
        elif accel < -_ACCEL_MAX:
            accel = -_ACCEL_MAX
        err = target - (speed + accel * self.lookahead_ms // 1000)
        if err > ERR_MAX:
            err = ERR_MAX
        elif err < -ERR_MAX:
            err = -ERR_MAX
        p = (self.kp * err) >> _Q
        integ = self.integ
        if not self.binding and p + (integ >> _Q) >= demand:
            # The driver asks for less than the governor allows: pass through untouched
            # and track the demand, so that limiting starts from it without a bump.
            self.integ = demand << _Q
            self.command = demand
            return demand
        # Limiting (or releasing): PI with a clamped integrator and ramped output.
        prev = self.command
        integ += self.ki * err * self.period_ms // 1000
        if integ < 0:
            integ = 0
        elif integ > demand << _Q:
            integ = demand << _Q
        u = p + (integ >> _Q)
        cmd = 0 if u < 0 else u
        if cmd < prev - self.down:
            cmd = prev - self.down
            if err < 0:
                integ = self.integ    # output held by the ramp: stop integrating
        elif cmd > prev + self.up:
            cmd = prev + self.up
            if err > 0:
                integ = self.integ
        if cmd >= demand:
            cmd = demand
            if u >= demand:
                # Released: from the next period on the driver's demand passes through.
                self.binding = False
                integ = demand << _Q
        else:
            self.binding = True
        self.integ = integ
        self.command = cmd
        return cmd

    def release(self):
        """Hand control to the driver: from the next period the demand passes through."""
        self.binding = False
        self.integ = _FULL << _Q

    def ramp_to(self, value):
        """Move the command toward `value` at the ramp rates (used when no law applies)."""
        prev = self.command
        if value < prev - self.down:
            value = prev - self.down
        elif value > prev + self.up:
            value = prev + self.up
        self.command = value
        self.integ = value << _Q
        self.binding = True
        return value
