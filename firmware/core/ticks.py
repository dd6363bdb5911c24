"""Millisecond tick arithmetic that survives wrap-around.

Board clocks count milliseconds modulo 2**30, as MicroPython's time.ticks_ms() does, so
tick values are always small ints on 32-bit ports.
"""
from micropython import const

_PERIOD_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def diff(now, then):
    """Signed ms from `then` to `now`, correct across one wrap."""
    return ((now - then + _HALF) & _PERIOD_MASK) - _HALF


def add(t, delta):
    return (t + delta) & _PERIOD_MASK
