"""The open loop: a recorded drive through the firmware in virtual time.

Recorded time is cut into the firmware's 10 ms control periods. For each period the
device gets the recorded frames it uses that arrived in it (time stamps in (t - 10 ms,
t]), then the frames the host supplies (keigov.replay.supplied), then one T record: it
runs exactly one period, as on the vehicle, but as fast as it can. Frames whose ids its
tables do not match are counted and never cross the pipe (`HostView.keep`, the device's
own id matching, J1939 parameter groups included).

The loop is open: the recorded vehicle does not react to the governor, so the host never
waits for the device between periods. Records go out in chunks (`DeviceProcess.pump`)
while the device's answers (its frames, events and one D record per period) are read as
they come; each answer belongs to the period of the next D.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from keigov.config import simdevice
from keigov.errors import EnvironmentProblem, InputError
from keigov.fileio import write_atomic
from keigov.replay.drive import Drive, DriveReader, FileReport
from keigov.replay.frames import Selection
from keigov.replay.gnss import FixAssembler, FixTimeline
from keigov.replay.progress import Progress
from keigov.replay.sides import PERIOD_MS, Inputs, InputSide, Outputs, OutputSide, decode, period_of
from keigov.replay.supplied import Supplier
from keigov.replay.vehicle import TABLE_MODULE, HostView, Vehicle
from keigov.simboard import records as rec
from keigov.simboard.process import DeviceProcess
from keigov.simboard.runtimes import Runtime

CHUNK_PERIODS = 50          # periods per write to the device (0.5 s of drive)
DEVICE_QUEUE = 64           # frames the sim board's CAN receive ring holds per period


@dataclass
class RunOptions:
    runtime: Runtime
    params: dict[str, int] = field(default_factory=dict)     # firmware configuration
    zones: bytes | None = None                                 # compiled zone tables
    channels: frozenset[str] | None = None
    progress: bool = False


@dataclass
class ReplayRun:
    drive: Drive
    start_t: float                  # UTC seconds of the drive's first frame
    periods: int
    inputs: Inputs
    outputs: Outputs
    fixes: FixTimeline
    files: list[FileReport]
    frames_read: int
    frames_used: int
    frames_supplied: int
    queue_overflow: int             # frames beyond the device's receive ring in a period
    wall_seconds: float
    runtime: str
    cpu_seconds: dict[str, float | None] = field(default_factory=dict)   # host, device

    @property
    def sim_seconds(self) -> float:
        return self.periods * PERIOD_MS / 1000


def gateway_fixes(drive: Drive, view: HostView, channels: frozenset[str] | None) -> FixTimeline:
    """The fixes of the map's [gateway] signals: a first pass over the drive that reads
    only their messages (positions are interpolated between fixes, so all come first)."""
    index, sources = view.gateway_index()
    reader = DriveReader(drive, Selection(lambda fid: index.find(fid) >= 0, channels))
    reader.start()
    assembler = FixAssembler()
    for t, fid, data, _ch in reader.frames():
        msg, signals = sources[index.find(fid)]
        values = decode(msg, signals, data)
        if values:
            assembler.update(t, values)
    return FixTimeline(assembler.result())


def _device_args(storage: Path, vehicle: Vehicle, opts: RunOptions) -> list[str]:
    write_atomic(storage / f"{TABLE_MODULE}.py", vehicle.source.encode())
    args = simdevice.prepare(storage, opts.params, opts.zones, tables_source=vehicle.tables_source)
    return [*args, "--tables", TABLE_MODULE]


@dataclass
class OpenedDrive:
    """A drive ready to play: its frames primed, its start, the host's supplied inputs."""

    reader: DriveReader
    start: float
    supplier: Supplier
    fixes: FixTimeline | None


def open_drive(drive: Drive, vehicle: Vehicle, view: HostView, sel: Selection, track: FixTimeline | None,
               channels: frozenset[str] | None) -> OpenedDrive:
    """Read a drive up to its first frames; bad input (no frames, none the map needs, a
    track that ends before the log starts) is an InputError naming the file."""
    fixes = gateway_fixes(drive, view, channels) if vehicle.gnss == "gateway" else track
    reader = DriveReader(drive, sel)
    start = reader.start()
    where = ", ".join(str(p) for p in drive.files)
    if start is None:
        raise InputError("no CAN frames in the log" + (f" ({'; '.join(reader.damages())})" if reader.damages()
                                                         else ""), where=where)
    if reader.frames_kept == 0 and not reader.damages():
        names = ", ".join(view.recorded_inputs())
        raise InputError(f"no frame the map needs (its inputs: {names}): wrong DBC, map or channel?", where=where)
    if fixes is not None and vehicle.gnss == "track" and fixes.span and fixes.span[1] < start:
        raise InputError(f"the track ends before the log starts ({_utc(fixes.span[1])} < {_utc(start)})",
                         where=str(vehicle.spec.track))
    supplier = Supplier(fixes if vehicle.gnss in ("track", "gateway") else None, vehicle.pedal_pct)
    return OpenedDrive(reader, start, supplier, fixes)


def drive_fixes(vehicle: Vehicle, opened: OpenedDrive, inputs: Inputs, native: FixAssembler) -> FixTimeline:
    """The drive's GNSS fixes: decoded from its frames, or the supplied ones (a track must
    have covered some of the drive)."""
    if vehicle.gnss == "native":
        return FixTimeline(native.result())
    fixes = opened.fixes
    span = fixes.span if fixes is not None else None   # a track has two fixes at least
    if vehicle.gnss == "track" and span is not None and not any(inputs.gnss_fix):
        raise InputError(f"the track does not overlap the log in time (track {_utc(span[0])} .. "
                         f"{_utc(span[1])}, log from {_utc(opened.start)})", where=str(vehicle.spec.track))
    return fixes or FixTimeline([])


def replay_drive(drive: Drive, vehicle: Vehicle, view: HostView, opts: RunOptions,
                 track: FixTimeline | None = None) -> ReplayRun:
    """Replay one drive through the firmware; `track` are the fixes of a --gnss track."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    opened = open_drive(drive, vehicle, view, Selection(view.keep, opts.channels), track, opts.channels)
    progress = Progress(drive.name, opts.progress)
    with tempfile.TemporaryDirectory(prefix="keigov-replay-") as tmp:
        storage = Path(tmp)
        device = DeviceProcess(opts.runtime, storage, device_args=_device_args(storage, vehicle, opts))
        try:
            device.start()
            inputs, outputs, periods, native, overflow = _loop(opened, view, vehicle, device, progress)
            device_cpu = device.cpu_seconds()
        finally:
            device.close()
            progress.close()
    reader = opened.reader
    return ReplayRun(drive, opened.start, periods, inputs, outputs.out, drive_fixes(vehicle, opened, inputs, native),
                     reader.files, reader.frames_read, reader.frames_kept, opened.supplier.sent, overflow,
                     time.perf_counter() - wall0, opts.runtime.name,
                     {"host": time.process_time() - cpu0, "device": device_cpu})


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _loop(opened: OpenedDrive, view: HostView, vehicle: Vehicle, device: DeviceProcess, progress: Progress
          ) -> tuple[Inputs, OutputSide, int, FixAssembler, int]:
    frame, tick = rec.frame, rec.tick
    reader, start = opened.reader, opened.start
    inputs = InputSide(view, vehicle, opened.supplier)
    outputs = OutputSide(view)
    chunk: list[bytes] = []
    k = 0                       # the period being filled
    in_period = 0               # frames for the device in it
    overflow = 0

    def close_period() -> None:
        nonlocal k, in_period, overflow
        for fid, data in inputs.close(k, start + k * PERIOD_MS / 1000):
            chunk.append(frame(fid, data))
            in_period += 1
        overflow += max(in_period - DEVICE_QUEUE, 0)
        in_period = 0
        chunk.append(tick(k * PERIOD_MS))
        k += 1
        if k % CHUNK_PERIODS == 0:
            outputs.take(device.pump(chunk))
            chunk.clear()
            if k % 1000 == 0:
                progress.update(reader.progress(), f"{k * PERIOD_MS / 1000:,.0f} s")

    for t, fid, data, _ch in reader.frames():
        period = period_of(t, start)
        while k < period:
            close_period()
        chunk.append(frame(fid, data))
        in_period += 1
        inputs.frame(t, fid, data)
    last = period_of(reader.end if reader.end is not None else start, start)
    while k <= last:
        close_period()
    outputs.take(device.pump(chunk))
    deadline = time.monotonic() + 30
    while outputs.done < k:
        outputs.take(device.read_records(block=True))
        if time.monotonic() > deadline:
            raise EnvironmentProblem(f"the device answered {outputs.done} of {k} periods")
    return inputs.rows, outputs, k, inputs.native, overflow
