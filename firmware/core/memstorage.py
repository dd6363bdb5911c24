"""Flash in RAM (or in a host file) with power-loss injection, for tests and the sim board.

Implements the block-device protocol of core.persist like a NOR flash: erasing sets a
block to 0xFF, programming can only clear bits (programming over unerased bytes ANDs
them, as on the chip, and is counted in `overwrites` so tests can prove the code always
erases first).

Power loss: every programmed byte costs one step and every block erase two (a cut after
the first leaves the block's first half erased and the rest as it was: a torn erase).
With `cut_after = N` the storage changes exactly N more steps, then raises PowerCut in
the middle of whatever it was doing, and stays dead until `power_on()`. Tests run an
operation once to count its steps, then cut it at every step and reboot from the image.
"""
from core.persist import BlockDevice


class PowerCut(Exception):
    pass


class MemStorage(BlockDevice):
    def __init__(self, block_size=4096, blocks=64, image=None, data=None):
        """A blank chip, or a copy of `image`; `data` (a bytearray of the chip's size) is
        taken as the contents without a copy."""
        self.block_size = block_size
        self.blocks = blocks
        size = block_size * blocks
        if data is not None:
            if len(data) != size:
                raise ValueError("data size does not match the geometry")
            self.data = data
        elif image is None:
            self.data = bytearray(b"\xff" * size)
        else:
            if len(image) != size:
                raise ValueError("image size does not match the geometry")
            self.data = bytearray(image)
        self.steps = 0          # steps taken since construction (or reset by tests)
        self.cut_after = -1     # steps left before the power fails; -1: never
        self.dead = False
        self.overwrites = 0     # bytes programmed without an erase first

    def power_on(self):
        self.cut_after = -1
        self.dead = False

    def _step(self):
        """Take one step; False when the power has just failed."""
        if self.dead:
            raise PowerCut()
        if self.cut_after == 0:
            self.dead = True
            return False
        if self.cut_after > 0:
            self.cut_after -= 1
        self.steps += 1
        return True

    # -- block-device protocol (MicroPython's extended interface) --------------------

    def readblocks(self, block, buf, offset=0):
        if self.dead:
            raise PowerCut()
        a = block * self.block_size + offset
        n = len(buf)
        if a < 0 or a + n > len(self.data):
            raise ValueError("read outside the device")
        data = self.data
        for i in range(n):  # a loop, not a slice: reading allocates nothing, as on a chip
            buf[i] = data[a + i]

    def writeblocks(self, block, buf, offset=0):
        a = block * self.block_size + offset
        n = len(buf)
        if a < 0 or a + n > len(self.data):
            raise ValueError("write outside the device")
        data = self.data
        for i in range(n):
            if not self._step():
                self._written(a, i)
                raise PowerCut()
            if data[a + i] != 0xFF:
                self.overwrites += 1
            data[a + i] &= buf[i]
        self._written(a, n)

    def erase(self, block):
        if block < 0 or block >= self.blocks:
            raise ValueError("erase outside the device")
        bs = self.block_size
        a = block * bs
        half = bs // 2
        if not self._step():
            raise PowerCut()
        self.data[a : a + half] = b"\xff" * half
        if not self._step():
            self._written(a, half)
            raise PowerCut()
        self.data[a + half : a + bs] = b"\xff" * (bs - half)
        self._written(a, bs)

    def _written(self, addr, n):
        """Hook for a backing store (FileStorage) to persist bytes that changed."""
        pass


class FileStorage(MemStorage):
    """MemStorage mirrored to a host file, so the sim board's flash survives restarts."""

    def __init__(self, path, block_size=4096, blocks=64):
        # One buffer of the chip's size, read into in place: a copy of a 0.5 MB image made
        # the heap collect during boot (most of the sim board's start).
        size = block_size * blocks
        data = bytearray(size)
        got = -1
        try:
            with open(path, "rb") as f:
                got = f.readinto(data)
                if got == size and f.read(1):  # larger than this geometry
                    got = -1
        except OSError:
            pass
        if got != size:  # no image, or another geometry: a blank chip
            blank = b"\xff" * block_size
            for a in range(0, size, block_size):
                data[a:a + block_size] = blank
            with open(path, "wb") as f:
                f.write(data)
        MemStorage.__init__(self, block_size, blocks, data=data)
        self.path = path

    def _written(self, addr, n):
        if n:
            with open(self.path, "r+b") as f:
                f.seek(addr)
                f.write(self.data[addr : addr + n])
