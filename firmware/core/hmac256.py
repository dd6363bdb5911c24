"""HMAC-SHA256 (RFC 2104) over hashlib.sha256, which MicroPython has (it has no hmac).

Incremental, so a configuration can be authenticated chunk by chunk as it arrives
without ever holding it whole: start(), update(...) per chunk, digest().
"""
import hashlib

from micropython import const

_BLOCK = const(64)
SIZE = const(32)


class HmacSha256:
    def __init__(self, key):
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        ipad = bytearray(_BLOCK)
        opad = bytearray(_BLOCK)
        for i in range(_BLOCK):
            k = key[i] if i < len(key) else 0
            ipad[i] = k ^ 0x36
            opad[i] = k ^ 0x5C
        self._ipad = bytes(ipad)
        self._opad = bytes(opad)
        self._inner = None

    def start(self):
        self._inner = hashlib.sha256(self._ipad)

    def update(self, data):
        inner = self._inner
        if inner is None:
            raise ValueError("start() first")
        inner.update(data)

    def digest(self):
        inner = self._inner
        if inner is None:
            raise ValueError("start() first")
        outer = hashlib.sha256(self._opad)
        outer.update(inner.digest())
        self._inner = None
        return outer.digest()


def hmac_sha256(key, data):
    h = HmacSha256(key)
    h.start()
    h.update(data)
    return h.digest()


def equal(a, b):
    """Compare two MACs in time independent of where they differ."""
    if len(a) != len(b):
        return False
    d = 0
    for i in range(len(a)):
        d |= a[i] ^ b[i]
    return d == 0
