"""core.codec against cantools: any DBC signal layout that fits an 8-byte frame.

cantools decides which layouts are legal (a strict Message refuses a signal that leaves
the frame) and is the oracle for every bit: what it encodes the firmware must read, what
the firmware writes cantools must read back, and a write touches only the signal's bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pytest
from cantools.database.can import Message, Signal
from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_harness as fh

from core import codec

BYTE_ORDERS = ("little_endian", "big_endian")


def _message(start: int, length: int, byte_order: str, signed: bool) -> Message:
    sig = Signal("S", start, length, byte_order=byte_order, is_signed=signed)
    return Message(0x123, "M", 8, [sig], strict=True)


@cache
def _starts(length: int, byte_order: str) -> tuple[int, ...]:
    """Every start bit cantools accepts for this length and byte order in 8 bytes."""
    ok = []
    for start in range(64):
        try:
            _message(start, length, byte_order, False)
        except Exception:
            continue
        ok.append(start)
    return tuple(ok)


def _raw_values(length: int, signed: bool) -> st.SearchStrategy[int]:
    lo, hi = (-(1 << (length - 1)), (1 << (length - 1)) - 1) if signed else (0, (1 << length) - 1)
    return st.one_of(st.sampled_from((lo, hi, 0, min(1, hi), max(-1, lo))), st.integers(lo, hi))


@dataclass
class Case:
    msg: Message
    start: int
    length: int
    flags: int           # core.codec flags: bit 0 Motorola, bit 1 signed
    value: int           # raw value of the signal
    background: bytes    # what the other bits of the frame hold

    def mask(self) -> bytes:
        """The signal's bits as cantools places them: all-ones raw value in a zero frame."""
        ones = -1 if self.flags & 2 else (1 << self.length) - 1
        return bytes(self.msg.encode({"S": ones}, scaling=False, strict=True))


@st.composite
def cases(draw: st.DrawFn) -> Case:
    length = draw(st.integers(1, 29))
    byte_order = draw(st.sampled_from(BYTE_ORDERS))
    start = draw(st.sampled_from(_starts(length, byte_order)))
    signed = draw(st.booleans())
    flags = (1 if byte_order == "big_endian" else 0) | (2 if signed else 0)
    return Case(_message(start, length, byte_order, signed), start, length, flags,
                draw(_raw_values(length, signed)), draw(st.binary(min_size=8, max_size=8)))


@settings(max_examples=400, deadline=None)
@given(case=cases())
def test_get_reads_what_cantools_encodes(case):
    encoded = case.msg.encode({"S": case.value}, scaling=False, strict=True)
    # Noise in every bit outside the signal must not leak into the value.
    frame = bytes((e & m) | (b & ~m & 0xFF) for e, m, b in zip(encoded, case.mask(), case.background))
    assert codec.get(frame, case.start, case.length, case.flags) == case.value


@settings(max_examples=400, deadline=None)
@given(case=cases())
def test_put_writes_what_cantools_decodes_and_nothing_else(case):
    buf = bytearray(case.background)
    codec.put(buf, case.start, case.length, case.flags, case.value)
    assert case.msg.decode(bytes(buf), scaling=False)["S"] == case.value
    mask = case.mask()
    for i in range(8):
        assert buf[i] & ~mask[i] & 0xFF == case.background[i] & ~mask[i] & 0xFF, f"byte {i} outside the signal changed"


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_no_intermediate_leaves_small_ints(case):
    S = fh.Small
    buf = fh.SmallBytes(case.background)
    codec.put(buf, S(case.start), S(case.length), S(case.flags), S(case.value))
    assert codec.get(buf, S(case.start), S(case.length), S(case.flags)) == case.value


@pytest.mark.parametrize("byte_order", BYTE_ORDERS)
def test_every_legal_start_is_exercised_somewhere(byte_order):
    # The strategy's domain: Intel starts 0..64-len, Motorola starts by the sawtooth rule.
    assert _starts(1, byte_order) == tuple(range(64))
    assert len(_starts(29, byte_order)) == 64 - 29 + 1
