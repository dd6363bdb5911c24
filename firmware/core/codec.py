"""Bit-level signal access in CAN payloads, as DBC files define it.

Intel (little-endian) signals are addressed by their least significant bit, Motorola
(big-endian) signals by their most significant bit in the DBC's sawtooth numbering
(bit 7 of byte 0 is bit 7, bit 0 of byte 1 is bit 8). Signals are at most 29 bits wide
so every value stays a small int on 32-bit ports; the table compiler splits wider
signals into parts.
"""


def get(buf, start, length, flags):
    """Raw value of one signal; flags bit 0 = Motorola, bit 1 = signed.

    Both byte orders inline (the receiver calls this for every signal of every frame):
    the first byte's bits, whole bytes, then the last byte masked before shifting (an
    unmasked byte << 28 is a big int on 32-bit ports)."""
    pos = start >> 3
    if flags & 1:   # Motorola: from `start` (the MSB) down, then on into the next bytes
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
        v >>= have - length
    else:           # Intel: from `start` (the LSB) up
        off = start & 7
        v = buf[pos] >> off
        got = 8 - off
        while got < length:
            pos += 1
            rest = length - got
            v |= (buf[pos] if rest >= 8 else buf[pos] & ((1 << rest) - 1)) << got
            got += 8
        v &= (1 << length) - 1
    if flags & 2 and v >> (length - 1):
        v -= 1 << length
    return v


def put(buf, start, length, flags, v):
    """Write a raw value (two's complement for negatives) into one signal, leaving every
    other bit of the frame as it was. Both byte orders inline, as in get(); each piece of
    the value is masked before it is shifted (v << 7 of a 29-bit v is a big int)."""
    v &= (1 << length) - 1
    if flags & 1:   # Motorola: the top bits into `start`'s byte from `start` down, then on
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
    else:           # Intel: the low bits into `start`'s byte from `start` up, then on
        bit = start
        while length:
            off = bit & 7
            take = 8 - off
            if take > length:
                take = length
            ones = (1 << take) - 1
            i = bit >> 3
            buf[i] = (buf[i] & ~(ones << off)) | ((v & ones) << off)
            v >>= take
            bit += take
            length -= take
