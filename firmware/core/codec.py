"""Bit-level signal access in CAN payloads, as DBC files define it.

Intel (little-endian) signals are addressed by their least significant bit, Motorola
(big-endian) signals by their most significant bit in the DBC's sawtooth numbering
(bit 7 of byte 0 is bit 7, bit 0 of byte 1 is bit 8). Signals are at most 29 bits wide
so every value stays a small int on 32-bit ports; the table compiler splits wider
signals into parts.
"""


def get_le(buf, start, length):
    v = 0
    shift = 0
    bit = start
    while length:
        off = bit & 7
        take = 8 - off
        if take > length:
            take = length
        v |= ((buf[bit >> 3] >> off) & ((1 << take) - 1)) << shift
        shift += take
        bit += take
        length -= take
    return v


def get_be(buf, start, length):
    v = 0
    pos = start >> 3
    off = start & 7
    while length:
        take = off + 1
        if take > length:
            take = length
        v = (v << take) | ((buf[pos] >> (off + 1 - take)) & ((1 << take) - 1))
        length -= take
        pos += 1
        off = 7
    return v


def set_le(buf, start, length, v):
    bit = start
    while length:
        off = bit & 7
        take = 8 - off
        if take > length:
            take = length
        ones = (1 << take) - 1
        i = bit >> 3
        # Mask before shifting (here and in set_be): v << 7 of a 29-bit v is a big int.
        buf[i] = (buf[i] & ~(ones << off)) | ((v & ones) << off)
        v >>= take
        bit += take
        length -= take


def set_be(buf, start, length, v):
    pos = start >> 3
    off = start & 7
    while length:
        take = off + 1
        if take > length:
            take = length
        length -= take
        shift = off + 1 - take
        ones = (1 << take) - 1
        buf[pos] = (buf[pos] & ~(ones << shift)) | (((v >> length) & ones) << shift)
        pos += 1
        off = 7


def get(buf, start, length, flags):
    """Raw value of one signal; flags bit 0 = Motorola, bit 1 = signed."""
    v = get_be(buf, start, length) if flags & 1 else get_le(buf, start, length)
    if flags & 2 and v >> (length - 1):
        v -= 1 << length
    return v


def put(buf, start, length, flags, v):
    """Write a raw value (two's complement for negatives) into one signal."""
    v &= (1 << length) - 1
    if flags & 1:
        set_be(buf, start, length, v)
    else:
        set_le(buf, start, length, v)
