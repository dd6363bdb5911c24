"""Closed-loop fuzz campaign of the firmware's receive path: plant, genuine VCU, attacker.

Independent of hil/ and of the firmware's own codec. Runs unchanged under CPython (tests/
test_fw_fuzz.py, frames packed by the host's FramePacker from the DBC) and under the
MicroPython unix port (tests/fuzz_device/run_fuzz.py, frames packed by its own small
packer), so this module uses plain classes only: annotations are never evaluated on
MicroPython, and no typing or dataclasses are imported. Randomness comes from a local
xorshift32, so a seed gives the same campaign on both runtimes.

The rule the metrics encode (issue 14): the governor limits on the highest physically
plausible speed, and a fault it can ride through never costs the driver the car.
"""

import math

try:
    from typing import Any
except ImportError:     # MicroPython: annotations are never evaluated there
    Any = None  # type: ignore[misc, assignment]

CAP_KPH = 64.37             # the default cap, 40 mph (core/config.py cap_ckph 6437)
MARGIN_KPH = 2.0            # issue 14: true speed <= cap + 2 km/h after the first 3 s over it
GRACE_MS = 3000
ATTACK_FROM_MS = 1000       # genuine traffic alone first: the governor boots and trusts its inputs
FAULT = 3                   # GOVERNOR_STATE / COMMAND_STATE

# Governor bus ids (dbc/keigov.dbc).
WHEEL_ID = 0x0B0
DRIVER_ID = 0x0C0
LAT_ID = 0x3A0
LON_ID = 0x3A1
VEL_ID = 0x3A2
COMMAND_ID = 0x200
STATUS_ID = 0x210
RX_IDS = (WHEEL_ID, DRIVER_ID, LAT_ID, LON_ID, VEL_ID)
NAMES = {WHEEL_ID: "WHEEL_SPEEDS", DRIVER_ID: "DRIVER_INPUTS", LAT_ID: "GNSS_FIX_LAT",
         LON_ID: "GNSS_FIX_LON", VEL_ID: "GNSS_VELOCITY"}
WHEELS = ("WHEEL_SPEED_FL", "WHEEL_SPEED_FR", "WHEEL_SPEED_RL", "WHEEL_SPEED_RR")
WHEEL_MAX_RAW = 8191        # 13 bits of 0.025 km/h: 204.775 km/h

# Attack modes. Benign ones are what a real bus does to a healthy car: no FAULT, few events.
MODES = ("clean", "random", "bitflip", "dlc", "replay", "counter_jump", "drop_third", "extreme",
         "forged_interleave", "scaled_low", "frozen", "outlier")
BENIGN = ("clean", "counter_jump", "drop_third", "outlier")
MAX_FLOOD_EVENTS = 20


def quantise(value: float, scale: float) -> float:
    """A non-negative physical value on its signal's grid (no round(): it differs by runtime)."""
    return int(value / scale + 0.5) * scale


def wheel_kph(raw: int) -> float:
    return raw * 0.025


class Rng:
    """xorshift32: the same sequence on CPython and MicroPython."""

    def __init__(self, seed: int) -> None:
        self.x = (seed * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF or 1

    def next32(self) -> int:
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        return x

    def below(self, n: int) -> int:
        return self.next32() % n

    def chance(self, p: float) -> bool:
        return self.next32() < int(p * 4294967296.0)

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.next32() / 4294967296.0


class Plant:
    """Longitudinal dynamics of a small EV, true speed in km/h, 10 ms steps.

    The motor controller applies min(pedal, TORQUE_LIMIT) of its torque through a 50 ms lag;
    full torque is traction-limited at low speed and power-limited above ~36 km/h, so at a
    100 % pedal the car would settle near 137 km/h, far over the cap.
    """

    A_MAX = 3.5             # m/s^2 at full torque, low speed
    P_PER_KG = 36.0         # W/kg: the power limit
    ROLL = 0.15             # m/s^2
    AERO = 0.0004           # 1/m: aero drag = AERO * v^2
    TAU_S = 0.05            # motor torque lag
    G = 9.80665

    def __init__(self, speed_kph: float = 0.0, grade_pct: float = 0.0) -> None:
        self.v = speed_kph / 3.6
        self.grade = grade_pct / 100.0
        self.frac = 0.0     # torque actually applied, 0..1
        self.distance_m = 0.0

    @property
    def speed_kph(self) -> float:
        return self.v * 3.6

    def step(self, torque_frac: float, dt: float = 0.01) -> None:
        self.frac += (torque_frac - self.frac) * (dt / (self.TAU_S + dt))
        v = self.v
        drive = self.frac * min(self.A_MAX, self.P_PER_KG / v if v > 0.1 else self.A_MAX)
        resist = (self.ROLL + self.AERO * v * v) if v > 0.0 else 0.0
        a = drive - resist - self.G * self.grade
        v += a * dt
        if v < 0.0:
            v = 0.0
        self.v = v
        self.distance_m += v * dt


class Vcu:
    """The genuine nodes: WHEEL_SPEEDS and DRIVER_INPUTS every 20 ms, a good GNSS fix
    (LAT, LON, VELOCITY sharing one sequence number) every 100 ms, correct counters;
    the packer computes the CRCs. `due` returns (name, physical values, counter) lists."""

    LAT0 = 35.6812
    LON0 = 139.7671

    def __init__(self, pedal_pct: float = 100.0) -> None:
        self.pedal_pct = pedal_pct
        self.counter = {"WHEEL_SPEEDS": -1, "DRIVER_INPUTS": -1, "GNSS": -1}
        self.wheel_scale = [1.0, 1.0, 1.0, 1.0]   # the sensors as fitted (attacks change it)

    def _next(self, key: str) -> int:
        c = (self.counter[key] + 1) & 0xF
        self.counter[key] = c
        return c

    def wheel_values(self, true_kph: float) -> dict:
        out = {}
        for k in range(4):
            raw = int(true_kph * self.wheel_scale[k] / 0.025 + 0.5)
            out[WHEELS[k]] = wheel_kph(raw if raw < WHEEL_MAX_RAW else WHEEL_MAX_RAW)
        return out

    def due(self, t_ms: int, plant: Plant) -> list:
        frames = []
        if t_ms % 20 == 0:
            frames.append(["WHEEL_SPEEDS", self.wheel_values(plant.speed_kph), self._next("WHEEL_SPEEDS")])
            frames.append(["DRIVER_INPUTS", {"ACCEL_PEDAL_POS": quantise(self.pedal_pct, 0.1), "BRAKE_SWITCH": 0},
                           self._next("DRIVER_INPUTS")])
        if t_ms % 100 == 0:
            seq = self._next("GNSS")
            east = plant.distance_m / (111320.0 * math.cos(self.LAT0 * math.pi / 180.0))
            lat = int(self.LAT0 * 1e7 + 0.5) * 1e-7
            lon = int((self.LON0 + east) * 1e7 + 0.5) * 1e-7
            frames.append(["GNSS_FIX_LAT", {"LATITUDE": lat, "FIX_TYPE": 3, "NUM_SATELLITES": 12}, seq])
            frames.append(["GNSS_FIX_LON", {"LONGITUDE": lon, "HDOP": 0.9}, seq])
            frames.append(["GNSS_VELOCITY", {"GNSS_SPEED": quantise(plant.speed_kph, 0.01), "GNSS_HEADING": 90.0}, seq])
        return frames


class Attacker:
    """Seeded, deterministic faults and attacks, in two stages: `values` tampers with what
    a sensor reports before the genuine node packs it (valid CRC, running counter); `bus`
    drops, corrupts, replays and injects frames on the wire."""

    def __init__(self, mode: str, seed: int, packer: Any) -> None:
        if mode not in MODES:
            raise ValueError("unknown attack mode %r" % mode)
        self.mode = mode
        self.rng = Rng(seed)
        self.packer = packer
        self.frozen: Any = None          # the wheel values held by a frozen sensor
        self.history: list[Any] = [None] * 512  # ring of (t, fid, data) genuine frames, for replays
        self.hn = 0
        self.recorded: list[Any] = [None] * 16  # genuine wheel frames at 20-40 km/h, by counter value
        self.true_kph = 0.0
        self.drop_left = 0          # counter_jump: frames of a message still to drop
        self.drop_id = 0
        self.next_drop_ms = 0
        self.wheel_frames = 0
        self.next_glitch_ms = 0
        self.injected = 0
        self.dropped = 0
        self.tampered = 0

    def values(self, t_ms: int, name: str, values: dict, plant: Plant) -> dict:
        self.true_kph = plant.speed_kph
        if name != "WHEEL_SPEEDS" or t_ms < ATTACK_FROM_MS:
            return values
        mode = self.mode
        if mode == "scaled_low":
            self.tampered += 1
            return {w: quantise(values[w] * 0.9, 0.025) for w in WHEELS}
        if mode == "outlier":       # one spinning wheel
            out = dict(values)
            out["WHEEL_SPEED_RR"] = min(quantise(values["WHEEL_SPEED_RR"] * 1.3, 0.025), wheel_kph(WHEEL_MAX_RAW))
            self.tampered += 1
            return out
        if mode == "frozen":
            if self.frozen is None and plant.speed_kph >= 50.0:
                self.frozen = dict(values)
            if self.frozen is not None:
                self.tampered += 1
                return self.frozen
            return values
        if mode == "extreme":       # single-frame glitches to either end of the range
            if t_ms >= self.next_glitch_ms:
                self.next_glitch_ms = t_ms + 700 + self.rng.below(1300)
                self.tampered += 1
                v = wheel_kph(WHEEL_MAX_RAW) if self.rng.chance(0.6) else 0.0
                return {w: v for w in WHEELS}
        return values

    def bus(self, t_ms: int, frames: list) -> list:
        """frames: [fid, data, name, counter] as the genuine nodes send them now."""
        if t_ms < ATTACK_FROM_MS:
            self._remember(t_ms, frames)
            return frames
        mode = self.mode
        rng = self.rng
        out = []
        if mode == "random":
            for _ in range(rng.below(3) if rng.chance(0.4) else 0):
                if rng.chance(0.85):
                    fid = RX_IDS[rng.below(len(RX_IDS))]
                else:       # ids the governor does not read, one extended
                    fid = (0x123, 0x7FF, 0x201, 0x18FF0000 | 1 << 29)[rng.below(4)]
                n = rng.below(9) if rng.chance(0.9) else 12
                out.append([fid, bytes([rng.below(256) for _ in range(n)]), "", -1])
                self.injected += 1
        for f in frames:
            fid, data = f[0], f[1]
            if mode == "bitflip" and rng.chance(0.04):
                b = bytearray(data)
                for _ in range(1 + rng.below(3)):
                    bit = rng.below(8 * len(b))
                    b[bit >> 3] ^= 1 << (bit & 7)
                out.append([fid, bytes(b), f[2], f[3]])
                self.tampered += 1
                continue
            if mode == "dlc" and rng.chance(0.04):
                n = (0, 1, 4, 6, 7, 12, 64)[rng.below(7)]
                out.append([fid, (data + bytes(64))[:n], f[2], f[3]])
                self.tampered += 1
                continue
            if mode == "replay":
                # A recording made at low speed holds every counter value: replayed with the
                # genuine frame's counter, in 2 s bursts, it passes CRC and counter checks.
                if fid == WHEEL_ID and 0 <= f[3] < 16 and self.recorded[f[3]] is not None \
                        and self.true_kph > 45.0 and (t_ms // 1000) % 3 != 2:
                    out.append([fid, self.recorded[f[3]], f[2], f[3]])
                    self.injected += 1
                elif self.true_kph > 45.0 and rng.chance(0.03):
                    old = self._old(t_ms, fid)
                    if old is not None:
                        out.append([fid, old, f[2], -1])
                        self.injected += 1
            if mode == "counter_jump" and self._jump_drop(t_ms, fid):
                self.dropped += 1
                continue
            if fid == WHEEL_ID:
                self.wheel_frames += 1
                if mode == "drop_third" and self.wheel_frames % 3 == 0:
                    self.dropped += 1
                    continue
                if mode == "forged_interleave":
                    # The next counter and a low speed just before each genuine frame: the
                    # genuine one then looks like a repeated counter.
                    low = {w: 30.0 for w in WHEELS}
                    fake = self.packer.pack("WHEEL_SPEEDS", low, f[3])
                    out.append([fake[0], fake[1], "WHEEL_SPEEDS", f[3]])
                    self.injected += 1
            out.append(f)
        self._remember(t_ms, frames)
        return out

    def _jump_drop(self, t_ms: int, fid: int) -> bool:
        """Runs of 1-3 lost frames of the 20 ms messages, one run every 0.2-1 s."""
        if fid != WHEEL_ID and fid != DRIVER_ID:
            return False
        if self.drop_left == 0 and t_ms >= self.next_drop_ms:
            self.drop_id = WHEEL_ID if self.rng.chance(0.5) else DRIVER_ID
            self.drop_left = 1 + self.rng.below(3)
            self.next_drop_ms = t_ms + 200 + self.rng.below(800)
        if self.drop_left and fid == self.drop_id:
            self.drop_left -= 1
            return True
        return False

    def _remember(self, t_ms: int, frames: list) -> None:
        if self.mode != "replay":
            return
        h = self.history
        for f in frames:
            h[self.hn % len(h)] = (t_ms, f[0], f[1])
            self.hn += 1
            if f[0] == WHEEL_ID and 20.0 <= self.true_kph <= 40.0 and self.recorded[f[3]] is None:
                self.recorded[f[3]] = f[1]

    def _old(self, t_ms: int, fid: int) -> Any:
        """A genuine frame of this id sent 0.2-10 s ago (the ring holds ~6 s)."""
        h = self.history
        n = self.hn if self.hn < len(h) else len(h)
        for _ in range(8):
            t, i, data = h[self.rng.below(n)]
            if i == fid and 200 <= t_ms - t <= 10000:
                return data
        return None


class Campaign:
    """One closed-loop run: VCU -> attacker -> governor (stepped every 10 ms) -> motor
    controller -> plant, with the metrics of issue 14 measured on the TRUE speed.

    gov: the firmware's core.app.Governor on a boards.ramcan.RamCan; packer.pack(name,
    values, counter) -> (fid, bytes); decoder.command(data) -> (torque permille, state),
    decoder.status(data) -> state.
    """

    def __init__(self, mode: str, seed: int, seconds: float, gov: Any, packer: Any, decoder: Any,
                 cap_kph: float = CAP_KPH, grade_pct: float = 0.0) -> None:
        self.mode = mode
        self.seed = seed
        self.steps = int(seconds * 100)
        self.gov = gov
        self.packer = packer
        self.decoder = decoder
        self.cap = cap_kph
        self.plant = Plant(0.0, grade_pct)
        self.vcu = Vcu(100.0)
        self.attacker = Attacker(mode, seed, packer)

    def run(self) -> dict:
        gov = self.gov
        can = gov.can
        plant = self.plant
        cap = self.cap
        torque = 0                  # the last TORQUE_LIMIT the motor controller received, permille
        cmd_state = status_state = 0
        exceptions = 0
        first_exc = ""
        over_torque = 0
        first_over_ms = -1          # true speed first above the cap
        first_over2_ms = -1         # ... above cap + MARGIN_KPH
        max_over = 0.0
        max_speed = 0.0
        fault_periods = 0
        overflow = 0
        commands = 0
        events_at_attack = 0
        for k in range(self.steps):
            t = k * 10
            if t == ATTACK_FROM_MS:
                events_at_attack = gov.log.count
            frames = []
            for name, values, counter in self.vcu.due(t, plant):
                values = self.attacker.values(t, name, values, plant)
                fid, data = self.packer.pack(name, values, counter)
                frames.append([fid, data, name, counter])
            for f in self.attacker.bus(t, frames):
                if not can.deliver(f[0], f[1], len(f[1])):
                    overflow += 1
            try:
                gov.step(t)
            except Exception as e:  # any exception is a finding (P4), keep driving to count them
                exceptions += 1
                if not first_exc:
                    first_exc = "t=%d %s: %s" % (t, type(e).__name__, e)
            for i in range(can.take_sent()):
                fid = can.tx_id[i]
                data = bytes(can.tx_data[i * 64: i * 64 + can.tx_len[i]])
                if fid == COMMAND_ID:
                    torque, cmd_state = self.decoder.command(data)
                    commands += 1
                elif fid == STATUS_ID:
                    status_state = self.decoder.status(data)
            if cmd_state == FAULT or status_state == FAULT:
                fault_periods += 1
            plant.step(min(torque, 1000) / 1000.0)  # pedal is 100 %: the limit is what applies
            v = plant.speed_kph
            if v > max_speed:
                max_speed = v
            if v > cap and first_over_ms < 0:
                first_over_ms = t
            if v > cap + MARGIN_KPH and first_over2_ms < 0:
                first_over2_ms = t
            if first_over_ms >= 0 and t >= first_over_ms + GRACE_MS and v - cap > max_over:
                max_over = v - cap
            if first_over2_ms >= 0 and t >= first_over2_ms + GRACE_MS and v > cap + MARGIN_KPH and torque > 0:
                over_torque += 1
        a = self.attacker
        return {
            "mode": self.mode,
            "seed": self.seed,
            "seconds": self.steps / 100,
            "exceptions": exceptions,
            "first_exception": first_exc,
            "over_torque_periods": over_torque,
            "max_over_cap_kph": int(max_over * 1000 + 0.5) / 1000,
            "max_speed_kph": int(max_speed * 1000 + 0.5) / 1000,
            "final_speed_kph": int(plant.speed_kph * 1000 + 0.5) / 1000,
            "fault_periods": fault_periods,
            "flood_events": gov.log.count - events_at_attack,
            "flood_seconds": (self.steps * 10 - ATTACK_FROM_MS) / 1000,
            "commands": commands,
            "rx_overflow": overflow,
            "injected": a.injected,
            "dropped": a.dropped,
            "tampered": a.tampered,
        }


def violations(m: dict) -> list:
    """Issue 14's limits that a campaign's metrics break, each with the measured figure."""
    out = []
    if m["exceptions"]:
        out.append("%d exceptions from Governor.step (first: %s)" % (m["exceptions"], m["first_exception"]))
    if m["over_torque_periods"]:
        out.append("%d periods (10 ms) with TORQUE_LIMIT > 0 while the true speed was above cap + %g km/h, "
                   "3 s after it first got there" % (m["over_torque_periods"], MARGIN_KPH))
    if m["max_over_cap_kph"] > MARGIN_KPH:
        out.append("true speed %.3f km/h above the cap after the first 3 s over it (limit %g; top speed %.1f km/h)"
                   % (m["max_over_cap_kph"], MARGIN_KPH, m["max_speed_kph"]))
    if m["mode"] in BENIGN:
        if m["fault_periods"]:
            out.append("%d periods in FAULT in a benign mode (limit 0)" % m["fault_periods"])
        if m["flood_events"] > MAX_FLOOD_EVENTS:
            out.append("%d events in %.0f s (limit %d)" % (m["flood_events"], m["flood_seconds"], MAX_FLOOD_EVENTS))
    if m["commands"] == 0:
        out.append("no GOVERNOR_COMMAND frame was sent at all")
    return out


# -- host side (CPython only: imported lazily, never on the device) --------------------

class HostPacker:
    """FramePacker (cantools + CRC oracle) with the VCU's counters."""

    def __init__(self) -> None:
        import firmware_harness as fh
        self.fp = fh.packer()

    def pack(self, name: str, values: dict, counter: int) -> tuple:
        return self.fp.pack(name, values, counter=counter)


class HostDecoder:
    """The governor's output decoded by cantools, not by the firmware's codec."""

    def __init__(self) -> None:
        import firmware_harness as fh
        db = fh.packer().db
        self.cmd = db.get_message_by_name("GOVERNOR_COMMAND")
        self.st = db.get_message_by_name("GOVERNOR_STATUS")

    def command(self, data: bytes) -> tuple:
        s = self.cmd.decode(data, decode_choices=False, scaling=False)
        return s["TORQUE_LIMIT"], s["COMMAND_STATE"]

    def status(self, data: bytes) -> int:
        return self.st.decode(data, decode_choices=False, scaling=False)["GOVERNOR_STATE"]


def host_campaign(mode: str, seed: int = 1, seconds: float = 31.0, grade_pct: float = 0.0) -> dict:
    """A campaign against the real firmware under CPython (firmware_harness.build_governor)."""
    import firmware_harness as fh
    return Campaign(mode, seed, seconds, fh.build_governor(), HostPacker(), HostDecoder(),
                    grade_pct=grade_pct).run()
