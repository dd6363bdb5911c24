"""The signed configuration blob: its format and every check the device makes on it.

Blob (little-endian; docs/link-protocol.md, "Configuration blob"):
  0 magic "KGCF" | 4 format 1 | 5 zero | 6 section count u16 | 8 version u32 |
  12 body length u32 | 16 device id (16 bytes, NUL-padded ASCII) |
  32 sections (body length bytes) | HMAC-SHA256 (32) of everything before it
  section: type u8 | three zero bytes | length u32 | data
  PARAMS (1): entries of name length u8 (1..32) | name (ASCII) | value i32
  TABLES (2): the SOURCE line of the signal tables it was built for (ASCII)
  ZONES (3): compiled zone tables, checked by the zone loader passed in

The device trusts nothing in it: the MAC under its own key, the device id, a version
above the one installed (no rollback, no replay), every parameter inside the bounds of
core.config.PARAMS and the cap inside the bounds set at provisioning. Each refusal has
its own reason code (R_*) and, where it names a parameter, `detail` is its PARAMS index.
Parameters the blob leaves out keep their defaults. Checks allocate: they run once per
commit or boot, never in the control loop.
"""
from array import array

from micropython import const

from core import config, le
from core.hmac256 import SIZE as MAC_SIZE
from core.hmac256 import equal

MAGIC = b"KGCF"
FORMAT = const(1)
HEADER = const(32)
SECTION_HEADER = const(8)
MAX_NAME = const(32)
MAX_PARAMS_BYTES = const(1024)

SEC_PARAMS = const(1)
SEC_TABLES = const(2)
SEC_ZONES = const(3)

OK = const(0)
R_TRUNCATED = const(1)         # shorter than its header says, or the transfer stopped early
R_TOO_LARGE = const(2)         # does not fit a configuration slot
R_BAD_MAGIC = const(3)
R_BAD_FORMAT = const(4)        # a format version this firmware does not know
R_WRONG_DEVICE = const(5)      # built for another device id
R_BAD_MAC = const(6)           # not signed with this device's key, or altered
R_REPLAY = const(7)            # the version installed now
R_ROLLBACK = const(8)          # older than the version installed
R_BAD_VERSION = const(9)       # version 0 or not below 2**30
R_MALFORMED = const(10)        # sections do not tile the body, reserved bytes set, bad name
R_UNKNOWN_SECTION = const(11)  # detail: section type
R_UNKNOWN_PARAM = const(12)    # detail: entry number in the PARAMS section
R_DUPLICATE_PARAM = const(13)  # detail: PARAMS index
R_OUT_OF_RANGE = const(14)     # detail: PARAMS index
R_CAP_NOT_ALLOWED = const(15)  # cap outside the provisioned bounds; detail: PARAMS index
R_INCONSISTENT = const(16)     # a limit above the cap; detail: PARAMS index
R_TABLES_MISMATCH = const(17)  # built for other signal tables than the firmware runs
R_SECTION_REJECTED = const(18)  # a section's own checker refused it; detail: section type
R_NOT_PROVISIONED = const(19)  # the device has no key

NO_DETAIL = const(0xFF)

_NAMES = [p[0] for p in config.PARAMS]
_CAP = _NAMES.index("cap_ckph")
_AT_MOST_CAP = (_NAMES.index("limp_ckph"), _NAMES.index("lockout_ckph"))


def param_index(name):
    return _NAMES.index(name) if name in _NAMES else -1


class Checker:
    """Checks blobs for one device. `src` arguments read the blob: src.readinto(off, buf)."""

    def __init__(self, prov, tables_source=None, section_checks=None):
        self.prov = prov
        self.tables_source = tables_source      # bytes, or None to accept any
        self.section_checks = section_checks or {}  # type -> fn(src, off, n) -> reason
        self.version = 0
        self.body = 0
        self.detail = NO_DETAIL
        self.values = array("i", [p[1] for p in config.PARAMS])
        self.present = bytearray(len(config.PARAMS))
        self._hdr = bytearray(HEADER)
        self._buf = bytearray(256)

    def header(self, h, off, total, capacity):
        """Structure, size and device id from the first HEADER bytes at h[off:]."""
        self.detail = NO_DETAIL
        if total > capacity:
            return R_TOO_LARGE
        if total < HEADER + MAC_SIZE:
            return R_TRUNCATED
        if h[off : off + 4] != MAGIC:
            return R_BAD_MAGIC
        if h[off + 4] != FORMAT or h[off + 5]:
            return R_BAD_FORMAT
        body = le.get_u32(h, off + 12)
        if body < 0 or HEADER + body + MAC_SIZE > capacity:
            return R_TOO_LARGE
        if HEADER + body + MAC_SIZE > total:
            return R_TRUNCATED
        if HEADER + body + MAC_SIZE < total:
            return R_MALFORMED
        if self.prov is None:
            return R_NOT_PROVISIONED
        if h[off + 16 : off + 32] != self.prov.device_id:
            return R_WRONG_DEVICE
        version = le.get_u32(h, off + 8)
        if version <= 0:
            return R_BAD_VERSION
        self.version = version
        self.body = body
        return OK

    def mac(self, src, total, hm):
        """HMAC of the signed part (all but the trailer), read from src in pieces."""
        buf = self._buf
        mv = memoryview(buf)
        hm.start()
        at = 0
        end = total - MAC_SIZE
        while at < end:
            n = end - at if end - at < len(buf) else len(buf)
            src.readinto(at, mv[:n])
            hm.update(mv[:n])
            at += n
        return hm.digest()

    def check_mac(self, src, total, digest):
        trailer = bytearray(MAC_SIZE)
        src.readinto(total - MAC_SIZE, trailer)
        return OK if equal(digest, trailer) else R_BAD_MAC

    def fresh(self, installed):
        if self.version == installed:
            return R_REPLAY
        if self.version < installed:
            return R_ROLLBACK
        return OK

    def content(self, src, total):
        """Walk the sections; fills values/present from PARAMS and checks every bound."""
        self.detail = NO_DETAIL
        for i in range(len(self.present)):
            self.present[i] = 0
            self.values[i] = config.PARAMS[i][1]
        src.readinto(0, self._hdr)
        count = le.get_u16(self._hdr, 6)
        at = HEADER
        end = HEADER + self.body
        seen = 0
        sh = bytearray(SECTION_HEADER)
        while at < end:
            if at + SECTION_HEADER > end:
                return R_MALFORMED
            src.readinto(at, sh)
            kind = sh[0]
            n = le.get_u32(sh, 4)
            if sh[1] or sh[2] or sh[3] or n < 0 or at + SECTION_HEADER + n > end:
                return R_MALFORMED
            at += SECTION_HEADER
            reason = self._section(src, kind, at, n)
            if reason:
                return reason
            at += n
            seen += 1
        if seen != count:
            return R_MALFORMED
        return self._bounds()

    def _section(self, src, kind, at, n):
        if kind == SEC_PARAMS:
            return self._params(src, at, n)
        if kind == SEC_TABLES:
            if n > 128:
                return R_MALFORMED
            got = bytearray(n)
            src.readinto(at, got)
            if self.tables_source is not None and bytes(got) != self.tables_source:
                return R_TABLES_MISMATCH
            return OK
        check = self.section_checks.get(kind)
        if check is None:
            self.detail = kind
            return R_UNKNOWN_SECTION
        if check(src, at, n):
            self.detail = kind
            return R_SECTION_REJECTED
        return OK

    def _params(self, src, at, n):
        if n > MAX_PARAMS_BYTES:
            return R_MALFORMED
        data = bytearray(n)
        src.readinto(at, data)
        i = 0
        entry = 0
        while i < n:
            length = data[i]
            if length < 1 or length > MAX_NAME or i + 1 + length + 4 > n:
                return R_MALFORMED
            for j in range(i + 1, i + 1 + length):
                if data[j] < 0x21 or data[j] > 0x7E:  # names are printable ASCII
                    return R_MALFORMED
            k = param_index(str(data[i + 1 : i + 1 + length], "ascii"))
            if k < 0:
                self.detail = entry if entry < NO_DETAIL else NO_DETAIL
                return R_UNKNOWN_PARAM
            self.detail = k
            if self.present[k]:
                return R_DUPLICATE_PARAM
            v = le.get_i32(data, i + 1 + length)
            _name, _default, lo, hi = config.PARAMS[k]
            if v < lo or v > hi:
                return R_OUT_OF_RANGE
            self.values[k] = v
            self.present[k] = 1
            i += 1 + length + 4
            entry += 1
        self.detail = NO_DETAIL
        return OK

    def _bounds(self):
        cap = self.values[_CAP]
        if cap < self.prov.cap_min or cap > self.prov.cap_max:
            self.detail = _CAP
            return R_CAP_NOT_ALLOWED
        for k in _AT_MOST_CAP:
            if self.values[k] > cap:
                self.detail = k
                return R_INCONSISTENT
        return OK

    def verify(self, src, total, capacity, hm, installed):
        """Every check, on a blob already in storage (boot, and tests)."""
        src.readinto(0, self._hdr)
        reason = self.header(self._hdr, 0, total, capacity)
        if reason:
            return reason
        reason = self.check_mac(src, total, self.mac(src, total, hm))
        if reason:
            return reason
        reason = self.fresh(installed)
        if reason:
            return reason
        return self.content(src, total)

    def apply(self, cfg):
        """Copy the checked values onto a core.config.Config."""
        for k in range(len(self.values)):
            setattr(cfg, _NAMES[k], self.values[k])
