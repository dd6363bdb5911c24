"""STM32 pyboard (PYBv1.x, PYBD) with pyb.CAN: CAN(1) on Y3/Y4 at 500 kbit/s, the link on
the USB virtual COM port it shares with the REPL, flash in flash.img (docs/boards.md)."""
import pyb
from micropython import const

from boards import realboard

BITRATE = const(500000)
BLOCK = const(512)        # small blocks: the pyboard's filesystem is about 100 kB
SLOT_BLOCKS = const(32)   # 16 kB per configuration slot
EVENT_BLOCKS = const(4)


class PybCan:
    """core's CAN interface on pyb.CAN. pyb.CAN filters one id length, chosen at init:
    11-bit ids here, as on the governor's own bus (docs/boards.md); sending does both."""

    def __init__(self, bus=1):
        can = pyb.CAN(bus, pyb.CAN.NORMAL)
        can.init(pyb.CAN.NORMAL, baudrate=BITRATE, auto_restart=True)
        can.setfilter(0, pyb.CAN.MASK16, 0, (0, 0, 0, 0))  # every standard id into FIFO 0
        self.can = can
        self.rx_id = 0
        self._data = bytearray(8)
        self._msg = [0, False, False, 0, memoryview(self._data)]  # type: list
        self._tx_buf = None  # type: object
        self._tx_views = []  # type: list

    def recv(self, buf):
        if not self.can.any(0):
            return -1
        self.can.recv(0, self._msg, timeout=0)  # fills the list in place: no allocation
        m = self._msg
        self.rx_id = m[0]
        data = m[4]
        n = len(data)
        for i in range(n):
            buf[i] = data[i]
        return n

    def send(self, frame_id, buf, length):
        if self._tx_buf is not buf:  # the transmitter passes one buffer: its views, made once
            self._tx_buf = buf
            self._tx_views = [memoryview(buf)[:i] for i in range(9)]
        try:
            self.can.send(self._tx_views[length], frame_id & 0x1FFFFFFF, timeout=0,
                          extframe=bool(frame_id & 0x20000000))
        except OSError:  # mailboxes full or bus off: the transmitter counts it
            return False
        return True


class VcpPort:
    """The link on the USB virtual COM port: pyb.USB_VCP never blocks when asked not to."""

    def __init__(self):
        self.vcp = pyb.USB_VCP()
        self._views = []  # type: list
        self._buf = None  # type: object

    def readinto(self, buf, n):
        return self.vcp.readinto(buf, n) or 0

    def write(self, buf, n):
        if self._buf is not buf:
            self._buf = buf
            self._views = [memoryview(buf)[:i] for i in range(len(buf) + 1)]
        return self.vcp.write(self._views[n])


def repl_off():
    """Production: the REPL leaves the UART, and Ctrl-C on USB no longer interrupts."""
    pyb.repl_uart(None)
    pyb.USB_VCP().setinterrupt(-1)


def provision(record):
    realboard.provision(record, BLOCK, SLOT_BLOCKS, EVENT_BLOCKS)


def main(argv):
    realboard.start(PybCan(), VcpPort(), "pyboard", pyb.hard_reset, repl_off, BLOCK, SLOT_BLOCKS, EVENT_BLOCKS)
