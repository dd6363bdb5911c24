"""STM32 and MIMXRT boards with machine.CAN (MicroPython >= 1.28): CAN(1) at 500 kbit/s,
the link on the REPL's console (USB CDC or the debugger's UART), flash in flash.img on
the board's filesystem (docs/boards.md). Registered as "stm32" and "mimxrt"."""
import sys

import machine
from micropython import const

from boards import realboard

BITRATE = const(500000)
BLOCK = const(4096)
SLOT_BLOCKS = const(16)   # 64 kB per configuration slot
EVENT_BLOCKS = const(4)
_EXT = const(0x20000000)


class MachineCan:
    """core's CAN interface on machine.CAN: receive everything, send without waiting."""

    def __init__(self, bus=1):
        can = machine.CAN(bus, BITRATE)
        can.set_filters(None)  # all messages
        self.can = can
        self.rx_id = 0
        self._data = bytearray(64)
        self._msg = [0, memoryview(self._data), 0, 0]  # type: list
        self._tx_buf = None  # type: object
        self._tx_views = []  # type: list

    def recv(self, buf):
        m = self.can.recv(self._msg)
        if m is None:
            return -1
        self.rx_id = m[0] | (_EXT if m[2] & machine.CAN.FLAG_EXT_ID else 0)
        data = m[1]
        n = len(data)
        for i in range(n):
            buf[i] = data[i]
        return n

    def send(self, frame_id, buf, length):
        if self._tx_buf is not buf:
            self._tx_buf = buf
            self._tx_views = [memoryview(buf)[:i] for i in range(9)]
        flags = machine.CAN.FLAG_EXT_ID if frame_id & _EXT else 0
        try:
            return self.can.send(frame_id & 0x1FFFFFFF, self._tx_views[length], flags) is not None
        except OSError:  # bus off: the transmitter counts the failure
            return False


def provision(record):
    realboard.provision(record, BLOCK, SLOT_BLOCKS, EVENT_BLOCKS)


def main(argv):
    board = "stm32" if sys.platform == "pyboard" else sys.platform
    realboard.start(MachineCan(), realboard.StdioPort(), board, machine.reset, realboard.dupterm_off,
                    BLOCK, SLOT_BLOCKS, EVENT_BLOCKS)
