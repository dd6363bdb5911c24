"""What every microcontroller board shares: its flash as a file, the console as the link's
port, provisioning from the REPL, and the control loop on the board's own clock.

A board module builds its CAN controller and port and calls `start(...)`; the control logic is
core.node.Node's, untouched. Development and production differ only here (docs/boards.md):

  development  the REPL stays on the port: the link breaks in on mpremote's Ctrl-C
               (core/link.py) and the loop raises KeyboardInterrupt, so the board
               drops to the REPL as Ctrl-C would; no hardware watchdog, which would
               reset a board sitting in the REPL
  production   (the provisioning record's flag) the REPL is detached from the port
               first, Ctrl-C is no interrupt, the hardware watchdog runs, and nothing
               ends the loop: any escaping exception resets the board
"""
import sys
import time

import micropython
from micropython import const

from core import persist
from core.app import PERIOD_MS
from core.node import Node

FLASH_FILE = "flash.img"
_CTRL_C = const(3)


class FileBlockDevice(persist.BlockDevice):
    """The block-device interface core.persist needs, on a file of the board's own
    filesystem (littlefs on rp2, esp32 and mimxrt, FAT on a pyboard), made full size
    once so that writes never grow it."""

    def __init__(self, path, block_size, blocks):
        self.block_size = block_size
        self.blocks = blocks
        try:
            self.f = open(path, "r+b")
        except OSError:
            self.f = None
        if self.f is None or self.f.seek(0, 2) != block_size * blocks:
            if self.f is not None:
                self.f.close()
            self.f = open(path, "w+b")
            blank = b"\xff" * block_size
            for _ in range(blocks):
                self.f.write(blank)
            self.f.flush()

    def readblocks(self, block, buf, offset=0):
        self.f.seek(block * self.block_size + offset)
        self.f.readinto(buf)

    def writeblocks(self, block, buf, offset=0):
        self.f.seek(block * self.block_size + offset)
        self.f.write(buf)
        self.f.flush()

    def erase(self, block):
        self.f.seek(block * self.block_size)
        self.f.write(b"\xff" * self.block_size)
        self.f.flush()


def open_flash(block_size, slot_blocks, event_blocks):
    return FileBlockDevice(FLASH_FILE, block_size, persist.device_blocks(block_size, slot_blocks, event_blocks))


def provision(record, block_size, slot_blocks, event_blocks):
    """From the REPL at flashing time (keigov flash): the next boot reads it."""
    persist.provision(open_flash(block_size, slot_blocks, event_blocks), slot_blocks, event_blocks, record)


class StdioPort:
    """The link on the console (USB CDC or the REPL's UART) through sys.stdin/stdout:
    reads only what select reports waiting, one byte at a time (a board's stdin
    readinto waits for the whole buffer); the link reads at most a COBS block."""

    def __init__(self):
        import select

        self.inp = sys.stdin.buffer
        self.out = sys.stdout.buffer
        self.poll = select.poll()
        self.poll.register(sys.stdin, select.POLLIN)
        self.one = bytearray(1)

    def readinto(self, buf, n):
        got = 0
        while got < n and self.poll.poll(0):
            if not self.inp.readinto(self.one):
                break
            buf[got] = self.one[0]
            got += 1
        return got

    def write(self, buf, n):
        return self.out.write(memoryview(buf)[:n])


class NoWatchdog:
    def feed(self):
        pass


def watchdog(production, timeout_ms=1000):
    """The hardware watchdog in production only: once started it cannot be stopped."""
    if not production:
        return NoWatchdog()
    from machine import WDT

    return WDT(timeout=timeout_ms)


def production_of(dev, slot_blocks, event_blocks):
    prov = persist.load_provision(persist.Layout(dev, slot_blocks, event_blocks).prov)
    return prov is not None and prov.production


def dupterm_off():
    """Production on the machine-API ports: no terminal duplicated onto another stream."""
    import os

    if hasattr(os, "dupterm"):
        os.dupterm(None, 0)


def start(can, port, board, reset, repl_off, block_size, slot_blocks, event_blocks):
    """Boot the device from the board's flash and run it: the same for every board."""
    from tables import keigov_bus

    flash = open_flash(block_size, slot_blocks, event_blocks)
    wdt = watchdog(production_of(flash, slot_blocks, event_blocks))
    node = Node(can, wdt, flash, keigov_bus, port=port, board=board,
                slot_blocks=slot_blocks, event_blocks=event_blocks)
    run(node, reset, repl_off)


def run(node, reset, repl_off):
    """The control loop, one period every PERIOD_MS of the board's clock."""
    production = node.production
    if production:
        repl_off()
    micropython.kbd_intr(-1)  # link frames carry 0x03; reaching the REPL is the link's break-in
    ticks_ms = time.ticks_ms
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
    next_t = ticks_ms()
    now = 0  # the node's ms clock: the periods run, kept below 2**30
    try:
        while True:
            if ticks_diff(ticks_ms(), next_t) < 0:
                continue
            t0 = ticks_us()
            node.step(now)
            node.app.note_loop_time(ticks_diff(ticks_us(), t0))
            next_t = time.ticks_add(next_t, PERIOD_MS)
            now = (now + PERIOD_MS) & 0x3FFFFFFF
            if node.reboot_requested:
                reset()
            if node.break_requested:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        if production:
            reset()
        raise
    except Exception:
        if production:
            reset()  # never the REPL on a production device
        raise
    finally:
        if not production:
            micropython.kbd_intr(_CTRL_C)
