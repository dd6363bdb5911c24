"""Event log: a preallocated ring of (code, time, value) records, each with where it happened.

Recording never allocates, so the control loop may record from anywhere. A reader (the
sim board's record stream, core/node.py persisting to flash) walks the ring with its own cursor; when the
ring overflows the oldest records are overwritten and `dropped` counts them.

The position comes from whoever knows it (core/zonestate.py, from the last good GNSS fix):
`locate(x, y)` stamps every later record with it (`flags` bit 0, x/y in decimetres
east/north of the zone table's origin) until `unlocate()`, so a record taken by any module
says where the vehicle was without that module knowing about GNSS. `flags` bits 1-7 say
whose origin: the low bits of the running configuration's version (core/node.py).
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
SPEED_IMPLAUSIBLE = const(9)   # value: wheel spread (ckph)
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
}


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
        i = self.count % self.capacity
        self.code[i] = code
        self.time[i] = now
        self.value[i] = value
        self.flags[i] = self._flags | self._origin
        self.x[i] = self._x
        self.y[i] = self._y
        self.count += 1

    def oldest(self):
        """Sequence number of the oldest event still in the ring."""
        n = self.count - self.capacity
        return n if n > 0 else 0
