"""The sim board's record protocol, host side: the one place its numbers and layouts live
here (the firmware's are named constants in firmware/boards/sim.py; a mirror test holds
the two together).

Every record is an 8-byte header [kind u8, length u8, 0, 0, value u32 LE] and `length`
payload bytes. What each kind means, in each direction, is firmware/boards/sim.py's
docstring.
"""

from __future__ import annotations

import struct

FRAME = 70          # F: a CAN frame; value = id (bit 29: extended), payload = data
TICK = 84           # T: run one control period; value = time in ms; byte 2 = polling budget, 10 us
QUIT = 81           # Q: stop
EVENT = 69          # E: an event the device recorded; value = time in ms
DONE = 68           # D: period done; value = step microseconds, payload = wait microseconds u32
BATCH = 66          # B: value = byte count of the whole records that follow

EXTENDED = 0x20000000       # frame id bit: a 29-bit id
TIME_MASK = 0x3FFFFFFF      # T values are the time in ms modulo 2**30
BATCH_BYTES = 8192          # the device's batch buffer: the largest B record
EVENT_BYTES = 14            # E payload: code u8, value i32, flags u8 (bit 0: position known), x i32, y i32

HEADER = struct.Struct("<BBxxI")
TICK_HEADER = struct.Struct("<BBBxI")
_EVENT_HEAD = struct.Struct("<Bi")
_EVENT_POSITION = struct.Struct("<Bii")


def frame(frame_id: int, data: bytes | bytearray, extended: bool = False) -> bytes:
    """An F record."""
    return HEADER.pack(FRAME, len(data), frame_id | (EXTENDED if extended else 0)) + data


def tick(t_ms: int, poll_10us: int = 0) -> bytes:
    """A T record: run the period at t_ms, polling up to poll_10us * 10 us before blocking."""
    return TICK_HEADER.pack(TICK, 0, poll_10us, t_ms & TIME_MASK)


def quit_record() -> bytes:
    return HEADER.pack(QUIT, 0, 0)


def batches(records: list[bytes]) -> list[bytes]:
    """The records behind B headers, each batch at most BATCH_BYTES of whole records."""
    total = sum(map(len, records))
    if total <= BATCH_BYTES:     # a lock-step period: one batch
        return [HEADER.pack(BATCH, 0, total), *records] if records else []
    out: list[bytes] = []
    start = size = 0
    for i, record in enumerate(records):
        if size + len(record) > BATCH_BYTES:
            out.append(HEADER.pack(BATCH, 0, size))
            out.extend(records[start:i])
            start, size = i, 0
        size += len(record)
    if size:
        out.append(HEADER.pack(BATCH, 0, size))
        out.extend(records[start:])
    return out


def event_fields(payload: bytes) -> tuple[int, int, tuple[int, int] | None]:
    """An E payload: (code, value, (east, north) in dm of the zone table's origin, or None)."""
    code, value = _EVENT_HEAD.unpack_from(payload)
    position = None
    if len(payload) >= EVENT_BYTES:
        flags, x, y = _EVENT_POSITION.unpack_from(payload, _EVENT_HEAD.size)
        position = (x, y) if flags & 1 else None
    return code, value, position


def frame_id(value: int) -> tuple[int, bool]:
    """An F record's value as (arbitration id, extended)."""
    return value & 0x1FFFFFFF, bool(value & EXTENDED)
