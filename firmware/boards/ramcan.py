"""A CAN controller in RAM: preallocated receive ring and transmit capture.

Used by the simulation board (frames arrive over the host link) and by tests that drive
the core directly. Same interface as every board's CAN driver:
  send(frame_id, buf, length) -> bool   (bit 29 of frame_id marks an extended id)
  recv(buf) -> length, or -1 when empty; the id is left in `rx_id`.
"""
from array import array


class RamCan:
    def __init__(self, depth=64, tx_depth=32):
        self.depth = depth
        self._rx_id = array("i", [0] * depth)
        self._rx_len = bytearray(depth)
        self._rx_data = bytearray(depth * 64)
        self._head = 0
        self._count = 0
        self.rx_id = 0
        self.overruns = 0
        self.tx_depth = tx_depth
        self.tx_id = array("i", [0] * tx_depth)
        self.tx_len = bytearray(tx_depth)
        self.tx_data = bytearray(tx_depth * 64)
        self.tx_count = 0

    def deliver(self, frame_id, data, length, offset=0):
        """Queue a received frame (the simulated wire): `length` bytes of `data` from
        `offset`. Drops it when the ring is full."""
        if self._count >= self.depth:
            self.overruns += 1
            return False
        i = (self._head + self._count) % self.depth
        self._rx_id[i] = frame_id
        self._rx_len[i] = length
        base = i * 64
        d = self._rx_data
        for k in range(length):
            d[base + k] = data[offset + k]
        self._count += 1
        return True

    def recv(self, buf):
        if not self._count:
            return -1
        i = self._head
        n = self._rx_len[i]
        base = i * 64
        d = self._rx_data
        for k in range(n):
            buf[k] = d[base + k]
        self.rx_id = self._rx_id[i]
        self._head = (i + 1) % self.depth
        self._count -= 1
        return n

    def send(self, frame_id, buf, length):
        if self.tx_count >= self.tx_depth:
            return False
        i = self.tx_count
        self.tx_id[i] = frame_id
        self.tx_len[i] = length
        base = i * 64
        d = self.tx_data
        for k in range(length):
            d[base + k] = buf[k]
        self.tx_count = i + 1
        return True

    def take_sent(self):
        """Number of frames sent since the last call; they stay readable until then."""
        n = self.tx_count
        self.tx_count = 0
        return n
