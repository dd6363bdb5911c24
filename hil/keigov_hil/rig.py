"""The closed loop: vehicle, driver and GNSS around the real firmware on a CAN bus.

Every 10 ms control period: the vehicle's nodes put their due frames on the bus; the
bridge hands what reached the device's side of the bus to the firmware process; the
firmware runs one period and its frames go back on the bus; the motor controller takes
the governor's command; the vehicle moves on by one period. In lock-step mode the
device's clock is the rig's, so a run is deterministic and faster than real time; with
`realtime` the rig keeps wall-clock pace and the device keeps its own clock, as a real
board on a real bus would.

Lock-step runs the host and the device at the same time: the rig starts the device's
period k, then takes the frames the device sent in period k-n and moves the vehicle on
while the device computes. n is the vehicle's command latency in periods (the scenario's
`vehicle.command_latency_ms`, 20 ms by default: one period for a command to cross the bus
to the motor controller's next cycle, one in its own torque loop). With two periods in
flight neither process waits for the other's slow periods (the device's heavy ones, with
wheel speeds to check, fall between the rig's). The timeline shows each command and
status in the row of the period the governor sent it. The order of everything is fixed,
so runs stay deterministic.

A configuration change (`[[changes]]`) is what it is on a vehicle: a push, then a reset
while moving. The device finishes its periods in flight and stops; the new configuration
goes into its flash; a new device process boots from that flash (its event log kept) and
takes the next period. In lock-step the reboot takes no simulated time; in realtime it
takes what the process's start takes, while the motor controller keeps the last command
(and its command timeout).
"""

from __future__ import annotations

import contextlib
import gc
import math
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import can

from keigov.bus import IN_PROCESS, BusOptions, Sender, open_bus, receive
from keigov.config import simdevice
from keigov.errors import KeigovError
from keigov.firmware_params import event_names, merge_repeated
from keigov.gnss import GnssFix
from keigov.report.results import RunResult
from keigov.simboard import records as rec
from keigov.simboard.process import DeviceEvent, DeviceProcess, StepOutput
from keigov.simboard.runtimes import Runtime
from keigov.timeline import COLUMNS, Timeline
from keigov.virtualbus import INTERFACE
from keigov.zones.checked import CompiledZones
from keigov_hil.ecus import GovernorView, VehicleNodes
from keigov_hil.gnss import Route
from keigov_hil.scenario import ChangeSpec, Scenario, build_world
from keigov_hil.vehicle import Vehicle

PERIOD_MS = 10
# Phases of the rig's loop, for the wall-time breakdown (RunData.host_seconds).
# "setup": building the vehicle and the buses while the device boots; the first wait for
# the device includes the rest of its boot (imports, compiling), counted apart.
PHASES = ("setup", "pace", "vehicle inputs", "bus to device", "link write", "device boot", "device wait", "bus back",
          "plant")
SETUP, PACE, INPUTS, BUS_TO_DEVICE, LINK_WRITE, DEVICE_BOOT, DEVICE_WAIT, BUS_BACK, PLANT = range(len(PHASES))


@dataclass
class RigOptions:
    runtime: Runtime
    interface: str = INTERFACE
    channel: str | None = None
    bus_options: BusOptions = ()        # bitrate, fd, interface-specific keywords (keigov.bus)
    realtime: bool = False
    progress: bool = False


@dataclass
class RunData:
    """Everything a run produced, for the checks and the reports."""

    scenario: Scenario
    timeline: Timeline
    events: list[dict]
    step_us: list[int]
    wall_seconds: float
    frames_to_device: int
    frames_from_device: int
    fixes: list[tuple[float, float, float, int]] = field(default_factory=list)  # t_s, lat, lon, fix type sent
    device_wait_us: list[int] = field(default_factory=list)  # per period: the device waiting for the rig (lock-step)
    host_seconds: dict[str, float] = field(default_factory=dict)  # the rig's wall time by phase of its loop (PHASES)


@dataclass(slots=True)
class _Row:
    """One period's timeline row as the vehicle saw it, before the governor's frames of it."""

    t_s: float
    speed_kph: float
    pedal_pct: float
    accel_mps2: float
    grade_pct: float
    torque_applied_pct: float
    gnss_fix: int
    distance_m: float

    def with_view(self, view: GovernorView) -> tuple:
        """The row's columns but its position (lat, lon, heading), added at the end of the run."""
        return (self.t_s, self.speed_kph, view.limit_kph, self.pedal_pct, view.torque_limit_pct, view.state,
                view.zone, self.accel_mps2, self.grade_pct, self.torque_applied_pct, self.gnss_fix, view.flags,
                self.distance_m, view.regen_pct)


_POSITION_AT = COLUMNS.index("lat")     # where the position goes in a row of with_view's


def _add_positions(timeline: Timeline, route: Route) -> None:
    """Every row's true position (lat, lon, heading) from its distance, in one pass."""
    positions = zip(*route.positions_at(timeline.column("distance_m")))
    at = _POSITION_AT
    timeline.rows = [row[:at] + position + row[at:] for row, position in zip(timeline.rows, positions)]


class _Bridge:
    """The device's attachment to the bus: frames in both directions, counted.

    `private`: the bus is the rig's own virtual channel, where only the rig sends.
    """

    def __init__(self, bus: can.BusABC | None, private: bool) -> None:
        self.bus = bus
        self.sender = Sender(bus) if bus else None
        self.private = private
        self.to_device = 0
        self.from_device = 0

    def collect(self, expected: int) -> list[bytes]:
        """The device's records of the frames that reached its side: at least `expected`
        (the rig's own)."""
        assert self.bus is not None
        records = [rec.frame(m.arbitration_id, m.data, m.is_extended_id)
                   for m in receive(self.bus, expected, settle=not self.private, what="frames to the device")]
        self.to_device += len(records)
        return records

    def send(self, frames: list[tuple[int, bytes]]) -> None:
        assert self.sender is not None
        for value, data in frames:
            frame_id, extended = rec.frame_id(value)
            self.sender.send(frame_id, data, extended)
        self.from_device += len(frames)


class Stopwatch:
    """Wall time between laps, summed per phase (a lap is one perf_counter call)."""

    def __init__(self, phases: int) -> None:
        self.total = [0.0] * phases
        self._last = 0.0

    def start(self, at: float | None = None) -> None:
        self._last = time.perf_counter() if at is None else at

    def lap(self, phase: int) -> None:
        now = time.perf_counter()
        self.total[phase] += now - self._last
        self._last = now


def _event_dict(ev: DeviceEvent, names: dict[int, str], vehicle_km: float, zones: CompiledZones | None) -> dict:
    """`zones`: those of the configuration the device ran when it recorded the event."""
    out = {"t_s": round(ev.t_ms / 1000, 3), "name": names.get(ev.code, f"event_{ev.code}"),
           "code": ev.code, "value": ev.value, "odometer_km": round(vehicle_km, 3)}
    if ev.position_dm is not None and zones is not None:
        # Where the device put itself (its last good fix), back in degrees through the zone table's origin.
        out["position"] = zones.table.projection.position(*ev.position_dm)
    return out


def _change_periods(sc: Scenario) -> deque[tuple[int, int, ChangeSpec]]:
    """Each change with the first period at or after its time and its configuration's
    version (the scenario's own is 1)."""
    return deque((math.ceil(round(c.t_s * 1000 / PERIOD_MS, 6)), n + 2, c) for n, c in enumerate(sc.changes))


def _reboot(device: DeviceProcess, change: ChangeSpec, version: int, in_flight: int) -> tuple[DeviceProcess,
                                                                                             list[StepOutput]]:
    """A configuration push and a reset: the device's `in_flight` periods finished and
    returned, the device stopped, `change`'s configuration (as `version`) installed into its
    flash, and a new device process started on that flash."""
    finished = [device.end_step() for _ in range(in_flight)]
    device.close()
    zones = change.zones.table.blob if change.zones else None
    new = DeviceProcess(device.runtime, device.storage, realtime=device.realtime,
                        device_args=simdevice.install(device.storage, change.firmware_config, zones, version=version))
    new.start()
    return new, finished


def run(sc: Scenario, opts: RigOptions) -> RunData:
    external = opts.runtime.name == "external"
    if external and not opts.realtime:
        raise KeigovError("the external runtime (a real board) needs --realtime", )
    if external and sc.changes:
        raise KeigovError("[[changes]] reset the device, which the external runtime (a real board) cannot")
    with tempfile.TemporaryDirectory(prefix="keigov-storage-") as storage, contextlib.ExitStack() as cleanup:
        cleanup.enter_context(_no_gc_pauses())
        loop = _Loop(sc, opts, Path(storage), cleanup)
        try:
            loop.run()
        finally:
            loop.wall = time.perf_counter() - loop.wall0
            if opts.progress:
                sys.stderr.write("\r" + " " * 60 + "\r")
    return loop.data()


class _Loop:
    """One run of the closed loop: the device, the vehicle's world and the buses, stepped
    period by period (`period`), each phase of a period timed by the stopwatch."""

    def __init__(self, sc: Scenario, opts: RigOptions, storage: Path, cleanup: contextlib.ExitStack) -> None:
        self.sc, self.opts, self.cleanup = sc, opts, cleanup
        self.names = event_names()
        self.timeline = Timeline()
        self.events: list[dict] = []
        self.step_us: list[int] = []
        self.device_wait_us: list[int] = []
        self.fixes: list[tuple[float, float, float, int]] = []
        self.watch = Stopwatch(len(PHASES))
        external = opts.runtime.name == "external"
        in_process = opts.interface in IN_PROCESS
        channel = opts.channel or (f"keigov-{uuid.uuid4().hex[:8]}" if in_process else None)
        self.private = in_process and opts.channel is None   # a fresh channel: only the rig sends
        self.device = None if external else DeviceProcess(
            opts.runtime, storage, realtime=opts.realtime,
            device_args=simdevice.prepare(storage, sc.firmware_config, zones=sc.zones.table.blob if sc.zones else None))
        self.wall0 = time.perf_counter()
        self.wall = 0.0
        if self.device:
            cleanup.callback(self.device.close)
            self.device.start()   # it boots (imports, compiles) while the rig builds the vehicle and the buses
        self.vehicle, self.driver, self.gnss, self.mcu = build_world(sc)
        self.nodes = VehicleNodes(self.vehicle, self.gnss, self.mcu, sc.faults, sc.seed)
        self.vehicle_bus = open_bus(opts.interface, channel, opts.bus_options)
        cleanup.callback(self.vehicle_bus.shutdown)
        self.vehicle_tx = Sender(self.vehicle_bus)
        device_bus = None if external else open_bus(opts.interface, channel, opts.bus_options)
        if device_bus:
            cleanup.callback(device_bus.shutdown)
        self.bridge = _Bridge(device_bus, self.private)
        self.zones = sc.zones     # the running configuration's
        self.finished: deque[tuple[StepOutput, CompiledZones | None]] = deque()  # a stopped device's last periods
        self.lockstep = self.device is not None and not opts.realtime
        self.pending: deque[_Row] = deque()   # lock-step: periods whose governor frames are still to come
        self.latency = sc.command_latency_ms // PERIOD_MS   # that many periods in flight
        self.changes = _change_periods(sc)
        self.booted = 0          # the period the running device booted in
        self.last_fix: GnssFix | None = None

    def run(self) -> None:
        self.watch.start(at=self.wall0)
        self.watch.lap(SETUP)
        self.pace0 = time.perf_counter()
        for k in range(int(round(self.sc.duration_s * 1000 / PERIOD_MS)) + 1):
            self.period(k)
        while self.pending:         # the last periods' frames, at the times they would arrive
            row = self.pending.popleft()
            out, out_zones = self.collect()
            self.take(out, row, row.t_s + self.latency * PERIOD_MS / 1000, out_zones)
        _add_positions(self.timeline, self.gnss.route)

    def period(self, k: int) -> None:
        watch = self.watch
        t_ms = k * PERIOD_MS
        t_s = t_ms / 1000
        if self.opts.realtime:
            _sleep_until(self.pace0 + t_s)
            watch.lap(PACE)
        if self.changes and self.changes[0][0] == k:
            self.change(k)
            watch.lap(DEVICE_BOOT)
        vehicle = self.vehicle
        speed_kph = vehicle.speed_mps * 3.6
        pedal, brake = self.driver.controls(t_s, speed_kph)
        frames = self.nodes.frames_due(t_ms, pedal, brake > 0)
        watch.lap(INPUTS)
        send = self.vehicle_tx.send
        for fid, data, ext in frames:
            send(fid, data, ext)
        if self.lockstep:
            self.exchange(k, t_ms, t_s, len(frames))
        else:
            if self.device:
                _bridge_realtime(self.device, self.bridge, self.events, self.names, vehicle, self.zones)
            _drain(self.vehicle_bus, self.nodes, t_s, wait_for=0)
            watch.lap(BUS_BACK)
        self.plant(k, t_s, speed_kph, pedal, brake)
        watch.lap(PLANT)

    def exchange(self, k: int, t_ms: int, t_s: float, sent: int) -> None:
        """Lock-step: the period's frames to the device and its period started; the oldest
        period in flight collected and its frames put on the bus."""
        watch = self.watch
        device = self.device
        assert device is not None
        records = self.bridge.collect(sent)
        watch.lap(BUS_TO_DEVICE)
        device.begin_step(t_ms, records)
        watch.lap(LINK_WRITE)
        if len(self.pending) >= self.latency:
            out, out_zones = self.collect()
            watch.lap(DEVICE_WAIT if k > self.booted + self.latency else DEVICE_BOOT)
            self.take(out, self.pending.popleft(), t_s, out_zones)
            watch.lap(BUS_BACK)

    def plant(self, k: int, t_s: float, speed_kph: float, pedal: float, brake: float) -> None:
        """The period's row, and the vehicle moved on by the torque the motor controller applies."""
        vehicle, nodes, mcu = self.vehicle, self.nodes, self.mcu
        fix = nodes.last_fix
        if fix is not None and fix is not self.last_fix:
            self.fixes.append((t_s, fix.lat_deg, fix.lon_deg, fix.fix_type))
            self.last_fix = fix
        torque = mcu.torque_fraction(t_s, pedal)
        row = _Row(t_s, speed_kph, nodes.pedal_sent, vehicle.accel_mps2, vehicle.road.grade_pct(vehicle.distance_m),
                   100 * torque, fix.fix_type if fix else 0, vehicle.distance_m)
        if self.lockstep:
            self.pending.append(row)
        else:
            self.timeline.add(*row.with_view(nodes.view))
        vehicle.step(PERIOD_MS / 1000, torque, brake, mcu.regen_fraction(t_s, torque))
        if self.opts.progress and k % 1000 == 0:
            _progress(t_s, self.sc.duration_s)

    def change(self, k: int) -> None:
        """The next [[changes]] entry: pushed, and the device reset onto it."""
        device = self.device
        assert device is not None
        _k, version, change = self.changes.popleft()
        if not self.lockstep:     # what the device sent before it stops
            _bridge_realtime(device, self.bridge, self.events, self.names, self.vehicle, self.zones)
        in_flight = len(self.pending) - len(self.finished) if self.lockstep else 0   # the running device's
        self.device, outs = _reboot(device, change, version, in_flight)
        self.cleanup.callback(self.device.close)
        self.finished.extend((out, self.zones) for out in outs)
        self.zones, self.booted = change.zones, k

    def collect(self) -> tuple[StepOutput, CompiledZones | None]:
        """The oldest period in flight, with the zones its device ran: a stopped device's first."""
        assert self.device is not None
        return self.finished.popleft() if self.finished else (self.device.end_step(), self.zones)

    def take(self, out: StepOutput, row: _Row, t_s: float, ran: CompiledZones | None) -> None:
        """The device's period `row` (its device ran the zones `ran`): its frames onto the bus and to
        the nodes at `t_s`, its row."""
        frames, device_events, step, wait = out
        self.step_us.append(step)
        self.device_wait_us.append(wait)
        if device_events:
            self.events.extend(_event_dict(e, self.names, row.distance_m / 1000, ran) for e in device_events)
        if frames or not self.private:
            self.bridge.send(frames)
            _drain(self.vehicle_bus, self.nodes, t_s, wait_for=len(frames), settle=not self.private)
        self.timeline.add(*row.with_view(self.nodes.view))

    def data(self) -> RunData:
        events = merge_repeated(self.events)     # a REPEATED summary into the record it counts
        return RunData(self.sc, self.timeline, events, self.step_us, self.wall, self.bridge.to_device,
                       self.bridge.from_device, self.fixes, self.device_wait_us, dict(zip(PHASES, self.watch.total)))


@contextlib.contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """The cyclic garbage collector off for the run, as a real-time loop keeps it.

    The loop's garbage is acyclic (tuples, floats, frames), freed as it goes; a full
    collection of a big host process (a test session, a campaign) can stop the rig for
    tens of milliseconds, and in `--realtime` a wheel-speed gap of 50 ms is a fault.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _drain(bus: can.BusABC, nodes: VehicleNodes, t_s: float, wait_for: int, settle: bool = True) -> None:
    """Hand the vehicle's nodes the frames on the bus (at least `wait_for` of them)."""
    for msg in receive(bus, wait_for, settle=settle, what="the governor's frames back to the vehicle"):
        nodes.on_frame(t_s, msg.arbitration_id, bytes(msg.data))


def _bridge_realtime(device: DeviceProcess, bridge: _Bridge, events: list[dict], names: dict[int, str],
                     vehicle: Vehicle, zones: CompiledZones | None) -> None:
    assert bridge.bus is not None
    records = []
    while (msg := bridge.bus.recv(timeout=0)) is not None:
        records.append(rec.frame(msg.arbitration_id, msg.data, msg.is_extended_id))
        bridge.to_device += 1
    if records:
        device.send(b"".join(records))
    out = []
    for kind, value, payload in device.read_available():
        if kind == rec.FRAME:
            out.append((value, payload))
        elif kind == rec.EVENT:
            events.append(_event_dict(DeviceEvent.from_record(value, payload), names, vehicle.distance_m / 1000,
                                      zones))
    bridge.send(out)


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


def _progress(t_s: float, total: float) -> None:
    width = 30
    done = int(width * t_s / total) if total else width
    sys.stderr.write(f"\r  [{'#' * done}{'.' * (width - done)}] {t_s:7.1f} / {total:.1f} s sim")
    sys.stderr.flush()


def result_of(data: RunData, runtime: str, checks: list, out_dir: Path | None) -> RunResult:
    steps = sorted(data.step_us)
    extra: dict[str, object] = {
        "frames_to_device": data.frames_to_device,
        "frames_from_device": data.frames_from_device,
        "events": len(data.events),
    }
    if steps:
        extra["device_step_us"] = {
            "mean": round(sum(steps) / len(steps), 1),
            "p99": steps[int(0.99 * (len(steps) - 1))],
            "max": steps[-1],
        }
    if data.device_wait_us:
        extra["device_wait_us_mean"] = round(sum(data.device_wait_us) / len(data.device_wait_us), 1)
    periods = len(data.timeline.rows)
    if periods and data.host_seconds:
        extra["rig_us_per_period"] = {name: round(seconds * 1e6 / periods, 1)
                                      for name, seconds in data.host_seconds.items()
                                      if seconds and name not in ("setup", "device boot")}
        extra["setup_ms"] = round(data.host_seconds["setup"] * 1000, 1)
        if data.host_seconds["device boot"]:
            extra["device_boot_ms"] = round(data.host_seconds["device boot"] * 1000, 1)
    return RunResult(scenario=data.scenario.name, runtime=runtime, sim_seconds=data.scenario.duration_s,
                     wall_seconds=data.wall_seconds, checks=checks, out_dir=out_dir, extra=extra)
