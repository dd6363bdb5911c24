"""CRC-8 SAE J1850 (poly 0x1D, init 0xFF, final xor 0xFF), one table lookup per byte.

The keigov bus protects each safety-relevant frame with this CRC computed over the low
byte of the frame id (the AUTOSAR E2E "data id", so a frame copied onto another id
fails) followed by every data byte except the checksum byte itself.
"""


def _table(poly):
    t = bytearray(256)
    for i in range(256):
        c = i
        for _ in range(8):
            c = ((c << 1) ^ poly) & 0xFF if c & 0x80 else (c << 1) & 0xFF
        t[i] = c
    return bytes(t)


_J1850 = _table(0x1D)


def crc8_j1850(frame_id, buf, length, skip):
    """CRC over the id's low byte, then buf[0:length] except index `skip`."""
    t = _J1850
    c = t[0xFF ^ (frame_id & 0xFF)]
    for i in range(length):
        if i != skip:
            c = t[c ^ buf[i]]
    return c ^ 0xFF
