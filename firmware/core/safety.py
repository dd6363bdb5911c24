"""The one place that decides what the vehicle may do.

Each period the supervisor takes the checked inputs (core.rx), works out the highest
speed that is physically plausible, runs the state machine and turns the governor's
output into the torque, regen and speed limits that go on the bus. No board and no other
module sets those.

Speed plausibility (form is core.rx's job; this is physics):
- Wheels vote: the median of four; one wheel far from the other three is voted out
  (WHEEL_OUTLIER, an event, no FAULT); fewer than three agreeing for plausibility_ms is
  WHEELS_DISAGREE (FAULT).
- Rate: a step between two speed frames faster than speed_rate_ckph_s is refused (the
  last plausible value holds, SPEED_RATE); refusals weigh 2 and good frames 1 off, so
  frames that keep alternating (a forged frame before each genuine one) are a check
  failure (SPEED_CHECK, FAULT) within three periods.
- GNSS: with a good fix the vehicle's speed and GNSS's must agree within
  max(xcheck_ckph, xcheck_pct of the lower); disagreeing for xcheck_ms raises
  SPEED_IMPLAUSIBLE and from then on the governor limits on the higher (the vehicle's
  speed plus the offset GNSS last showed) until they agree for xcheck_ms again.
- The torque may not rise while the speed message is late (SPEED_STALE, 1.5 periods) or
  while the vehicle's or GNSS's speed is at or above the limit being held.

States: INIT (deny: no torque until inputs are trusted), NORMAL (driver passes through),
LIMITING (governor holds the limit), LOCKOUT (a freeway lockout zone was entered: the
limit is lockout_ckph), FAULT (inputs lost or invalid: the limit is the limp cap; with
no speed source at all the torque ramps to zero). FAULT takes priority over LOCKOUT;
both keep the stricter limit. After any boot the torque rises from 0 at the up-ramp.

Limits: `limit` (ACTIVE_LIMIT) takes a new lower limit at once; `ref` (the commanded
SPEED_LIMIT) starts from the current speed and ramps down to it at up to
fault_decel_ckph_s, its rate changing by at most limit_jerk_ckph_s2. Where the map has a
regen output the governor asks for regen on the speed above `ref` (downhill, a new lower
limit); without it an overspeed raises DRIVER_ALERT for as long as it lasts.

Zones (core/zonestate.py, from the installed configuration's fence): each complete GNSS
fix (the three GNSS messages with one sequence number, see _take_fix) goes to the zone
state, which is stepped every period with the vehicle speed; its limit joins the cap and
the fault limit, lowest wins. Without a fence nothing of this runs.
"""
from micropython import const

from core import events, roles
from core.governor import SpeedGovernor
from core.rx import ERR_TIMEOUT, RECOVER_FRAMES
from core.ticks import diff
from core.zonestate import W_FALLBACK, W_HOLD, ZoneState

INIT = const(0)
NORMAL = const(1)
LIMITING = const(2)
FAULT = const(3)
LOCKOUT = const(4)

# Parts of a GNSS fix (_have bits).
_LAT = const(1)
_LON = const(2)
_VEL = const(4)
_FIX = const(7)

# Rate check: a refused step weighs _RATE_BAD, a plausible one takes 1 off; at
# _RATE_LIMIT the speed frames are a check failure until the score is back to 0.
_RATE_BAD = const(2)
_RATE_LIMIT = const(4)
_RATE_MAX = const(8)
_RATE_MARGIN = const(50)   # ckph on top of the bound: sensor quantisation and frame jitter

_NO_REF = const(13000)        # ckph: the highest cap there is (core/config.py), "no limit" on the bus
_ACCEL_TAU_MS = const(160)
_ACCEL_CLIP = const(100000)   # ckph/s, the governor's _ACCEL_MAX: keeps the filter's products small ints

# Status flag bits, worked out once: the supervisor tests and sets them every period.
_B_IMPLAUSIBLE = 1 << roles.FLAG_SPEED_IMPLAUSIBLE
_B_OUTLIER = 1 << roles.FLAG_WHEEL_OUTLIER
_B_DISAGREE = 1 << roles.FLAG_WHEELS_DISAGREE
_B_STALE = 1 << roles.FLAG_SPEED_STALE
_B_ALERT = 1 << roles.FLAG_DRIVER_ALERT
_B_TIMEOUT = 1 << roles.FLAG_SPEED_TIMEOUT
_B_CHECK = 1 << roles.FLAG_SPEED_CHECK
_B_GNSS_INVALID = 1 << roles.FLAG_GNSS_INVALID
_B_FROM_GNSS = 1 << roles.FLAG_SPEED_FROM_GNSS
_B_PEDAL = 1 << roles.FLAG_PEDAL_FAULT
_B_OVERSPEED = 1 << roles.FLAG_OVERSPEED
_B_LOCKOUT = 1 << roles.FLAG_LOCKOUT
_B_HOLD = 1 << roles.FLAG_ZONE_HOLD
_B_FALLBACK = 1 << roles.FLAG_ZONE_FALLBACK
_B_DEFAULTS = 1 << roles.FLAG_CONFIG_DEFAULTS


def _filtered(accel, a, dt):
    """The acceleration filter: a first-order lag of _ACCEL_TAU_MS whatever the source's
    rate (a 50 Hz wheel message's one-bit steps would otherwise rock the look-ahead)."""
    if a > _ACCEL_CLIP:
        a = _ACCEL_CLIP
    elif a < -_ACCEL_CLIP:
        a = -_ACCEL_CLIP
    if dt > 1000:
        dt = 1000
    return accel + (a - accel) * dt // (_ACCEL_TAU_MS + dt)


class Supervisor:
    def __init__(self, cfg, table, rx, log, period_ms, fence=None, regen=False):
        self.cfg = cfg
        self.fence = fence        # core.geofence.Fence of the installed zones, or None
        self.rx = rx
        self.log = log
        self.period_ms = period_ms
        self.regen_authority = regen   # the map sends a regen request to the drivetrain
        self.gov = SpeedGovernor(cfg, period_ms)
        self._decel_m = cfg.fault_decel_ckph_s         # ref ramp: ckph/s ...
        self._jerk_step = cfg.limit_jerk_ckph_s2 * period_ms // 1000   # ... changing this much a period
        self._jerk2 = 2 * cfg.limit_jerk_ckph_s2
        # Message indices by kind (-1: the vehicle's table has none).
        self.m_wheels = self.m_speed = self.m_driver = self.m_lat = self.m_lon = self.m_vel = -1
        for i in range(len(table.RX_KIND)):
            k = table.RX_KIND[i]
            if k == roles.MSG_WHEEL_SPEED:
                self.m_wheels = i
            elif k == roles.MSG_DRIVER:
                self.m_driver = i
            elif k == roles.MSG_GNSS_LAT:
                self.m_lat = i
            elif k == roles.MSG_GNSS_LON:
                self.m_lon = i
            elif k == roles.MSG_GNSS_VELOCITY:
                self.m_vel = i
            elif k == roles.MSG_VEHICLE_SPEED:
                self.m_speed = i
        # The vehicle's own speed: four wheels where the bus has them, else one speed
        # signal (e.g. J1939 CCVS1). Its loss is a fault; GNSS is only the fallback.
        self.m_primary = self.m_wheels if self.m_wheels >= 0 else self.m_speed
        # INIT ends in FAULT when the inputs are not trusted after init_timeout_ms, or
        # after the time the receiver needs to trust the slowest of them if that is
        # longer: RECOVER_FRAMES good frames, so a 1 Hz speed source takes up to 3 s to
        # be trusted, which is its rate, not a fault.
        self.init_ms = cfg.init_timeout_ms
        for i in (self.m_primary, self.m_driver):
            if i >= 0:
                need = (RECOVER_FRAMES + 1) * table.RX_PERIOD_MS[i]
                if need > self.init_ms:
                    self.init_ms = need
        self.state = INIT
        self.flags = 0
        self.boot_ms = 0
        self.booted = False
        self.speed = 0            # ckph: the highest plausible speed, what the governor limits on
        self.speed_source = 0     # 0 none, 1 the vehicle (wheels or speed signal), 2 GNSS
        self.accel = 0            # ckph/s, filtered, of the source's own readings
        self._prev_speed = 0
        self._prev_speed_ms = 0
        self._have_prev = False
        self.limit = cfg.cap_ckph  # the limit in force (ACTIVE_LIMIT), ckph
        self.ref = cfg.cap_ckph    # the limit now (SPEED_LIMIT): ramps down to `limit`
        self._ref_m = self.ref * 1000   # ref in 0.001 ckph, so slow ramps keep their fractions
        self._ramp = 0             # the ref ramp's rate now, ckph/s
        self._ref_set = False      # ref starts at the first speed known, if above the limit
        self.torque = 0            # command, permille
        self.regen = 0             # request, permille
        self.zone_limit = 0        # 0: no zone limit (from the zone state)
        self.zone_id = 0
        self.zones = None if fence is None else ZoneState(fence, cfg, log)
        # The GNSS fix being assembled: each part as it arrived (copied out of rx.values,
        # which the next frame of that message overwrites), its sequence number and time.
        self._have = 0
        self._fix_type = self._sats = self._hdop = 0
        self._lat_hi = self._lat_lo = self._lon_hi = self._lon_lo = 0
        self._gnss_speed = self._heading = 0
        self._seq_lat = self._seq_lon = self._seq_vel = 0
        self._t_lat = self._t_lon = self._t_vel = 0
        self._fix_span = 1000
        if self.m_lat >= 0:
            self._fix_span = table.RX_PERIOD_MS[self.m_lat] or 1000
        # Wheel vote.
        self._outlier = -1         # the wheel voted out, -1 none
        self._voted = -1           # the vote on the newest wheel frame
        self._disagree_since = -1
        # Rate check on the vehicle's speed.
        self._rate_speed = 0       # the last plausible reading, ckph
        self._rate_ms = 0
        self._rate_have = False
        self._rate_score = 0
        self._rate_bad = False
        self._rate_run = 0         # refusals in a row (an event on the first)
        # Cross-check against GNSS.
        self._xcheck_since = -1    # disagreeing (or, while flagged, agreeing) since
        self._offset = 0           # GNSS's excess over the vehicle's speed, while apart or flagged (ckph)
        self.reading = 0           # the newest well-formed frame's speed, plausible or not (ckph)
        self._gnss_good = False
        self._gnss_prev = 0        # GNSS speed's own acceleration, for when it governs
        self._gnss_prev_ms = 0
        self._have_gnss_prev = False
        self._gnss_accel = 0
        self.control_accel = 0     # the acceleration of the speed the governor limits on
        self._overspeed_since = -1
        self._faults_clear_since = -1
        self.odometer_mm = 0
        self.odometer_m = 0
        if cfg.defaults_reason:
            self.flags |= _B_DEFAULTS

    # -- inputs ---------------------------------------------------------------------

    def _vehicle_speed(self, now):
        """The vehicle's own speed (ckph), or -1 if unusable: the voted wheels or the single
        speed signal, through the rate check."""
        rx = self.rx
        i = self.m_primary
        if i >= 0 and not rx.valid[i] and rx.fresh[i]:
            # Not trusted, but well formed: what it says still holds the torque (step's `rise`).
            v = rx.values
            if i == self.m_wheels:
                a = v[roles.IN_WHEEL_FL]
                b = v[roles.IN_WHEEL_FR]
                c = v[roles.IN_WHEEL_RL]
                d = v[roles.IN_WHEEL_RR]
                self.reading = (a + b + c + d - min(a, b, c, d) - max(a, b, c, d)) >> 1
            else:
                self.reading = v[roles.IN_VEHICLE_SPEED]
        if i < 0 or not rx.valid[i]:
            self._rate_have = False
            self._outlier = -1
            self._disagree_since = -1
            self.flags &= ~(_B_OUTLIER | _B_DISAGREE)
            return -1
        if i == self.m_wheels:
            if rx.fresh[i]:
                self._voted = self._vote(now)   # the wheels only change with a frame
            raw = self._voted
            if raw < 0:
                return -1
        else:
            raw = self.reading = rx.values[roles.IN_VEHICLE_SPEED]
        if not rx.fresh[i] and self._rate_have:    # between frames: the last verdict holds
            return -1 if self._rate_bad else self._rate_speed
        return self._rate_check(now, raw)

    def _vote(self, now):
        """The median of the four wheels, or of three with one outlier voted out; -1 once
        fewer than three have agreed for plausibility_ms."""
        v = self.rx.values
        cfg = self.cfg
        a = v[roles.IN_WHEEL_FL]
        b = v[roles.IN_WHEEL_FR]
        c = v[roles.IN_WHEEL_RL]
        d = v[roles.IN_WHEEL_RR]
        # Sorted in five compare-swaps: s0 <= s1 <= s2 <= s3, and which wheel is at each end.
        lo_w = 0
        hi_w = 1
        if a > b:
            a, b = b, a
            lo_w, hi_w = 1, 0
        lo2_w = 2
        hi2_w = 3
        if c > d:
            c, d = d, c
            lo2_w, hi2_w = 3, 2
        if a <= c:
            s0 = a
            w0 = lo_w
            m1 = c
        else:
            s0 = c
            w0 = lo2_w
            m1 = a
        if b >= d:
            s3 = b
            w3 = hi_w
            m2 = d
        else:
            s3 = d
            w3 = hi2_w
            m2 = b
        if m1 <= m2:
            s1, s2 = m1, m2
        else:
            s1, s2 = m2, m1
        median = self.reading = (s1 + s2) >> 1
        allowed = median * cfg.plausibility_pct // 100
        if allowed < cfg.plausibility_ckph:
            allowed = cfg.plausibility_ckph
        flags = self.flags
        if s3 - s0 <= allowed:
            self._disagree_since = -1
            self._outlier = -1
            self.flags = flags & ~(_B_OUTLIER | _B_DISAGREE)
            return median
        # The wheel furthest from the median is the candidate; the other three must agree.
        if s3 - median >= median - s0:
            wheel = w3
            spread = s2 - s0
            speed = s1
        else:
            wheel = w0
            spread = s3 - s1
            speed = s2
        if spread <= allowed:
            self._disagree_since = -1
            flags &= ~_B_DISAGREE
            if self._outlier != wheel:
                self._outlier = wheel
                self.log.record(events.WHEEL_OUTLIER, now, wheel)   # the wheel alone: a flicker coalesces
            self.flags = flags | _B_OUTLIER
            return speed
        self._outlier = -1
        flags &= ~_B_OUTLIER
        if self._disagree_since < 0:
            self._disagree_since = now
        if diff(now, self._disagree_since) > cfg.plausibility_ms:
            if not flags & _B_DISAGREE:
                self.log.record(events.WHEELS_DISAGREE, now, spread)
            self.flags = flags | _B_DISAGREE
            return -1
        self.flags = flags
        return median

    def _rate_check(self, now, speed):
        """The reading if a vehicle can have got there from the last plausible one, else that
        one; refusals that keep coming make the source a check failure (-1). After the first
        reading only fresh ones come here: between frames _vehicle_speed keeps the verdict."""
        if not self._rate_have:
            self._rate_have = True
            self._rate_speed = speed
            self._rate_ms = now
            self._rate_score = 0
            self._rate_bad = False
            return speed
        dt = diff(now, self._rate_ms)
        allowed = self.cfg.speed_rate_ckph_s * dt // 1000 + _RATE_MARGIN
        step = speed - self._rate_speed
        if step > allowed or -step > allowed:
            score = self._rate_score + _RATE_BAD
            self._rate_score = score if score < _RATE_MAX else _RATE_MAX
            if self._rate_run == 0:
                self.log.record(events.SPEED_RATE, now, step)
            self._rate_run = 1
            if self._rate_score >= _RATE_LIMIT:
                self._rate_bad = True
        else:
            self._rate_run = 0
            if self._rate_score:
                self._rate_score -= 1
            if self._rate_score == 0:
                self._rate_bad = False
            self._rate_speed = speed
            self._rate_ms = now
        return -1 if self._rate_bad else self._rate_speed

    def _gnss_ok(self):
        rx = self.rx
        if self.m_lat < 0 or self.m_vel < 0:
            return False
        if not (rx.valid[self.m_lat] and rx.valid[self.m_vel]):
            return False
        if self.m_lon >= 0 and not rx.valid[self.m_lon]:
            return False
        v = rx.values
        cfg = self.cfg
        return (
            v[roles.IN_FIX_TYPE] >= cfg.gnss_min_fix
            and v[roles.IN_FIX_TYPE] != 5
            and v[roles.IN_SATELLITES] >= cfg.gnss_min_satellites
            and v[roles.IN_HDOP] <= cfg.gnss_max_hdop_d
        )

    def _cross_check(self, now, vehicle, gnss):
        """Compare the vehicle's speed with each fresh good GNSS speed; returns the speed to
        limit on. Apart, GNSS's excess is added at once (the higher plausible speed governs;
        a GNSS glitch can only lower torque); apart for xcheck_ms raises SPEED_IMPLAUSIBLE,
        and the excess is then kept, through a loss of the fix, until they agree for
        xcheck_ms again."""
        flags = self.flags
        flagged = flags & _B_IMPLAUSIBLE
        if not self._gnss_good:
            self._xcheck_since = -1         # a debounce spans good fixes only
            if not flagged:
                self._offset = 0
        else:                               # a fresh good GNSS speed: _update_speed calls only then
            cfg = self.cfg
            lower = vehicle if vehicle < gnss else gnss
            allowed = lower * cfg.xcheck_pct // 100
            if allowed < cfg.xcheck_ckph:
                allowed = cfg.xcheck_ckph
            delta = gnss - vehicle
            apart = delta > allowed or -delta > allowed
            self._offset = delta if (apart or flagged) and delta > 0 else 0
            if apart == bool(flagged):
                self._xcheck_since = -1     # as flagged: nothing to debounce
            elif self._xcheck_since < 0:
                self._xcheck_since = now
            elif diff(now, self._xcheck_since) > cfg.xcheck_ms:
                self._xcheck_since = -1
                if apart:
                    self.flags = flags | _B_IMPLAUSIBLE
                    self.log.record(events.SPEED_IMPLAUSIBLE, now, delta)
                else:
                    self.flags = flags & ~_B_IMPLAUSIBLE
                    self._offset = 0
                    self.log.record(events.SPEED_PLAUSIBLE, now, delta)
        return vehicle + self._offset

    def _update_speed(self, now):
        rx = self.rx
        self._gnss_good = gnss = self._gnss_ok()
        vehicle = self._vehicle_speed(now)
        flags = self.flags
        w = self.m_primary
        if w >= 0 and not rx.valid[w]:
            if rx.error[w] == ERR_TIMEOUT or rx.error[w] == 0:  # late or never seen
                flags = (flags | _B_TIMEOUT) & ~_B_CHECK
            else:
                flags = (flags | _B_CHECK) & ~_B_TIMEOUT
        elif self._rate_bad:
            flags = (flags | _B_CHECK) & ~_B_TIMEOUT
        else:
            flags &= ~(_B_TIMEOUT | _B_CHECK)
        if w >= 0 and rx.stale[w]:
            flags |= _B_STALE
        else:
            flags &= ~_B_STALE
        if gnss:
            flags &= ~_B_GNSS_INVALID
        else:
            flags |= _B_GNSS_INVALID
        self.flags = flags
        source = 0
        fresh = False
        if vehicle >= 0:
            source = 1
            own = vehicle
            fresh = rx.fresh[w]
            if self.m_vel < 0:
                speed = vehicle
            elif gnss and not rx.fresh[self.m_vel]:
                speed = vehicle + self._offset      # between GNSS frames: as compared last
            else:
                speed = self._cross_check(now, vehicle, rx.values[roles.IN_GNSS_SPEED])
        elif gnss:
            source = 2
            own = speed = rx.values[roles.IN_GNSS_SPEED]
            fresh = rx.fresh[self.m_vel]
        else:
            own = speed = self.speed
        flags = self.flags
        if source != self.speed_source:
            if source == 2:
                self.log.record(events.SPEED_SOURCE_GNSS, now, speed)
            elif source == 0:
                self.log.record(events.NO_SPEED_SOURCE, now, self.speed)
            self._have_prev = False
            self.speed_source = source
        if source == 2:
            flags |= _B_FROM_GNSS
        else:
            flags &= ~_B_FROM_GNSS
        if self._gnss_good and rx.fresh[self.m_vel]:
            g = rx.values[roles.IN_GNSS_SPEED]
            if self._have_gnss_prev:
                dt = diff(now, self._gnss_prev_ms)
                if dt > 0:
                    self._gnss_accel = _filtered(self._gnss_accel, (g - self._gnss_prev) * 1000 // dt, dt)
            self._gnss_prev = g
            self._gnss_prev_ms = now
            self._have_gnss_prev = True
        elif not self._gnss_good:
            self._have_gnss_prev = False
            self._gnss_accel = 0
        if fresh:
            # From the source's own readings: a GNSS offset stepping in would read as a jolt.
            if self._have_prev:
                dt = diff(now, self._prev_speed_ms)
                if dt > 0:
                    self.accel = _filtered(self.accel, (own - self._prev_speed) * 1000 // dt, dt)
            else:
                self.accel = 0
            self._prev_speed = own
            self._prev_speed_ms = now
            self._have_prev = True
        if source == 0:
            self.accel = 0
        # Where GNSS's excess over the vehicle's speed governs, so does GNSS's acceleration:
        # frozen wheels would say none.
        self.control_accel = self._gnss_accel if source == 1 and self._offset else self.accel
        self.speed = speed
        d = self.driver_ok()
        if d:
            flags &= ~_B_PEDAL
        else:                      # step() has set booted before this runs
            flags |= _B_PEDAL
        self.flags = flags

    def driver_ok(self):
        return self.m_driver >= 0 and self.rx.valid[self.m_driver]

    def _take_fix(self, now, zs):
        """Assemble a GNSS fix from its three messages; hand it to the zone state once
        complete. The parts are paired by their sequence numbers (rolling counters) and
        must arrive within one fix period of each other, so a position never mixes the
        latitude of one fix with the longitude of another. Each fix is used once."""
        rx = self.rx
        fresh = rx.fresh
        v = rx.values
        i = self.m_lat
        if fresh[i]:
            self._fix_type = v[roles.IN_FIX_TYPE]
            self._sats = v[roles.IN_SATELLITES]
            self._lat_hi = v[roles.IN_LAT_HI]
            self._lat_lo = v[roles.IN_LAT_LO]
            self._seq_lat = rx.seq[i]
            self._t_lat = now
            self._have |= _LAT
        i = self.m_lon
        if fresh[i]:
            self._hdop = v[roles.IN_HDOP]
            self._lon_hi = v[roles.IN_LON_HI]
            self._lon_lo = v[roles.IN_LON_LO]
            self._seq_lon = rx.seq[i]
            self._t_lon = now
            self._have |= _LON
        i = self.m_vel
        if fresh[i]:
            self._gnss_speed = v[roles.IN_GNSS_SPEED]
            self._heading = v[roles.IN_GNSS_HEADING]
            self._seq_vel = rx.seq[i]
            self._t_vel = now
            self._have |= _VEL
        if self._have != _FIX or self._seq_lat != self._seq_lon or self._seq_lat != self._seq_vel:
            return
        if not (rx.valid[self.m_lat] and rx.valid[self.m_lon] and rx.valid[self.m_vel]):
            return
        span = self._fix_span
        if diff(now, self._t_lat) >= span or diff(now, self._t_lon) >= span or diff(now, self._t_vel) >= span:
            return
        self._have = 0
        zs.on_fix(now, self._fix_type, self._sats, self._hdop, self._lat_hi, self._lat_lo,
                  self._lon_hi, self._lon_lo, self._heading, self._gnss_speed)

    def _update_zones(self, now, zs):
        """Fixes in, wheel travel in; the zone limit, zone id and zone flags out."""
        if self.m_lat >= 0 and self.m_lon >= 0 and self.m_vel >= 0:
            self._take_fix(now, zs)
        zs.step(now, self.speed)
        self.zone_limit = zs.limit_ckph
        self.zone_id = zs.zone_id
        w = zs.warnings
        flags = self.flags & ~roles.ZONE_FLAGS
        if zs.lockout:
            flags |= _B_LOCKOUT
        if w & W_FALLBACK:
            flags |= _B_FALLBACK
        elif w & W_HOLD:
            flags |= _B_HOLD
        self.flags = flags

    # -- decisions ------------------------------------------------------------------

    def step(self, now):
        """One control period: returns the torque limit (permille); the regen request is
        in `regen`."""
        cfg = self.cfg
        if not self.booted:
            self.booted = True
            self.boot_ms = now
        self._update_speed(now)
        zones = self.zones
        if zones is not None:
            self._update_zones(now, zones)
        flags = self.flags
        state = self.state
        if state == INIT:
            if self.speed_source == 1 and self.driver_ok():
                state = NORMAL
                self.gov.start()  # from 0 at the up-ramp, then the driver's demand
            elif diff(now, self.boot_ms) > self.init_ms:
                state = FAULT
                if self.m_primary >= 0 and not self.rx.valid[self.m_primary]:
                    flags |= _B_TIMEOUT
                self.log.record(events.FAULT_ENTERED, now, flags)
        elif state != FAULT and flags & roles.FAULT_FLAGS:
            state = FAULT
            self._faults_clear_since = -1
            self.log.record(events.FAULT_ENTERED, now, flags)
        elif state == FAULT:
            if flags & roles.FAULT_FLAGS:
                self._faults_clear_since = -1
            elif self._faults_clear_since < 0:
                self._faults_clear_since = now
            elif diff(now, self._faults_clear_since) >= cfg.fault_recover_ms:
                state = NORMAL
                self.log.record(events.FAULT_CLEARED, now, 0)
        self.flags = flags

        # Active limit: the cap, a stricter zone limit (the lockout speed in a lockout,
        # the fallback without GNSS), the limp cap in FAULT.
        limit = cfg.cap_ckph
        if self.zone_limit and self.zone_limit < limit:
            limit = self.zone_limit
        if state == FAULT and cfg.limp_ckph < limit:
            limit = cfg.limp_ckph
        self.limit = limit
        if self._ref_set and self.ref == limit and not self._ramp:
            ref = limit                             # steady: no ramp to work out
        else:
            ref = self._ramp_ref(limit, state)

        gov = self.gov
        rx = self.rx
        values = rx.values
        speed = self.speed
        driver = self.m_driver >= 0 and rx.valid[self.m_driver]
        demand = values[roles.IN_PEDAL] if driver else 0
        # No torque increase on a late input or while any speed source reads at the limit,
        # a refused reading too: a glitch can only lower torque.
        hi = speed
        if self._gnss_good and values[roles.IN_GNSS_SPEED] > hi:
            hi = values[roles.IN_GNSS_SPEED]
        if self.reading > hi and self.m_primary >= 0 and not rx.stale[self.m_primary]:
            hi = self.reading
        rise = hi < ref and not flags & _B_STALE and not (driver and rx.stale[self.m_driver])
        if state == INIT or self.speed_source == 0 or not driver:
            torque = gov.ramp_to(0)
        else:
            target = ref - cfg.setpoint_margin_ckph
            if target < 0:
                target = 0
            torque = gov.step(target, speed, self.control_accel, demand, rise)
        # Regen on the speed above the ramped limit, once no drive torque is asked for, and
        # never slowing the car harder than the ramp's bound, whatever the road adds.
        allowed = self.regen_authority and self.speed_source != 0 and state != INIT and torque == 0
        if allowed or gov.regen:
            self.regen = gov.regen_step(ref, speed, allowed, -self.control_accel, self._decel_m)
        else:
            self.regen = 0
            gov.regen_integ = 0
        if state == NORMAL or state == LIMITING or state == LOCKOUT:
            if flags & _B_LOCKOUT:
                new = LOCKOUT
            else:
                new = LIMITING if (gov.binding and not gov.starting) or self.regen else NORMAL
            if new != state and new != LOCKOUT and state != LOCKOUT:
                self.log.record(
                    events.LIMIT_ENGAGED if new == LIMITING else events.LIMIT_RELEASED, now, self.speed
                )
            state = new
        if state != self.state:
            self.log.record(events.STATE_CHANGE, now, state)
            self.state = state
        self._overspeed(now, ref)
        self._odometer()
        self.torque = torque
        return torque

    def _ramp_ref(self, limit, state):
        """The commanded limit: a higher limit at once; a lower one along a ramp from the
        current speed at up to fault_decel_ckph_s, its rate moving by at most the jerk
        bound (rising at the start, easing off before the limit)."""
        speed = self.speed
        if not self._ref_set:
            if self.speed_source == 0:
                # Booting, the speed not known yet: the torque is 0, and a limit published
                # now could be below the speed (a mid-drive reset): ask for none. Past INIT
                # with no speed at all there is nothing to ramp from: the limit itself.
                ref = _NO_REF if state == INIT else limit
                self.ref = ref
                self._ref_m = ref * 1000
                return ref
            # The first speed known: above the limit (booted mid-drive) the ramp starts there.
            self._ref_set = True
            self._ref_m = (speed if speed > limit else limit) * 1000
            self._ramp = 0
        ref_m = self._ref_m
        if limit * 1000 >= ref_m or (self.speed_source and limit >= speed):
            ref_m = limit * 1000
            self._ramp = 0
        else:
            if self.speed_source and speed * 1000 < ref_m:
                ref_m = speed * 1000
            gap = ref_m // 1000 - limit
            rate = self._ramp
            if rate * rate > self._jerk2 * gap:
                rate -= self._jerk_step      # ease off: land on the limit without a jolt
                if rate < self._jerk_step:
                    rate = self._jerk_step
            else:
                rate += self._jerk_step
                if rate > self._decel_m:
                    rate = self._decel_m
            self._ramp = rate
            ref_m -= rate * self.period_ms
            if ref_m < limit * 1000:
                ref_m = limit * 1000
                self._ramp = 0
        self._ref_m = ref_m
        self.ref = ref_m // 1000
        return self.ref

    def _overspeed(self, now, limit):
        """Warn when the vehicle runs above the limit although the governor cuts torque;
        with no braking authority left, alert the driver for as long as it lasts."""
        bit = _B_OVERSPEED
        over = self.speed_source and self.speed > limit + self.cfg.overspeed_margin_ckph
        if over:
            if self._overspeed_since < 0:
                self._overspeed_since = now
            elif not self.flags & bit and diff(now, self._overspeed_since) >= self.cfg.overspeed_ms:
                self.flags |= bit
                self.log.record(events.OVERSPEED, now, self.speed - limit)
        else:
            self._overspeed_since = -1
            if self.flags & bit and self.speed <= limit:
                self.flags &= ~bit
                self.log.record(events.OVERSPEED_CLEARED, now, self.speed)
        flags = self.flags
        if flags & bit:
            if not self.regen_authority or self.regen >= self.cfg.regen_max_pm:
                self.flags = flags | _B_ALERT
        elif flags & _B_ALERT and (not self.speed_source or self.speed <= limit):
            self.flags = flags & ~_B_ALERT

    def _odometer(self):
        # ckph * ms / 360 = mm; whole metres carried out to keep the sum small.
        mm = self.odometer_mm + self.speed * self.period_ms // 360
        self.odometer_m += mm // 1000
        self.odometer_mm = mm % 1000
