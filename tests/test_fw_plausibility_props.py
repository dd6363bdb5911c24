"""Hypothesis properties of the real governor over adversarial wheel-speed frame sequences.

Wheel frames are drawn slot by slot (every 20 ms): any values 0..204.775 km/h, a counter
that is next, repeated, backwards or jumps 1-5, CRC good or bad, DLC right or wrong,
dropped, duplicated, or a forged frame with the next counter sent just before a genuine
one. DRIVER_INPUTS (a constant pedal) and a good GNSS fix (at a speed drawn per example)
stay genuine. Issue 14's rule: the governor limits on the highest plausible speed.

  P1  once GNSS has been sent for >= 1 s and says the car is at or above the cap, the
      TORQUE_LIMIT of a GOVERNOR_COMMAND never exceeds the previous command's.
  P2  while the newest wheel frame the receiver took as well formed (DLC, CRC, range and
      counter: core/rx.py's form checks, held to cantools in test_fw_rx.py) has a median
      wheel speed at or above the cap, the torque limit never rises either, whether or not
      the supervisor believes it (a glitch can only lower torque).
  P3  the torque limit never exceeds the pedal and never rises by more than the up-ramp
      (torque_ramp_up_pm_s over one 20 ms command period, plus one 0.1 % quantum), from boot on.
  P4  Governor.step never raises.

Shrinking is off by default (a failing example costs a few ms, shrinking one costs minutes);
the assertion says where and why it failed. KEIGOV_SHRINK=1 turns it on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import firmware_harness as fh

import fuzz_support as fs
from core import config

CFG = config.Config()
CAP = CFG.cap_ckph
COMMAND_MS = 20
UP_PER_COMMAND = CFG.torque_ramp_up_pm_s * COMMAND_MS // 1000 + 1   # permille
UP_PER_PERIOD = CFG.torque_ramp_up_pm_s * fh.PERIOD_MS // 1000
GNSS_SETTLE_MS = 1000
KINDS = ("next",) * 6 + ("repeat", "backwards", "jump", "drop", "duplicate", "forged")
BAD_DLC = (0, 1, 7, 12)

PHASES = tuple(Phase) if os.environ.get("KEIGOV_SHRINK") else \
    (Phase.explicit, Phase.reuse, Phase.generate, Phase.target)
PROPS = settings(deadline=None, max_examples=100, phases=PHASES, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Slot:
    """What happens to the wheel-speed message in one 20 ms slot."""

    kind: str
    raws: tuple[int, int, int, int] | None   # None: the sensor reads what it read before
    crc_ok: bool = True
    dlc: int = 8
    step: int = 1                             # backwards by / jump over


@dataclass
class Drive:
    gnss_ckph: int
    pedal_pm: int
    slots: list[Slot]


@dataclass
class Command:
    t: int
    torque: int
    gnss_for_ms: int                # since the first GNSS frame
    looking_median_x4: int          # 4 x the median (ckph) of the newest accepted-looking wheel frame, -1: none
    slot: int


@dataclass
class Run:
    drive: Drive
    commands: list[Command] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)


BOUNDARY_RAWS = (0, 1, 2574, 2575, 2576, 3000, 8190, 8191)   # 2575 = 64.375 km/h, the first at the cap
SLOT_BYTES = 11


def raw_from(hi: int, lo: int) -> int:
    """A wheel raw from two bytes: one time in four a boundary value, else anywhere in range."""
    return BOUNDARY_RAWS[lo & 7] if hi >> 6 == 3 else ((hi << 8) | lo) % (fs.WHEEL_MAX_RAW + 1)


def decode_slots(blob: bytes) -> list[Slot]:
    """Slots from raw bytes: one binary draw per example keeps generation ~25x cheaper than
    a composite draw per slot, which matters at 60-160 slots an example."""
    out = []
    for k in range(0, len(blob) - SLOT_BYTES + 1, SLOT_BYTES):
        b = blob[k: k + SLOT_BYTES]
        raws: tuple[int, int, int, int] | None
        if b[1] < 64:
            raws = None                      # the sensor reads what it read before
        elif b[1] < 160:
            raws = (raw_from(b[2], b[3]),) * 4
        else:
            raws = (raw_from(b[2], b[3]), raw_from(b[4], b[5]), raw_from(b[6], b[7]), raw_from(b[8], b[9]))
        flags = b[10]
        # All-zero bytes (what hypothesis tries first) are a genuine next frame.
        out.append(Slot(KINDS[b[0] % len(KINDS)], raws, crc_ok=flags & 7 != 7,
                        dlc=BAD_DLC[flags >> 6] if flags & 0x38 == 0x38 else 8, step=1 + (flags >> 3) % 5))
    return out


@st.composite
def drives(draw: st.DrawFn) -> Drive:
    gnss = draw(st.one_of(st.sampled_from((CAP - 1, CAP, CAP + 1, 0, 3000, 8000, 12000)), st.integers(0, 15000)))
    pedal = draw(st.one_of(st.sampled_from((0, 1, 500, 1000)), st.integers(0, 1000)))
    blob = draw(st.binary(min_size=60 * SLOT_BYTES, max_size=160 * SLOT_BYTES))
    return Drive(gnss, pedal, decode_slots(blob))


def median_x4(raws: tuple[int, int, int, int]) -> int:
    """4 x the median of four wheels in ckph: (middle two raws) x 0.025 km/h / 2 x 100 x 4."""
    s = sorted(raws)
    return (s[1] + s[2]) * 5


WHEEL_INDEX = fh.keigov_bus.RX_ID.index(fs.WHEEL_ID)


def run(drive: Drive) -> Run:
    """Boot the governor and feed it the drive: wheel frames as drawn, the rest genuine."""
    gov = fh.build_governor()
    can = gov.can
    packer = fh.packer()
    decode = fs.HostDecoder()
    out = Run(drive)
    counter = 0
    raws = (0, 0, 0, 0)
    looking = -1
    driver_counter = gnss_seq = 0
    first_gnss = -1
    lon = fs.Vcu.LON0

    def wheel(values: tuple[int, int, int, int], c: int, crc_ok: bool = True, dlc: int = 8) -> None:
        fid, data = packer.pack("WHEEL_SPEEDS", {w: fs.wheel_kph(r) for w, r in zip(fs.WHEELS, values)},
                                counter=c, corrupt_checksum=not crc_ok)
        data = (data + bytes(64))[:dlc]
        assert can.deliver(fid, data, dlc)

    for k, slot in enumerate(drive.slots):
        for half in (0, 1):
            t = k * COMMAND_MS + half * 10
            if half == 0:
                sensed = slot.raws if slot.raws is not None else raws
                kind = slot.kind
                if kind == "forged":       # the forger takes the next counter: the genuine frame repeats it
                    counter = (counter + 1) & 0xF
                    wheel(sensed, counter, slot.crc_ok, slot.dlc)
                    wheel(raws, counter)
                else:
                    raws = sensed
                    if kind in ("next", "duplicate", "drop"):
                        counter = (counter + 1) & 0xF
                    elif kind == "backwards":
                        counter = (counter - min(slot.step, 3)) & 0xF
                    elif kind == "jump":
                        counter = (counter + 1 + slot.step) & 0xF
                    if kind != "drop":
                        wheel(raws, counter, slot.crc_ok, slot.dlc)
                    if kind == "duplicate":
                        wheel(raws, counter, slot.crc_ok, slot.dlc)
                fid, data = packer.pack("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": drive.pedal_pm / 10, "BRAKE_SWITCH": 0},
                                        counter=driver_counter)
                driver_counter = (driver_counter + 1) & 0xF
                assert can.deliver(fid, data, len(data))
            if t % 100 == 0:
                if first_gnss < 0:
                    first_gnss = t
                lon += drive.gnss_ckph / 360000 * 0.1 / 90400   # 0.1 s of travel east, roughly
                for name, values in (("GNSS_FIX_LAT", {"LATITUDE": fs.Vcu.LAT0, "FIX_TYPE": 3, "NUM_SATELLITES": 12}),
                                     ("GNSS_FIX_LON", {"LONGITUDE": round(lon, 7), "HDOP": 0.9}),
                                     ("GNSS_VELOCITY", {"GNSS_SPEED": drive.gnss_ckph / 100, "GNSS_HEADING": 90.0})):
                    fid, data = packer.pack(name, values, counter=gnss_seq)
                    assert can.deliver(fid, data, len(data))
                gnss_seq = (gnss_seq + 1) & 0xF
            try:
                gov.step(t)
            except Exception as e:  # P4; keep going so the other properties still see the run
                out.exceptions.append(f"t={t} ms, slot {k} {slot}: {type(e).__name__}: {e}")
            if gov.rx.fresh[WHEEL_INDEX]:   # the receiver took a wheel frame this period
                looking = 2 * sum(sorted(gov.rx.values[w] for w in range(4))[1:3])
            for i in range(can.take_sent()):
                if can.tx_id[i] == fs.COMMAND_ID:
                    torque, _state = decode.command(bytes(can.tx_data[i * 64: i * 64 + can.tx_len[i]]))
                    out.commands.append(Command(t, torque, t - first_gnss if first_gnss >= 0 else -1, looking, k))
    assert out.commands, "the governor sent no GOVERNOR_COMMAND"
    return out


def where(r: Run, i: int) -> str:
    c, prev = r.commands[i], r.commands[i - 1] if i else None
    recent = r.drive.slots[max(0, c.slot - 3): c.slot + 1]
    return (f"command at t={c.t} ms: TORQUE_LIMIT {c.torque / 10:.1f} % after {prev.torque / 10 if prev else 0:.1f} %; "
            f"GNSS {r.drive.gnss_ckph / 100:.2f} km/h for {c.gnss_for_ms} ms, newest accepted-looking wheel median "
            f"{c.looking_median_x4 / 400:.3f} km/h, pedal {r.drive.pedal_pm / 10:.1f} %, cap {CAP / 100:.2f} km/h; "
            f"last slots {recent}")


def pairs(r: Run) -> list[tuple[int, Command, int]]:
    """(index, command, the previous command's torque: 0 before the first)."""
    out = []
    prev = 0
    for i, c in enumerate(r.commands):
        out.append((i, c, prev))
        prev = c.torque
    return out


@PROPS
@given(drives())
def test_p1_gnss_at_the_cap_never_lets_torque_rise(drive: Drive) -> None:
    r = run(drive)
    if drive.gnss_ckph < CAP:
        return
    for i, c, prev in pairs(r):
        if c.gnss_for_ms >= GNSS_SETTLE_MS and i:
            assert c.torque <= prev, "P1: torque rose while GNSS said the car was at/above the cap: " + where(r, i)


@PROPS
@given(drives())
def test_p2_a_wheel_frame_at_the_cap_never_lets_torque_rise(drive: Drive) -> None:
    r = run(drive)
    for i, c, prev in pairs(r):
        if i and c.looking_median_x4 >= 4 * CAP:
            # Commands go out every other period: a frame that arrived with this command
            # came after the period between them, which may have risen by one period's ramp.
            before = r.commands[i - 1].looking_median_x4 >= 4 * CAP
            allowed = prev if before else prev + UP_PER_PERIOD
            assert c.torque <= allowed, ("P2: torque rose while the newest well-formed wheel frame read at/above "
                                         "the cap: " + where(r, i))


@PROPS
@given(drives())
def test_p3_torque_stays_under_the_pedal_and_the_up_ramp(drive: Drive) -> None:
    r = run(drive)
    for i, c, prev in pairs(r):
        assert c.torque <= drive.pedal_pm, "P3: torque above the driver's pedal: " + where(r, i)
        assert c.torque - prev <= UP_PER_COMMAND, (
            f"P3: torque rose by {(c.torque - prev) / 10:.1f} % in one command period (up-ramp allows "
            f"{UP_PER_COMMAND / 10:.1f} %): " + where(r, i))


@settings(PROPS, max_examples=150)
@given(drives())
def test_p4_step_never_raises(drive: Drive) -> None:
    r = run(drive)
    assert not r.exceptions, f"P4: Governor.step raised {len(r.exceptions)} times, first: {r.exceptions[0]}"


def test_the_properties_see_what_they_check() -> None:
    """A plain drive: commands from boot on, GNSS settled, a wheel frame at the cap recognised."""
    at_cap = (2575,) * 4
    r = run(Drive(CAP, 1000, [Slot("next", (1000,) * 4)] * 30 + [Slot("next", at_cap)] * 40))
    assert r.commands[0].t == 0 and len(r.commands) == 70
    assert r.commands[-1].gnss_for_ms >= GNSS_SETTLE_MS
    assert r.commands[-1].looking_median_x4 >= 4 * CAP > r.commands[20].looking_median_x4
    bad = run(Drive(CAP, 1000, [Slot("next", at_cap, crc_ok=False)] * 5 + [Slot("next", at_cap, dlc=7)] * 5))
    assert all(c.looking_median_x4 == -1 for c in bad.commands)
