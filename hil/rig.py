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

from keigov.config import simdevice
from keigov.errors import KeigovError
from keigov.firmware_params import event_names, merge_repeated
from keigov.report.results import RunResult
from keigov_hil.bus import BusOptions, Sender, open_bus, receive
from keigov_hil.device import DeviceEvent, DeviceProcess, StepOutput
from keigov_hil.driver import Driver
from keigov_hil.ecus import GovernorView, VehicleNodes
from keigov_hil.gnss import GnssReceiver, Route
from keigov_hil.runtimes import Runtime
from keigov_hil.scenario import ChangeSpec, Scenario, ScenarioZones
from keigov_hil.timeline import COLUMNS, Timeline
from keigov_hil.vehicle import MotorController, Road, Vehicle, VehicleParams

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
    interface: str = "virtual"
    channel: str | None = None
    bus_options: BusOptions = ()        # bitrate, fd, interface-specific keywords (keigov_hil.bus)
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


def build_world(sc: Scenario) -> tuple[Vehicle, Driver, GnssReceiver, MotorController]:
    # The pairs' widths were checked at load (number_pairs); unpacked here for the models' types.
    grade = [(start, pct) for start, pct in sc.grade]
    vehicle = Vehicle(VehicleParams(**sc.vehicle), Road(grade), speed_mps=sc.initial_speed_kph / 3.6)
    route = Route(sc.waypoints) if sc.waypoints else Route.straight(sc.start[0], sc.start[1], sc.heading_deg, 200_000)
    gnss = GnssReceiver(route, rate_hz=sc.gnss["rate_hz"], noise_m=sc.gnss["noise_m"], seed=sc.seed,
                        satellites=sc.gnss["satellites"], hdop=sc.gnss["hdop"],
                        outages=tuple((a, b) for a, b in sc.outages),
                        jumps=tuple((a, b, north, east) for a, b, north, east in sc.jumps))
    return vehicle, Driver(sc.driver), gnss, MotorController()


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
        record = DeviceProcess.frame_record
        records = [record(m.arbitration_id, m.data, m.is_extended_id)
                   for m in receive(self.bus, expected, settle=not self.private, what="frames to the device")]
        self.to_device += len(records)
        return records

    def send(self, frames: list[tuple[int, bytes]]) -> None:
        assert self.sender is not None
        for fid, data in frames:
            self.sender.send(fid & 0x1FFFFFFF, data, bool(fid & 0x20000000))
        self.from_device += len(frames)


class Stopwatch:
    """Wall time between laps, summed per phase (perf_counter: ~0.1 us a lap)."""

    def __init__(self, phases: int) -> None:
        self.total = [0.0] * phases
        self._last = 0.0

    def start(self, at: float | None = None) -> None:
        self._last = time.perf_counter() if at is None else at

    def lap(self, phase: int) -> None:
        now = time.perf_counter()
        self.total[phase] += now - self._last
        self._last = now


def _event_dict(ev: DeviceEvent, names: dict[int, str], vehicle_km: float, zones: ScenarioZones | None) -> dict:
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
    names = event_names()
    timeline = Timeline()
    events: list[dict] = []
    step_us: list[int] = []
    device_wait_us: list[int] = []
    fixes: list[tuple[float, float, float, int]] = []
    watch = Stopwatch(len(PHASES))
    channel = opts.channel or (f"keigov-{uuid.uuid4().hex[:8]}" if opts.interface == "virtual" else None)
    private = opts.interface == "virtual" and opts.channel is None   # a fresh channel: only the rig sends
    steps = int(round(sc.duration_s * 1000 / PERIOD_MS))
    with tempfile.TemporaryDirectory(prefix="keigov-storage-") as storage, contextlib.ExitStack() as cleanup:
        cleanup.enter_context(_no_gc_pauses())
        device = None if external else DeviceProcess(
            opts.runtime, Path(storage), realtime=opts.realtime,
            device_args=simdevice.prepare(Path(storage), sc.firmware_config,
                                          zones=sc.zones.table.blob if sc.zones else None))
        wall0 = time.perf_counter()
        if device:
            cleanup.callback(device.close)
            device.start()      # it boots (imports, compiles) while the rig builds the vehicle and the buses
        vehicle, driver, gnss, mcu = build_world(sc)
        nodes = VehicleNodes(vehicle, gnss, mcu, sc.faults, sc.seed)
        vehicle_bus = open_bus(opts.interface, channel, opts.bus_options)
        cleanup.callback(vehicle_bus.shutdown)
        vehicle_tx = Sender(vehicle_bus)
        device_bus = None if external else open_bus(opts.interface, channel, opts.bus_options)
        if device_bus:
            cleanup.callback(device_bus.shutdown)
        bridge = _Bridge(device_bus, private)

        zones = sc.zones     # the running configuration's
        finished: deque[tuple[StepOutput, ScenarioZones | None]] = deque()  # a stopped device's last periods

        def collect() -> tuple[StepOutput, ScenarioZones | None]:
            """The oldest period in flight, with the zones its device ran: a stopped device's first."""
            assert device is not None
            return finished.popleft() if finished else (device.end_step(), zones)

        def take(out: StepOutput, row: _Row, t_s: float, ran: ScenarioZones | None) -> None:
            """The device's period `row` (its device ran the zones `ran`): its frames onto the bus and to
            the nodes at `t_s`, its row."""
            frames, device_events, step, wait = out
            step_us.append(step)
            device_wait_us.append(wait)
            if device_events:
                events.extend(_event_dict(e, names, row.distance_m / 1000, ran) for e in device_events)
            if frames or not private:
                bridge.send(frames)
                _drain(vehicle_bus, nodes, t_s, wait_for=len(frames), settle=not private)
            timeline.add(*row.with_view(nodes.view))

        try:
            lockstep = device is not None and not opts.realtime
            pending: deque[_Row] = deque()   # lock-step: periods whose governor frames are still to come
            latency = sc.command_latency_ms // PERIOD_MS   # that many periods in flight
            changes = _change_periods(sc)
            booted = 0          # the period the running device booted in
            last_fix = None
            watch.start(at=wall0)
            watch.lap(SETUP)
            pace0 = time.perf_counter()
            for k in range(steps + 1):
                t_ms = k * PERIOD_MS
                t_s = t_ms / 1000
                if opts.realtime:
                    _sleep_until(pace0 + t_s)
                    watch.lap(PACE)
                if changes and changes[0][0] == k:
                    assert device is not None
                    _k, version, change = changes.popleft()
                    if not lockstep:     # what the device sent before it stops
                        _bridge_realtime(device, bridge, events, names, vehicle, zones)
                    in_flight = len(pending) - len(finished) if lockstep else 0   # the running device's
                    device, outs = _reboot(device, change, version, in_flight)
                    cleanup.callback(device.close)
                    finished.extend((out, zones) for out in outs)
                    zones, booted = change.zones, k
                    watch.lap(DEVICE_BOOT)
                speed_kph = vehicle.speed_mps * 3.6
                pedal, brake = driver.controls(t_s, speed_kph)
                frames = nodes.frames_due(t_ms, pedal, brake > 0)
                watch.lap(INPUTS)
                for fid, data, ext in frames:
                    vehicle_tx.send(fid, data, ext)
                if lockstep:
                    assert device is not None
                    records = bridge.collect(len(frames))
                    watch.lap(BUS_TO_DEVICE)
                    device.begin_step(t_ms, records)
                    watch.lap(LINK_WRITE)
                    if len(pending) >= latency:
                        out, out_zones = collect()
                        watch.lap(DEVICE_WAIT if k > booted + latency else DEVICE_BOOT)
                        take(out, pending.popleft(), t_s, out_zones)
                        watch.lap(BUS_BACK)
                else:
                    if device:
                        _bridge_realtime(device, bridge, events, names, vehicle, zones)
                    _drain(vehicle_bus, nodes, t_s, wait_for=0)
                    watch.lap(BUS_BACK)
                fix = nodes.last_fix
                if fix is not None and fix is not last_fix:
                    fixes.append((t_s, fix.lat_deg, fix.lon_deg, fix.fix_type))
                    last_fix = fix
                torque = mcu.torque_fraction(t_s, pedal)
                row = _Row(t_s, speed_kph, nodes.pedal_sent, vehicle.accel_mps2,
                           vehicle.road.grade_pct(vehicle.distance_m), 100 * torque, fix.fix_type if fix else 0,
                           vehicle.distance_m)
                if lockstep:
                    pending.append(row)
                else:
                    timeline.add(*row.with_view(nodes.view))
                vehicle.step(PERIOD_MS / 1000, torque, brake, mcu.regen_fraction(t_s, torque))
                if opts.progress and k % 1000 == 0:
                    _progress(t_s, sc.duration_s)
                watch.lap(PLANT)
            while pending:         # the last periods' frames, at the times they would arrive
                row = pending.popleft()
                out, out_zones = collect()
                take(out, row, row.t_s + latency * PERIOD_MS / 1000, out_zones)
            _add_positions(timeline, gnss.route)
        finally:
            wall = time.perf_counter() - wall0
            if opts.progress:
                sys.stderr.write("\r" + " " * 60 + "\r")
    events = merge_repeated(events)     # a REPEATED summary into the record it counts
    return RunData(sc, timeline, events, step_us, wall, bridge.to_device, bridge.from_device, fixes, device_wait_us,
                   dict(zip(PHASES, watch.total)))


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
                     vehicle: Vehicle, zones: ScenarioZones | None) -> None:
    assert bridge.bus is not None
    records = []
    while (msg := bridge.bus.recv(timeout=0)) is not None:
        records.append(device.frame_record(msg.arbitration_id, msg.data, msg.is_extended_id))
        bridge.to_device += 1
    if records:
        device.send(b"".join(records))
    out = []
    for kind, value, payload in device.read_available():
        if kind == 70:
            out.append((value, payload))
        elif kind == 69:
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
