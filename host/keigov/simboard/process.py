"""The firmware as a child process, spoken to in sim-board records over its stdio.

Lock-step: `begin_step(t_ms, records)` hands the device every frame that reached it since
the last period (as `records.frame`s) and starts exactly one control period, all in one B
record (the device reads a period in two reads); `end_step()` returns what the device
sent in its oldest period not yet collected, the events it recorded and how long its
step took. The device runs periods in order, so a caller may start period k before
collecting period k-1 and work while the device computes (the rig does: see rig.py).
Both ends poll before blocking while the machine is quiet (see Contention); each T record
tells the device for how long.
"""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from keigov.errors import KeigovError
from keigov.simboard import records as rec
from keigov.simboard.runtimes import Runtime

_HDR = rec.HEADER
_POLL_S = 500e-6                        # polling budget of both ends on a quiet machine
_SAMPLE_EVERY = 8                       # periods between looks at the machine's run queue


class Contention:
    """Whether other processes want the cores, from the kernel's count of runnable tasks.

    Both ends of the link poll before blocking, because a process wake-up costs more than
    a period's exchange. That pays while the rig and the device have a core each; with a
    third runnable process on a 2-core machine a poller holds a core the other end needs,
    and each end waits for the other's time slice (a run's real-time factor falls several
    fold: docs/benchmarks.md). /proc/loadavg counts the tasks that are running or ready
    to run; sampled while the rig and the device both run, any more means contention.
    Without /proc (not Linux) the machine counts as quiet.
    """

    def __init__(self, ours: int = 2, source: str = "/proc/loadavg") -> None:
        self.ours = ours
        try:
            self._fd: int | None = os.open(source, os.O_RDONLY)
        except OSError:
            self._fd = None
        self.contended = False
        self._last = False

    def sample(self) -> bool:
        """Whether the machine is contended: two samples in a row with another runnable
        task make it so, two without make it quiet again (a kernel thread's blip is not)."""
        if self._fd is not None:
            running = int(os.pread(self._fd, 64, 0).split()[3].split(b"/")[0])
            now = running > self.ours
            if now == self._last:
                self.contended = now
            self._last = now
        return self.contended

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class DeviceEvent:
    t_ms: int
    code: int
    value: int
    position_dm: tuple[int, int] | None = None   # east, north of the zone table's origin, when known

    @classmethod
    def from_record(cls, t_ms: int, payload: bytes) -> DeviceEvent:
        return cls(t_ms, *rec.event_fields(payload))


class StepOutput(NamedTuple):
    """What the device sent in one lock-step period (a tuple: the rig takes one a period)."""

    frames: list[tuple[int, bytes]]
    events: list[DeviceEvent]
    step_us: int
    wait_us: int      # the device's time waiting for the host since its previous period


class DeviceCrashed(KeigovError):
    exit_code = 3


class DeviceProcess:
    def __init__(self, runtime: Runtime, storage: Path, *, realtime: bool = False,
                 device_args: Sequence[str] = ()) -> None:
        self.runtime = runtime
        self.storage = storage
        self.realtime = realtime
        self.device_args = list(device_args)
        # Found (and the firmware built or found in its cache) now, so that start() only
        # launches: a run's clock starts there, and building is not running.
        self.command = runtime.command(storage, realtime, self.device_args)
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr = tempfile.TemporaryFile()
        self._buf = bytearray()
        self._contention = Contention()
        self._periods = 0
        self._poll_s = _POLL_S

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=self.runtime.environment(), bufsize=0,
        )
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)

    def __enter__(self) -> DeviceProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, records: bytes) -> None:
        assert self.proc and self.proc.stdin
        try:
            self.proc.stdin.write(records)
        except BrokenPipeError:
            self._crashed()

    def begin_step(self, t_ms: int, records: list[bytes]) -> None:
        """The period's frame records and its T record, in B records the device reads whole
        (`records` is the caller's: the T record is appended to it)."""
        records.append(rec.tick(t_ms, round(self._poll_s * 1e5)))
        self.send(b"".join(rec.batches(records)))

    def end_step(self) -> StepOutput:
        frames: list[tuple[int, bytes]] = []
        events: list[DeviceEvent] = []
        buf = self._buf        # _fill extends this bytearray in place
        pos = 0
        while True:
            while len(buf) < pos + _HDR.size:
                self._fill(block=True)
            kind, n, value = _HDR.unpack_from(buf, pos)
            start = pos + _HDR.size
            pos = start + n
            while len(buf) < pos:
                self._fill(block=True)
            if kind == rec.FRAME:
                frames.append((value, bytes(buf[start:pos])))
            elif kind == rec.EVENT:
                events.append(DeviceEvent.from_record(value, bytes(buf[start:pos])))
            elif kind == rec.DONE:
                wait_us = int.from_bytes(buf[start:start + 4], "little") if n >= 4 else 0
                del buf[:pos]
                self._periods += 1
                if self._periods % _SAMPLE_EVERY == 0:   # the device is running its next step now
                    self._poll_s = 0.0 if self._contention.sample() else _POLL_S
                return StepOutput(frames, events, value, wait_us)

    def read_available(self) -> list[tuple[int, int, bytes]]:
        """Records the device has written so far (realtime mode), without waiting."""
        return self.read_records(block=False)

    def read_records(self, *, block: bool) -> list[tuple[int, int, bytes]]:
        """Complete records received so far as (kind, value, payload); with `block`, waits
        for more output first."""
        self._fill(block=block)
        records = []
        buf = self._buf
        at, end = 0, len(buf)
        while end - at >= _HDR.size:
            kind, n, value = _HDR.unpack_from(buf, at)
            if end - at < _HDR.size + n:
                break
            records.append((kind, value, bytes(buf[at + _HDR.size:at + _HDR.size + n])))
            at += _HDR.size + n
        del buf[:at]
        return records

    def pump(self, records: list[bytes]) -> list[tuple[int, int, bytes]]:
        """Open loop: write whole records in batches (B records, read by the device in one
        go) without waiting for it to answer each period, reading what it sends meanwhile so
        that neither pipe fills up and stalls both sides. Returns the records read so far."""
        assert self.proc and self.proc.stdin and self.proc.stdout
        out_fd, in_fd = self.proc.stdout.fileno(), self.proc.stdin.fileno()
        view = memoryview(b"".join(rec.batches(records)))
        os.set_blocking(in_fd, False)
        try:
            while view:
                readable, writable, _ = select.select([out_fd], [in_fd], [], 5.0)
                if readable:
                    self._fill(block=False)
                if writable:
                    try:
                        view = view[os.write(in_fd, view):]
                    except BlockingIOError:
                        pass
                    except BrokenPipeError:
                        self._crashed()
                elif not readable and self.proc.poll() is not None:
                    self._crashed()
        finally:
            os.set_blocking(in_fd, True)
        return self.read_records(block=False)

    def _fill(self, *, block: bool) -> None:
        assert self.proc and self.proc.stdout
        fd = self.proc.stdout.fileno()
        deadline = time.perf_counter() + self._poll_s
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                chunk = None
            if chunk:
                self._buf += chunk
                return
            if chunk == b"":
                self._crashed()
            if not block:
                return
            if time.perf_counter() > deadline:
                ready, _, _ = select.select([fd], [], [], 5.0)
                if not ready and self.proc.poll() is not None:
                    self._crashed()

    def _crashed(self) -> None:
        code = self.proc.wait(timeout=5) if self.proc else None
        self._stderr.seek(0)
        err = self._stderr.read().decode(errors="replace").strip().splitlines()
        tail = "\n".join(err[-12:]) if err else "(no output)"
        raise DeviceCrashed(f"the device ({self.runtime.name}) stopped with status {code}:\n{tail}")

    def cpu_seconds(self) -> float | None:
        """CPU time the device process has used so far (Linux /proc; None elsewhere)."""
        try:
            assert self.proc is not None
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (AssertionError, OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        self._contention.close()
        if not self.proc:
            return
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin
                self.proc.stdin.write(rec.quit_record())
                self.proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

