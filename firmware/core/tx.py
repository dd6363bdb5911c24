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
        # The table's columns as attributes: one lookup each instead of module + tuple.
        self._len = table.TX_LEN
        self._period = table.TX_PERIOD_MS
        self._cnt = table.TX_COUNTER
        self._cs = table.TX_CHECKSUM
        self._kind = table.TX_CHECKSUM_KIND
        self._first = table.TX_SIG_FIRST
        self._end = table.TX_SIG_END
        self._role = table.TX_SIG_ROLE
        self._min = table.TX_SIG_MIN
        self._max = table.TX_SIG_MAX
        self._mul = table.TX_SIG_MUL
        self._add = table.TX_SIG_ADD
        self._div = table.TX_SIG_DIV
        self._start = table.TX_SIG_START
        self._width = table.TX_SIG_LEN
        self._sflags = table.TX_SIG_FLAGS

    def send_due(self, now):
        period = self._period
        last = self.last_sent
        first_step = not self.started
        self.started = True
        for i in range(self.n):
            if first_step or diff(now, last[i]) >= period[i]:
                last[i] = now
                self._send(i)

    def _send(self, i):
        buf = self._buf
        length = self._len[i]
        for b in range(length):
            buf[b] = 0
        values = self.values
        flags = values[OUT_FLAGS]
        cnt = self._cnt[i]
        cs = self._cs[i]
        roles = self._role
        lo = self._min
        hi = self._max
        mul = self._mul
        add = self._add
        div = self._div
        start = self._start
        width = self._width
        sflags = self._sflags
        put = codec.put
        for s in range(self._first[i], self._end[i]):
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
            if raw:  # the buffer is zeroed and signals do not overlap: a zero is already there
                put(buf, start[s], width[s], sflags[s], raw)
        if cnt >= 0:
            self.counter[i] = (self.counter[i] + 1) & ((1 << width[cnt]) - 1)
        fid = self.t.TX_ID[i]
        kind = self._kind[i]
        if cs >= 0 and kind:
            value = self._checksums.compute(kind, fid, buf, length, start[cs] >> 3)
            put(buf, start[cs], width[cs], sflags[cs], value)
        if not self.can.send(fid, buf, length):
            self.failed += 1
