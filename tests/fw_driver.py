"""Drives the firmware's link, configuration store and event log from a script of text
commands, under MicroPython or CPython alike (run with firmware/ as the working
directory). Tests run the same script on both and compare the output line by line.

Commands (one per line on stdin; every output line starts with the command's name):
  provision HEX        write a provisioning record, then boot
  wipe                 start over with erased storage
  geometry B S E Z     start over with erased storage of B-byte blocks, S blocks per
                       configuration slot, E event blocks; Z=1 accepts any zones section
  boot                 rebuild every object from the storage image (a reset)
  feed HEX BUDGET      queue bytes on the port, poll(BUDGET) until all are parsed
  event CODE T VALUE [X Y [V]]  append an event to the persisted log (at X, Y dm if given, east
                       and north of the origin of configuration version V's zones, default 0)
  cut N                the power fails after N more storage steps
  power                power back on (then `boot`)
  state                installed version, slot, cap, events, link counters, overwrites
  heap HEX BUDGET      like feed, but with the heap locked: any allocation fails
  pty FD [PERIOD]      serve the link on an inherited pty master until the host hangs up,
                       polling it every PERIOD ms (default: as soon as bytes arrive)
"""
import sys

if __name__ == "__main__":  # run as a script from firmware/; tests import it via fwenv
    sys.path[:0] = [".", "cpython"] if sys.implementation.name != "micropython" else ["."]

from binascii import hexlify, unhexlify  # noqa: E402

import micropython  # noqa: E402

from core import link, persist, service, storage  # noqa: E402
from core.memstorage import MemStorage, PowerCut  # noqa: E402

BLOCK = 256
SLOT_BLOCKS = 8
EVENT_BLOCKS = 3
BUDGET = 128  # bytes per period: above 115200 baud's 115 bytes per 10 ms


class Status:
    def fill(self, v):
        for i in range(service.GOV_FIELDS):
            v[i] = 100 + i


class Port:
    """The link's port over an in-memory input queue and output capture."""

    def __init__(self):
        self.inp = bytearray(4096)
        self.n = 0
        self.at = 0
        self.out = bytearray(4096)
        self.olen = 0

    def load(self, data):
        if len(data) > len(self.inp):
            self.inp = bytearray(len(data))
        self.inp[: len(data)] = data
        self.n = len(data)
        self.at = 0

    def readinto(self, buf, n):
        k = self.n - self.at
        if k > n:
            k = n
        for i in range(k):
            buf[i] = self.inp[self.at + i]
        self.at += k
        return k

    def write(self, buf, n):
        for i in range(n):
            self.out[self.olen + i] = buf[i]
        self.olen += n
        return n


class Device:
    """The firmware's storage-backed objects on one MemStorage; boot() is a reset."""

    def __init__(self, block=BLOCK, slot_blocks=SLOT_BLOCKS, event_blocks=EVENT_BLOCKS, section_checks=None):
        self.block = block
        self.dev = MemStorage(block, persist.device_blocks(block, slot_blocks, event_blocks))
        self.slot_blocks = slot_blocks
        self.event_blocks = event_blocks
        self.section_checks = section_checks
        self.port = Port()
        self.boot()

    def boot(self):
        st = storage.Stored(self.dev, self.slot_blocks, self.event_blocks, b"test-tables", self.section_checks)
        self.layout = st.layout
        self.slots = st.slots
        self.store = st.store
        self.cfg = st.cfg
        self.events = st.events
        self.svc = service.DeviceService("0.1.0-test", "driver", Status(), self.store, self.events,
                                         lambda: link.OK)
        self.link = link.Link(self.port, self.svc)
        self.svc.link = self.link

    def wipe(self):
        """A factory-fresh device: erased storage."""
        self.dev = MemStorage(self.block, persist.device_blocks(self.block, self.slot_blocks, self.event_blocks))
        self.boot()

    def feed(self, data, budget, locked):
        port = self.port
        port.load(data)
        port.olen = 0
        polls = 0
        if locked:
            micropython.heap_lock()
        try:
            while port.at < port.n or self.link._c_off < self.link._c_end:
                self.link.poll(budget)
                polls += 1
        finally:
            if locked:
                micropython.heap_unlock()
        return polls

    def state(self):
        s = self.store
        lk = self.link
        return "version=%d slot=%d cap=%d reason=%d events=%d frames=%d crc=%d bad=%d over=%d drop=%d " \
               "internal=%d overwrites=%d" % (
                   s.version, s.active, self.cfg.cap_ckph, self.cfg.defaults_reason, self.events.next_seq,
                   lk.frames, lk.bad_crc, lk.bad_frame, lk.oversized, lk.dropped, lk.internal,
                   self.dev.overwrites)


def accept_section(src, at, n):
    """Stands in for the zone loader's checks (issue 4) where a test needs zones."""
    return 0


def serve_pty(device, fd, period_ms):
    """Answer requests on a pty master inherited as `fd` (set non-blocking by the host:
    MicroPython's readinto otherwise waits for the whole buffer) until the host hangs
    up; a reboot request rebuilds the device from its storage, as a reset would. With
    period_ms > 0 the link is polled once per period, as a control loop would; with 0
    as soon as bytes arrive."""
    import select
    import time

    f = open(fd, "r+b")
    poller = select.poll()
    poller.register(f, select.POLLIN)

    class TtyPort:
        def readinto(self, buf, n):
            return f.readinto(memoryview(buf)[:n])

        def write(self, buf, n):
            at = 0
            while at < n:
                k = f.write(memoryview(buf)[at:n])
                if k:
                    at += k
                else:
                    poller.poll(1)
            return n

    device.port = TtyPort()
    device.boot()
    print("ready")
    ticks_ms = getattr(time, "ticks_ms", lambda: int(time.monotonic() * 1000))
    next_ms = ticks_ms()
    while True:
        if period_ms:
            wait = next_ms - ticks_ms()
            if wait > 0:
                time.sleep(wait / 1000)
            next_ms += period_ms
        for _obj, ev in poller.poll(0 if period_ms else 10):
            if ev & (select.POLLHUP | select.POLLERR):
                return
        device.link.poll(BUDGET)
        if device.svc.reboot_requested:
            device.boot()


def main():
    d = Device()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd = words[0]
        try:
            if cmd == "provision":
                persist.store_provision(d.layout.prov, unhexlify(words[1]))
                d.boot()
                print("provision", d.state())
            elif cmd == "geometry":
                d = Device(int(words[1]), int(words[2]), int(words[3]),
                           {3: accept_section} if words[4] == "1" else None)
                print("geometry", d.slots.capacity)
            elif cmd == "wipe":
                d.wipe()
                print("wipe")
            elif cmd == "boot":
                d.boot()
                print("boot", d.state())
            elif cmd == "feed" or cmd == "heap":
                polls = d.feed(unhexlify(words[1]), int(words[2]), cmd == "heap")
                print(cmd, polls, hexlify(d.port.out[: d.port.olen]).decode())
            elif cmd == "event":
                origin = (int(words[6]) & 0x7F) << 1 if len(words) > 6 else 0
                at = [1 | origin, int(words[4]), int(words[5])] if len(words) > 5 else [0, 0, 0]
                print("event", d.events.append(int(words[1]), int(words[2]), int(words[3]), *at))
            elif cmd == "cut":
                d.dev.cut_after = int(words[1])
                print("cut", words[1])
            elif cmd == "power":
                d.dev.power_on()
                print("power")
            elif cmd == "state":
                print("state", d.state())
            elif cmd == "pty":
                serve_pty(d, int(words[1]), int(words[2]) if len(words) > 2 else 0)
                return
            else:
                print("unknown", cmd)
        except PowerCut:
            print(cmd, "powercut")


if __name__ == "__main__":
    main()
