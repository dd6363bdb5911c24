"""Which zone limit the governor applies, from GNSS fixes, with hysteresis and dwell.

Pure logic: the supervisor passes in each complete fix (`on_fix`) and calls `step`
every control period with the vehicle speed; this module never touches CAN. It reads
`limit_ckph` (0: no zone limit), `zone_id` and `lockout` back, and `warnings` (W_*). The
event log is told where the vehicle is (`log.locate`, the last good fix) so that every
event carries the position.

- A stricter limit (or a lockout) applies at the first fix that shows it, good or poor.
- A looser one only when, for `zone_dwell_ms`, every fix was good (none more than
  1.5 s apart) and showed the vehicle at least `zone_hysteresis_m` from every
  stricter zone; it then relaxes to the strictest limit among those fixes. A lockout
  clears the same way: only once the vehicle has clearly left.
- Fixes: "no fix" is ignored; too few satellites or too high HDOP make a poor fix,
  used only to tighten. A fix further from the last good one than wheel travel plus
  GNSS error allows is a glitch or spoof: rejected and counted. Rejected fixes that
  agree with each other (and the wheels) for `zone_reanchor_ms` become the new anchor.
- GNSS loss: with no usable fix for 1.5 s the state is held; after `zone_hold_ms` or
  `zone_hold_m` of wheel travel it falls back to `zone_fallback_ckph` (or stays
  stricter) until fixes relax it the normal way. It starts there at boot, too.

A table that was refused (corrupt, wrong version) keeps the fallback for good; no zones
file at all means no zone limits and no GNSS needed.
"""
from array import array

from micropython import const

from core import events
from core.geofence import ERR_MISSING, OK
from core.ticks import diff

W_LOCKOUT = const(1)         # a lockout is latched
W_HOLD = const(2)            # GNSS lost: last zone state held
W_FALLBACK = const(4)        # the fallback limit is in force (GNSS lost, or not yet seen)
W_POOR_FIX = const(8)        # the last fix was poor (satellites, HDOP): tightening only
W_JUMP = const(16)           # the last fix was rejected as a jump
W_OFF_MAP = const(32)        # the last fix was beyond the table's area
W_TABLE_REFUSED = const(64)  # the zones table was refused: fallback for good
W_HYST_CLAMPED = const(128)  # zone_hysteresis_m exceeds the table's near distance

FALLBACK_TIME = const(1)
FALLBACK_DISTANCE = const(2)
FALLBACK_NO_FIX = const(3)   # no good fix since boot
FALLBACK_TABLE = const(4)    # the zones table was refused

_NO_LIMIT = const(0x7FFF)    # larger than any limit
_LATE_MS = const(1500)       # no good fix this long: GNSS lost, the state is held
_MAX_ALLOW_DM = const(16000)  # bound on the jump allowance (keeps squares small)
_DR_CAP_DM = const(0x1FFFFFFF)
_CKPH_MS_PER_DM = const(36000)
_MAX_STEP_MS = const(1000)
_QUEUE = const(16)           # distinct limits one dwell can hold


class ZoneState:
    def __init__(self, fence, cfg, log):
        self.fence = fence
        self.cfg = cfg
        self.log = log
        self.refused = fence.error != OK and fence.error != ERR_MISSING
        self.active = fence.n > 0 or self.refused
        self.hyst = cfg.zone_hysteresis_m * 10          # dm, like every distance here
        self.hold_dm = cfg.zone_hold_m * 10
        self.margin_dm = cfg.zone_jump_margin_m * 10
        # A zone limit of 0 means "none" to the supervisor: a lockout at 0 is 1 ckph.
        self.lockout_ckph = cfg.lockout_ckph if cfg.lockout_ckph > 0 else 1
        self.warnings = 0
        if fence.n and self.hyst > fence.near_dm:
            self.hyst = fence.near_dm
            self.warnings |= W_HYST_CLAMPED
        self._applied = cfg.zone_fallback_ckph if self.active else _NO_LIMIT
        self.limit_ckph = 0
        self.zone_id = 0
        self.lockout = 0
        self.clear_dm = 0
        self.fixes = 0           # good fixes used
        self.poor_fixes = 0
        self.jumps = 0           # fixes rejected as jumps
        self.reanchors = 0
        # the run of fixes that may relax the limit (see _remember)
        self._since = -1         # time of its first fix, -1: no run
        self._qt = array("i", [0] * _QUEUE)
        self._qk = array("i", [0] * _QUEUE)
        self._qz = array("i", [0] * _QUEUE)
        self._qn = 0
        # position: the last good fix and wheel travel since
        self.x = 0
        self.y = 0
        self._anchored = False
        self._dr_dm = 0
        self._dr_rem = 0
        # rejected fixes that agree with each other
        self._track = False
        self._tx = 0
        self._ty = 0
        self._tdr_dm = 0
        self._track_since = 0
        self._jump_dm = 0
        self._jumping = False
        # GNSS loss
        self._stepped = False
        self._step_ms = 0
        self._good_ms = 0
        self._ever_good = False
        self._holding = False
        self._fallback = self.active
        self._fallback_reason = FALLBACK_TABLE if self.refused else FALLBACK_NO_FIX
        if self._fallback:
            self.warnings |= W_FALLBACK
        if self.refused:
            self.warnings |= W_TABLE_REFUSED
        self._publish()

    # -- every control period -----------------------------------------------------------

    def step(self, now, speed):
        """Integrate wheel travel; hold and fall back when fixes stop."""
        if not self.active:
            return
        if not self._stepped:
            self._stepped = True
            self._step_ms = now
            self._good_ms = now
            if self.refused:
                self.log.record(events.ZONES_REFUSED, now, self.fence.error)
            self.log.record(events.GNSS_FALLBACK, now, self._fallback_reason)
            return
        dt = diff(now, self._step_ms)
        self._step_ms = now
        if dt > _MAX_STEP_MS:
            dt = _MAX_STEP_MS
        if dt > 0 and speed > 0:
            acc = self._dr_rem + speed * dt
            whole = acc // _CKPH_MS_PER_DM
            self._dr_rem = acc - whole * _CKPH_MS_PER_DM
            self._dr_dm = self._dr_dm + whole if self._dr_dm < _DR_CAP_DM else _DR_CAP_DM
            self._tdr_dm = self._tdr_dm + whole if self._tdr_dm < _DR_CAP_DM else _DR_CAP_DM
        if self.refused or self._fallback:
            return
        gap = diff(now, self._good_ms)
        if not self._holding and gap > _LATE_MS:
            self._holding = True
            self._since = -1
            self.warnings |= W_HOLD
            self.log.record(events.GNSS_HOLD, now, self.zone_id)
        if self._holding:
            if gap > self.cfg.zone_hold_ms:
                self._fall_back(now, FALLBACK_TIME)
            elif self._dr_dm > self.hold_dm:
                self._fall_back(now, FALLBACK_DISTANCE)

    def _fall_back(self, now, reason):
        self._fallback = True
        self.warnings |= W_FALLBACK
        self.log.record(events.GNSS_FALLBACK, now, reason)
        if self.cfg.zone_fallback_ckph < self._applied:
            self._applied = self.cfg.zone_fallback_ckph
            self.log.record(events.ZONE_TIGHTENED, now, self.zone_id * 65536 + self._applied)
        self.log.unlocate()   # the last fix is too old to say where later events happen
        self._publish()

    # -- every complete GNSS fix ------------------------------------------------------------

    def on_fix(self, now, fix_type, satellites, hdop_d, lat_hi, lat_lo, lon_hi, lon_lo, heading, speed):
        """One fix: quality (fix type, satellites, HDOP in 0.1), position (1e-7 deg halves),
        heading (0.01 deg) and speed (ckph) from the GNSS."""
        if not self.active or self.refused:
            return
        cfg = self.cfg
        if fix_type < cfg.gnss_min_fix or fix_type == 5:
            return  # no position: the loss timers run on
        good = satellites >= cfg.gnss_min_satellites and hdop_d <= cfg.gnss_max_hdop_d
        fence = self.fence
        w = self.warnings & ~(W_POOR_FIX | W_JUMP | W_OFF_MAP)
        if not fence.to_local(lat_hi, lat_lo, lon_hi, lon_lo):
            w |= W_OFF_MAP
        self.warnings = w
        x = fence.x
        y = fence.y
        if self._anchored and not self._agrees(self.x, self.y, x, y, self._dr_dm, hdop_d):
            if not self._reject(now, x, y, hdop_d, good):
                return
        self._jumping = False
        if good:
            if self._holding or not self._ever_good:
                self.log.record(events.GNSS_REGAINED, now, diff(now, self._good_ms))
            self._holding = False
            self._fallback = False
            self.warnings &= ~W_HOLD
            self._ever_good = True
            self._good_ms = now
            self._anchored = True
            self.x = x
            self.y = y
            self.log.locate(x, y)
            self._dr_dm = 0
            self._track = False
            self.fixes += 1
        else:
            self.poor_fixes += 1
            self.warnings |= W_POOR_FIX
        fence.lookup(x, y, heading if speed >= cfg.zone_heading_min_ckph else -1)
        self._decide(now, good)

    def _agrees(self, ax, ay, x, y, travel_dm, hdop_d):
        """(x, y) is within wheel travel (+1/8) plus GNSS error of (ax, ay)."""
        allow = travel_dm + (travel_dm >> 3) + self.margin_dm + hdop_d * 35
        if allow > _MAX_ALLOW_DM:
            allow = _MAX_ALLOW_DM
        dx = x - ax
        dy = y - ay
        if dx < 0:
            dx = -dx
        if dy < 0:
            dy = -dy
        self._jump_dm = dx if dx > dy else dy
        if dx > allow or dy > allow:
            return False
        return dx * dx + dy * dy <= allow * allow

    def _reject(self, now, x, y, hdop_d, good):
        """A fix that jumped: count it; good ones that agree with each other form a
        track that becomes the new anchor once it has lasted. True: re-anchor now."""
        self.jumps += 1
        self._since = -1
        jump_m = self._jump_dm // 10
        if not self._jumping:   # one event per run of rejected fixes
            self._jumping = True
            self.log.record(events.GNSS_JUMP, now, jump_m)
        self.warnings |= W_JUMP
        if not good:
            return False
        if self._track and self._agrees(self._tx, self._ty, x, y, self._tdr_dm, hdop_d):
            if diff(now, self._track_since) >= self.cfg.zone_reanchor_ms:
                self.log.record(events.GNSS_REANCHORED, now, jump_m)
                self.reanchors += 1
                return True
        else:
            self._track = True
            self._track_since = now
        self._tx = x
        self._ty = y
        self._tdr_dm = 0
        return False

    def _decide(self, now, good):
        f = self.fence
        eff = f.limit if f.limit else _NO_LIMIT
        lock = f.lockout
        if lock and self.lockout_ckph < eff:
            eff = self.lockout_ckph
        self.clear_dm = f.clear_dm
        if eff < self._applied or (lock and not self.lockout):
            self._tighten(now, eff, lock, f.zone)
        elif eff == self._applied and lock == self.lockout:
            self.zone_id = f.zone   # the same limit, perhaps from a neighbouring zone
        if not good or f.clear_dm < self.hyst:
            self._since = -1
            return
        self._remember(now, eff * 2 + 1 - lock, f.zone)
        if diff(now, self._since) >= self.cfg.zone_dwell_ms:
            self._relax(now)

    def _tighten(self, now, eff, lock, zone):
        self._since = -1
        if eff < self._applied:
            self._applied = eff
        self.zone_id = zone
        if lock and not self.lockout:
            self.lockout = 1
            self.log.record(events.LOCKOUT_ENGAGED, now, zone)
        self.warnings &= ~W_FALLBACK
        self.log.record(events.ZONE_TIGHTENED, now, zone * 65536 + self._limit())
        self._publish()

    def _remember(self, now, key, zone):
        """Add a fix that may count towards relaxing (key = limit * 2 + 1, minus 1 for a
        lockout) to the run: a queue of (first time, key) with keys rising, where each
        entry stands for the consecutive fixes since `first time`, its key their
        strictest. The strictest fix since the dwell began is then the last entry that
        started at or before it."""
        if self._since < 0:       # (a gap of 1.5 s without a good fix ends a run: step())
            self._since = now
            self._qn = 0
        qt = self._qt
        qk = self._qk
        n = self._qn
        first = now
        while n and qk[n - 1] >= key:
            n -= 1
            first = qt[n]
        if n == _QUEUE:           # more distinct limits than it holds: start over (later, never earlier)
            self._since = now
            n = 0
        qt[n] = first
        qk[n] = key
        self._qz[n] = zone
        self._qn = n + 1

    def _relax(self, now):
        qt = self._qt
        n = self._qn
        dwell = self.cfg.zone_dwell_ms
        drop = 0
        while drop < n - 1 and diff(now, qt[drop + 1]) >= dwell:
            drop += 1   # the next entry began at or before the dwell did
        if drop:
            for i in range(n - drop):
                qt[i] = qt[i + drop]
                self._qk[i] = self._qk[i + drop]
                self._qz[i] = self._qz[i + drop]
            self._qn = n - drop
        key = self._qk[0]
        eff = key >> 1
        lock = 1 - (key & 1)
        if eff <= self._applied and (lock or not self.lockout):
            return
        if eff > self._applied:
            self._applied = eff
        if self.lockout and not lock:
            self.lockout = 0
            self.log.record(events.LOCKOUT_CLEARED, now, self.zone_id)
        self.zone_id = self._qz[0]
        self.warnings &= ~W_FALLBACK
        self.log.record(events.ZONE_RELAXED, now, self.zone_id * 65536 + self._limit())
        self._publish()

    def _limit(self):
        return 0 if self._applied >= _NO_LIMIT else self._applied

    def _publish(self):
        self.limit_ckph = self._limit()
        if self.lockout:
            self.warnings |= W_LOCKOUT
        else:
            self.warnings &= ~W_LOCKOUT
