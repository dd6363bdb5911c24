"""Physical values of compiled DBC messages: decode() and encode() as cantools does them.

A host module. A generated table module (`keigov dbc compile`) holds one row per message
and one per signal (the private _DB_* tuples), and its decode(), encode() and last_error()
import this module on first use: they need keigov installed. A board imports the same
generated module for its RX_/TX_ fast-path tables only and never calls them; the
governor's control path decodes with core.rx into preallocated integer slots.

`Database(tables)` turns the rows into one record per signal once; decoding a frame is
then two integer conversions of the payload and a shift and a mask per signal: Intel
signals are contiguous bits of the payload read as a little-endian integer, Motorola
signals contiguous bits of it read as a big-endian integer. Values are physical like
cantools' `decode_message(..., decode_choices=False)`: ints of any width where scale and
offset are integers, floats otherwise, IEEE floats and doubles unpacked from their bits;
multiplexed signals only when their multiplexer selects them. Each message becomes one
straight-line function the first time its id is seen (keigov.dbc.specialize); the table
loop here decides every frame that function declines. It allocates a dict per frame.

decode() never raises for a bad frame: it returns None and leaves the reason in `error`
(ERR_UNKNOWN_ID; ERR_LENGTH for a frame shorter than its DBC length, while a longer one
is decoded with the excess ignored, as cantools does; ERR_MULTIPLEXER for a multiplexer
value that selects nothing the DBC defines). encode() raises ValueError naming the signal
for a missing, unknown or out-of-range value.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from keigov.dbc.layout import (
    BIG_ENDIAN,
    CONV_INT,
    CONV_LINEAR,
    EXTENDED,
    FLOAT,
    MATCH_PGN,
    MULTIPLEXER,
    SIGNED,
    pgn_key,
    shift,
)
from keigov.dbc.specialize import specialize

ERR_NONE = 0
ERR_UNKNOWN_ID = 1
ERR_LENGTH = 2
ERR_MULTIPLEXER = 3

_FLOAT32_MAX = 3.4028234663852886e38
_LOOKUP_BUDGET = 1 << 18         # entries of precomputed value tuples per database (~8 MB)

Values = dict[str, Any]


def _within(v: int, pairs: Sequence[int]) -> bool:
    """v inside one of the inclusive (lo, hi) ranges flattened in `pairs`."""
    for k in range(0, len(pairs), 2):
        if pairs[k] <= v <= pairs[k + 1]:
            return True
    return False


class Database:
    """decode() and encode() over one generated module's _DB_* tables (its globals())."""

    def __init__(self, t: Mapping[str, Any]) -> None:
        self.t = t
        self.error = ERR_NONE
        self._messages: list[tuple] = []
        self._by_id: dict[int, tuple] = {}      # exact ids in both forms (with and without bit 29) -> record
        self._exact: dict[int, int] = {}        # id as the boards deliver it -> message index
        self._by_pgn: dict[int, int] = {}       # pgn_key of a J1939 message's id -> message index
        self._fast: dict[int, Callable[[bytes], Values | None]] = {}   # frame id -> specialized decoder
        self.specialize = True                  # False: the table loop only (tests compare both)
        self._budget = _LOOKUP_BUDGET
        ids, match = t["_DB_MSG_ID"], t["_DB_MSG_MATCH"]
        for i in range(len(ids)):
            m = self._message(i)
            self._messages.append(m)
            self._by_id[ids[i]] = m
            if ids[i] & EXTENDED and ids[i] & ~EXTENDED > 0x7FF:
                self._by_id[ids[i] & ~EXTENDED] = m
            self._exact[ids[i]] = i
            if match[i] == MATCH_PGN and ids[i] & EXTENDED:
                self._by_pgn[pgn_key(ids[i])] = i

    def _message(self, i: int) -> tuple:
        """(length, Intel records, Motorola records, float records, multiplexed, first, end).

        Integer records are (name, at, mask, sign bit or 0, scale, offset), `at` the
        signal's shift: the value is ((bits ^ sign) - sign) * scale + offset, which is the
        raw int itself for identity.
        """
        t = self.t
        length = t["_DB_MSG_LEN"][i]
        first = t["_DB_MSG_SIG_FIRST"][i]
        end = t["_DB_MSG_SIG_END"][i]
        le: list[tuple] = []
        be: list[tuple] = []
        floats: list[tuple] = []
        muxed = False
        for s in range(first, end):
            f = t["_DB_SIG_FLAGS"][s]
            n = t["_DB_SIG_LEN"][s]
            start = t["_DB_SIG_START"][s]
            at = shift(f, start, n, length)
            name = t["_DB_SIG_NAME"][s]
            scale = t["_DB_SIG_SCALE"][s]
            offset = t["_DB_SIG_OFFSET"][s]
            if f & FLOAT:
                floats.append((name, f & BIG_ENDIAN, at, n, f & (CONV_INT | CONV_LINEAR), scale, offset))
            else:
                rec = (name, at, (1 << n) - 1, (1 << (n - 1)) if f & SIGNED else 0, scale, offset)
                (be if f & BIG_ENDIAN else le).append(rec)
            muxed = muxed or t["_DB_SIG_MUX"][s] >= 0 or t["_DB_SIG_SELECTS"][s] >= 0
        return length, tuple(le), tuple(be), tuple(floats), muxed, first, end

    def find(self, frame_id: int) -> int:
        """Message index for a frame id (bit 29 or a value above 0x7FF: extended), or -1.
        A J1939 message also answers to any id of its parameter group."""
        if frame_id > 0x7FF:
            frame_id |= EXTENDED
        i = self._exact.get(frame_id, -1)
        if i < 0 and self._by_pgn and frame_id & EXTENDED:
            i = self._by_pgn.get(pgn_key(frame_id), -1)
        return i

    def decode(self, frame_id: int, data: bytes) -> Values | None:
        f = self._fast.get(frame_id)
        if f is not None:
            out = f(data)
            if out is not None:
                self.error = ERR_NONE
                return out
        return self._decode(frame_id, data)

    def _decode(self, frame_id: int, data: bytes) -> Values | None:
        m = self._by_id.get(frame_id)
        if m is None:
            # Exact ids are all in _by_id; only J1939 messages can still match (by PGN).
            i = self.find(frame_id) if self._by_pgn else -1
            if i < 0:
                self.error = ERR_UNKNOWN_ID
                return None
            m = self._messages[i]
        length, le_recs, be_recs, floats, muxed, first, end = m
        n = len(data)
        if n != length:
            if n < length:
                self.error = ERR_LENGTH
                return None
            data = data[:length]
        if self.specialize and n == length and frame_id not in self._fast:
            self._fast[frame_id], used = specialize(self.t, first, end, length, self._budget)
            self._budget -= used
        out: Values = {}
        w = int.from_bytes(data, "little")
        for name, at, mask, sign, scale, offset in le_recs:
            out[name] = ((((w >> at) & mask) ^ sign) - sign) * scale + offset
        if be_recs or floats:
            b = int.from_bytes(data, "big")
            for name, at, mask, sign, scale, offset in be_recs:
                out[name] = ((((b >> at) & mask) ^ sign) - sign) * scale + offset
            for name, is_be, at, n, conv, scale, offset in floats:
                bits = ((b if is_be else w) >> at) & ((1 << n) - 1)
                v = struct.unpack(">f" if n == 32 else ">d", bits.to_bytes(n >> 3, "big"))[0]
                out[name] = v * scale + offset if conv else v
        if muxed:
            selected, bad = self._selected(first, end, out)
            if bad is not None:
                self.error = ERR_MULTIPLEXER
                return None
            names = self.t["_DB_SIG_NAME"]
            out = {names[s]: out[names[s]] for s in selected}
        self.error = ERR_NONE
        return out

    def _selected(self, first: int, end: int, values: Mapping[str, Any]) -> tuple[list[int], str | None]:
        """Signals the multiplexer values select (all of a plain message), in table order.

        Returns (indices, None), or (indices so far, name) when the value of multiplexer
        `name` selects nothing. A missing value raises KeyError (encode reports it).
        """
        t = self.t
        names = t["_DB_SIG_NAME"]
        sets = t["_DB_SETS"]
        selector: dict[int, int] = {}
        selected: list[int] = []
        for s in range(first, end):
            p = t["_DB_SIG_MUX"][s]
            if p >= 0:
                v = selector.get(first + p)
                w = t["_DB_SIG_WHEN"][s]
                if v is None or w < 0 or not _within(v, sets[w]):
                    continue
            name = names[s]
            value = values[name]
            selected.append(s)
            if t["_DB_SIG_FLAGS"][s] & MULTIPLEXER:
                v = int(value)
                w = t["_DB_SIG_SELECTS"][s]
                if w >= 0 and not _within(v, sets[w]):
                    return selected, name
                selector[s] = v
        return selected, None

    def encode(self, frame_id: int, values: Mapping[str, Any]) -> bytes:
        """Payload for physical values; ValueError for anything cantools would refuse."""
        i = self.find(frame_id)
        if i < 0:
            raise ValueError("frame id 0x%X is not in the table" % frame_id)
        t = self.t
        length, first, end = self._messages[i][0], self._messages[i][5], self._messages[i][6]
        msg = t["_DB_MSG_NAME"][i]
        try:
            selected, bad = self._selected(first, end, values)
        except KeyError as e:
            raise ValueError("%s: signal %s is required" % (msg, e.args[0])) from None
        if bad is not None:
            raise ValueError("%s: multiplexer %s = %s selects no signal" % (msg, bad, values[bad]))
        if len(selected) != len(values):
            used = [t["_DB_SIG_NAME"][s] for s in selected]
            extra = [k for k in values if k not in used]
            raise ValueError("%s: signals %s are not encoded in this frame" % (msg, ", ".join(extra)))
        le = 0
        be = 0
        for s in selected:
            raw = self._raw(s, values[t["_DB_SIG_NAME"][s]], msg)
            n = t["_DB_SIG_LEN"][s]
            start = t["_DB_SIG_START"][s]
            f = t["_DB_SIG_FLAGS"][s]
            raw = (raw & ((1 << n) - 1)) << shift(f, start, n, length)
            if f & BIG_ENDIAN:
                be |= raw
            else:
                le |= raw
        return (int.from_bytes(le.to_bytes(length, "little"), "big") | be).to_bytes(length, "big")

    def _raw(self, s: int, value: Any, msg: str) -> int:
        """Raw bits of one physical value, rounded as cantools rounds; range-checked."""
        t = self.t
        name = t["_DB_SIG_NAME"][s]
        f = t["_DB_SIG_FLAGS"][s]
        n = t["_DB_SIG_LEN"][s]
        scale = t["_DB_SIG_SCALE"][s]
        offset = t["_DB_SIG_OFFSET"][s]
        if not isinstance(value, (int, float)):
            raise ValueError("%s.%s: %r is not a number (choice names are not encoded)" % (msg, name, value))
        if f & CONV_INT:
            r = value - offset
            q, rem = divmod(r, scale)
            raw = round(q if rem == 0 else r / scale)
        elif f & CONV_LINEAR:
            raw = (value - offset) / scale
            if not f & FLOAT:
                raw = round(raw)
        else:
            raw = value if f & FLOAT else round(value)
        c = t["_DB_SIG_CHOICES"][s]
        if c < 0 or f & FLOAT or not _within(raw, t["_DB_SETS"][c]):
            tol = abs(scale) * 1e-6
            lo = t["_DB_SIG_MIN"][s]
            hi = t["_DB_SIG_MAX"][s]
            if (lo is not None and value < lo - tol) or (hi is not None and value > hi + tol):
                raise ValueError("%s.%s: %r is outside [%s, %s]" % (msg, name, value, lo, hi))
        if f & FLOAT:
            if n == 32 and _FLOAT32_MAX < abs(raw) < float("inf"):
                raise ValueError("%s.%s: %r does not fit a 32-bit float" % (msg, name, value))
            return int.from_bytes(struct.pack(">f" if n == 32 else ">d", raw), "big")
        lo = -(1 << (n - 1)) if f & SIGNED else 0
        if not lo <= raw < lo + (1 << n):
            raise ValueError("%s.%s: %r needs raw %d, outside the %d-bit field" % (msg, name, value, raw, n))
        return raw
