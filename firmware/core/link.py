"""Device side of the serial link: an incremental COBS frame parser and dispatcher.

The board feeds it bytes as they arrive (UART, USB CDC, a pty), a bounded number per
control period, so the link can never starve the loop: `poll(budget)` reads and handles
at most `budget` bytes and answers at most one request. Garbage, truncated, oversized
and corrupted frames are dropped and counted, a bad header gets an error reply; nothing
here raises. Buffers are allocated once; handling a frame allocates nothing of its own.

Wire format (docs/link-protocol.md): every frame is COBS-encoded and ends in 0x00. The
decoded body is [version, command, sequence, status, payload length] + payload (<=
MAX_PAYLOAD bytes) + CRC-16/CCITT-FALSE of everything before it, big-endian. A reply
echoes the sequence number with bit 7 of the command set. The length byte is checked
against the decoded size: a CRC with no final XOR stays valid when a frame grows a
trailing 0x00 (a corrupted delimiter does that), and the length catches it.

The commands themselves live in the handler passed in (core.service.DeviceService):
`handler.handle(cmd, req, n, resp)` gets the request body in `req` (payload from
PAYLOAD, n bytes), writes its reply payload into `resp` from PAYLOAD, sets resp[STATUS]
on an error, and returns the reply payload length.

The port needs the MicroPython stream calls `readinto(buf, nbytes)` (returning the count,
or 0/None when nothing is waiting: it must not block) and `write(buf, nbytes)`.

REPL break-in (`break_in=True`, a development device): the link usually shares its port
with the MicroPython REPL, and mpremote gets to the REPL by sending CR, Ctrl-C. No request
can start with those bytes (a request's first COBS code byte is 4: version, command and a
sequence number that is never 0, then the zero status byte), so at a frame start CR and
LF are skipped and Ctrl-C sets `break_requested`; the board then leaves its loop for the
REPL as a keyboard interrupt would. Reads never go past the end of a COBS block (nor
past one byte at a frame start), so the bytes after the Ctrl-C (mpremote's CR, Ctrl-A)
stay in the port for the REPL. A production device (`break_in=False`) reads in chunks
and treats those bytes as any other.
"""
from micropython import const

from core.crc16 import INIT, update

VERSION = const(1)
MAX_PAYLOAD = const(255)
PAYLOAD = const(5)          # offset of the payload in a frame body
STATUS = const(3)           # offset of the status byte
_LENGTH = const(4)          # offset of the payload length
REPLY = const(0x80)         # command bit set in replies
_CTRL_C = const(3)
_LF = const(10)
_CR = const(13)
_READS_MAX = const(16)      # port reads per poll: a stream of 0x00 read bytewise stays cheap
_OVERHEAD = const(7)        # header (5) + CRC (2)
BODY_MAX = const(262)       # _OVERHEAD + MAX_PAYLOAD
WIRE_MAX = const(266)       # leading 0x00 + COBS(BODY_MAX) (+2 code bytes) + delimiter

# Reply status codes (docs/link-protocol.md, "Status codes").
OK = const(0)
E_VERSION = const(1)        # unsupported protocol version; the reply carries ours
E_UNKNOWN_COMMAND = const(2)
E_LENGTH = const(3)         # request payload has the wrong length for the command
E_ARGUMENT = const(4)       # a field is out of range
E_BUSY = const(5)
E_OFFSET = const(6)         # configuration chunk out of sequence
E_REJECTED = const(7)       # configuration refused; payload: reason, detail
E_STORAGE = const(8)        # storage write or read-back failed
E_NO_TRANSFER = const(9)    # commit without a complete transfer in progress
E_NOT_PROVISIONED = const(10)
E_NOT_FOUND = const(11)     # nothing to read (no configuration installed)
E_INTERNAL = const(15)      # a handler failed; the link carries on


class Link:
    def __init__(self, port, handler, chunk=64, break_in=False):
        self.port = port
        self.handler = handler
        self.break_in = break_in
        self.break_requested = False
        self.rx = bytearray(BODY_MAX)      # decoded request body
        self.body = bytearray(BODY_MAX)    # reply body before encoding
        self.tx = bytearray(WIRE_MAX)      # encoded reply, kept for retransmission
        self.tx_len = 0
        self.chunk = bytearray(chunk)      # bytes read from the port, not yet parsed
        self._c_off = 0
        self._c_end = 0
        self._n = 0          # decoded bytes of the current frame
        self._code = 0       # COBS code of the current block (0: no frame started)
        self._left = 0       # bytes still due in the current block
        self._over = False   # the current frame outgrew BODY_MAX
        self._answered = False
        self._last_seq = -1  # the last request answered, to recognise a retry
        self._last_cmd = 0
        self._last_crc = 0
        # Counters for the status command and for tests.
        self.frames = 0        # requests answered
        self.retries = 0       # retried requests answered from the kept reply
        self.bad_crc = 0
        self.bad_frame = 0     # COBS errors and bodies too short to hold a header
        self.oversized = 0
        self.dropped = 0       # well-formed frames that are not requests
        self.io_errors = 0
        self.internal = 0

    def poll(self, budget):
        """Read and parse at most `budget` bytes from the port; returns the bytes parsed."""
        used = 0
        reads = 0
        chunk = self.chunk
        while used < budget and not self.break_requested:
            if self._c_off >= self._c_end:
                if reads >= _READS_MAX:
                    break
                reads += 1
                want = budget - used
                if want > len(chunk):
                    want = len(chunk)
                if self.break_in:  # never read past a frame's end: a Ctrl-C may follow
                    if not self._code or self._over:
                        want = 1
                    elif self._left < want:
                        want = self._left + 1  # the block, then its successor's code or the delimiter
                try:
                    got = self.port.readinto(chunk, want)
                except OSError:
                    self.io_errors += 1
                    got = 0
                if not got:
                    break
                self._c_off = 0
                self._c_end = got
            k = self._c_end - self._c_off
            if k > budget - used:
                k = budget - used
            k = self.feed(chunk, self._c_off, k)
            self._c_off += k
            used += k
            if self._answered:  # one reply per call keeps the period's work bounded
                break
        return used

    def feed(self, buf, off, n):
        """Parse buf[off:off+n]; stops after answering a request. Returns bytes consumed."""
        rx = self.rx
        self._answered = False
        got = self._n       # the decoder state lives in locals while the bytes run
        code = self._code
        left = self._left
        over = self._over
        i = off
        end = off + n
        while i < end:
            b = buf[i]
            i += 1
            if b == 0:  # delimiter: the frame ends here, whatever state it is in
                if code:
                    if over:
                        self.oversized += 1
                    elif left:
                        self.bad_frame += 1
                    else:
                        self._frame(got)
                got = code = left = 0
                over = False
                if self._answered:
                    break
            elif not code and self.break_in and (b == _CTRL_C or b == _CR or b == _LF):
                if b == _CTRL_C:  # mpremote (or a person) wants the REPL
                    self.break_requested = True
                    break
            elif over:
                pass
            elif left:
                if got < BODY_MAX:
                    rx[got] = b
                    got += 1
                else:
                    over = True
                left -= 1
            else:  # a code byte starts a block; the previous block implied a 0x00
                if code and code != 0xFF:
                    if got < BODY_MAX:
                        rx[got] = 0
                        got += 1
                    else:
                        over = True
                code = b
                left = b - 1
        self._n = got
        self._code = code
        self._left = left
        self._over = over
        return i - off

    def _frame(self, n):
        rx = self.rx
        if n < _OVERHEAD or rx[_LENGTH] != n - _OVERHEAD:
            self.bad_frame += 1
            return
        crc = update(INIT, rx, 0, n - 2)
        if (rx[n - 2] << 8 | rx[n - 1]) != crc:
            self.bad_crc += 1
            return
        cmd = rx[1]
        if cmd & REPLY:
            self.dropped += 1
            return
        seq = rx[2]
        if seq == self._last_seq and cmd == self._last_cmd and crc == self._last_crc:
            self.retries += 1  # our reply was lost: send the same one, do not act twice
            self._send()
            return
        body = self.body
        body[0] = VERSION
        body[1] = cmd | REPLY
        body[2] = seq
        body[STATUS] = OK
        length = 0
        if rx[0] != VERSION:
            body[STATUS] = E_VERSION
        else:
            try:
                length = self.handler.handle(cmd, rx, n - _OVERHEAD, body)
            except Exception:  # a handler bug must not take the control loop down
                self.internal += 1
                body[STATUS] = E_INTERNAL
                length = 0
            if length < 0 or length > MAX_PAYLOAD:
                body[STATUS] = E_INTERNAL
                length = 0
        body[_LENGTH] = length
        self._last_seq = seq
        self._last_cmd = cmd
        self._last_crc = crc
        self.frames += 1
        self._encode(PAYLOAD + length)
        self._send()

    def _encode(self, n):
        """COBS-encode body[0:n] + CRC into tx as 0x00, data, 0x00."""
        body = self.body
        crc = update(INIT, body, 0, n)
        body[n] = crc >> 8
        body[n + 1] = crc & 0xFF
        n += 2
        tx = self.tx
        tx[0] = 0
        code_at = 1
        o = 2
        code = 1
        for i in range(n):
            b = body[i]
            if b == 0:
                tx[code_at] = code
                code_at = o
                o += 1
                code = 1
            else:
                tx[o] = b
                o += 1
                code += 1
                if code == 0xFF:
                    tx[code_at] = code
                    code_at = o
                    o += 1
                    code = 1
        tx[code_at] = code
        tx[o] = 0
        self.tx_len = o + 1

    def _send(self):
        self._answered = True
        try:
            self.port.write(self.tx, self.tx_len)
        except OSError:
            self.io_errors += 1
