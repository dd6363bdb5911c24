"""CRC-8 SAE J1850 (poly 0x1D, init 0xFF, final xor 0xFF), one table lookup per byte.

The keigov bus protects each safety-relevant frame with this CRC computed over the low
byte of the frame id (the AUTOSAR E2E "data id", so a frame copied onto another id
fails) followed by every data byte except the checksum byte itself.
"""

from core.checksums import crc8_table

_J1850 = crc8_table(0x1D)


def crc8_j1850(frame_id, buf, length, skip):
    """CRC over the id's low byte, then buf[0:length] except index `skip`."""
    t = _J1850
    c = t[0xFF ^ (frame_id & 0xFF)]
    for i in range(length):
        if i != skip:
            c = t[c ^ buf[i]]
    return c ^ 0xFF
