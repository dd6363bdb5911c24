"""The simulated vehicle's nodes on the governor bus (dbc/keigov.dbc).

VCU: wheel speeds and driver inputs at 50 Hz. GNSS: fix and velocity at the receiver's
rate. MCU: takes the governor's command (checking its counter and CRC like a real
controller) and applies min(pedal, torque limit). Frames are encoded from the DBC by
packers compiled from cantools' messages (keigov.dbc.packer, byte for byte cantools'
frames) and decoded by the governor bus's generated tables; scenario faults tamper with
them on the way out.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass

from keigov import paths
from keigov.dbc.e2e import checksum_function
from keigov.dbc.generated import load_path
from keigov.dbc.packer import TablePacker
from keigov.firmware_params import STATE_NAMES, STATUS_FLAGS
from keigov.gnss import PAIRED_WITH_LAT, GnssFix, gnss_messages
from keigov_hil.gnss import GnssReceiver
from keigov_hil.scenario import VALUE_FAULTS, FaultSpec
from keigov_hil.vehicle import MotorController, Vehicle

Frame = tuple[int, bytes, bool]
_IGNORED: tuple[None, None, int] = (None, None, 0)
_WHEELS = ("WHEEL_SPEED_FL", "WHEEL_SPEED_FR", "WHEEL_SPEED_RL", "WHEEL_SPEED_RR")
_MAX_WHEEL_KPH = 204.775
# The signals a forged frame sets to its value_kph (scenario.FORGEABLE).
_FORGED = {"WHEEL_SPEEDS": _WHEELS, "GNSS_VELOCITY": ("GNSS_SPEED",)}


@dataclass
class GovernorView:
    """What the bus shows of the governor: the latest decoded command and status."""

    torque_limit_pct: float = 0.0
    regen_pct: float = 0.0
    limit_kph: float = 0.0
    state: str = "INIT"
    zone: int = 0
    flags: int = 0
    commands: int = 0
    bad_commands: int = 0


@dataclass
class _Tamper:
    """One fault on a message's frames, with what it keeps between them."""

    spec: FaultSpec
    rng: random.Random
    seen: int = 0                          # drop: the message's frames while active
    losing: int = 0                        # drop: frames of the current burst still to lose
    values: dict[str, float] | None = None  # freeze_valid: the values at the fault's start

    def loses(self) -> bool:
        """drop: whether this frame is lost (every Nth, or by chance), `burst` in a row."""
        f = self.spec
        starts = self.seen % f.every_n == 0 if f.every_n else self.rng.random() < f.probability
        self.seen += 1
        if self.losing == 0 and starts:
            self.losing = f.burst
        if self.losing:
            self.losing -= 1
            return True
        return False


class VehicleNodes:
    def __init__(self, vehicle: Vehicle, gnss: GnssReceiver, mcu: MotorController, faults: list[FaultSpec],
                 seed: int = 0) -> None:
        self.packer = TablePacker.from_map(paths.KEIGOV_MAP)
        self.db = self.packer.db
        self.tables = load_path(paths.KEIGOV_TABLES)
        self.vehicle = vehicle
        self.gnss = gnss
        self.mcu = mcu
        self.faults = faults
        self.view = GovernorView()
        self.last_fix: GnssFix | None = None
        self.pedal_sent = 0.0  # the pedal as the governor last received it
        self._frozen: dict[str, bytes] = {}
        self._value_faults = [f for f in faults if f.kind in VALUE_FAULTS]
        # Messages a fault tampers with take the slow path; the others are packed straight.
        # Each fault draws from its own generator, seeded by the scenario: same seed, same run.
        self._tampers: dict[str, list[_Tamper]] = {}
        for n, f in enumerate(faults):
            if f.kind not in VALUE_FAULTS:
                self._tampers.setdefault(f.message, []).append(_Tamper(f, random.Random(f"{seed}/{n}")))
        self._tampered = frozenset(self._tampers)
        self._delayed: list[tuple[int, int, Frame]] = []   # jitter: (due ms, order, frame), a heap
        self._delays = 0
        self._last_due: dict[str, int] = {}                # jitter without reorder: a message's latest due ms
        self._framers: dict[str, Callable[..., tuple[int, bytes]]] = {}   # the others' packers
        # Frames the vehicle's nodes read: id -> (message name, the checksum the motor
        # controller checks, as a function of the payload, or None; the checksum's byte).
        self._receives: dict[int, tuple[str | None, Callable[[bytes], int] | None, int]] = {}
        for m in self.db.messages:
            plan = self.packer.plan(m.name)
            scheme = plan.scheme if m.name in ("GOVERNOR_COMMAND", "GOVERNOR_STATUS") else None
            self._receives[m.frame_id] = (m.name, checksum_function(scheme, m.frame_id, plan.checksum_byte, m.length)
                                          if scheme else None, plan.checksum_byte)

    # -- transmit --------------------------------------------------------------------

    def frames_due(self, t_ms: int, pedal_pct: float, brake: bool) -> list[Frame]:
        t_s = t_ms / 1000
        frames: list[Frame] = []
        delayed = self._delayed
        while delayed and delayed[0][0] <= t_ms:    # jittered frames sent earlier, now on the bus
            frames.append(heapq.heappop(delayed)[2])
        if t_ms % 20 == 0:
            fl, fr, rl, rr = self.vehicle.wheel_speeds_kph()
            if self._value_faults:
                wheels = [fl, fr, rl, rr]
                for f in self._value_faults:
                    if f.active(t_s):
                        for w in f.wheels():
                            wheels[w] = (max(0.0, wheels[w] + f.bias_kph) if f.kind == "wheel_bias"
                                         else wheels[w] * f.scale_at(t_s))
                fl, fr, rl, rr = wheels
            self._emit(frames, t_s, "WHEEL_SPEEDS", {
                "WHEEL_SPEED_FL": _clip(fl, 0, _MAX_WHEEL_KPH), "WHEEL_SPEED_FR": _clip(fr, 0, _MAX_WHEEL_KPH),
                "WHEEL_SPEED_RL": _clip(rl, 0, _MAX_WHEEL_KPH), "WHEEL_SPEED_RR": _clip(rr, 0, _MAX_WHEEL_KPH)})
            self.pedal_sent = round(_clip(pedal_pct, 0, 100), 1)
            self._emit(frames, t_s, "DRIVER_INPUTS", {"ACCEL_PEDAL_POS": self.pedal_sent, "BRAKE_SWITCH": int(brake)})
        if self.gnss.due_ms(t_ms):
            fix = self.gnss.fix(t_s, self.vehicle.distance_m, self.vehicle.speed_mps)
            self.last_fix = fix
            seq = self.packer.counters.get("GNSS_FIX_LAT", -1) + 1
            for name, values in gnss_messages(fix):
                self._emit(frames, t_s, name, values, counter=seq if name in PAIRED_WITH_LAT else None)
        return frames

    def _emit(self, frames: list[Frame], t_s: float, name: str, values: dict[str, float],
              counter: int | None = None) -> None:
        framer = self._framers.get(name)
        if framer is None:
            if name in self._tampered:
                self._emit_tampered(frames, t_s, name, values, counter)
                return
            framer = self._framers[name] = self.packer.framer(name)
        fid, data = framer(values, counter)
        frames.append((fid, data, False))

    def _emit_tampered(self, frames: list[Frame], t_s: float, name: str, values: dict[str, float],
                       counter: int | None) -> None:
        """A message some fault of the scenario tampers with, as its faults say when active."""
        active = [t for t in self._tampers[name] if t.spec.active(t_s)]
        kinds = {t.spec.kind for t in active}
        lost = [t.loses() for t in active if t.spec.kind == "drop"]    # every drop counts the frame
        if "stop" in kinds or any(lost):
            self.packer.pack(name, values, counter=counter)  # the sender's counter keeps running
            return
        if "freeze" in kinds and name in self._frozen:
            frames.append((self.packer.message(name).frame_id, self._frozen[name], False))
            return
        for t in active:
            if t.spec.kind == "freeze_valid":
                if t.values is None:
                    t.values = dict(values)
                values = t.values
            elif t.spec.kind == "forge":
                frames.append(self._forged(t, name, values, counter))
        if "bad_counter" in kinds:
            counter = 0  # stuck counter: every frame after the first repeats it
        fid, data = self.packer.pack(name, values, counter=counter, corrupt_checksum="bad_checksum" in kinds)
        if counter is not None and name in self.packer.counters:
            self.packer.counters[name] = counter
        if "freeze" not in kinds:
            self._frozen[name] = data
        jitter = next((t for t in active if t.spec.kind == "jitter"), None)
        if jitter is None:
            frames.append((fid, data, False))
        else:
            self._jittered(frames, round(t_s * 1000), name, (fid, data, False), jitter)

    def _forged(self, t: _Tamper, name: str, values: dict[str, float], counter: int | None) -> Frame:
        """A frame another node slips in before the genuine one: its speed, a valid CRC and the
        counter the fault's policy gives (the genuine frame's next one, the previous, or any)."""
        plan = self.packer.plan(name)
        modulus = 1 << self.packer.message(name).get_signal_by_name(plan.counter).length if plan.counter else 1
        coming = counter if counter is not None else self.packer.counters.get(name, -1) + 1
        forged_counter = {"next": coming, "same": coming - 1}.get(t.spec.counter)
        if forged_counter is None:
            forged_counter = t.rng.randrange(modulus)
        forged = values | dict.fromkeys(_FORGED[name], _clip(t.spec.value_kph, 0, _MAX_WHEEL_KPH))
        fid, data = self.packer.pack(name, forged, counter=forged_counter % modulus)
        return fid, data, False

    def _jittered(self, frames: list[Frame], t_ms: int, name: str, frame: Frame, t: _Tamper) -> None:
        """The frame sent up to jitter_ms late (whole periods, seeded); in order unless `reorder`."""
        due = t_ms + 10 * t.rng.randrange(t.spec.jitter_ms // 10 + 1)
        if not t.spec.reorder:
            due = max(due, self._last_due.get(name, 0))
            self._last_due[name] = due
        if due <= t_ms:
            frames.append(frame)
        else:
            self._delays += 1
            heapq.heappush(self._delayed, (due, self._delays, frame))

    # -- receive ---------------------------------------------------------------------

    def on_frame(self, t_s: float, frame_id: int, data: bytes) -> None:
        name, check, byte = self._receives.get(frame_id, _IGNORED)
        if name is None:
            return
        if check is not None and check(data) != data[byte]:
            self.view.bad_commands += 1
            return
        values = self.tables.decode(frame_id, data)
        if values is None:  # not the DBC length: a real controller drops it too
            return
        if name == "GOVERNOR_COMMAND":
            self.view.commands += 1
            self.view.torque_limit_pct = float(values["TORQUE_LIMIT"])
            self.view.regen_pct = float(values.get("REGEN_REQUEST", 0.0))   # tables of a bus without regen lack it
            self.view.limit_kph = float(values["SPEED_LIMIT"])
            self.view.state = STATE_NAMES.get(int(values["COMMAND_STATE"]), "?")
            self.mcu.on_command(t_s, self.view.torque_limit_pct, self.view.regen_pct)
        elif name == "GOVERNOR_STATUS":
            self.view.zone = int(values["ZONE_ID"])
            self.view.flags = sum(int(values[n]) << i for i, n in enumerate(STATUS_FLAGS))


def _clip(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v
