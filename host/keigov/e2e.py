"""Host-side end-to-end protection of frames: rolling counters and checksums.

The oracle for the firmware's checks: frames are encoded by cantools from the DBC and
protected here with a bit-by-bit CRC (deliberately not the firmware's table method).
Which signals are the counter and checksum comes from the signal map.
"""

from __future__ import annotations

from pathlib import Path

from cantools.database.can import Database, Message

from keigov.dbc.tables import load_dbc, load_map


def _crc8_bitwise(byte: int) -> int:
    """The J1850 polynomial (0x1D) applied bit by bit to one byte: the definition."""
    crc = byte
    for _ in range(8):
        crc = ((crc << 1) ^ 0x1D) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


_TABLE = bytes(_crc8_bitwise(b) for b in range(256))


def crc8_j1850(frame_id: int, data: bytes, skip: int) -> int:
    """CRC-8 SAE J1850 (init and final xor 0xFF) over the id's low byte then every data byte but `skip`."""
    table = _TABLE
    crc = table[0xFF ^ (frame_id & 0xFF)]
    for i, byte in enumerate(data):
        if i != skip:
            crc = table[crc ^ byte]
    return crc ^ 0xFF


class FramePacker:
    """Encodes messages by name with counters advancing and checksums filled in."""

    def __init__(self, db: Database, protection: dict[str, dict[str, str]]) -> None:
        self.db = db
        self.protection = protection
        self.counters: dict[str, int] = {}

    @classmethod
    def from_map(cls, map_path: Path) -> "FramePacker":
        smap = load_map(map_path)
        return cls(load_dbc(smap.dbc), smap.messages)

    def message(self, name: str) -> Message:
        return self.db.get_message_by_name(name)

    def pack(self, name: str, values: dict[str, float], *, counter: int | None = None,
             corrupt_checksum: bool = False) -> tuple[int, bytes]:
        """(frame id, payload). `counter` overrides the rolling counter for one frame."""
        msg = self.message(name)
        spec = self.protection.get(name, {})
        full = dict(values)
        counter_sig = spec.get("counter")
        if counter_sig:
            width = msg.get_signal_by_name(counter_sig).length
            if counter is None:
                counter = self.counters.get(name, -1) + 1
                self.counters[name] = counter
            full[counter_sig] = counter % (1 << width)
        checksum_sig = spec.get("checksum")
        if checksum_sig:
            full[checksum_sig] = 0
        data = bytearray(msg.encode(full, scaling=True, strict=True))
        if checksum_sig:
            sig = msg.get_signal_by_name(checksum_sig)
            byte = sig.start // 8
            data[byte] = crc8_j1850(msg.frame_id, bytes(data), byte) ^ (0x5A if corrupt_checksum else 0)
        return msg.frame_id, bytes(data)
