"""The keigov bus checksum (CRC-8 SAE J1850 over the id's low byte, scheme 1 of every
table) in the firmware's table-driven form against the host's bit-by-bit oracle."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_harness  # noqa: F401  (firmware on sys.path)

from core.checksums import Checksums
from keigov.dbc.e2e import crc8_j1850 as oracle

_KEIGOV_SCHEME = 1
_CHECKSUMS = Checksums(object())   # a table without checksum columns: the keigov schemes


def crc8_j1850(frame_id, data, length, skip):
    return _CHECKSUMS.compute(_KEIGOV_SCHEME, frame_id, data, length, skip)


@settings(max_examples=500, deadline=None)
@given(
    frame_id=st.integers(0, 0x1FFFFFFF),
    data=st.binary(min_size=0, max_size=64),
    skip=st.integers(-1, 70),
)
def test_matches_bitwise_oracle(frame_id, data, skip):
    assert crc8_j1850(frame_id, data, len(data), skip) == oracle(frame_id, data, skip)


@settings(max_examples=200, deadline=None)
@given(frame_id=st.integers(0, 0x7FF), data=st.binary(min_size=8, max_size=8), skip=st.integers(0, 7))
def test_skipped_byte_does_not_count(frame_id, data, skip):
    other = bytearray(data)
    other[skip] ^= 0xA5
    assert crc8_j1850(frame_id, other, 8, skip) == crc8_j1850(frame_id, data, 8, skip)


def test_check_value():
    # CRC-8/SAE-J1850 check value over "123456789". The firmware always prefixes the
    # id's low byte, so feed '1' as the id and the rest as data (nothing skipped).
    msg = b"123456789"
    assert crc8_j1850(msg[0], msg[1:], 8, -1) == 0x4B
    assert oracle(msg[0], msg[1:], -1) == 0x4B


def test_id_low_byte_is_protected():
    data = bytes(range(8))
    assert crc8_j1850(0x0B0, data, 8, 7) != crc8_j1850(0x0C0, data, 8, 7)
