"""Speed governor control laws: torque by PI on predicted speed error, with anti-windup
and ramps; regen by PI on the speed above the limit, with a ramped request.

Pure integer arithmetic. The governor never raises torque above the driver's demand:
it computes the torque it allows and the command is the lower of the two. While the
governor allows more than the driver asks for, the demand passes through untouched and
the integrator tracks it, so the hand-over into limiting is bumpless. While limiting,
the command moves no faster than the configured ramps (no jolts). The look-ahead only
ever lowers torque at or above the target: a glitch that reads as hard braking cannot
buy torque for a car that is already at the limit.
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
        self.starting = False      # ... only because the command is still rising after boot
        self.regen_kp = cfg.regen_kp_q10
        self.regen_ki = cfg.regen_ki_q10
        self.regen_max = cfg.regen_max_pm
        self.regen_ramp = cfg.regen_ramp_pm_s * period_ms // 1000
        self.regen_integ = 0       # permille << _Q
        self.regen = 0             # last regen request, permille

    def step(self, target, speed, accel, demand, rise=True):
        """Torque limit (permille) for this period.

        target: speed to hold (ckph); speed: the highest plausible (ckph); accel: filtered
        (ckph/s); demand: the driver's torque demand (permille, 0..1000); rise: False while
        an input is late or a source reads at the limit: the command may only hold or fall.
        """
        if accel > _ACCEL_MAX:
            accel = _ACCEL_MAX
        elif accel < -_ACCEL_MAX:
            accel = -_ACCEL_MAX
        if accel < 0 and speed >= target:
            accel = 0
        held = not rise and demand > self.command
        if held:
            demand = self.command
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
        elif self.starting and cmd < demand:
            self.starting = False      # the law, not the start-up ramp, holds the command
        if cmd >= demand:
            cmd = demand
            if u >= demand and not held:
                # Released: from the next period on the driver's demand passes through
                # (not while held: the demand then is the held command, not the driver's).
                self.binding = False
                self.starting = False
                integ = demand << _Q
        else:
            self.binding = True
        self.integ = integ
        self.command = cmd
        return cmd

    def start(self):
        """Leave INIT: the command rises from where it is at the up-ramp, and the driver's
        demand passes through once it is reached (never a step to the pedal at boot)."""
        self.binding = True
        self.starting = True
        self.integ = _FULL << _Q

    def regen_step(self, limit, speed, allowed, decel, decel_max):
        """Regen request (permille) for this period: PI on the speed above `limit` (ckph),
        ramped both ways. `allowed` False (torque still applied, no speed source, no regen
        on this drivetrain) ramps the request out and empties the integrator. `decel` is
        how hard the car slows (ckph/s): the request may rise at its full ramp only while
        that is a quarter of `decel_max` or more below it, ever slower nearer, and falls in
        proportion once past it, so regen never brakes harder than the bound, smoothly."""
        prev = self.regen
        if allowed:
            err = speed - limit
            if err > ERR_MAX:
                err = ERR_MAX
            elif err < -ERR_MAX:
                err = -ERR_MAX
            integ = self.regen_integ + self.regen_ki * err * self.period_ms // 1000
            top = self.regen_max << _Q
            if integ < 0:
                integ = 0
            elif integ > top:
                integ = top
            u = ((self.regen_kp * err) >> _Q) + (integ >> _Q)
            if u < 0:
                u = 0
            elif u > self.regen_max:
                u = self.regen_max
        else:
            integ = 0
            u = 0
        ramp = self.regen_ramp
        band = (decel_max >> 2) + 1
        room = decel_max - decel
        if room > band:
            room = band
        elif room < -band:
            room = -band
        rise = ramp * room // band      # -ramp .. ramp
        if u > prev + rise:
            u = prev + rise
            if u < 0:
                u = 0
            integ = self.regen_integ    # held: stop integrating
        elif u < prev - ramp:
            u = prev - ramp
        self.regen_integ = integ
        self.regen = u
        return u

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
        self.starting = False
        return value
