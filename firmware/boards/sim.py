"""Simulation board: the firmware as a process whose CAN bus is its stdin and stdout.

The host rig (hil/) bridges these streams to a python-can bus. Records are an 8-byte
header [kind, length, 0, 0, value u32 LE] followed by `length` payload bytes.

  host -> device  F  a CAN frame: value = frame id (bit 29: extended), payload = data
                  T  run one control period: value = time in ms (mod 2**30); header byte 2 =
                     how long to poll for the next record before blocking, in 10 us
                  B  a batch: value = the byte count (at most 8192) of whole records
                     that follow, read in one go (the rig sends each period's frames
                     and its T record as one batch; an open-loop replay sends half a
                     second of drive at a time; the board answers when it is through)
                  Q  stop
  device -> host  F  a frame the governor sent
                  E  an event: value = time, payload = code u8, value i32, flags u8
                     (bit 0: position known), x i32, y i32 (dm from the zone table's origin), LE
                  D  period done: value = microseconds the step took on this machine,
                     payload = microseconds spent waiting for the host since the last D (u32 LE)

In lock-step mode (default) the device runs exactly one control period per T record,
so a run is deterministic and as fast as the two processes can exchange records. With
--realtime the board keeps its own 10 ms schedule on the wall clock and takes frames
as they come, as a real board does.

Its flash is the file DIR/flash.img (--storage DIR), so provisioning, the installed
configuration and the event log survive restarts as on a board. `--provision FILE`
writes a provisioning record (keigov keys) and `--install FILE` installs a signed
configuration (keigov config build) through the device's own checks, before the run;
a refused configuration stops the board with the reason on stderr and exit status 3.
`--tables NAME` runs the signal tables of module NAME in DIR (a vehicle's map compiled by
the host, as `keigov replay` does) instead of the bundled keigov bus.

`--port FD|stdio` serves the serial link (docs/link-protocol.md) on an inherited file
descriptor the host made non-blocking (a pty master), or on the console: the virtual dev
board (hil/keigov_hil/vboard.py) runs this board from its main.py with the link on stdio, as a
pyboard shares its USB serial between the REPL and the link, and its CAN records on two
inherited pipes (`--can IN,OUT`). When mpremote breaks in (core/link.py) the loop
raises KeyboardInterrupt, as Ctrl-C would, and the REPL takes the port.
"""
import gc
import struct
import sys
import time

from micropython import const

from boards.ramcan import RamCan
from core import le, link, persist
from core.app import PERIOD_MS
from core.memstorage import FileStorage
from core.node import EVENT_BLOCKS, SLOT_BLOCKS, Node

TYPE_CHECKING = False  # true for mypy only: the block below never runs
if TYPE_CHECKING:
    from typing import Any  # noqa: F401  read by the type comments below, which ruff does not read

_BLOCK = 4096

# The record protocol's numbers; the host's are keigov.simboard.records (a test mirrors them).
REC_FRAME = const(70)        # F
REC_TICK = const(84)         # T
REC_QUIT = const(81)         # Q
REC_EVENT = const(69)        # E
REC_DONE = const(68)         # D
REC_BATCH = const(66)        # B
REC_HEADER = const(8)        # bytes of a record's header
REC_EVENT_BYTES = const(14)  # bytes of an E record's payload
BATCH_BYTES = const(8192)    # the largest B batch
_MICROPYTHON = sys.implementation.name == "micropython"


class SimWatchdog:
    """Counts feeds; the host sees a missed period as a missing D record."""

    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class StdioLink:
    """Record transport over the process's stdin/stdout (or two inherited streams) with
    preallocated buffers.

    A record is read into `buf` at offset `at` (its header, then its payload): a single
    record into `rec`, the records of a B batch into `batch`, read whole with one call.
    """

    def __init__(self, inp=None, out=None):
        self.inp = inp or sys.stdin.buffer
        # Either interpreter's streams: MicroPython's take write(buf, n) and readinto(buf, n).
        self.out = out or sys.stdout.buffer  # type: Any
        # CPython's buffered stdin would hide data from poll(); read the raw file.
        self._raw_in = getattr(self.inp, "raw", self.inp)  # type: Any
        self.rec = bytearray(REC_HEADER + 64)
        rec = memoryview(self.rec)
        self._hdr_view = rec[:REC_HEADER]
        self._payload_views = [rec[REC_HEADER:REC_HEADER + n] for n in range(65)]
        self.batch = bytearray(BATCH_BYTES)
        self.head = 0          # next record in the batch
        self.end = 0           # end of the batch
        self.buf = self.rec
        self.at = 0
        self.obuf = bytearray(4096)
        self._oview = None if _MICROPYTHON else memoryview(self.obuf)   # CPython writes a view of it
        self.olen = 0
        # MicroPython writes straight to the file, and its flush() is an fsync.
        self._flush = getattr(self.out, "flush", None) if hasattr(self.out, "raw") else None
        import select

        self._poll = select.poll()
        self._poll.register(self._raw_in, select.POLLIN)
        self._ipoll = getattr(self._poll, "ipoll", None)
        self.now_us = getattr(time, "ticks_us", None) or _perf_us      # MicroPython's clock, else CPython's
        self.elapsed = getattr(time, "ticks_diff", None) or _minus
        self.spin_us = 0  # polling budget before blocking: the rig sets it (T records)

    def more(self):
        """Records of the current batch are still to be read."""
        return self.head < self.end

    def ready(self, timeout):
        if self.head < self.end:
            return True
        if self._ipoll is not None:
            for _ in self._ipoll(timeout):
                return True
            return False
        return bool(self._poll.poll(timeout))

    def wait(self):
        """Poll up to `spin_us`, then block, until input is available; returns the
        microseconds waited. A process wake-up costs more than the rig usually takes to
        answer, so polling pays on a quiet machine; when other work wants the cores it
        would only hold one the rig needs. The host knows which (keigov.simboard.process)
        and says so in each T record.
        """
        now = self.now_us
        elapsed = self.elapsed
        t0 = now()
        while not self.ready(0):
            if elapsed(now(), t0) >= self.spin_us:
                self.ready(-1)
                break
        return elapsed(now(), t0)

    def _read_exact(self, view):
        got = self._raw_in.readinto(view)
        if got is None:
            got = 0
        if got == len(view):
            return True
        while got < len(view):  # CPython raw reads may be short; MicroPython's are not
            n = self._raw_in.readinto(view[got:])
            if not n:
                return False
            got += n
        return True

    def _read_batch(self, n):
        if n > BATCH_BYTES:
            return False
        if _MICROPYTHON:       # reads exactly n bytes into the buffer's start, allocating nothing
            return self._raw_in.readinto(self.batch, n) == n
        return self._read_exact(memoryview(self.batch)[:n])

    def read_record(self):
        """The next record into buf/at; returns its kind, or 0 at end of input."""
        while True:
            h = self.head
            if h < self.end:
                b = self.batch
                self.buf = b
                self.at = h
                self.head = h + REC_HEADER + b[h + 1]
                return b[h]
            if not self._read_exact(self._hdr_view):
                return 0
            n = self.rec[1]
            if n and not self._read_exact(self._payload_views[n]):
                return 0
            self.buf = self.rec
            self.at = 0
            if self.rec[0] != REC_BATCH:
                return self.rec[0]
            n = self.value()
            if not self._read_batch(n):
                return 0
            self.head = 0
            self.end = n

    def value(self):
        return le.get_u32(self.buf, self.at + 4)   # below 2**30: a frame id, a time, a batch size

    def length(self):
        return self.buf[self.at + 1]

    def put(self, kind, value, data, offset, length):
        b = self.obuf
        i = self.olen
        if i + REC_HEADER + length > len(b):
            self.flush()
            i = 0
        b[i] = kind
        b[i + 1] = length
        b[i + 2] = 0
        b[i + 3] = 0
        le.put_i32(b, i + 4, value)
        i += REC_HEADER
        for k in range(length):
            b[i + k] = data[offset + k]
        self.olen = i + length

    def flush(self):
        if self.olen:
            view = self._oview
            if view is None:   # MicroPython: a stream writes the first n bytes of a buffer itself, allocating nothing
                self.out.write(self.obuf, self.olen)
            else:
                self.out.write(view[:self.olen])
            self.olen = 0
        if self._flush is not None:
            self._flush()


class StreamPort:
    """The serial link's port on unix streams the host made non-blocking: never waits
    for input, and gives output the pty cannot take 2 ms at most, then drops the rest:
    a host that stops reading must not stretch the control period (it asks again)."""

    def __init__(self, inp, out):
        self.inp = getattr(inp, "raw", inp)    # CPython: unbuffered, so reads return what is there
        self.out = getattr(out, "raw", out)
        self._bufs = [None, None]  # type: list
        self._views = [None, None]  # type: list
        import select

        self._poll = select.poll()
        self._poll.register(self.out, select.POLLOUT)

    def _view(self, k, buf, n):
        """buf[:n] as a memoryview, made once per buffer (the link passes the same ones)."""
        if self._bufs[k] is not buf:
            self._bufs[k] = buf
            self._views[k] = [memoryview(buf)[:i] for i in range(len(buf) + 1)]
        return self._views[k][n]

    def readinto(self, buf, n):
        try:
            return self.inp.readinto(self._view(0, buf, n)) or 0
        except OSError:  # EAGAIN where the stream reports it so
            return 0

    def write(self, buf, n):
        at = 0
        stalls = 0
        while at < n and stalls < 2:
            try:
                k = self.out.write(self._view(1, buf, n) if at == 0 else memoryview(buf)[at:n])
            except OSError:
                k = 0
            if k:
                at += k
            else:
                stalls += 1
                self._poll.poll(1)
        return at


def open_port(spec):
    """`stdio`: the console; a number: an inherited, non-blocking file descriptor."""
    if spec == "stdio":
        return StreamPort(sys.stdin.buffer, sys.stdout.buffer)
    f = open(int(spec), "r+b")  # kept by the board for its life: collecting it closes the fd
    return StreamPort(f, f)


def open_flash(storage_dir):
    blocks = persist.device_blocks(_BLOCK, SLOT_BLOCKS, EVENT_BLOCKS)
    return FileStorage(storage_dir + "/flash.img", _BLOCK, blocks)


def provision(record, argv=None):
    """Flashing-time provisioning from the REPL (keigov flash): write the host's record
    to this board's flash; it is read at the next boot."""
    persist.provision(open_flash(_options(sys.argv[1:] if argv is None else argv)["storage"]), SLOT_BLOCKS,
                      EVENT_BLOCKS, record)


class SimBoard:
    def __init__(self, storage_dir, port=None, can=None, tables=None, provision=None):
        self.tables = tables  # a table module (--tables), or None: the bundled keigov bus
        self.can = RamCan()
        self.watchdog = SimWatchdog()
        self.flash = open_flash(storage_dir)
        if provision is not None:  # flashing-time provisioning (--provision): the boot below reads it
            persist.provision(self.flash, SLOT_BLOCKS, EVENT_BLOCKS, provision)
        self.port = port
        self.link = StdioLink(*can) if can else StdioLink()
        self._evbuf = bytearray(14)
        self.boot()

    def boot(self):
        """Power on: everything the device knows comes from its flash."""
        from tables import keigov_bus

        self.node = Node(self.can, self.watchdog, self.flash, self.tables or keigov_bus, port=self.port)
        self.app = self.node.app
        self._event_seq = 0

    def install(self, path):
        """Flashing-time installation of a signed configuration from a host file (--install),
        then a boot into it; False (reason on stderr) if refused."""
        if path:
            status = self.node.install(_read(path))
            if status != link.OK:
                store = self.node.stored.store
                sys.stderr.write("configuration refused: link status %d, reason %d, detail %d\n"
                                 % (status, store.reason, store.detail))
                return False
            self.boot()
        return True

    def _send_outputs(self):
        can = self.can
        link = self.link
        n = can.take_sent()
        for i in range(n):
            link.put(REC_FRAME, can.tx_id[i], can.tx_data, i * 64, can.tx_len[i])
        log = self.app.log
        seq = self._event_seq
        if seq < log.oldest():
            seq = log.oldest()
        while seq < log.count:
            k = seq % log.capacity
            self._evbuf[0] = log.code[k]
            struct.pack_into("<iBii", self._evbuf, 1, log.value[k], log.flags[k], log.x[k], log.y[k])
            link.put(REC_EVENT, log.time[k], self._evbuf, 0, REC_EVENT_BYTES)
            seq += 1
        self._event_seq = seq

    def _after_step(self):
        if self.node.break_requested:
            self.link.flush()
            raise KeyboardInterrupt  # mpremote broke in: the REPL takes the port
        if self.node.reboot_requested:
            self.boot()
            _collect_boot_garbage()

    def run_lockstep(self):
        link = self.link
        can = self.can
        now = link.now_us
        elapsed = link.elapsed
        buf = self._evbuf
        waited = 0  # microseconds spent waiting for the host this period
        _collect_boot_garbage()
        while True:
            if not link.more():
                waited += link.wait()
            kind = link.read_record()
            if kind == REC_FRAME:
                can.deliver(link.value(), link.buf, link.length(), link.at + REC_HEADER)
            elif kind == REC_TICK:
                link.spin_us = link.buf[link.at + 2] * 10
                t0 = now()
                self.node.step(link.value())
                t1 = now()
                self._send_outputs()
                self._after_step()
                le.put_i32(buf, 0, waited & 0x3FFFFFFF)
                link.put(REC_DONE, elapsed(t1, t0), buf, 0, 4)
                waited = 0
                if not link.more():  # within a batch the host is not waiting: answer at its end
                    link.flush()
            else:  # Q or end of input
                link.flush()
                return

    def run_realtime(self):
        """Own 10 ms schedule on the wall clock; frames from the host as they arrive."""
        link = self.link
        can = self.can
        ticks_ms = getattr(time, "ticks_ms", None) or (lambda: int(time.monotonic() * 1000) & 0x3FFFFFFF)
        ticks_diff = (getattr(time, "ticks_diff", None)
                      or (lambda a, b: ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000))
        _collect_boot_garbage()
        next_t = ticks_ms()
        while True:
            while link.ready(0):
                kind = link.read_record()
                if kind == REC_FRAME:
                    can.deliver(link.value(), link.buf, link.length(), link.at + REC_HEADER)
                elif kind != REC_TICK:
                    link.flush()
                    return
            now = ticks_ms()
            if ticks_diff(now, next_t) >= 0:
                t0 = time.ticks_us() if hasattr(time, "ticks_us") else 0
                self.node.step(now & 0x3FFFFFFF)
                if hasattr(time, "ticks_us"):
                    self.app.note_loop_time(ticks_diff(time.ticks_us(), t0))
                self._send_outputs()
                self._after_step()
                link.flush()
                next_t = (next_t + PERIOD_MS) & 0x3FFFFFFF
            else:
                link.ready(1)


def _minus(a, b):
    return a - b


def _perf_us():
    return time.perf_counter_ns() // 1000


def _collect_boot_garbage():
    """Free what importing and building left behind before the loop starts.

    MicroPython puts a call's frame on the heap when it has more than a few slots (most
    of the step's functions) and frees it on return; gc_alloc searches for room from
    the first free block, so with boot's garbage still allocated each such call scans
    the whole used heap, which made the step several times slower until the first
    collection, which a loop that allocates nothing never triggers.
    """
    gc.collect()


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _options(argv):
    opts = {"storage": ".", "realtime": False, "provision": None, "install": None, "port": None, "can": None,
            "tables": None}
    i = 0
    while i < len(argv):
        name = argv[i][2:]
        if name == "realtime":
            opts[name] = True
        elif name in opts and i + 1 < len(argv):
            opts[name] = argv[i + 1]
            i += 1
        i += 1
    return opts


def main(argv):
    opts = _options(argv)
    port = open_port(opts["port"]) if opts["port"] else None
    can = None
    if opts["can"]:  # two inherited pipe fds, kept open by the board for its life
        fds = opts["can"].split(",")
        can = (open(int(fds[0]), "rb"), open(int(fds[1]), "wb"))
    tables = None
    if opts["tables"]:
        sys.path.insert(0, opts["storage"])
        tables = __import__(opts["tables"])
    board = SimBoard(opts["storage"], port, can, tables, _read(opts["provision"]) if opts["provision"] else None)
    if not board.install(opts["install"]):
        sys.exit(3)
    if opts["realtime"]:
        board.run_realtime()
    else:
        board.run_lockstep()
