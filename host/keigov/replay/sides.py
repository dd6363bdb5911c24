"""The two sides of the governor's bus during a replay, period by period.

`InputSide` follows the inputs: it decodes the recorded frames the timeline shows (the
vehicle's speed as the firmware reads it, the pedal, GNSS where it is on CAN), asks the
supplier for the frames the host sends itself, and keeps one row per period.
`OutputSide` follows the governor: it decodes the command and status frames it sends
(torque and speed limit, state, zone, flags) and its events, and keeps one row per
period. The open loop (keigov.replay.runner) and the real-time player
(keigov.replay.realtime) feed them alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from cantools.database.can import Message

from keigov.dbc.roles import FLAG_BITS
from keigov.replay.gnss import FixAssembler
from keigov.replay.supplied import GNSS_PERIODS, Supplier
from keigov.replay.vehicle import GNSS_ROLES, SPEED_ROLES, HostView, RoleSignal, Vehicle
from keigov.simboard import records as rec
from keigov.simboard.process import DeviceEvent

PERIOD_MS = 10
_WHEELS = ("wheel_speed_fl", "wheel_speed_fr", "wheel_speed_rl", "wheel_speed_rr")


def period_of(t: float, start: float) -> int:
    """The control period a frame stamped t belongs to: periods end at start + k x 10 ms,
    and a frame goes to the first period that ends at or after it (times rounded to 1 us,
    the resolution of every log format, so all of them agree)."""
    return -(-round((t - start) * 1e6) // (PERIOD_MS * 1000))


@dataclass
class Outputs:
    """The governor's command and status as its frames showed them, per period."""

    torque_pct: list[float] = field(default_factory=list)
    regen_pct: list[float] = field(default_factory=list)
    limit_kph: list[float] = field(default_factory=list)
    state: list[int] = field(default_factory=list)
    zone: list[int] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)
    step_us: list[int] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)
    frames: int = 0


@dataclass
class Inputs:
    """What the recorded (and supplied) inputs said, per period."""

    speed_kph: list[float] = field(default_factory=list)
    pedal_pct: list[float] = field(default_factory=list)
    accel_mps2: list[float] = field(default_factory=list)
    gnss_fix: list[int] = field(default_factory=list)


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
        self._t: float | None = None

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


def roles_of(decoded: Mapping[str, float] | None, signals: list[RoleSignal]) -> dict[str, float]:
    """The roles among a frame's decoded signals, in shown units; {} for a frame that did
    not decode (None)."""
    if not decoded:
        return {}
    return {s.role: float(decoded[s.signal]) * s.factor for s in signals if s.signal in decoded}


def decode(msg: Message, signals: list[RoleSignal], data: bytes) -> dict[str, float]:
    """roles_of a frame decoded by cantools: for messages outside the device's tables."""
    try:
        decoded = msg.decode(data, decode_choices=False)
    except Exception:  # noqa: BLE001  a frame the device refuses too (length, multiplexer)
        return {}
    # Without decode_containers a container raises, so this is one message's signals; without
    # choices, numbers.
    return roles_of(cast("dict[str, float]", decoded), signals)


class InputSide:
    """The recorded and supplied inputs, period by period."""

    def __init__(self, view: HostView, vehicle: Vehicle, supplier: Supplier) -> None:
        self.view = view
        self.supplier = supplier
        self.speed = _Speed(view)
        self.native = FixAssembler()
        self._gnss_native = vehicle.gnss == "native"
        self.pedal = vehicle.pedal_pct if vehicle.pedal_pct is not None else 0.0
        self.fix_type = 0
        self.rows = Inputs()
        self.used = 0           # recorded frames the device's tables use

    def frame(self, t: float, fid: int, data: bytes) -> None:
        """A recorded frame (on its way to the device or the board)."""
        i = self.view.used_index(fid)
        if i < 0:
            return
        self.used += 1
        found = self.view.inputs.get(i)
        if found is None:
            return
        values = roles_of(self.view.decode(fid, data), found[1])
        if not values:
            return
        self.speed.update(t, values)
        if "pedal" in values:
            self.pedal = values["pedal"]
        if self._gnss_native and any(r in values for r in GNSS_ROLES):
            fix = self.native.update(t, {r: v for r, v in values.items() if r in GNSS_ROLES})
            if fix is not None:
                self.fix_type = fix.fix_type

    def close(self, k: int, t_abs: float) -> list[tuple[int, bytes]]:
        """The frames the host supplies in period k (at UTC t_abs); the period's row."""
        frames = self.supplier.frames(k, t_abs)
        fixes = self.supplier.fixes
        if fixes is not None and k % GNSS_PERIODS == 0:
            fix = fixes.at(t_abs)
            self.fix_type = fix.fix_type if fix is not None else 0
        rows = self.rows
        rows.speed_kph.append(self.speed.kph)
        rows.pedal_pct.append(self.pedal)
        rows.accel_mps2.append(self.speed.accel)
        rows.gnss_fix.append(self.fix_type)
        return frames


class OutputSide:
    """The governor's command, status and events, period by period."""

    def __init__(self, view: HostView) -> None:
        self.view = view
        self.out = Outputs()
        self.torque = self.regen = self.limit = 0.0
        self.state = self.zone = self.flags = 0
        self.done = 0

    def take(self, records: list[tuple[int, int, bytes]]) -> None:
        """The sim board's records: its frames and events, then D closing each period."""
        for kind, value, payload in records:
            if kind == rec.DONE:
                self.period_done(value)
            elif kind == rec.FRAME:
                self.frame(value, payload)
            elif kind == rec.EVENT:
                self.out.events.append(DeviceEvent.from_record(value, payload))

    def frame(self, fid: int, payload: bytes) -> None:
        self.out.frames += 1
        found = self.view.outputs.get(fid)
        if found is None:
            return
        for role, v in roles_of(self.view.decode(fid, payload), found[1]).items():
            if role == "torque_limit":
                self.torque = v
            elif role == "regen_request":
                self.regen = v
            elif role == "speed_limit":
                self.limit = v
            elif role == "state":
                self.state = int(v)
            elif role == "zone":
                self.zone = int(v)
            elif role in FLAG_BITS:
                bit = 1 << FLAG_BITS.index(role)
                self.flags = (self.flags | bit) if v else (self.flags & ~bit)

    def period_done(self, step_us: int | None) -> None:
        out = self.out
        out.torque_pct.append(self.torque)
        out.regen_pct.append(self.regen)
        out.limit_kph.append(self.limit)
        out.state.append(self.state)
        out.zone.append(self.zone)
        out.flags.append(self.flags)
        if step_us is not None:
            out.step_us.append(step_us)
        self.done += 1
