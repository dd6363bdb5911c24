"""Receive side: every input frame is checked before the governor sees it.

Deny by default: a frame whose id is not in the compiled table is ignored at the cost
of one dict lookup (core.idmatch; J1939 messages match by parameter group). A known
frame must have its DBC length, a valid checksum, every signal the map uses within its
DBC range and a rolling counter that moved on by 1 to 1 + MAX_LOST (frames lost on the
bus are not a fault; a repeated or backwards counter is), checked in that order, or it is
refused whole (no partially updated inputs). Each refusal adds _BAD_WEIGHT to the
message's score and each good frame takes one off: the message is distrusted when the
score reaches _SCORE_LIMIT (two bad frames in a row, or bad frames alternating with good
ones, as a forged frame slipped in before each genuine one makes them) and trusted
again after RECOVER_FRAMES good frames in a row with the score back below the limit.
A message is `stale` once 1.5 of its periods late (no torque increase on it) and
distrusted after its timeout (the table's, 5 periods). Refusals are recorded as events
on the first bad frame of a run.
"""
from array import array

from micropython import const

from core import codec, events
from core.checksums import Checksums
from core.idmatch import FrameIndex
from core.roles import N_INPUTS

ERR_LENGTH = const(1)
ERR_CHECKSUM = const(2)
ERR_COUNTER = const(3)
ERR_RANGE = const(4)
ERR_TIMEOUT = const(5)

_BAD_WEIGHT = const(2)
_SCORE_LIMIT = const(4)
_SCORE_MAX = const(8)       # a long burst is forgiven after a few good frames, not dozens
MAX_LOST = const(3)         # frames that may go missing between two good ones
RECOVER_FRAMES = const(3)   # good frames in a row that make a message trusted
_NO_COUNTER = const(0xFF)
_TICK_MASK = const(0x3FFFFFFF)   # core.ticks
_TICK_HALF = const(0x20000000)


class Receiver:
    def __init__(self, table, log):
        self.t = table
        self.log = log
        n = len(table.RX_ID)
        self.n = n
        self.values = array("i", [0] * N_INPUTS)
        self.valid = bytearray(n)          # trusted now
        self.stale = bytearray(n)          # more than 1.5 periods since the last good frame
        self.fresh = bytearray(n)          # a good frame arrived since clear_fresh()
        self.error = bytearray(n)          # reason of the last refusal (0: none)
        self.last_ok = array("i", [0] * n)
        self.good_run = bytearray(n)
        self.bad_run = bytearray(n)
        self.score = bytearray(n)          # refusals weigh _BAD_WEIGHT, good frames -1
        self.counter = bytearray(n)
        self.seq = bytearray(n)             # counter of the last accepted frame (pairs the parts of a GNSS fix)
        self.unread = bytearray(n)          # frames refused before their counter was read
        self.refused = array("i", [0] * n)  # frames refused, per message
        self.ignored = 0                    # frames with ids the table does not know
        for i in range(n):
            self.counter[i] = _NO_COUNTER
        widest = 0
        for i in range(n):
            w = table.RX_SIG_END[i] - table.RX_SIG_FIRST[i]
            widest = w if w > widest else widest
        self._raw = array("i", [0] * widest)
        self._index = FrameIndex(table.RX_ID, getattr(table, "RX_MATCH", None))
        self._checksums = Checksums(table)
        # The table's columns as attributes: one lookup each instead of module + tuple.
        self._msg_len = table.RX_LEN
        self._msg_cs = table.RX_CHECKSUM
        self._msg_cs_kind = table.RX_CHECKSUM_KIND
        self._msg_cnt = table.RX_COUNTER
        self._timeout = table.RX_TIMEOUT_MS
        self._late = array("i", [p * 3 // 2 for p in table.RX_PERIOD_MS])
        self._first = table.RX_SIG_FIRST
        self._end = table.RX_SIG_END
        self._start = table.RX_SIG_START
        self._len = table.RX_SIG_LEN
        self._flags = table.RX_SIG_FLAGS
        self._min = table.RX_SIG_MIN
        self._max = table.RX_SIG_MAX
        self._role = table.RX_SIG_ROLE
        self._mul = table.RX_SIG_MUL
        self._add = table.RX_SIG_ADD
        self._div = table.RX_SIG_DIV

    def feed(self, frame_id, buf, length, now):
        """Check and decode one frame. Returns the message index, or -1 if unused/refused."""
        i = self._index.find(frame_id)
        if i < 0:
            self.ignored += 1
            return -1
        err = self._check(i, frame_id, buf, length)
        if err:
            self._refuse(i, err, now)
            return -1
        values = self.values
        raw = self._raw
        roles = self._role
        mul = self._mul
        add = self._add
        div = self._div
        first = self._first[i]
        for s in range(first, self._end[i]):
            role = roles[s]
            if role >= 0:
                values[role] = (raw[s - first] * mul[s] + add[s]) // div[s]
        self.last_ok[i] = now
        self.fresh[i] = 1
        self.stale[i] = 0
        self.seq[i] = self.counter[i]
        self.bad_run[i] = 0
        if self.score[i]:
            self.score[i] -= 1
        if not self.valid[i]:
            g = self.good_run[i] + 1
            if g >= RECOVER_FRAMES and self.score[i] < _SCORE_LIMIT:
                self.valid[i] = 1
                self.error[i] = 0
                g = 0
                self.log.record(events.INPUT_RECOVERED, now, i)
            self.good_run[i] = g
        return i

    def _check(self, i, frame_id, buf, length):
        if length != self._msg_len[i]:
            return ERR_LENGTH
        first = self._first[i]
        raw = self._raw
        start = self._start
        width = self._len
        flags = self._flags
        get = codec.get
        # The checksum first: a corrupted frame is refused as corrupted, whatever its
        # damaged signals now read.
        cs = self._msg_cs[i]
        if cs >= 0:
            expect = get(buf, start[cs], width[cs], flags[cs])
            if self._checksums.compute(self._msg_cs_kind[i], frame_id, buf, length, start[cs] >> 3) != expect:
                return ERR_CHECKSUM
        lo = self._min
        hi = self._max
        for s in range(first, self._end[i]):
            v = get(buf, start[s], width[s], flags[s])
            if v < lo[s] or v > hi[s]:
                return ERR_RANGE
            raw[s - first] = v
        cnt = self._msg_cnt[i]
        if cnt >= 0:
            c = raw[cnt - first]
            last = self.counter[i]
            self.counter[i] = c
            # Each frame refused before this check may have used one counter value, so
            # one corrupt frame does not also cost the good frame after it.
            skipped = self.unread[i]
            self.unread[i] = 0
            step = (c - last) & ((1 << width[cnt]) - 1)
            if last != _NO_COUNTER and (step == 0 or step > 1 + MAX_LOST + skipped):
                return ERR_COUNTER
        return 0

    def _refuse(self, i, err, now):
        self.refused[i] += 1
        if err != ERR_COUNTER and self.unread[i] < 255:
            self.unread[i] += 1
        self.good_run[i] = 0
        b = self.bad_run[i]
        if b < 255:
            b += 1
            self.bad_run[i] = b
        if b == 1:
            self.log.record(events.INPUT_INVALID, now, i * 256 + err)
        score = self.score[i] + _BAD_WEIGHT
        if score > _SCORE_MAX:
            score = _SCORE_MAX
        self.score[i] = score
        if score >= _SCORE_LIMIT and self.valid[i]:
            self.valid[i] = 0
        self.error[i] = err

    def expire(self, now):
        """Mark late messages stale; distrust those whose last good frame is older than their timeout."""
        timeout = self._timeout
        late = self._late
        valid = self.valid
        stale = self.stale
        last_ok = self.last_ok
        for i in range(self.n):
            age = ((now - last_ok[i] + _TICK_HALF) & _TICK_MASK) - _TICK_HALF   # ticks.diff, inline: every period
            if age > late[i]:
                stale[i] = 1
            if valid[i] and age > timeout[i]:
                valid[i] = 0
                self.good_run[i] = 0
                self.error[i] = ERR_TIMEOUT
                self.counter[i] = _NO_COUNTER
                self.log.record(events.INPUT_INVALID, now, i * 256 + ERR_TIMEOUT)

    def clear_fresh(self):
        f = self.fresh
        for i in range(self.n):
            f[i] = 0
