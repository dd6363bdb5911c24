"""Which compiled message a received frame id belongs to.

Ids follow the boards' convention: bit 29 marks an extended (29-bit) id. A message
compiled with MATCH_EXACT answers to its own id only. A message compiled with MATCH_PGN
(J1939) answers to any id with the same parameter group: bits 8-25 (data page and PDU
format, plus the PDU1 destination address) must match, while the priority (bits 26-28)
and the source address (bits 0-7) are ignored, because both vary from vehicle to vehicle
for the same message.

An id the table does not know costs one dict lookup (two when the table has J1939
messages and the id is extended); the lookups allocate nothing.
"""
from micropython import const

EXTENDED = const(0x20000000)
MATCH_EXACT = const(0)
MATCH_PGN = const(1)
_PGN_MASK = const(0x3FFFF)


def pgn_key(frame_id):
    """The part of an extended id that names its parameter group (and PDU1 destination)."""
    return (frame_id >> 8) & _PGN_MASK


class FrameIndex:
    def __init__(self, ids, match=None):
        self._exact = {}
        self._pgn = {}
        for i in range(len(ids)):
            fid = ids[i]
            self._exact[fid] = i
            if match is not None and match[i] == MATCH_PGN and fid & EXTENDED:
                self._pgn[pgn_key(fid)] = i

    def find(self, frame_id):
        """Message index for the id, or -1."""
        i = self._exact.get(frame_id, -1)
        if i < 0 and self._pgn and frame_id & EXTENDED:
            i = self._pgn.get((frame_id >> 8) & _PGN_MASK, -1)
        return i
