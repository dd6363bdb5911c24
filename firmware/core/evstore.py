"""The event log on storage: a ring of fixed-size records that survives resets.

Record (24 bytes, little-endian): seq u32 | code u8 | flags u8 | time i32 | value i32 |
x i32 | y i32 | CRC-16 u16 of bytes 0..21. `time` is the board's ms tick (a BOOT event
starts each run), x/y the position when flags bit 0 is set. Records never straddle an
erase block; sequence number `seq` always lives in record slot `seq % slots`, so a read
needs no index. The block holding the next slot is erased when the ring enters it, which
drops the oldest records a block at a time; `oldest()` is the first one guaranteed kept.

Boot: `scan()` reads every slot; the newest valid record fixes the next sequence number.
A record torn by a power cut fails its CRC and is skipped, and its slot (neither valid
nor erased) is never written again until its block is erased: the record after it takes
the next slot and the next number, so numbers stay unique and readers see a gap.
"""
from micropython import const

from core import le
from core.crc16 import crc16

RECORD = const(24)
WIRE_RECORD = const(22)   # the record without its CRC, as the link sends it
FLAG_POSITION = const(1)
_SEQ_LIMIT = const(0x3FFFFFFF)
_ERASED = b"\xff" * RECORD


class EventStore:
    def __init__(self, region):
        self.region = region
        self.per_block = region.block_size // RECORD
        self.blocks = region.size // region.block_size
        if self.per_block < 1 or self.blocks < 2:
            raise ValueError("the event region needs two blocks of at least one record")
        self.slots = self.per_block * self.blocks
        self.next_seq = 0
        self.appended = 0      # records written since boot
        self.failed = 0        # appends whose read-back did not match
        self._rec = bytearray(RECORD)
        self._back = bytearray(RECORD)
        self.scan()

    def _addr(self, slot):
        return (slot // self.per_block) * self.region.block_size + (slot % self.per_block) * RECORD

    def _load(self, slot, buf):
        """Read a slot into buf; its seq if the record is valid, -1 if not, -2 if erased."""
        self.region.readinto(self._addr(slot), buf)
        if buf == _ERASED:  # compared in C: boot scans every slot, most of them erased
            return -2
        if le.get_u16(buf, 22) != crc16(buf, 0, 22):
            return -1
        return le.get_u32(buf, 0)

    def scan(self):
        """Every slot, a block at a time: an erased block (most of a young log) is one read
        and one comparison instead of a read per slot (680 of them, twice a sim boot)."""
        newest = -1
        size = self.region.block_size
        block = bytearray(size)            # boot only: freed with boot's garbage
        erased = b"\xff" * size
        for b in range(self.blocks):
            self.region.readinto(b * size, block)
            if block == erased:
                continue
            for slot in range(b * self.per_block, (b + 1) * self.per_block):
                seq = self._load(slot, self._rec)
                if seq >= 0 and seq % self.slots == slot and seq > newest:
                    newest = seq
        self.next_seq = newest + 1

    def oldest(self):
        """The oldest sequence number certain to be kept (older ones may be gone)."""
        n = self.next_seq - (self.slots - self.per_block)
        return n if n > 0 else 0

    def append(self, code, time, value, flags, x, y):
        """Persist one event; returns its sequence number, or -1 if storage failed."""
        seq = self.next_seq
        for _ in range(self.per_block + 1):
            if seq >= _SEQ_LIMIT:
                return -1
            slot = seq % self.slots
            if slot % self.per_block == 0:
                self.region.erase(self._addr(slot))
                break
            if self._load(slot, self._back) == -2:
                break
            seq += 1  # a torn record from before a power cut: leave it, take the next slot
        r = self._rec
        le.put_i32(r, 0, seq)
        r[4] = code
        r[5] = flags
        le.put_i32(r, 6, time)
        le.put_i32(r, 10, value)
        le.put_i32(r, 14, x)
        le.put_i32(r, 18, y)
        le.put_u16(r, 22, crc16(r, 0, 22))
        self.next_seq = seq + 1
        a = self._addr(slot)
        self.region.write(a, r)
        self.region.readinto(a, self._back)
        if self._back != r:
            self.failed += 1
            return -1
        self.appended += 1
        return seq

    def read(self, seq, out, off):
        """Copy record `seq` (without its CRC) to out[off:off+22]; False if it is not kept."""
        if seq < 0 or seq >= self.next_seq:
            return False
        buf = self._back
        if self._load(seq % self.slots, buf) != seq:
            return False
        for i in range(WIRE_RECORD):
            out[off + i] = buf[i]
        return True

    def drain(self, log, cursor, limit):
        """Persist RAM-log events from sequence `cursor` on, at most `limit` of them.

        Returns the new cursor. Events the RAM ring already overwrote are skipped.
        """
        if cursor < log.oldest():
            cursor = log.oldest()
        n = 0
        while cursor < log.count and n < limit:
            k = cursor % log.capacity
            self.append(log.code[k], log.time[k], log.value[k], log.flags[k], log.x[k], log.y[k])
            cursor += 1
            n += 1
        return cursor
