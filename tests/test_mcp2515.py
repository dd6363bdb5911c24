"""The MCP2515 driver (firmware/drivers/mcp2515.py) against a model of the chip's SPI
instructions: frames it sends come out with the ids and data the data sheet's buffer
layout gives, frames the chip holds come back exactly, nothing is lost or invented."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

import fwenv  # noqa: F401  (puts firmware/ on sys.path)

from drivers.mcp2515 import MCP2515


class Pin:
    def __init__(self) -> None:
        self.level = 1

    def value(self, v: int) -> None:
        self.level = v


class Chip:
    """The chip as SPI sees it: registers, two receive and three transmit buffers."""

    def __init__(self) -> None:
        self.regs = bytearray(128)
        self.rx: list[bytes] = []       # 13-byte buffers waiting (SIDH .. D7)
        self.sent: list[bytes] = []
        self.tx = [bytearray(13) for _ in range(3)]

    def write(self, data) -> None:
        self.write_readinto(data, bytearray(len(data)))

    def write_readinto(self, data, out) -> None:
        d = bytes(data)
        op = d[0]
        if op == 0x02:
            self.regs[d[1]:d[1] + len(d) - 2] = d[2:]
            if d[1] == 0x0F:
                self.regs[0x0E] = d[2] & 0xE0  # the mode is taken at once
        elif op == 0x03:
            out[2] = self.regs[d[1]]
        elif op == 0xA0:
            out[1] = (1 if self.rx else 0) | (2 if len(self.rx) > 1 else 0)
        elif op in (0x90, 0x94):
            buf = self.rx.pop(0 if op == 0x90 else 1)
            out[1:14] = buf
        elif op in (0x40, 0x42, 0x44):
            self.tx[(op - 0x40) // 2][: len(d) - 1] = d[1:]
        elif op in (0x81, 0x82, 0x84):
            self.sent.append(bytes(self.tx[{0x81: 0, 0x82: 1, 0x84: 2}[op]]))


def decode(b: bytes) -> tuple[int, bytes]:
    sid = (b[0] << 3) | (b[1] >> 5)
    fid = (sid << 18 | (b[1] & 3) << 16 | b[2] << 8 | b[3]) | 0x20000000 if b[1] & 8 else sid
    return fid, b[5:5 + (b[4] & 15)]


frames = st.tuples(st.one_of(st.integers(0, 0x7FF), st.integers(0, 0x1FFFFFFF).map(lambda i: i | 0x20000000)),
                   st.binary(max_size=8))


@given(st.lists(frames, max_size=3))
def test_sent_frames_carry_their_ids_and_data(sent):
    chip = Chip()
    mcp = MCP2515(chip, Pin())
    assert chip.regs[0x2A] == 0x00 and chip.regs[0x29] == 0x90 and chip.regs[0x60] == 0x64
    for fid, data in sent:
        assert mcp.send(fid, bytearray(data) + bytearray(8), len(data))
    assert [decode(b) for b in chip.sent] == [(fid, data) for fid, data in sent]


@given(st.lists(frames, max_size=2))
def test_received_frames_come_back_exactly(held):
    chip = Chip()
    mcp = MCP2515(chip, Pin())
    for fid, data in held:
        raw = bytearray(13)
        if fid & 0x20000000:
            f = fid & 0x1FFFFFFF
            raw[0], raw[1] = (f >> 21) & 0xFF, ((f >> 18) & 7) << 5 | 8 | (f >> 16) & 3
            raw[2], raw[3] = (f >> 8) & 0xFF, f & 0xFF
        else:
            raw[0], raw[1] = fid >> 3, (fid & 7) << 5
        raw[4] = len(data)
        raw[5:5 + len(data)] = data
        chip.rx.append(bytes(raw))
    buf = bytearray(8)
    got = []
    while (n := mcp.recv(buf)) >= 0:
        got.append((mcp.rx_id, bytes(buf[:n])))
    assert got == held
