"""The link wired to the real governor the way a board does it, each control period:

    gov.step(now); link.poll(BUDGET)            (heap locked: neither may allocate)
    cursor = stored.events.drain(gov.log, cursor, 2)

Reads the bytes to flood the port with (hex) from stdin, runs PERIODS periods and prints
`ok frames internal persisted_events state replies_hex`. Run from firmware/ under
MicroPython or CPython.
"""
import sys

sys.path[:0] = [".", "cpython"] if sys.implementation.name != "micropython" else ["."]

from binascii import hexlify, unhexlify  # noqa: E402

import micropython  # noqa: E402

from boards.ramcan import RamCan  # noqa: E402
from core import link, persist, service, storage  # noqa: E402
from core.app import Governor  # noqa: E402
from core.memstorage import MemStorage  # noqa: E402
from fw_driver import Port  # noqa: E402
from tables import keigov_bus  # noqa: E402

PERIODS = 300
BUDGET = 128


class Watchdog:
    def feed(self):
        pass


def main():
    port = Port()
    port.load(unhexlify(sys.stdin.readline().strip()))
    port.out = bytearray(len(port.inp) * 4 + 4096)
    dev = MemStorage(1024, persist.device_blocks(1024, 2, 2))
    stored = storage.Stored(dev, 2, 2, keigov_bus.SOURCE.encode())
    gov = Governor(RamCan(), Watchdog(), keigov_bus, stored.cfg)
    svc = service.DeviceService("0.1.0", "sim", service.GovernorStatus(gov), stored.store, stored.events,
                                lambda: link.OK)
    lk = link.Link(port, svc)
    svc.link = lk
    cursor = 0
    for now in range(0, PERIODS * 10, 10):
        micropython.heap_lock()
        try:
            gov.step(now)
            lk.poll(BUDGET)
        finally:
            micropython.heap_unlock()
        cursor = stored.events.drain(gov.log, cursor, 2)
    print("ok", lk.frames, lk.internal, stored.events.next_seq, gov.safety.state,
          hexlify(port.out[: port.olen]).decode())


main()
