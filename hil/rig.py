"""The closed loop: vehicle, driver and GNSS around the real firmware on a CAN bus.

Every 10 ms control period: the vehicle's nodes put their due frames on the bus; the
bridge hands what reached the device's side of the bus to the firmware process; the
firmware runs one period and its frames go back on the bus; the motor controller takes
the governor's command; the vehicle moves on by one period. In lock-step mode the
device's clock is the rig's, so a run is deterministic and faster than real time; with
`realtime` the rig keeps wall-clock pace and the device keeps its own clock, as a real
board on a real bus would.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import can

from keigov.config import simdevice
from keigov.errors import EnvironmentProblem, KeigovError
from keigov.firmware_params import event_names
from keigov.report.results import RunResult
from keigov_hil.bus import open_bus
from keigov_hil.device import DeviceEvent, DeviceProcess
from keigov_hil.driver import Driver
from keigov_hil.ecus import Frame, VehicleNodes
from keigov_hil.gnss import GnssReceiver, Route
from keigov_hil.runtimes import Runtime
from keigov_hil.scenario import Scenario
from keigov_hil.timeline import Timeline
from keigov_hil.vehicle import MotorController, Road, Vehicle, VehicleParams

PERIOD_MS = 10
_BUS_WAIT_S = 2.0


@dataclass
class RigOptions:
    runtime: Runtime
    interface: str = "virtual"
    channel: str | None = None
    bitrate: int | None = None
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


def build_world(sc: Scenario) -> tuple[Vehicle, Driver, GnssReceiver, MotorController]:
    vehicle = Vehicle(VehicleParams(**sc.vehicle), Road(sc.grade), speed_mps=sc.initial_speed_kph / 3.6)
    route = Route(sc.waypoints) if sc.waypoints else Route.straight(sc.start[0], sc.start[1], sc.heading_deg, 200_000)
    gnss = GnssReceiver(route, rate_hz=sc.gnss["rate_hz"], noise_m=sc.gnss["noise_m"], seed=sc.seed,
                        satellites=sc.gnss["satellites"], hdop=sc.gnss["hdop"], outages=tuple(sc.outages),
                        jumps=tuple(sc.jumps))
    return vehicle, Driver(sc.driver), gnss, MotorController()


class _Bridge:
    """The device's attachment to the bus: frames in both directions, counted."""

    def __init__(self, bus: can.BusABC | None) -> None:
        self.bus = bus
        self.to_device = 0
        self.from_device = 0

    def collect(self, expected: int) -> list[Frame]:
        """Frames that reached the device's side: at least `expected` (the rig's own)."""
        assert self.bus is not None
        frames: list[Frame] = []
        deadline = time.monotonic() + _BUS_WAIT_S
        while True:
            msg = self.bus.recv(timeout=0)
            if msg is None:
                if len(frames) >= expected:
                    break
                if time.monotonic() > deadline:
                    raise EnvironmentProblem(f"the bus delivered {len(frames)} of {expected} frames within "
                                             f"{_BUS_WAIT_S} s: is the channel shared with a busy bus?")
                msg = self.bus.recv(timeout=0.01)
                if msg is None:
                    continue
            if not msg.is_error_frame and not msg.is_remote_frame:
                frames.append((msg.arbitration_id, bytes(msg.data), msg.is_extended_id))
        self.to_device += len(frames)
        return frames

    def send(self, frames: list[tuple[int, bytes]]) -> None:
        assert self.bus is not None
        for fid, data in frames:
            ext = bool(fid & 0x20000000)
            self.bus.send(can.Message(arbitration_id=fid & 0x1FFFFFFF, data=data, is_extended_id=ext))
        self.from_device += len(frames)


def _event_dict(ev: DeviceEvent, names: dict[int, str], vehicle_km: float, sc: Scenario) -> dict:
    out = {"t_s": round(ev.t_ms / 1000, 3), "name": names.get(ev.code, f"event_{ev.code}"),
           "code": ev.code, "value": ev.value, "odometer_km": round(vehicle_km, 3)}
    if ev.position_dm is not None and sc.zones is not None:
        # Where the device put itself (its last good fix), back in degrees through the zone table's origin.
        lon, lat = sc.zones.table.projection.to_lonlat(*ev.position_dm)
        out["position"] = {"lat": round(lat, 7), "lon": round(lon, 7)}
    return out


def run(sc: Scenario, opts: RigOptions) -> RunData:
    vehicle, driver, gnss, mcu = build_world(sc)
    nodes = VehicleNodes(vehicle, gnss, mcu, sc.faults)
    names = event_names()
    timeline = Timeline()
    events: list[dict] = []
    step_us: list[int] = []
    fixes: list[tuple[float, float, float, int]] = []
    last_fix = None
    channel = opts.channel or (f"keigov-{uuid.uuid4().hex[:8]}" if opts.interface == "virtual" else None)
    external = opts.runtime.name == "external"
    if external and not opts.realtime:
        raise KeigovError("the external runtime (a real board) needs --realtime", )
    vehicle_bus = open_bus(opts.interface, channel, opts.bitrate)
    device_bus = None if external else open_bus(opts.interface, channel, opts.bitrate)
    bridge = _Bridge(device_bus)
    steps = int(round(sc.duration_s * 1000 / PERIOD_MS))
    with tempfile.TemporaryDirectory(prefix="keigov-storage-") as storage:
        device = None if external else DeviceProcess(
            opts.runtime, Path(storage), realtime=opts.realtime,
            device_args=simdevice.prepare(Path(storage), sc.firmware_config,
                                          zones=sc.zones.table.blob if sc.zones else None))
        wall0 = time.perf_counter()
        try:
            if device:
                device.start()
            for k in range(steps + 1):
                t_ms = k * PERIOD_MS
                t_s = t_ms / 1000
                if opts.realtime:
                    _sleep_until(wall0 + t_s)
                speed_kph = vehicle.speed_mps * 3.6
                pedal = driver.pedal_pct(t_s, speed_kph)
                brake = driver.brake_fraction(t_s, speed_kph)
                frames = nodes.frames_due(t_ms, pedal, brake > 0)
                for fid, data, ext in frames:
                    vehicle_bus.send(can.Message(arbitration_id=fid, data=data, is_extended_id=ext))
                if device and not opts.realtime:
                    out = device.step(t_ms, bridge.collect(len(frames)))
                    bridge.send(out.frames)
                    step_us.append(out.step_us)
                    events.extend(_event_dict(e, names, vehicle.distance_m / 1000, sc) for e in out.events)
                    _drain(vehicle_bus, nodes, t_s, wait_for=len(out.frames))
                else:
                    if device:
                        _bridge_realtime(device, bridge, events, names, vehicle, sc)
                    _drain(vehicle_bus, nodes, t_s, wait_for=0)
                view = nodes.view
                fix = nodes.last_fix
                if fix is not None and (not fixes or fix is not last_fix):
                    fixes.append((t_s, fix.lat_deg, fix.lon_deg, fix.fix_type))
                    last_fix = fix
                torque = mcu.torque_fraction(t_s, pedal)
                lat, lon, heading = gnss.route.position_at(vehicle.distance_m)
                timeline.add(t_s, speed_kph, view.limit_kph, nodes.pedal_sent, view.torque_limit_pct, view.state,
                             view.zone, vehicle.accel_mps2, vehicle.road.grade_pct(vehicle.distance_m),
                             100 * torque, fix.fix_type if fix else 0, view.flags, vehicle.distance_m, lat, lon,
                             heading)
                vehicle.step(PERIOD_MS / 1000, torque, brake)
                if opts.progress and k % 1000 == 0:
                    _progress(t_s, sc.duration_s)
        finally:
            wall = time.perf_counter() - wall0
            if device:
                device.close()
            vehicle_bus.shutdown()
            if device_bus:
                device_bus.shutdown()
            if opts.progress:
                sys.stderr.write("\r" + " " * 60 + "\r")
    return RunData(sc, timeline, events, step_us, wall, bridge.to_device, bridge.from_device, fixes)


def _drain(bus: can.BusABC, nodes: VehicleNodes, t_s: float, wait_for: int) -> None:
    """Hand the vehicle's nodes every frame on the bus (at least `wait_for` of them)."""
    got = 0
    deadline = time.monotonic() + _BUS_WAIT_S
    while True:
        msg = bus.recv(timeout=0 if got >= wait_for else 0.01)
        if msg is None:
            if got >= wait_for:
                return
            if time.monotonic() > deadline:
                raise EnvironmentProblem(f"the governor's frames did not come back over the bus ({got} of {wait_for})")
            continue
        got += 1
        nodes.on_frame(t_s, msg.arbitration_id, bytes(msg.data))


def _bridge_realtime(device: DeviceProcess, bridge: _Bridge, events: list[dict], names: dict[int, str],
                     vehicle: Vehicle, sc: Scenario) -> None:
    assert bridge.bus is not None
    records = []
    while (msg := bridge.bus.recv(timeout=0)) is not None:
        records.append(device.frame_record(msg.arbitration_id, bytes(msg.data), msg.is_extended_id))
        bridge.to_device += 1
    if records:
        device.send(b"".join(records))
    out = []
    for kind, value, payload in device.read_available():
        if kind == 70:
            out.append((value, payload))
        elif kind == 69:
            events.append(_event_dict(DeviceEvent.from_record(value, payload), names, vehicle.distance_m / 1000, sc))
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
    extra = {
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
    return RunResult(scenario=data.scenario.name, runtime=runtime, sim_seconds=data.scenario.duration_s,
                     wall_seconds=data.wall_seconds, checks=checks, out_dir=out_dir, extra=extra)
