"""Persistent storage: the block-device interface, its layout, A/B configuration slots
and the provisioning record.

BlockStorage is the subset of MicroPython's extended block-device protocol (the one
`vfs` uses) that flash needs, so rp2.Flash, esp32.Partition or a pyb.Flash partition can
be passed in directly:
  readblocks(block, buf, offset)    fill buf from byte `offset` of `block` on (may span blocks)
  writeblocks(block, buf, offset)   program buf there; the bytes must have been erased
  ioctl(4, 0) -> block count, ioctl(5, 0) -> block size, ioctl(6, block) erase one block
core.memstorage.MemStorage implements it in RAM with power-loss injection.

Layout, in blocks from the start of the device: [provisioning: enough for its 66 bytes]
[slot A: n][slot B: n][events: m]. A configuration slot is a 16-byte header then the configuration blob:
  0 magic "KGSL" | 4 version u32 | 8 length u32 | 12 blob CRC-16 u16 | 14 header CRC-16 u16
A new configuration goes to the slot not in use: its blocks are erased as the write
reaches them, each chunk is read back and compared, and the header is written last. A
power cut at any point leaves that slot without a valid header, so the slot in use
stays the one that loads; the slot in use is never written. All integers little-endian.
"""
from micropython import const

from core import le
from core.crc16 import INIT, crc16, update

HEADER = const(16)
PROV_SIZE = const(66)
_MAGIC = b"KGSL"
_IOCTL_COUNT = const(4)
_IOCTL_SIZE = const(5)
_IOCTL_ERASE = const(6)


class BlockDevice:
    """The ioctl half of the protocol for a block device of `blocks` blocks of
    `block_size` bytes that erases one block with `erase(block)`."""

    blocks: int
    block_size: int

    def erase(self, block):
        raise NotImplementedError

    def ioctl(self, op, arg):
        if op == _IOCTL_COUNT:
            return self.blocks
        if op == _IOCTL_SIZE:
            return self.block_size
        if op == _IOCTL_ERASE:
            self.erase(arg)
            return 0
        return None


class Region:
    """Bytes [base, base + size) of a block device, addressed from 0."""

    def __init__(self, dev, base_block, blocks):
        self.dev = dev
        self.block_size = dev.ioctl(_IOCTL_SIZE, 0)
        self.base = base_block * self.block_size
        self.size = blocks * self.block_size
        if base_block < 0 or base_block + blocks > dev.ioctl(_IOCTL_COUNT, 0):
            raise ValueError("region outside the device")

    def _addr(self, off, n):
        if off < 0 or off + n > self.size:
            raise ValueError("access outside the region")
        return self.base + off

    def readinto(self, off, buf):
        a = self._addr(off, len(buf))
        self.dev.readblocks(a // self.block_size, buf, a % self.block_size)

    def write(self, off, buf):
        a = self._addr(off, len(buf))
        self.dev.writeblocks(a // self.block_size, buf, a % self.block_size)

    def erase(self, off):
        """Erase the block that starts at `off`."""
        a = self._addr(off, self.block_size)
        if a % self.block_size:
            raise ValueError("erase not on a block boundary")
        self.dev.ioctl(_IOCTL_ERASE, a // self.block_size)


def _prov_blocks(block_size):
    return (PROV_SIZE + block_size - 1) // block_size


def device_blocks(block_size, slot_blocks, event_blocks):
    """Blocks a device needs for this layout."""
    return _prov_blocks(block_size) + 2 * slot_blocks + event_blocks


class Layout:
    def __init__(self, dev, slot_blocks, event_blocks):
        p = _prov_blocks(dev.ioctl(_IOCTL_SIZE, 0))
        self.prov = Region(dev, 0, p)
        self.slot_a = Region(dev, p, slot_blocks)
        self.slot_b = Region(dev, p + slot_blocks, slot_blocks)
        self.events = Region(dev, p + 2 * slot_blocks, event_blocks)


def _equal(buf, other, n):
    for i in range(n):
        if buf[i] != other[i]:
            return False
    return True


class BlobView:
    """The blob stored in one slot, read as `readinto(offset, buf)` from its first byte."""

    def __init__(self, region):
        self.region = region

    def readinto(self, off, buf):
        self.region.readinto(HEADER + off, buf)


class ConfigSlots:
    def __init__(self, slot_a, slot_b):
        self.regions = (slot_a, slot_b)
        self.views = (BlobView(slot_a), BlobView(slot_b))
        self.capacity = min(slot_a.size, slot_b.size) - HEADER
        self.valid = [False, False]
        self.version = [0, 0]
        self.length = [0, 0]
        self.crc = [0, 0]
        self._hdr = bytearray(HEADER)
        self._buf = bytearray(256)
        self._back = bytearray(256)
        self._w = -1          # slot being written, -1 none
        self.written = 0      # blob bytes written so far
        self._w_erased = 0    # slot bytes erased so far (from the slot's start)
        self._w_crc = INIT
        for i in range(2):
            self.check(i)

    def check(self, i):
        """Read slot i's header and CRC its blob; sets valid/version/length."""
        self.valid[i] = False
        region = self.regions[i]
        h = self._hdr
        try:
            region.readinto(0, h)
        except ValueError:
            return False
        if h[0:4] != _MAGIC or le.get_u16(h, 14) != crc16(h, 0, 14):
            return False
        version = le.get_u32(h, 4)
        length = le.get_u32(h, 8)
        if version <= 0 or length < 0 or length > self.capacity:
            return False
        if self.blob_crc(i, length) != le.get_u16(h, 12):
            return False
        self.version[i] = version
        self.length[i] = length
        self.crc[i] = le.get_u16(h, 12)
        self.valid[i] = True
        return True

    def blob_crc(self, i, length):
        region = self.regions[i]
        buf = self._buf
        mv = memoryview(buf)
        crc = INIT
        at = 0
        while at < length:
            n = length - at
            if n > len(buf):
                n = len(buf)
            region.readinto(HEADER + at, mv[:n])
            crc = update(crc, buf, 0, n)
            at += n
        return crc

    # -- writing a new configuration into slot `i` (never the one in use) ------------

    def begin(self, i):
        self._w = i
        self.written = 0
        self._w_erased = 0
        self._w_crc = INIT

    def write(self, data, off, n):
        """Append data[off:off+n] to the blob; False if the slot is full or read-back differs."""
        i = self._w
        if i < 0 or self.written + n > self.capacity:
            return False
        region = self.regions[i]
        start = HEADER + self.written
        while self._w_erased < start + n:
            self.valid[i] = False
            region.erase(self._w_erased)
            self._w_erased += region.block_size
        src = memoryview(data)[off : off + n]
        region.write(start, src)
        back = memoryview(self._back)[:n]
        region.readinto(start, back)
        if not _equal(back, src, n):
            return False
        self._w_crc = update(self._w_crc, data, off, off + n)
        self.written += n
        return True

    def finish(self, version):
        """Write the header that makes the slot valid, and read it back."""
        i = self._w
        if i < 0:
            return False
        self._w = -1
        region = self.regions[i]
        if self._w_erased == 0:  # an empty blob still needs its header block erased
            self.valid[i] = False
            region.erase(0)
        h = self._hdr
        h[0:4] = _MAGIC
        le.put_i32(h, 4, version)
        le.put_i32(h, 8, self.written)
        le.put_u16(h, 12, self._w_crc)
        le.put_u16(h, 14, crc16(h, 0, 14))
        region.write(0, h)
        return self.check(i)

    def abandon(self):
        self._w = -1


# -- provisioning record: who the device is, its key and the bounds on its cap -------

_PROV_MAGIC = b"KGPV"
KEY_SIZE = const(32)
PROV_PRODUCTION = const(1)   # flags bit 0: no REPL on the link port, the link is the only way in


class Provision:
    """The record `keigov keys new` makes and flashing writes to the first block:
    0 "KGPV" | 4 format 1 | 5 flags | 6 two zero bytes | 8 device id (16, NUL-padded ASCII) |
    24 key (32) | 56 cap_min_ckph u32 | 60 cap_max_ckph u32 | 64 CRC-16 u16 of bytes 0..63
    Flags: PROV_PRODUCTION. A record written before flags existed has 0 there.
    """

    def __init__(self, device_id, key, cap_min, cap_max, flags=0):
        self.device_id = device_id   # bytes, 16, NUL-padded
        self.key = key               # bytes, 32
        self.cap_min = cap_min
        self.cap_max = cap_max
        self.production = bool(flags & PROV_PRODUCTION)


def load_provision(region):
    """The provisioning record, or None if there is no valid one."""
    b = bytearray(PROV_SIZE)
    region.readinto(0, b)
    if b[0:4] != _PROV_MAGIC or b[4] != 1 or le.get_u16(b, 64) != crc16(b, 0, 64):
        return None
    cap_min = le.get_u32(b, 56)
    cap_max = le.get_u32(b, 60)
    if cap_min < 0 or cap_max < cap_min:
        return None
    return Provision(bytes(b[8:24]), bytes(b[24:56]), cap_min, cap_max, b[5])


def provision(dev, slot_blocks, event_blocks, record):
    """Flashing-time provisioning of a device's flash `dev`: its next boot reads the record."""
    store_provision(Layout(dev, slot_blocks, event_blocks).prov, record)


def store_provision(region, record):
    """Write a provisioning record made by the host (erases the block first)."""
    if len(record) != PROV_SIZE:
        raise ValueError("a provisioning record is %d bytes" % PROV_SIZE)
    for off in range(0, region.size, region.block_size):
        region.erase(off)
    region.write(0, record)
