"""The physical-value tables' format: what keigov.dbc.physical writes into a generated
module's _DB_* rows and keigov.dbc.decode and keigov.dbc.specialize read back."""

from __future__ import annotations

# Ids as the boards deliver them: bit 29 marks an extended (29-bit) id.
EXTENDED = 0x20000000
# _DB_MSG_MATCH: a message answers to its own id only, or (J1939) to any id of its
# parameter group, whatever the priority and source address (core/idmatch.py on a board).
MATCH_EXACT = 0
MATCH_PGN = 1
_PGN_MASK = 0x3FFFF       # id bits 8-25: data page, PDU format and PDU1 destination

# _DB_SIG_FLAGS bits.
BIG_ENDIAN = 1
SIGNED = 2
FLOAT = 4                 # IEEE float (32 bits) or double (64 bits)
CONV_INT = 8              # integer scale and offset: values stay ints
CONV_LINEAR = 16          # other scale or offset: raw * scale + offset
MULTIPLEXER = 32


def pgn_key(frame_id: int) -> int:
    """The part of an extended id that names its parameter group (and PDU1 destination)."""
    return (frame_id >> 8) & _PGN_MASK


def shift(flags: int, start: int, n: int, length: int) -> int:
    """Position of a signal's least significant bit in the payload read as an integer:
    little-endian for Intel signals, big-endian for Motorola ones (DBC sawtooth start)."""
    if flags & BIG_ENDIAN:
        return 8 * length - (8 * (start >> 3) + 7 - (start & 7) + n)
    return start
