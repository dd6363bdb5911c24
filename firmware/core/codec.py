"""Bit-level signal access in CAN payloads, as DBC files define it.

Intel (little-endian) signals are addressed by their least significant bit, Motorola
(big-endian) signals by their most significant bit in the DBC's sawtooth numbering
(bit 7 of byte 0 is bit 7, bit 0 of byte 1 is bit 8). Signals are at most 29 bits wide
so every value stays a small int on 32-bit ports; the table compiler splits wider
signals into parts.
"""


def get_le(buf, start, length):
    # The first byte's bits above `start`, then whole bytes, then the last byte masked
    # before shifting (an unmasked byte << 28 is a big int on 32-bit ports).
    i = start >> 3
    off = start & 7
    v = buf[i] >> off
    got = 8 - off
    while got < length:
        i += 1
        rest = length - got
        v |= (buf[i] if rest >= 8 else buf[i] & ((1 << rest) - 1)) << got
        got += 8
    return v & ((1 << length) - 1)


def get_be(buf, start, length):
    # The first byte's bits from `start` down, then whole bytes, then the top bits of the
    # last; a signal inside one byte drops the bits below it.
    pos = start >> 3
    have = (start & 7) + 1
    v = buf[pos] & ((1 << have) - 1)
    while have < length:
        pos += 1
        rest = length - have
        if rest >= 8:
            v = (v << 8) | buf[pos]
            have += 8
        else:
            v = (v << rest) | (buf[pos] >> (8 - rest))
            have = length
    return v >> (have - length)


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
