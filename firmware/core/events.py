"""Event log: a preallocated ring of (code, time, value) records, each with where it happened.

Recording never allocates, so the control loop may record from anywhere. A reader (the
sim board's record stream, core/node.py persisting to flash) walks the ring with its own cursor; when the
ring overflows the oldest records are overwritten and `dropped` counts them.

The position comes from whoever knows it (core/zonestate.py, from the last good GNSS fix):
`locate(x, y)` stamps every later record with it (`flags` bit 0, x/y in decimetres
east/north of the zone table's origin) until `unlocate()`, so a record taken by any module
says where the vehicle was without that module knowing about GNSS. `flags` bits 1-7 say
whose origin: the low bits of the running configuration's version (core/node.py).

Repeats are coalesced, so a flood (an input failing every third frame) cannot push a
different record out of the ring. The first record of a (code, value) pair is appended as
always; a repeat within _HOLD_MS of the pair's previous occurrence is only counted, in a
table of _KEYS pairs. The burst closes when no repeat came for _HOLD_MS (seen by record()
and by flush(now), which the governor calls every period), when it has lasted _BURST_MS
(an ongoing flood is reported every 10 s, its next repeat then appended afresh), when its
count reaches _COUNT_MAX, or when the table needs the slot for a new pair (the least
recently used goes). A closed burst with repeats appends one REPEATED record: time and
position of the last repeat, value `code << 24 | repeat_tag(value) << 16 | repeats`
(`repeats` = occurrences not appended; below 2**30: codes are < 64). Its pair is the
newest earlier record of that code whose repeat_tag matches: opening a pair closes any open
pair of the same code and tag first, so nothing else matches in between and a reader that
saw every record pairs exactly (`unpack_repeated`). Codes in _ALWAYS (transitions someone
must see: boot, state, faults, lockouts, zones, configuration) are never coalesced.

The newest FAULT_ENTERED and LOCKOUT_ENGAGED records are also kept outside the ring,
whatever overwrites it: `kept(code)`.
"""
from array import array

from micropython import const

BOOT = const(1)
STATE_CHANGE = const(2)        # value: new state
LIMIT_ENGAGED = const(3)       # value: speed (ckph)
LIMIT_RELEASED = const(4)      # value: speed (ckph)
OVERSPEED = const(5)           # value: speed above the limit (ckph)
OVERSPEED_CLEARED = const(6)
INPUT_INVALID = const(7)       # value: message index * 256 + reason (rx.ERR_*)
INPUT_RECOVERED = const(8)     # value: message index
SPEED_IMPLAUSIBLE = const(9)   # value: GNSS speed minus the wheels' (ckph)
FAULT_ENTERED = const(10)      # value: status flags
FAULT_CLEARED = const(11)
CONFIG_DEFAULTS = const(12)    # value: reason (config.REJECT_*)
SPEED_SOURCE_GNSS = const(13)
NO_SPEED_SOURCE = const(14)
# Geofence (core/zonestate.py).
ZONE_TIGHTENED = const(15)     # value: zone id * 65536 + limit (ckph, 0 none)
ZONE_RELAXED = const(16)       # value: zone id * 65536 + limit (ckph, 0 none)
LOCKOUT_ENGAGED = const(17)    # value: zone id
LOCKOUT_CLEARED = const(18)    # value: zone id of the lockout left
GNSS_JUMP = const(19)          # value: size of the rejected jump (m, the larger axis)
GNSS_HOLD = const(20)          # value: zone id held
GNSS_FALLBACK = const(21)      # value: reason (zonestate.FALLBACK_*)
GNSS_REGAINED = const(22)      # value: ms without a usable fix
GNSS_REANCHORED = const(23)    # value: distance from the old position (m, the larger axis)
ZONES_REFUSED = const(24)      # value: reason (geofence.ERR_*)
# Operator (core/node.py, over the link).
FAULTS_CLEARED = const(25)     # latched warnings cleared on request
CONFIG_INSTALLED = const(26)   # value: version of the configuration committed (runs from the next boot)
REPEATED = const(27)           # value: code << 24 | repeat_tag(value) << 16 | repeats (see above)
# Speed plausibility (core/safety.py).
WHEEL_OUTLIER = const(28)      # value: the wheel voted out (0 FL, 1 FR, 2 RL, 3 RR)
WHEELS_DISAGREE = const(29)    # value: spread of the three closest wheels (ckph)
SPEED_RATE = const(30)         # value: the refused step between two speed frames (ckph)
SPEED_PLAUSIBLE = const(31)    # wheels and GNSS agree again; value: their difference (ckph)

NAMES = {
    BOOT: "boot",
    STATE_CHANGE: "state_change",
    LIMIT_ENGAGED: "limit_engaged",
    LIMIT_RELEASED: "limit_released",
    OVERSPEED: "overspeed",
    OVERSPEED_CLEARED: "overspeed_cleared",
    INPUT_INVALID: "input_invalid",
    INPUT_RECOVERED: "input_recovered",
    SPEED_IMPLAUSIBLE: "speed_implausible",
    FAULT_ENTERED: "fault_entered",
    FAULT_CLEARED: "fault_cleared",
    CONFIG_DEFAULTS: "config_defaults",
    SPEED_SOURCE_GNSS: "speed_source_gnss",
    NO_SPEED_SOURCE: "no_speed_source",
    ZONE_TIGHTENED: "zone_tightened",
    ZONE_RELAXED: "zone_relaxed",
    LOCKOUT_ENGAGED: "lockout_engaged",
    LOCKOUT_CLEARED: "lockout_cleared",
    GNSS_JUMP: "gnss_jump",
    GNSS_HOLD: "gnss_hold",
    GNSS_FALLBACK: "gnss_fallback",
    GNSS_REGAINED: "gnss_regained",
    GNSS_REANCHORED: "gnss_reanchored",
    ZONES_REFUSED: "zones_refused",
    FAULTS_CLEARED: "faults_cleared",
    CONFIG_INSTALLED: "config_installed",
    REPEATED: "repeated",
    WHEEL_OUTLIER: "wheel_outlier",
    WHEELS_DISAGREE: "wheels_disagree",
    SPEED_RATE: "speed_rate",
    SPEED_PLAUSIBLE: "speed_plausible",
}

# Plain ints, not const(): every const in this module is an event code (the host's table).
_KEYS = 8                # (code, value) pairs counted at once
_HOLD_MS = 5000          # a repeat later than this after the previous one is appended again
_BURST_MS = 10000        # a longer burst is summarised and starts over
_COUNT_MAX = 0xFFFF      # repeats one REPEATED record can carry
_TICK_MASK = 0x3FFFFFFF
_TICK_HALF = 0x20000000

# Never coalesced: transitions whose order and place matter. Zone changes are among them
# (each is a mark on the map where it happened) and zonestate's hysteresis and dwell bound them.
_ALWAYS = bytearray(64)
for _c in (BOOT, STATE_CHANGE, FAULT_ENTERED, FAULT_CLEARED, LOCKOUT_ENGAGED, LOCKOUT_CLEARED,
           CONFIG_INSTALLED, CONFIG_DEFAULTS, ZONE_TIGHTENED, ZONE_RELAXED, REPEATED):
    _ALWAYS[_c] = 1
del _c


def _age(now, then):
    # core.ticks.diff, inline: the host loads this module on its own (keigov.firmware_params).
    return ((now - then + _TICK_HALF) & _TICK_MASK) - _TICK_HALF


def repeat_tag(value):
    """8 bits of an event's value, carried by the REPEATED record that summarises it."""
    return ((value & 0xFF) + 3 * ((value >> 8) & 0xFF) + 5 * ((value >> 16) & 0xFF)
            + 7 * ((value >> 24) & 0xFF)) & 0xFF


def unpack_repeated(value):
    """A REPEATED record's value as (code, repeat_tag of the repeated value, repeats)."""
    return value >> 24, (value >> 16) & 0xFF, value & 0xFFFF


class Kept:
    """A copy of one record (seq -1: none yet)."""

    def __init__(self):
        self.seq = -1
        self.time = 0
        self.value = 0
        self.flags = 0
        self.x = 0
        self.y = 0


class EventLog:
    def __init__(self, capacity=64):
        self.capacity = capacity
        self.code = bytearray(capacity)
        self.time = array("i", [0] * capacity)
        self.value = array("i", [0] * capacity)
        self.flags = bytearray(capacity)
        self.x = array("i", [0] * capacity)
        self.y = array("i", [0] * capacity)
        self.count = 0      # events ever recorded (the newest is count - 1)
        self.dropped = 0    # overwritten before a reader took them
        self._flags = 0     # stamped on every record: 1 (evstore.FLAG_POSITION) when _x/_y are known
        self._origin = 0    # ... with bits 1-7: the configuration the position is relative to (set_origin)
        self._x = 0
        self._y = 0
        self.fault = Kept()     # the newest FAULT_ENTERED
        self.lockout = Kept()   # the newest LOCKOUT_ENGAGED
        # Coalescing table (code 0: free slot); flags/x/y of the last repeat, for its summary.
        self._kcode = bytearray(_KEYS)
        self._kvalue = array("i", [0] * _KEYS)
        self._kcount = array("i", [0] * _KEYS)
        self._kfirst = array("i", [0] * _KEYS)
        self._klast = array("i", [0] * _KEYS)
        self._kflags = bytearray(_KEYS)
        self._kx = array("i", [0] * _KEYS)
        self._ky = array("i", [0] * _KEYS)
        self._open = 0

    def set_origin(self, version):
        """Positions are east/north of the origin of configuration `version`'s zones: its low
        7 bits go into bits 1-7 of every record's flags, so a reader converting them with
        another configuration's origin can tell (a new zones file moves the origin)."""
        self._origin = (version & 0x7F) << 1

    def locate(self, x, y):
        """Records from now on happened at (x, y), dm from the zone table's origin."""
        self._flags = 1     # evstore.FLAG_POSITION (no constant here: every const in this module is an event code)
        self._x = x
        self._y = y

    def unlocate(self):
        """The position is no longer known."""
        self._flags = 0

    def record(self, code, now, value):
        flags = self._flags | self._origin
        if code >= 64 or _ALWAYS[code]:
            self._append(code, now, value, flags, self._x, self._y)
            return
        if self._open:
            self.flush(now)
        kc = self._kcode
        kv = self._kvalue
        for i in range(_KEYS):
            if kc[i] == code and kv[i] == value:
                if _age(now, self._kfirst[i]) >= _BURST_MS:
                    self._close(i)   # the burst is summarised; this repeat opens the next one
                    break
                self._kcount[i] += 1
                self._klast[i] = now
                self._kflags[i] = flags
                self._kx[i] = self._x
                self._ky[i] = self._y
                if self._kcount[i] >= _COUNT_MAX:
                    self._close(i)
                return
        tag = repeat_tag(value)
        free = -1
        lru = 0
        oldest = -1
        for i in range(_KEYS):
            c = kc[i]
            if c == code and repeat_tag(kv[i]) == tag:
                self._close(i)   # one open pair per (code, tag): keeps pairing exact
                c = 0
            if c == 0:
                if free < 0:
                    free = i
            else:
                age = _age(now, self._klast[i])
                if age > oldest:
                    oldest = age
                    lru = i
        if free < 0:
            self._close(lru)
            free = lru
        kc[free] = code
        kv[free] = value
        self._kcount[free] = 0
        self._kfirst[free] = now
        self._klast[free] = now
        self._open += 1
        self._append(code, now, value, flags, self._x, self._y)

    def flush(self, now):
        """Close the bursts with no repeat for the hold-off (cheap when none is open)."""
        if not self._open:
            return
        kc = self._kcode
        for i in range(_KEYS):
            if kc[i] and _age(now, self._klast[i]) >= _HOLD_MS:
                self._close(i)

    def kept(self, code):
        """The newest FAULT_ENTERED or LOCKOUT_ENGAGED record (a Kept, seq -1 if none
        yet), whatever has overwritten the ring since; None for other codes."""
        if code == FAULT_ENTERED:
            return self.fault
        if code == LOCKOUT_ENGAGED:
            return self.lockout
        return None

    def _close(self, i):
        n = self._kcount[i]
        if n:
            self._append(REPEATED, self._klast[i],
                         self._kcode[i] << 24 | repeat_tag(self._kvalue[i]) << 16 | n,
                         self._kflags[i], self._kx[i], self._ky[i])
        self._kcode[i] = 0
        self._open -= 1

    def _append(self, code, now, value, flags, x, y):
        i = self.count % self.capacity
        self.code[i] = code
        self.time[i] = now
        self.value[i] = value
        self.flags[i] = flags
        self.x[i] = x
        self.y[i] = y
        if code == FAULT_ENTERED or code == LOCKOUT_ENGAGED:
            k = self.fault if code == FAULT_ENTERED else self.lockout
            k.seq = self.count
            k.time = now
            k.value = value
            k.flags = flags
            k.x = x
            k.y = y
        self.count += 1

    def oldest(self):
        """Sequence number of the oldest event still in the ring."""
        n = self.count - self.capacity
        return n if n > 0 else 0
