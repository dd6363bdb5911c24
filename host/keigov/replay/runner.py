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

import math
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from keigov.config import simdevice
from keigov.dbc.roles import FLAG_BITS
from keigov.errors import EnvironmentProblem, InputError
from keigov.fileio import write_atomic
from keigov.replay.drive import Drive, DriveReader, FileReport
from keigov.replay.formats import Selection
from keigov.replay.gnss import FixAssembler, FixTimeline
from keigov.replay.progress import Progress
from keigov.replay.supplied import Supplier
from keigov.replay.vehicle import GNSS_ROLES, SPEED_ROLES, TABLE_MODULE, HostView, Vehicle
from keigov_hil.device import DeviceProcess
from keigov_hil.runtimes import Runtime

PERIOD_MS = 10
CHUNK_PERIODS = 50          # periods per write to the device (0.5 s of drive)
DEVICE_QUEUE = 64           # frames the sim board's CAN receive ring holds per period
_HDR = struct.Struct("<BBxxI")
_FRAME, _TICK, _EVENT, _DONE = 70, 84, 69, 68
_TIME_MASK = 0x3FFFFFFF
_WHEELS = ("wheel_speed_fl", "wheel_speed_fr", "wheel_speed_rl", "wheel_speed_rr")


@dataclass
class RunOptions:
    runtime: Runtime
    params: dict[str, int] = field(default_factory=dict)     # firmware configuration
    zones: bytes | None = None                                 # compiled zone tables
    channels: frozenset[str] | None = None
    progress: bool = False


@dataclass
class Outputs:
    """The governor's command and status as its frames showed them, per period."""

    torque_pct: list[float] = field(default_factory=list)
    limit_kph: list[float] = field(default_factory=list)
    state: list[int] = field(default_factory=list)
    zone: list[int] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)
    step_us: list[int] = field(default_factory=list)
    events: list[tuple[int, int, int]] = field(default_factory=list)   # (t_ms, code, value)
    frames: int = 0


@dataclass
class Inputs:
    """What the recorded (and supplied) inputs said, per period."""

    speed_kph: list[float] = field(default_factory=list)
    pedal_pct: list[float] = field(default_factory=list)
    accel_mps2: list[float] = field(default_factory=list)
    gnss_fix: list[int] = field(default_factory=list)


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

    @property
    def sim_seconds(self) -> float:
        return self.periods * PERIOD_MS / 1000


class _Speed:
    """The vehicle's speed from its own signals, as the firmware reads them: the median of
    four wheel speeds (mean of the middle two), or its single speed signal."""

    def __init__(self, view: HostView) -> None:
        mapped = {s.role for _m, sigs in view.inputs.values() for s in sigs}
        self.wheels = all(w in mapped for w in _WHEELS)
        self.single = "vehicle_speed" in mapped
        self.values: dict[str, float] = {}
        self.kph = math.nan
        self.accel = 0.0
        self._t = None

    def update(self, t: float, values: dict[str, float]) -> None:
        if not any(r in values for r in SPEED_ROLES):
            return
        self.values.update(values)
        v = self.values
        if self.wheels and all(w in v for w in _WHEELS):
            a = sorted(v[w] for w in _WHEELS)
            kph = (a[1] + a[2]) / 2
        elif not self.wheels and self.single and "vehicle_speed" in v:
            kph = v["vehicle_speed"]
        else:
            return
        if self._t is not None and t > self._t and not math.isnan(self.kph):
            self.accel = (kph - self.kph) / 3.6 / (t - self._t)
        self._t = t
        self.kph = kph


def _decode(msg, signals, data: bytes) -> dict[str, float]:
    try:
        decoded = msg.decode(data, decode_choices=False)
    except Exception:  # noqa: BLE001  a frame the device refuses too (length, multiplexer)
        return {}
    return {s.role: float(decoded[s.signal]) * s.factor for s in signals if s.signal in decoded}


def gateway_fixes(drive: Drive, view: HostView, channels: frozenset[str] | None) -> FixTimeline:
    """The fixes of the map's [gateway] signals: a first pass over the drive that reads
    only their messages (positions are interpolated between fixes, so all come first)."""
    index, sources = view.gateway_index()
    reader = DriveReader(drive, Selection(lambda fid: index.find(fid) >= 0, channels))
    reader.start()
    assembler = FixAssembler()
    for t, fid, data, _ch in reader.frames():
        msg, signals = sources[index.find(fid)]
        values = _decode(msg, signals, data)
        if values:
            assembler.update(t, values)
    return FixTimeline(assembler.result())


class _DeviceSide:
    """The device's answers, period by period."""

    def __init__(self, view: HostView) -> None:
        self.view = view
        self.out = Outputs()
        self.torque = self.limit = 0.0
        self.state = self.zone = self.flags = 0
        self.done = 0

    def take(self, records: list[tuple[int, int, bytes]]) -> None:
        out = self.out
        outputs = self.view.outputs
        for kind, value, payload in records:
            if kind == _DONE:
                out.torque_pct.append(self.torque)
                out.limit_kph.append(self.limit)
                out.state.append(self.state)
                out.zone.append(self.zone)
                out.flags.append(self.flags)
                out.step_us.append(value)
                self.done += 1
            elif kind == _FRAME:
                out.frames += 1
                found = outputs.get(value)
                if found is not None:
                    self._command(_decode(found[0], found[1], payload))
            elif kind == _EVENT:
                code, ev_value = struct.unpack("<Bi", payload)
                out.events.append((value, code, ev_value))

    def _command(self, values: dict[str, float]) -> None:
        for role, v in values.items():
            if role == "torque_limit":
                self.torque = v
            elif role == "speed_limit":
                self.limit = v
            elif role == "state":
                self.state = int(v)
            elif role == "zone":
                self.zone = int(v)
            elif role in FLAG_BITS:
                bit = 1 << FLAG_BITS.index(role)
                self.flags = (self.flags | bit) if v else (self.flags & ~bit)


def _device_args(storage: Path, vehicle: Vehicle, opts: RunOptions) -> list[str]:
    write_atomic(storage / f"{TABLE_MODULE}.py", vehicle.source.encode())
    args = simdevice.prepare(storage, opts.params, opts.zones, tables_source=vehicle.tables_source)
    return [*args, "--tables", TABLE_MODULE]


def replay_drive(drive: Drive, vehicle: Vehicle, view: HostView, opts: RunOptions,
                 track: FixTimeline | None = None) -> ReplayRun:
    """Replay one drive through the firmware; `track` are the fixes of a --gnss track."""
    wall0 = time.perf_counter()
    fixes = track
    if vehicle.gnss == "gateway":
        fixes = gateway_fixes(drive, view, opts.channels)
    reader = DriveReader(drive, Selection(view.keep, opts.channels))
    start = reader.start()
    where = ", ".join(str(p) for p in drive.files)
    if start is None:
        raise InputError("no CAN frames in the log" + (f" ({'; '.join(reader.damages())})" if reader.damages()
                                                         else ""), where=where)
    if reader.frames_kept == 0 and not reader.damages():
        names = ", ".join(n for n, rec in zip(view.rx_names, view._recorded) if rec)
        raise InputError(f"no frame the map needs (its inputs: {names}): wrong DBC, map or channel?", where=where)
    if fixes is not None and vehicle.gnss == "track" and fixes.span and fixes.span[1] < start:
        raise InputError(f"the track ends before the log starts ({_utc(fixes.span[1])} < {_utc(start)})",
                         where=str(vehicle.spec.track))
    supplier = Supplier(fixes if vehicle.gnss in ("track", "gateway") else None, vehicle.pedal_pct)
    progress = Progress(drive.name, opts.progress)
    with tempfile.TemporaryDirectory(prefix="keigov-replay-") as tmp:
        storage = Path(tmp)
        device = DeviceProcess(opts.runtime, storage, device_args=_device_args(storage, vehicle, opts))
        try:
            device.start()
            result = _loop(reader, start, view, vehicle, supplier, device, progress)
        finally:
            device.close()
            progress.close()
    inputs, side, periods, native, overflow = result
    if vehicle.gnss == "native":
        fixes = FixTimeline(native.result())
    elif vehicle.gnss == "track" and supplier.fixes is not None and not _any_gnss(inputs):
        raise InputError(f"the track does not overlap the log in time (track {_utc(fixes.span[0])} .. "
                         f"{_utc(fixes.span[1])}, log from {_utc(start)})", where=str(vehicle.spec.track))
    return ReplayRun(drive, start, periods, inputs, side.out, fixes or FixTimeline([]), reader.files,
                     reader.frames_read, reader.frames_kept, supplier.sent, overflow,
                     time.perf_counter() - wall0, opts.runtime.name)


def _any_gnss(inputs: Inputs) -> bool:
    return any(inputs.gnss_fix)


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _loop(reader: DriveReader, start: float, view: HostView, vehicle: Vehicle, supplier: Supplier,
          device: DeviceProcess, progress: Progress):
    pack = _HDR.pack
    used_index = view.used_index
    decoders = view.inputs
    speed = _Speed(view)
    native = FixAssembler()
    gnss_native = vehicle.gnss == "native"
    pedal_now = vehicle.pedal_pct if vehicle.pedal_pct is not None else 0.0
    fix_type = 0
    inputs = Inputs()
    side = _DeviceSide(view)
    chunk: list[bytes] = []
    k = 0                       # the period being filled
    in_period = 0
    overflow = 0
    supplied_fixes = supplier.fixes

    def close_period() -> None:
        nonlocal k, in_period, overflow, fix_type
        t_abs = start + k * PERIOD_MS / 1000
        for fid, data in supplier.frames(k, t_abs):
            chunk.append(pack(_FRAME, len(data), fid))
            chunk.append(data)
            in_period += 1
        if in_period > DEVICE_QUEUE:
            overflow += in_period - DEVICE_QUEUE
        in_period = 0
        chunk.append(pack(_TICK, 0, (k * PERIOD_MS) & _TIME_MASK))
        if supplied_fixes is not None and k % 10 == 0:
            fix = supplied_fixes.at(t_abs)
            fix_type = fix.fix_type if fix is not None else 0
        inputs.speed_kph.append(speed.kph)
        inputs.pedal_pct.append(pedal_now)
        inputs.accel_mps2.append(speed.accel)
        inputs.gnss_fix.append(fix_type)
        k += 1
        if k % CHUNK_PERIODS == 0:
            side.take(device.pump(b"".join(chunk)))
            chunk.clear()
            if k % 1000 == 0:
                progress.update(reader.progress(), f"{k * PERIOD_MS / 1000:,.0f} s")

    for t, fid, data, _ch in reader.frames():
        period = -(-round((t - start) * 1e6) // (PERIOD_MS * 1000))
        while k < period:
            close_period()
        chunk.append(pack(_FRAME, len(data), fid))
        chunk.append(data)
        in_period += 1
        found = decoders.get(used_index(fid))
        if found is not None:
            values = _decode(found[0], found[1], data)
            if values:
                speed.update(t, values)
                if "pedal" in values:
                    pedal_now = values["pedal"]
                if gnss_native and any(r in values for r in GNSS_ROLES):
                    fix = native.update(t, {r: v for r, v in values.items() if r in GNSS_ROLES})
                    if fix is not None:
                        fix_type = fix.fix_type
    end = reader.end if reader.end is not None else start
    last = -(-round((end - start) * 1e6) // (PERIOD_MS * 1000))
    while k <= last:
        close_period()
    side.take(device.pump(b"".join(chunk)))
    deadline = time.monotonic() + 30
    while side.done < k:
        side.take(device.read_records(block=True))
        if time.monotonic() > deadline:
            raise EnvironmentProblem(f"the device answered {side.done} of {k} periods")
    return inputs, side, k, native, overflow
