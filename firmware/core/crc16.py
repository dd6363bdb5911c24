"""CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected, no final xor).

Protects link frames, configuration slots and persisted event records. One table lookup
per byte; every intermediate value stays a 16-bit small int, so it allocates nothing on
a 32-bit port. Check value: crc16(b"123456789") == 0x29B1.
"""
from array import array

INIT = 0xFFFF


def _table():
    t = array("H", [0] * 256)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) & 0xFFFF if c & 0x8000 else (c << 1) & 0xFFFF
        t[i] = c
    return t


_T = _table()


def update(crc, buf, start, end):
    """CRC continued over buf[start:end] (crc = INIT to begin)."""
    t = _T
    for i in range(start, end):
        crc = ((crc << 8) & 0xFF00) ^ t[(crc >> 8) ^ buf[i]]
    return crc


def crc16(buf, start=0, end=-1):
    return update(INIT, buf, start, len(buf) if end < 0 else end)
