"""The one place that decides what the vehicle may do.

Each period the supervisor takes the checked inputs (core.rx), picks a speed source,
judges plausibility, runs the state machine and turns the governor's output into the
torque and speed limits that go on the bus. No board and no other module sets those.

States: INIT (deny: no torque until inputs are trusted), NORMAL (driver passes through),
LIMITING (governor holds the limit), LOCKOUT (a freeway lockout zone was entered: the
limit ramps down to lockout_ckph), FAULT (inputs lost or invalid: the limit ramps down
to the limp cap at a bounded deceleration; with no speed source at all the torque ramps
to zero). FAULT takes priority over LOCKOUT; both keep the stricter limit.

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


class Supervisor:
    def __init__(self, cfg, table, rx, log, period_ms, fence=None):
        self.cfg = cfg
        self.fence = fence        # core.geofence.Fence of the installed zones, or None
        self.rx = rx
        self.log = log
        self.period_ms = period_ms
        self.gov = SpeedGovernor(cfg, period_ms)
        self.fault_decel_step = cfg.fault_decel_ckph_s * period_ms // 1000
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
        self.speed = 0            # ckph, from the current source
        self.speed_source = 0     # 0 none, 1 the vehicle (wheels or speed signal), 2 GNSS
        self.accel = 0            # ckph/s, filtered
        self._prev_speed = 0
        self._prev_speed_ms = 0
        self._have_prev = False
        self.limit = cfg.cap_ckph  # the limit in force once any ramp is done, ckph
        self.ref = cfg.cap_ckph    # the limit now: ramps down to `limit` at fault_decel
        self.torque = 0            # command, permille
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
        self._implausible_since = -1
        self._overspeed_since = -1
        self._faults_clear_since = -1
        self.odometer_mm = 0
        self.odometer_m = 0
        if cfg.defaults_reason:
            self.flags |= 1 << roles.FLAG_CONFIG_DEFAULTS

    # -- inputs ---------------------------------------------------------------------

    def _vehicle_speed(self, now):
        """The vehicle's speed, or -1 if unusable: the median of the four wheels (with
        the plausibility check) or the single speed signal of a bus without wheels."""
        rx = self.rx
        i = self.m_primary
        if i < 0 or not rx.valid[i]:
            return -1
        v = rx.values
        if i != self.m_wheels:
            return v[roles.IN_VEHICLE_SPEED]
        a = v[roles.IN_WHEEL_FL]
        b = v[roles.IN_WHEEL_FR]
        c = v[roles.IN_WHEEL_RL]
        d = v[roles.IN_WHEEL_RR]
        lo = min(a, b, c, d)
        hi = max(a, b, c, d)
        speed = (a + b + c + d - lo - hi) >> 1
        allowed = speed * self.cfg.plausibility_pct // 100
        if allowed < self.cfg.plausibility_ckph:
            allowed = self.cfg.plausibility_ckph
        if hi - lo > allowed:
            if self._implausible_since < 0:
                self._implausible_since = now
            elif diff(now, self._implausible_since) > self.cfg.plausibility_ms:
                if not self.flags & (1 << roles.FLAG_SPEED_IMPLAUSIBLE):
                    self.log.record(events.SPEED_IMPLAUSIBLE, now, hi - lo)
                self.flags |= 1 << roles.FLAG_SPEED_IMPLAUSIBLE
                return -1
        else:
            self._implausible_since = -1
            self.flags &= ~(1 << roles.FLAG_SPEED_IMPLAUSIBLE)
        return speed

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

    def _update_speed(self, now):
        rx = self.rx
        wheels = self._vehicle_speed(now)
        flags = self.flags
        w = self.m_primary
        if w >= 0 and not rx.valid[w]:
            if rx.error[w] == ERR_TIMEOUT or rx.error[w] == 0:  # late or never seen
                flags = (flags | (1 << roles.FLAG_SPEED_TIMEOUT)) & ~(1 << roles.FLAG_SPEED_CHECK)
            else:
                flags = (flags | (1 << roles.FLAG_SPEED_CHECK)) & ~(1 << roles.FLAG_SPEED_TIMEOUT)
        else:
            flags &= ~((1 << roles.FLAG_SPEED_TIMEOUT) | (1 << roles.FLAG_SPEED_CHECK))
        gnss = self._gnss_ok()
        if gnss:
            flags &= ~(1 << roles.FLAG_GNSS_INVALID)
        else:
            flags |= 1 << roles.FLAG_GNSS_INVALID
        source = 0
        fresh = False
        if wheels >= 0:
            source = 1
            speed = wheels
            fresh = rx.fresh[w]
        elif gnss:
            source = 2
            speed = rx.values[roles.IN_GNSS_SPEED]
            fresh = rx.fresh[self.m_vel]
        else:
            speed = self.speed
        if source != self.speed_source:
            if source == 2:
                self.log.record(events.SPEED_SOURCE_GNSS, now, speed)
            elif source == 0:
                self.log.record(events.NO_SPEED_SOURCE, now, self.speed)
            self._have_prev = False
            self.speed_source = source
        if source == 2:
            flags |= 1 << roles.FLAG_SPEED_FROM_GNSS
        else:
            flags &= ~(1 << roles.FLAG_SPEED_FROM_GNSS)
        if fresh:
            if self._have_prev:
                dt = diff(now, self._prev_speed_ms)
                if dt > 0:
                    a = (speed - self._prev_speed) * 1000 // dt
                    self.accel += (a - self.accel) >> 2
            else:
                self.accel = 0
            self._prev_speed = speed
            self._prev_speed_ms = now
            self._have_prev = True
        if source == 0:
            self.accel = 0
        self.speed = speed
        d = self.driver_ok()
        if d:
            flags &= ~(1 << roles.FLAG_PEDAL_FAULT)
        elif self.booted:
            flags |= 1 << roles.FLAG_PEDAL_FAULT
        self.flags = flags

    def driver_ok(self):
        return self.m_driver >= 0 and self.rx.valid[self.m_driver]

    def _take_fix(self, now):
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
        self.zones.on_fix(now, self._fix_type, self._sats, self._hdop, self._lat_hi, self._lat_lo,
                          self._lon_hi, self._lon_lo, self._heading, self._gnss_speed)

    def _update_zones(self, now):
        """Fixes in, wheel travel in; the zone limit, zone id and zone flags out."""
        zs = self.zones
        if self.m_lat >= 0 and self.m_lon >= 0 and self.m_vel >= 0:
            self._take_fix(now)
        zs.step(now, self.speed)
        self.zone_limit = zs.limit_ckph
        self.zone_id = zs.zone_id
        w = zs.warnings
        flags = self.flags & ~roles.ZONE_FLAGS
        if zs.lockout:
            flags |= 1 << roles.FLAG_LOCKOUT
        if w & W_FALLBACK:
            flags |= 1 << roles.FLAG_ZONE_FALLBACK
        elif w & W_HOLD:
            flags |= 1 << roles.FLAG_ZONE_HOLD
        self.flags = flags

    # -- decisions ------------------------------------------------------------------

    def step(self, now):
        """One control period: returns the torque limit (permille)."""
        cfg = self.cfg
        if not self.booted:
            self.booted = True
            self.boot_ms = now
        self._update_speed(now)
        if self.zones is not None:
            self._update_zones(now)
        flags = self.flags
        state = self.state
        if state == INIT:
            if self.speed_source == 1 and self.driver_ok():
                state = NORMAL
                self.gov.release()  # nothing moved yet: the driver's demand applies as is
            elif diff(now, self.boot_ms) > self.init_ms:
                state = FAULT
                if self.m_primary >= 0 and not self.rx.valid[self.m_primary]:
                    flags |= 1 << roles.FLAG_SPEED_TIMEOUT
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
        # A lower limit is approached along a ramp from the current speed, so the
        # vehicle never decelerates harder than fault_decel (no abrupt cut at speed).
        ref = self.ref
        if limit >= ref or limit >= self.speed:
            ref = limit
        else:
            start = ref if ref < self.speed else self.speed
            ref = start - self.fault_decel_step
            if ref < limit:
                ref = limit
        self.ref = ref

        gov = self.gov
        demand = self.rx.values[roles.IN_PEDAL] if self.driver_ok() else 0
        if state == INIT:
            torque = gov.ramp_to(0)
        elif self.speed_source == 0 or not self.driver_ok():
            torque = gov.ramp_to(0)
        else:
            target = ref - cfg.setpoint_margin_ckph
            if target < 0:
                target = 0
            torque = gov.step(target, self.speed, self.accel, demand)
        if state == NORMAL or state == LIMITING or state == LOCKOUT:
            if flags & (1 << roles.FLAG_LOCKOUT):
                new = LOCKOUT
            else:
                new = LIMITING if gov.binding else NORMAL
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

    def _overspeed(self, now, limit):
        """Warn when the vehicle runs above the limit although the governor cuts torque."""
        bit = 1 << roles.FLAG_OVERSPEED
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

    def _odometer(self):
        # ckph * ms / 360 = mm; whole metres carried out to keep the sum small.
        mm = self.odometer_mm + self.speed * self.period_ms // 360
        self.odometer_m += mm // 1000
        self.odometer_mm = mm % 1000
