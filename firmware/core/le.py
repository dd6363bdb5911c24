"""Little-endian integer fields in byte buffers, without big ints.

Stored fields are 32 bits wide, but a 32-bit MicroPython port heap-allocates any int of
2**30 or more. Readers therefore return -1 (unsigned) or BIG (signed) for a value that
would not be a small int; the callers treat that as out of range. Nothing allocates.
"""
from micropython import const

BIG = const(-0x40000000)  # stands for "outside the small-int range" from get_i32


def get_u16(b, i):
    return b[i] | (b[i + 1] << 8)


def get_u32(b, i):
    """Unsigned 32-bit value, or -1 if it is 2**30 or more."""
    if b[i + 3] & 0xC0:
        return -1
    return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)


def get_i32(b, i):
    """Signed 32-bit value, or BIG if it is outside -2**30 < v < 2**30."""
    top = b[i + 3] & 0xC0
    low = b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | ((b[i + 3] & 0x3F) << 24)
    if top == 0:
        return low
    if top == 0xC0 and low:
        return low - 0x40000000
    return BIG


def put_u16(b, i, v):
    b[i] = v & 0xFF
    b[i + 1] = (v >> 8) & 0xFF


def put_i32(b, i, v):
    """Any small int (negative ones as two's complement); also serves unsigned fields."""
    b[i] = v & 0xFF
    b[i + 1] = (v >> 8) & 0xFF
    b[i + 2] = (v >> 16) & 0xFF
    b[i + 3] = (v >> 24) & 0xFF
