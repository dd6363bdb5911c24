"""Frames on the wire: COBS with 0x00 delimiters around [version, command, sequence,
status, payload length] + payload + CRC-16/CCITT-FALSE (big-endian).

Written independently of the firmware's parser so that each checks the other: the CRC
is the standard library's binascii.crc_hqx (the same polynomial and initial value).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from keigov.link.protocol import MAX_PAYLOAD, VERSION

HEADER = 5
BODY_MAX = HEADER + MAX_PAYLOAD + 2


def crc16(data: bytes) -> int:
    return binascii.crc_hqx(data, 0xFFFF)


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    block = bytearray()
    for b in data:
        if b == 0:
            out.append(len(block) + 1)
            out += block
            block.clear()
        else:
            block.append(b)
            if len(block) == 254:
                out.append(255)
                out += block
                block.clear()
    out.append(len(block) + 1)
    out += block
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS frame (without delimiters); ValueError if it is not valid COBS."""
    out = bytearray()
    i = 0
    while i < len(data):
        code = data[i]
        if code == 0:
            raise ValueError("zero byte inside a COBS frame")
        end = i + code
        if end > len(data):
            raise ValueError("COBS block runs past the end of the frame")
        out += data[i + 1 : end]
        i = end
        if code < 255 and i < len(data):
            out.append(0)
    return bytes(out)


def encode_frame(command: int, seq: int, payload: bytes = b"", *, status: int = 0,
                 version: int = VERSION) -> bytes:
    """A request (or reply) as it goes on the wire, with a leading and trailing 0x00."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a payload of {len(payload)} bytes; a frame carries at most {MAX_PAYLOAD}")
    body = bytes([version, command, seq & 0xFF, status, len(payload)]) + payload
    crc = crc16(body)
    return b"\x00" + cobs_encode(body + bytes([crc >> 8, crc & 0xFF])) + b"\x00"


@dataclass(frozen=True)
class Frame:
    version: int
    command: int
    seq: int
    status: int
    payload: bytes


def decode_body(encoded: bytes) -> Frame | None:
    """The frame in one COBS chunk (between delimiters), or None if it is not intact."""
    try:
        body = cobs_decode(encoded)
    except ValueError:
        return None
    if len(body) < HEADER + 2 or len(body) > BODY_MAX or body[4] != len(body) - HEADER - 2:
        return None
    if crc16(body[:-2]) != (body[-2] << 8 | body[-1]):
        return None
    return Frame(body[0], body[1], body[2], body[3], bytes(body[HEADER:-2]))


class FrameReader:
    """Splits a byte stream at 0x00 delimiters into intact frames; drops the rest."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        self._buf += data
        while True:
            end = self._buf.find(0)
            if end < 0:
                if len(self._buf) > 4 * BODY_MAX:  # no delimiter in sight: garbage
                    self._buf.clear()
                    self.dropped += 1
                return frames
            chunk = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if not chunk:
                continue
            frame = decode_body(chunk)
            if frame is None:
                self.dropped += 1
            else:
                frames.append(frame)
