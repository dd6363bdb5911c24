"""The link's command set: what each request does and the layout of each reply.

`DeviceService` is the handler core.link.Link dispatches to. Everything it serves is
passed in, so it runs the same on a board, the sim board and in tests:
  status        object with fill(values): the GOV_FIELDS governor fields into an int array
                (GovernorStatus adapts core.app.Governor); if it has a `log` (core.events.EventLog),
                STATUS also reports the newest fault and lockout that log kept
  store         core.cfgstore.ConfigStore (installed configuration, transfers), or None
  events        core.evstore.EventStore (persisted event log), or None
  clear_faults  callable() -> link status (OK, or E_BUSY if faults cannot clear now)
After building the Link, set `service.link = link` so status can report its counters.
A reboot request is answered first; the board checks `reboot_requested` after poll().

Payload layouts are in docs/link-protocol.md; integers little-endian. STATUS, INFO and
EVENTS replies allocate nothing; configuration commands may (they touch storage anyway).
"""
from array import array

from micropython import const

from core import le, link
from core.cfgblob import NO_DETAIL
from core.evstore import WIRE_RECORD

CMD_INFO = const(0x01)
CMD_STATUS = const(0x02)
CMD_EVENTS = const(0x03)
CMD_CONFIG_GET = const(0x04)
CMD_CONFIG_PUT = const(0x05)
CMD_CONFIG_COMMIT = const(0x06)
CMD_CLEAR_FAULTS = const(0x07)
CMD_REBOOT = const(0x08)

GOV_FIELDS = const(8)      # state, speed, limit, zone, flags, torque, odometer, loop time
STATUS_FIELDS = const(19)  # then: running config version, next event, link counters (4), kept events (5)
EVENTS_MAX = const(11)     # records per reply: (255 - 13) // 22
_EVENTS_SCAN = const(32)   # sequence numbers examined per request at most
PUT_DATA_MAX = const(247)  # MAX_PAYLOAD - total (4) - offset (4)
GET_DATA_MAX = const(251)  # MAX_PAYLOAD - total (4)
_P = const(5)              # link.PAYLOAD


class GovernorStatus:
    """Status fields read from a core.app.Governor (no allocation)."""

    def __init__(self, gov):
        self.gov = gov
        self.log = gov.log

    def fill(self, v):
        s = self.gov.safety
        v[0] = s.state
        v[1] = s.speed
        v[2] = s.limit
        v[3] = s.zone_id
        v[4] = s.flags
        v[5] = s.torque
        v[6] = s.odometer_m
        v[7] = self.gov.loop_us_max


def _put_str(b, i, s):
    b[i] = len(s)
    for k in range(len(s)):
        b[i + 1 + k] = s[k]
    return i + 1 + len(s)


class DeviceService:
    def __init__(self, firmware, board, status, store=None, events=None, clear_faults=None):
        self.firmware = firmware.encode()[:32]
        self.board = board.encode()[:32]
        self.status = status
        self.store = store
        self.events = events
        self.clear_faults = clear_faults
        self.link = None
        self.reboot_requested = False
        self._log = getattr(status, "log", None)
        self._values = array("i", [0] * STATUS_FIELDS)

    def handle(self, cmd, req, n, resp):
        if cmd == CMD_STATUS:
            return self._status(n, resp) if n == 0 else self._error(resp, link.E_LENGTH)
        if cmd == CMD_EVENTS:
            return self._events(req, n, resp)
        if cmd == CMD_INFO:
            return self._info(resp) if n == 0 else self._error(resp, link.E_LENGTH)
        if cmd == CMD_CONFIG_PUT:
            return self._config_put(req, n, resp)
        if cmd == CMD_CONFIG_COMMIT:
            return self._config_commit(n, resp)
        if cmd == CMD_CONFIG_GET:
            return self._config_get(req, n, resp)
        if cmd == CMD_CLEAR_FAULTS:
            if n:
                return self._error(resp, link.E_LENGTH)
            status = self.clear_faults() if self.clear_faults is not None else link.E_UNKNOWN_COMMAND
            return self._error(resp, status)
        if cmd == CMD_REBOOT:
            if n:
                return self._error(resp, link.E_LENGTH)
            self.reboot_requested = True
            return 0
        return self._error(resp, link.E_UNKNOWN_COMMAND)

    def _error(self, resp, status):
        resp[link.STATUS] = status
        return 0

    def _status(self, n, resp):
        v = self._values
        self.status.fill(v)
        store = self.store
        v[8] = store.running_version if store is not None else 0
        v[9] = self.events.next_seq if self.events is not None else 0
        lk = self.link
        if lk is not None:
            v[10] = lk.frames
            v[11] = lk.bad_crc
            v[12] = lk.bad_frame
            v[13] = lk.oversized
        log = self._log
        if log is not None:
            # The RAM log keeps these whatever overwrote its ring (core/events.py).
            f = log.fault
            k = log.lockout
            v[14] = (1 if f.seq >= 0 else 0) | (2 if k.seq >= 0 else 0)
            v[15] = f.time
            v[16] = f.value
            v[17] = k.time
            v[18] = k.value
        resp[_P] = STATUS_FIELDS
        for k in range(STATUS_FIELDS):
            le.put_i32(resp, _P + 1 + 4 * k, v[k])
        return 1 + 4 * STATUS_FIELDS

    def _info(self, resp):
        b = resp
        store = self.store
        prov = store.prov if store is not None else None
        b[_P] = link.VERSION
        le.put_u16(b, _P + 1, link.MAX_PAYLOAD)
        b[_P + 3] = 1 if prov is not None else 0
        le.put_i32(b, _P + 4, prov.cap_min if prov is not None else 0)
        le.put_i32(b, _P + 8, prov.cap_max if prov is not None else 0)
        le.put_i32(b, _P + 12, store.version if store is not None else 0)
        le.put_i32(b, _P + 16, store.running_version if store is not None else 0)
        le.put_i32(b, _P + 20, store.installed_length() if store is not None else 0)
        b[_P + 24] = store.active if store is not None and store.active >= 0 else 0xFF
        b[_P + 25] = 0
        le.put_u16(b, _P + 26, store.boot_reason if store is not None else 0)
        for k in range(8):
            b[_P + 28 + k] = store.mac8[k] if store is not None else 0
        i = _P + 36
        if prov is not None:
            dev = prov.device_id
            n = 0
            while n < len(dev) and dev[n]:
                n += 1
            b[i] = n
            for k in range(n):
                b[i + 1 + k] = dev[k]
            i += 1 + n
        else:
            b[i] = 0
            i += 1
        i = _put_str(b, i, self.firmware)
        i = _put_str(b, i, self.board)
        return i - _P

    def _events(self, req, n, resp):
        store = self.events
        if n != 5:
            return self._error(resp, link.E_LENGTH)
        if store is None:
            return self._error(resp, link.E_NOT_FOUND)
        seq = le.get_u32(req, _P)
        want = req[_P + 4]
        if seq < 0:
            return self._error(resp, link.E_ARGUMENT)
        if want == 0 or want > EVENTS_MAX:
            want = EVENTS_MAX
        oldest = store.oldest()
        if seq < oldest:
            seq = oldest
        end = store.next_seq
        scan_end = seq + _EVENTS_SCAN
        if scan_end > end:
            scan_end = end
        count = 0
        at = _P + 13
        while seq < scan_end and count < want:
            if store.read(seq, resp, at):
                at += WIRE_RECORD
                count += 1
            seq += 1
        le.put_i32(resp, _P, oldest)
        le.put_i32(resp, _P + 4, end)
        le.put_i32(resp, _P + 8, seq)  # where the next request should continue
        resp[_P + 12] = count
        return at - _P

    def _rejected(self, resp, status):
        resp[link.STATUS] = status
        if status != link.E_REJECTED and status != link.E_NOT_PROVISIONED:
            return 0
        resp[_P] = self.store.reason
        resp[_P + 1] = self.store.detail if self.store.detail >= 0 else NO_DETAIL
        return 2

    def _config_put(self, req, n, resp):
        if self.store is None:
            return self._error(resp, link.E_NOT_FOUND)
        if n < 9 or n > 8 + PUT_DATA_MAX:
            return self._error(resp, link.E_LENGTH)
        total = le.get_u32(req, _P)
        offset = le.get_u32(req, _P + 4)
        if offset < 0:
            return self._error(resp, link.E_OFFSET)
        status = self.store.put(total, offset, req, _P + 8, n - 8)
        if status != link.OK:
            return self._rejected(resp, status)
        le.put_i32(resp, _P, offset + n - 8)
        return 4

    def _config_commit(self, n, resp):
        if self.store is None:
            return self._error(resp, link.E_NOT_FOUND)
        if n:
            return self._error(resp, link.E_LENGTH)
        status = self.store.commit()
        if status != link.OK:
            return self._rejected(resp, status)
        le.put_i32(resp, _P, self.store.version)
        resp[_P + 4] = self.store.active
        return 5

    def _config_get(self, req, n, resp):
        if n != 4:
            return self._error(resp, link.E_LENGTH)
        offset = le.get_u32(req, _P)
        if self.store is None or offset < 0:
            return self._error(resp, link.E_NOT_FOUND if self.store is None else link.E_ARGUMENT)
        got = self.store.read(offset, resp, _P + 4, GET_DATA_MAX)
        if got < 0:
            return self._error(resp, link.E_NOT_FOUND)
        le.put_i32(resp, _P, self.store.installed_length())
        return 4 + got
