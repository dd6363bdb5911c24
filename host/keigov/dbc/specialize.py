"""One straight-line decode function per message, built from its table rows.

keigov.dbc.decode loops over per-signal records; host tools decode whole logs, so each
message becomes one function (exec) the first time its id is seen: its signals'
expressions with the numbers in place, multiplexing as nested ifs. The arithmetic is the
table loop's, with scale and offset passed as the very same objects (never printed); a
narrow signed or scaled signal becomes a lookup in a tuple of its values, computed once
with that same arithmetic. The function returns None for a frame of another length or a
multiplexer value that selects nothing: the table loop then decides and sets the error.
Tests compare both paths with cantools and with each other.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any

from keigov.dbc.layout import BIG_ENDIAN, CONV_INT, CONV_LINEAR, FLOAT, MULTIPLEXER, SIGNED, shift

_LOOKUP_BITS = 12               # signals up to 12 bits wide may become lookups


def _condition(var: str, pairs: tuple[int, ...]) -> str:
    """Python source testing that `var` lies in the flattened (lo, hi) ranges."""
    terms = []
    for k in range(0, len(pairs), 2):
        lo, hi = pairs[k], pairs[k + 1]
        terms.append("%s == %d" % (var, lo) if lo == hi else "%d <= %s <= %d" % (lo, var, hi))
    return " or ".join(terms) or "False"


class _Builder:
    def __init__(self, t: Mapping[str, Any], length: int, budget: int) -> None:
        self.t = t
        self.length = length
        self.budget = budget
        self.used = 0
        self.ns: dict[str, Any] = {"_from": int.from_bytes, "_unpack_from": struct.unpack_from,
                                   "_unpack": struct.unpack}

    def expr(self, s: int) -> str:
        """Source of signal row s's physical value, from w (Intel) or b (Motorola)."""
        t, ns = self.t, self.ns
        f, n, scale, offset = t["_DB_SIG_FLAGS"][s], t["_DB_SIG_LEN"][s], t["_DB_SIG_SCALE"][s], t["_DB_SIG_OFFSET"][s]
        at = shift(f, t["_DB_SIG_START"][s], n, self.length)
        word = "b" if f & BIG_ENDIAN else "w"
        lsb = at if word == "w" else 8 * self.length - at - n     # first bit, from byte 0
        if n == 8 and lsb % 8 == 0:
            bits = "data[%d]" % (lsb // 8)        # a whole byte: no big-int arithmetic
        else:
            bits = "((%s >> %d) & %d)" % (word, at, (1 << n) - 1)
        k = len(ns)
        if f & FLOAT:
            fmt = ("<" if word == "w" else ">") + ("f" if n == 32 else "d")
            if lsb % 8 == 0:
                e = "_unpack_from(%r, data, %d)[0]" % (fmt, lsb // 8)
            else:
                e = "_unpack(%r, %s.to_bytes(%d, 'big'))[0]" % (">" + fmt[1], bits, n >> 3)
            if f & (CONV_INT | CONV_LINEAR):
                ns["_s%d" % k], ns["_o%d" % k] = scale, offset
                e = "%s * _s%d + _o%d" % (e, k, k)
            return e
        sign = (1 << (n - 1)) if f & SIGNED else 0
        identity = not f & (CONV_INT | CONV_LINEAR)
        if (sign or not identity) and n <= _LOOKUP_BITS and self.used + (1 << n) <= self.budget:
            ns["_t%d" % k] = tuple(((r ^ sign) - sign) * scale + offset for r in range(1 << n))
            self.used += 1 << n
            return "_t%d[%s]" % (k, bits)
        e = "((%s ^ %d) - %d)" % (bits, sign, sign) if sign else bits
        if not identity:
            if not (type(scale) is int and scale == 1):
                ns["_s%d" % k] = scale
                e = "%s * _s%d" % (e, k)
            # An int offset 0 changes nothing but -0.0 (0 * a negative float scale) into 0.0.
            if type(offset) is not int or offset != 0 or (type(scale) is float and scale < 0):
                ns["_o%d" % k] = offset
                e = "%s + _o%d" % (e, k)
        return e

    def body(self, first: int, end: int) -> list[str]:
        """Statements filling dict o; multiplexed signals under their selector's ifs."""
        t = self.t
        children: dict[int, list[int]] = {}
        roots: list[int] = []
        for s in range(first, end):
            p = t["_DB_SIG_MUX"][s]
            (children.setdefault(first + p, []) if p >= 0 else roots).append(s)
        plain = [s for s in roots if not t["_DB_SIG_FLAGS"][s] & MULTIPLEXER]
        lines = ["    o = {%s}" % ", ".join("%r: %s" % (t["_DB_SIG_NAME"][s], self.expr(s)) for s in plain)]
        for s in roots:
            if t["_DB_SIG_FLAGS"][s] & MULTIPLEXER:
                lines += self.selected(s, children, "    ")
        return lines

    def selected(self, s: int, children: dict[int, list[int]], indent: str) -> list[str]:
        """Statements for a selected signal: its value and, for a multiplexer, its choices."""
        t = self.t
        name = t["_DB_SIG_NAME"][s]
        lines = ["%so[%r] = %s" % (indent, name, self.expr(s))]
        if not t["_DB_SIG_FLAGS"][s] & MULTIPLEXER:
            return lines
        var = "x%d" % s
        lines.append("%s%s = int(o[%r])" % (indent, var, name))
        w = t["_DB_SIG_SELECTS"][s]
        if w >= 0:
            lines += ["%sif not (%s):" % (indent, _condition(var, t["_DB_SETS"][w])), indent + "    return None"]
        for c in children.get(s, []):
            cond = _condition(var, t["_DB_SETS"][t["_DB_SIG_WHEN"][c]]) if t["_DB_SIG_WHEN"][c] >= 0 else "False"
            lines.append("%sif %s:" % (indent, cond))
            lines += self.selected(c, children, indent + "    ")
        return lines


def specialize(t: Mapping[str, Any], first: int, end: int, length: int, budget: int
               ) -> tuple[Callable[[bytes], dict[str, Any] | None], int]:
    """(function(data) -> dict or None, lookup entries used) for signal rows first..end."""
    b = _Builder(t, length, budget)
    body = b.body(first, end)
    src = ["def f(data):", "    if len(data) != %d:" % length, "        return None"]
    code = "\n".join(body)
    for word, order in (("w", "little"), ("b", "big")):     # only the integers the body reads
        if "(%s >> " % word in code:
            src.append("    %s = _from(data, %r)" % (word, order))
    src += body + ["    return o"]
    exec("\n".join(src), b.ns)
    return b.ns["f"], b.used
