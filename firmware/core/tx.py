"""Transmit side: only the messages in the compiled table are ever sent (allow-list).

Each message goes out at its DBC cycle time with its rolling counter and checksum
filled in; values come from the output array in firmware units and are clamped to the
signal's DBC range (saturate, never wrap). A signal the map gives a constant has
equal minimum and maximum, so the clamp writes the constant. Checksums follow the
table's scheme (core.checksums).
"""
from array import array

from core import codec
from core.checksums import Checksums
from core.roles import FLAG_BASE, N_OUTPUTS, OUT_FLAGS
from core.ticks import diff


class Transmitter:
    def __init__(self, table, can):
        self.t = table
        self.can = can
        n = len(table.TX_ID)
        self.n = n
        self.values = array("i", [0] * N_OUTPUTS)
        self.counter = bytearray(n)
        self.last_sent = array("i", [0] * n)
        self.started = False
        self.failed = 0        # frames the CAN driver refused (bus off, full mailbox)
        self._buf = bytearray(64)
        self._checksums = Checksums(table)

    def send_due(self, now):
        t = self.t
        first_step = not self.started
        self.started = True
        for i in range(self.n):
            if first_step or diff(now, self.last_sent[i]) >= t.TX_PERIOD_MS[i]:
                self.last_sent[i] = now
                self._send(i)

    def _send(self, i):
        t = self.t
        buf = self._buf
        length = t.TX_LEN[i]
        for b in range(length):
            buf[b] = 0
        values = self.values
        flags = values[OUT_FLAGS]
        cnt = t.TX_COUNTER[i]
        cs = t.TX_CHECKSUM[i]
        roles = t.TX_SIG_ROLE
        lo = t.TX_SIG_MIN
        hi = t.TX_SIG_MAX
        mul = t.TX_SIG_MUL
        add = t.TX_SIG_ADD
        div = t.TX_SIG_DIV
        start = t.TX_SIG_START
        width = t.TX_SIG_LEN
        sflags = t.TX_SIG_FLAGS
        put = codec.put
        for s in range(t.TX_SIG_FIRST[i], t.TX_SIG_END[i]):
            if s == cs:
                continue
            if s == cnt:
                raw = self.counter[i]
            else:
                role = roles[s]
                if role >= FLAG_BASE:
                    raw = (flags >> (role - FLAG_BASE)) & 1
                elif role >= 0:
                    raw = (values[role] * mul[s] + add[s]) // div[s]
                else:
                    raw = 0
                if raw < lo[s]:
                    raw = lo[s]
                elif raw > hi[s]:
                    raw = hi[s]
            put(buf, start[s], width[s], sflags[s], raw)
        if cnt >= 0:
            self.counter[i] = (self.counter[i] + 1) & ((1 << t.TX_SIG_LEN[cnt]) - 1)
        fid = t.TX_ID[i]
        kind = t.TX_CHECKSUM_KIND[i]
        if cs >= 0 and kind:
            value = self._checksums.compute(kind, fid, buf, length, start[cs] >> 3)
            put(buf, start[cs], width[cs], sflags[cs], value)
        if not self.can.send(fid, buf, length):
            self.failed += 1
