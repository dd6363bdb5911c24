"""A virtual dev board: the firmware on MicroPython behind a pseudo-terminal, its CAN on a
python-can bus.

What a USB dev board is, made of processes:

  MCU          the MicroPython unix port running hil/keigov_hil/vboard_rom.py (a board's boot and
               REPL) in the board's filesystem directory DIR/fs, with the pty master as
               its console. At boot main.py runs the firmware's sim board in realtime
               with the serial link on the console, as a pyboard shares its USB serial
               between the REPL and the link, and its flash in DIR/flash.img.
  USB serial   the pty: tools open its slave path (`port`) like /dev/ttyACM0. This
               object keeps the slave open too, so the port stays up while no tool is
               connected and across resets (a reset restarts the MCU process).
  CAN          two pipes to the MCU carrying the sim board's records, bridged here to a
               python-can bus: any interface python-can has. A bus frame that finds the
               pipe full (the MCU sits in its REPL) is dropped, as a full receive FIFO
               drops it.

python-can's `virtual` interface only reaches buses in the same process, so a rig on
the virtual interface runs in the process that holds the board (the tests do this); a
board started by `keigov board` in its own process needs an interface that crosses
processes (socketcan on a vcan, udp_multicast).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import tty
from pathlib import Path
from typing import BinaryIO

import can

from keigov import fwbuild, paths
from keigov.bus import IN_PROCESS, BusOptions, open_bus
from keigov.errors import EnvironmentProblem
from keigov.simboard import records as rec
from keigov.simboard.runtimes import MicroPythonRuntime
from keigov.virtualbus import INTERFACE

ROM = Path(__file__).with_name("vboard_rom.py")
EXIT_HARD, EXIT_SOFT, EXIT_SOFT_RAW = 80, 81, 82  # hil/keigov_hil/vboard_rom.py
HEAP = "heapsize=2M"


def install_sources(fs: Path) -> None:
    """The factory image: the firmware's sources, as a board that was never flashed with
    `keigov flash` but had the sim board's list (firmware/manifest.py) copied over."""
    for rel in fwbuild.sources(fwbuild.target("sim")):
        (fs / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(paths.FIRMWARE / rel, fs / rel)


class VirtualBoard:
    def __init__(self, root: Path, *, interface: str = INTERFACE, channel: str | None = None,
                 bus_options: BusOptions = (), factory_firmware: bool = True) -> None:
        self.root = root.resolve()
        if " " in str(self.root):
            raise EnvironmentProblem("the board's directory must not contain spaces", where=str(root))
        self.fs = self.root / "fs"
        self.interface, self.channel, self.bus_options = interface, channel, bus_options
        self.factory_firmware = factory_firmware
        self.port = ""
        self.boots = 0            # MCU processes started: 1 + resets
        self.frames_in = self.frames_out = self.frames_dropped = 0
        self._bus: can.BusABC | None = None
        self._master = self._slave = -1
        self._to_mcu = -1
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self._log: BinaryIO | None = None

    def start(self) -> str:
        """Power on; returns the serial port's path."""
        self.fs.mkdir(parents=True, exist_ok=True)
        if self.factory_firmware and not (self.fs / "main.py").exists():
            install_sources(self.fs)
        if self.interface in IN_PROCESS and self.channel is None:
            self.channel = f"keigov-board-{os.getpid()}-{id(self):x}"
        self._bus = open_bus(self.interface, self.channel, self.bus_options)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._exe = MicroPythonRuntime("micropython", "").executable()
        self._log = open(self.root / "board.log", "ab")
        for target in (self._run, self._bus_to_mcu):
            t = threading.Thread(target=target, daemon=True, name=f"vboard-{target.__name__}")
            t.start()
            self._threads.append(t)
        return self.port

    def __enter__(self) -> VirtualBoard:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        for t in self._threads:
            while t.is_alive():  # kill the MCU until the thread that restarts it has seen the close
                proc = self._proc
                if proc and proc.poll() is None:
                    proc.kill()
                t.join(timeout=0.5)
        self._threads = []
        if self._log:
            self._log.close()
            self._log = None
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
        if self._bus:
            self._bus.shutdown()
            self._bus = None

    # -- the MCU -------------------------------------------------------------------

    def _spawn(self, mode: str) -> tuple[subprocess.Popen[bytes], int]:
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        os.set_blocking(to_w, False)
        hw = f"--board sim --storage {self.root} --realtime --port stdio --can {to_r},{from_w}"
        proc = subprocess.Popen(
            [self._exe, "-X", HEAP, str(ROM), "--fs", str(self.fs), "--mode", mode, "--hw", hw],
            stdin=self._master, stdout=self._master, stderr=self._log or subprocess.DEVNULL,
            pass_fds=(to_r, from_w), cwd=self.fs)
        os.close(to_r)
        os.close(from_w)
        with self._lock:
            self._to_mcu = to_w
        self.boots += 1
        return proc, from_r

    def _run(self) -> None:
        """Start the MCU, carry its frames to the bus, start it again after each reset."""
        mode = "boot"
        while not self._closing.is_set():
            self._proc, from_mcu = self._spawn(mode)
            self._mcu_to_bus(from_mcu)
            os.close(from_mcu)
            status = self._proc.wait()
            with self._lock:
                os.close(self._to_mcu)
                self._to_mcu = -1
            if status not in (EXIT_HARD, EXIT_SOFT, EXIT_SOFT_RAW) and not self._closing.is_set():
                if self._log:
                    self._log.write(f"vboard: the MCU stopped with status {status}; restarting\n".encode())
                    self._log.flush()
                time.sleep(0.2)  # a crash loop must not spin
            mode = "raw" if status == EXIT_SOFT_RAW else "boot"

    def _mcu_to_bus(self, fd: int) -> None:
        while True:
            head = _read_exact(fd, rec.HEADER.size)
            if head is None:
                return
            kind, n, value = rec.HEADER.unpack(head)
            payload = _read_exact(fd, n) if n else b""
            if payload is None:
                return
            if kind == rec.FRAME and self._bus is not None:
                frame_id, extended = rec.frame_id(value)
                try:
                    self._bus.send(can.Message(arbitration_id=frame_id, data=payload, is_extended_id=extended))
                    self.frames_out += 1
                except can.CanError:
                    self.frames_dropped += 1

    def _bus_to_mcu(self) -> None:
        while not self._closing.is_set():
            bus = self._bus
            msg = bus.recv(timeout=0.1) if bus is not None else None
            if msg is None or msg.is_error_frame or msg.is_remote_frame:
                continue
            record = rec.frame(msg.arbitration_id, msg.data, msg.is_extended_id)
            with self._lock:
                fd = self._to_mcu
                try:
                    if fd < 0:
                        raise BlockingIOError
                    os.write(fd, record)  # below PIPE_BUF: all of it or nothing
                    self.frames_in += 1
                except (BlockingIOError, BrokenPipeError):
                    self.frames_dropped += 1


def _read_exact(fd: int, n: int) -> bytes | None:
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            return None
        out += chunk
    return out
