"""Frame checksums by scheme, as the signal map names them (host: keigov.dbc.checksums).

A table lists its schemes in CHECKSUM_* columns (algorithm, polynomial, init, final
xor, data id); RX/TX_CHECKSUM_KIND index them. Scheme 0 is none, scheme 1 the keigov
bus CRC-8 SAE J1850 over the id's low byte, which is also what a table without the
columns gets. CRC lookup tables are built once here; `compute` allocates nothing.

Every scheme covers the frame's bytes except `skip`, the byte holding the checksum:
  crc8   table-driven CRC-8 (MSB first), optionally starting with the id's low byte
  xor    XOR of the bytes (then init and final xor)
  sum8   sum of the bytes plus init, modulo 256, then the final xor
  j1939  J1939-71 message checksum: bytes, the counter in the low nibble of byte `skip`
         and the four id bytes summed, folded to 4 bits ((s >> 4) + s) & 0xF
"""
from micropython import const

ALGO_NONE = const(0)
ALGO_CRC8 = const(1)
ALGO_XOR = const(2)
ALGO_SUM8 = const(3)
ALGO_J1939 = const(4)
DATA_ID_LOW_BYTE = const(1)

_KEIGOV = ((ALGO_NONE, ALGO_CRC8), (0, 0x1D), (0, 0xFF), (0, 0xFF), (0, DATA_ID_LOW_BYTE))


def crc8_table(poly):
    t = bytearray(256)
    for i in range(256):
        c = i
        for _ in range(8):
            c = ((c << 1) ^ poly) & 0xFF if c & 0x80 else (c << 1) & 0xFF
        t[i] = c
    return bytes(t)


class Checksums:
    def __init__(self, table):
        cols = _KEIGOV
        if hasattr(table, "CHECKSUM_ALGO"):
            cols = (table.CHECKSUM_ALGO, table.CHECKSUM_POLY, table.CHECKSUM_INIT,
                    table.CHECKSUM_XOROUT, table.CHECKSUM_DATA_ID)
        self.algo, self.poly, self.init, self.xorout, self.data_id = cols
        self._crc = []
        by_poly = {}
        for k in range(len(self.algo)):
            p = self.poly[k]
            if self.algo[k] == ALGO_CRC8 and p not in by_poly:
                by_poly[p] = crc8_table(p)
            self._crc.append(by_poly.get(p) if self.algo[k] == ALGO_CRC8 else None)

    def compute(self, kind, frame_id, buf, length, skip):
        """Checksum of buf[0:length] without byte `skip` under scheme `kind`."""
        a = self.algo[kind]
        c = self.init[kind]
        # The bytes before `skip`, then those after it: no test of every byte against it.
        end = skip if 0 <= skip < length else length
        if a == ALGO_CRC8:
            t = self._crc[kind]
            if self.data_id[kind] == DATA_ID_LOW_BYTE:
                c = t[c ^ (frame_id & 0xFF)]
            for i in range(end):
                c = t[c ^ buf[i]]
            for i in range(end + 1, length):
                c = t[c ^ buf[i]]
        elif a == ALGO_XOR:
            for i in range(end):
                c ^= buf[i]
            for i in range(end + 1, length):
                c ^= buf[i]
        elif a == ALGO_SUM8:
            for i in range(end):
                c = (c + buf[i]) & 0xFF
            for i in range(end + 1, length):
                c = (c + buf[i]) & 0xFF
        elif a == ALGO_J1939:
            c = (buf[skip] & 0x0F) + (frame_id & 0xFF) + ((frame_id >> 8) & 0xFF)
            c += ((frame_id >> 16) & 0xFF) + ((frame_id >> 24) & 0x1F)
            for i in range(length):
                if i != skip:
                    c += buf[i]
            return ((c >> 4) + c) & 0x0F
        else:
            return 0
        return c ^ self.xorout[kind]
