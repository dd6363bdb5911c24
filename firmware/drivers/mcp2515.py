"""Microchip MCP2515 CAN controller over SPI, polled, with core's CAN interface:
  send(frame_id, buf, length) -> bool   (bit 29 of frame_id: extended id)
  recv(buf) -> length, or -1 when empty; the id is left in `rx_id`.

The SPI bus and the chip-select pin are passed in (machine.SPI, machine.Pin), so the
driver runs on any port; every transfer uses buffers allocated here once. Both receive
buffers accept every frame (RXB0 rolls over into RXB1), all three transmit buffers are
used. Reference: MCP2515 data sheet (DS20001801), sections 3 (messages), 5 (bit
timing), 12 (SPI instructions).
"""
from micropython import const

_RESET = const(0xC0)
_READ = const(0x03)
_WRITE = const(0x02)
_READ_STATUS = const(0xA0)
_READ_RX0 = const(0x90)       # READ RX BUFFER from RXB0SIDH (clears RX0IF)
_READ_RX1 = const(0x94)
_LOAD_TX = (0x40, 0x42, 0x44)  # LOAD TX BUFFER at TXBnSIDH
_RTS = (0x81, 0x82, 0x84)
_CANSTAT = const(0x0E)
_CANCTRL = const(0x0F)
_CNF3 = const(0x28)
_CANINTE = const(0x2B)
_RXB0CTRL = const(0x60)
_RXB1CTRL = const(0x70)
_MODE_CONFIG = const(0x80)
_MODE_NORMAL = const(0x00)
_EXT = const(0x20000000)
# (CNF3, CNF2, CNF1) for 500 kbit/s: 16 TQ, sample point 75 % (16 MHz) / 8 TQ (8 MHz).
TIMING_500K = {16000000: (0x86, 0xF0, 0x00), 8000000: (0x82, 0x90, 0x00)}


class MCP2515:
    def __init__(self, spi, cs, crystal_hz=8000000, sleep_ms=None):
        self.spi = spi
        self.cs = cs
        self.rx_id = 0
        self.overruns = 0
        self._cmd = bytearray(14)
        self._rsp = bytearray(14)
        self._views = [memoryview(self._cmd)[:i] for i in range(15)]
        self._rviews = [memoryview(self._rsp)[:i] for i in range(15)]
        cs.value(1)
        self._simple(_RESET)
        if sleep_ms is not None:
            sleep_ms(5)  # oscillator start-up after reset
        self._write(_CNF3, TIMING_500K[crystal_hz])
        self._write(_CANINTE, (0,))
        self._write(_RXB0CTRL, (0x64,))  # any frame, roll over into RXB1
        self._write(_RXB1CTRL, (0x60,))
        self._write(_CANCTRL, (_MODE_NORMAL,))
        if self._read(_CANSTAT) & 0xE0 != _MODE_NORMAL:
            raise OSError("MCP2515 did not enter normal mode")

    def _xfer(self, n):
        self.cs.value(0)
        self.spi.write_readinto(self._views[n], self._rviews[n])
        self.cs.value(1)

    def _simple(self, instruction):
        self._cmd[0] = instruction
        self.cs.value(0)
        self.spi.write(self._views[1])
        self.cs.value(1)

    def _write(self, reg, values):
        c = self._cmd
        c[0] = _WRITE
        c[1] = reg
        for i in range(len(values)):
            c[2 + i] = values[i]
        self.cs.value(0)
        self.spi.write(self._views[2 + len(values)])
        self.cs.value(1)

    def _read(self, reg):
        c = self._cmd
        c[0] = _READ
        c[1] = reg
        c[2] = 0
        self._xfer(3)
        return self._rsp[2]

    def _status(self):
        self._cmd[0] = _READ_STATUS
        self._cmd[1] = 0
        self._xfer(2)
        return self._rsp[1]

    def recv(self, buf):
        status = self._status()
        if status & 1:
            instruction = _READ_RX0
        elif status & 2:
            instruction = _READ_RX1
        else:
            return -1
        c = self._cmd
        c[0] = instruction
        for i in range(1, 14):
            c[i] = 0
        self._xfer(14)
        r = self._rsp
        sid = (r[1] << 3) | (r[2] >> 5)
        if r[2] & 0x08:  # IDE: extended
            self.rx_id = _EXT | (sid << 18) | ((r[2] & 3) << 16) | (r[3] << 8) | r[4]
        else:
            self.rx_id = sid
        n = r[5] & 0x0F
        if n > 8:
            n = 8
        for i in range(n):
            buf[i] = r[6 + i]
        return n

    def send(self, frame_id, buf, length):
        status = self._status()
        for k in range(3):
            if not status & (4 << (2 * k)):  # TXREQ clear: buffer k is free
                break
        else:
            return False
        c = self._cmd
        c[0] = _LOAD_TX[k]
        if frame_id & _EXT:
            fid = frame_id & 0x1FFFFFFF
            sid = fid >> 18
            c[1] = sid >> 3
            c[2] = ((sid & 7) << 5) | 0x08 | ((fid >> 16) & 3)
            c[3] = (fid >> 8) & 0xFF
            c[4] = fid & 0xFF
        else:
            c[1] = (frame_id >> 3) & 0xFF
            c[2] = (frame_id & 7) << 5
            c[3] = 0
            c[4] = 0
        c[5] = length
        for i in range(length):
            c[6 + i] = buf[i]
        self.cs.value(0)
        self.spi.write(self._views[6 + length])
        self.cs.value(1)
        self._simple(_RTS[k])
        return True
