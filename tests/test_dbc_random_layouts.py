"""Randomly generated message layouts decode and encode as cantools does.

Hypothesis writes a DBC with one message: a random length (classic or CAN FD), random
id (standard or extended), and signals placed at random bits in either byte order, of
random width up to 64 bits, signed or not, integer or float, with random scales
(negative and fractional), offsets and ranges. The corpus holds the cases we thought of;
this finds the ones we did not.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cantools
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbc_support import cantools_decode, cantools_encode, device_id, same_values
from keigov.dbc.compile import compile_messages
from keigov.dbc.generated import load_source

LENGTHS = [1, 2, 3, 5, 8, 12, 16, 24, 32, 48, 64]
SCALES = ["1", "2", "0.5", "0.1", "-1", "-0.25", "1E-007", "0.00390625", "3", "-7", "0.001"]
OFFSETS = ["0", "1", "-40", "0.5", "-1000.25", "1000000"]


def bits_of(start: int, n: int, big_endian: bool, length: int) -> set[int] | None:
    """Payload bits (byte * 8 + bit) a signal occupies, or None when it does not fit."""
    if big_endian:
        first = 8 * (start // 8) + 7 - start % 8          # network order: MSB of byte 0 first
        if first + n > 8 * length:
            return None
        return {8 * (k // 8) + 7 - k % 8 for k in range(first, first + n)}
    if start + n > 8 * length:
        return None
    return set(range(start, start + n))


@st.composite
def layouts(draw) -> tuple[str, int]:
    """(DBC text, cantools frame id) of one random message."""
    length = draw(st.sampled_from(LENGTHS))
    extended = draw(st.booleans())
    frame_id = draw(st.integers(0x800 if extended else 0, 0x1FFFFFFF if extended else 0x7FF))
    used: set[int] = set()
    lines, valtypes = [], []
    for k in range(draw(st.integers(1, 8))):
        is_float = draw(st.integers(0, 5)) == 0
        n = draw(st.sampled_from([32, 64])) if is_float else draw(st.integers(1, min(64, 8 * length)))
        big_endian = draw(st.booleans())
        start = draw(st.integers(0, 8 * length - 1))
        bits = bits_of(start, n, big_endian, length)
        if bits is None or bits & used:
            continue
        used |= bits
        signed = is_float or draw(st.booleans())
        scale, offset = draw(st.sampled_from(SCALES)), draw(st.sampled_from(OFFSETS))
        lo = hi = "0"
        if not is_float and draw(st.booleans()):        # a [min|max] inside the raw range
            raw_lo = -(1 << (n - 1)) if signed else 0
            a, b = sorted(draw(st.integers(raw_lo, raw_lo + (1 << n) - 1)) for _ in range(2))
            phys = sorted(float(r) * float(scale) + float(offset) for r in (a, b))
            lo, hi = repr(phys[0]), repr(phys[1])
        lines.append(f' SG_ S{k} : {start}|{n}@{0 if big_endian else 1}{"-" if signed else "+"} '
                     f'({scale},{offset}) [{lo}|{hi}] "" ECU')
        if is_float:
            valtypes.append(f"SIG_VALTYPE_ {frame_id | (0x80000000 if extended else 0)} S{k} : {1 if n == 32 else 2};")
    dbc_id = frame_id | (0x80000000 if extended else 0)
    text = "\n".join(['VERSION ""', "", "BS_:", "", "BU_: ECU", "", f"BO_ {dbc_id} RANDOM: {length} ECU",
                      *lines, "", *valtypes, ""])
    return text, frame_id


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout=layouts(), data=st.data())
def test_random_layout_decodes_and_encodes_as_cantools(layout, data):
    text, _frame_id = layout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "random.dbc"
        path.write_text(text)
        db = cantools.database.load_file(str(path), strict=True)
        mod = load_source(compile_messages([path], None), "random_layout")
    msg = db.messages[0]
    for payload in data.draw(st.lists(st.binary(min_size=msg.length, max_size=msg.length), min_size=1, max_size=8)):
        expected = cantools_decode(db, msg.frame_id, payload, extended=msg.is_extended_frame)
        got = mod.decode(device_id(msg), payload)
        assert same_values(expected, got), (text, payload.hex(), expected, got)
        encoded = cantools_encode(msg, expected)
        if encoded is None:
            try:
                mod.encode(device_id(msg), got)
            except ValueError:
                continue
            raise AssertionError(f"encoded what cantools refuses: {got}\n{text}")
        assert mod.encode(device_id(msg), got) == encoded, (text, got)
