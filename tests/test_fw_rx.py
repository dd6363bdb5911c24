"""core.rx.Receiver: what it accepts, decodes, refuses, trusts and distrusts.

Frames are packed by cantools (keigov.dbc.e2e.FramePacker); the expected firmware values come
from cantools' raw value, the DBC scale and offset, and the host's unit factors, never
from the compiled table the firmware uses.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_harness as fh

from core import events, rx
from core.events import EventLog
from keigov.dbc import roles as host_roles
from keigov.dbc.e2e import crc8_j1850
from keigov.dbc.tables import load_map
from keigov.paths import KEIGOV_MAP
from tables import keigov_bus as T

SMAP = load_map(KEIGOV_MAP)
DB = fh.packer().db
RX_NAMES = [DB.get_message_by_frame_id(fid).name for fid in T.RX_ID]
WHEELS = RX_NAMES.index("WHEEL_SPEEDS")
PERIOD = T.RX_PERIOD_MS[WHEELS]
TIMEOUT = T.RX_TIMEOUT_MS[WHEELS]
TICK_MASK = (1 << 30) - 1


class RxRig:
    """A Receiver with its event log and a packer whose counters follow the frames fed."""

    def __init__(self) -> None:
        self.log = EventLog()
        self.rx = rx.Receiver(T, self.log)
        self.packer = fh.packer()
        self.now = 0

    def feed(self, name: str, values: dict[str, float] | None = None, *, length: int | None = None,
             **kw) -> int:
        fid, data = self.packer.pack(name, values if values is not None else neutral(name), **kw)
        self.now = (self.now + T.RX_PERIOD_MS[RX_NAMES.index(name)]) & TICK_MASK
        return self.rx.feed(fid, data, len(data) if length is None else length, self.now)

    def feed_raw(self, fid: int, data: bytes) -> int:
        return self.rx.feed(fid, data, len(data), self.now)

    def trust(self, name: str) -> int:
        i = RX_NAMES.index(name)
        for _ in range(3):
            self.feed(name)
        assert self.rx.valid[i]
        return i

    def events(self, code: int) -> list[int]:
        return [self.log.value[k % self.log.capacity] for k in range(self.log.oldest(), self.log.count)
                if self.log.code[k % self.log.capacity] == code]


def neutral(name: str) -> dict[str, float]:
    """Mid-range values for every payload signal (a frame the firmware must accept)."""
    return {s.name: (s.minimum + s.maximum) / 2 if s.length > 1 else 0 for s in fh.payload_signals(name)}


def expected_units(name: str, data: bytes) -> dict[int, int]:
    """Firmware slot -> value the firmware must hold, from cantools and host unit factors."""
    msg = DB.get_message_by_name(name)
    raw = msg.decode(data, scaling=False, decode_choices=False)
    out: dict[int, int] = {}
    for role_name, target in SMAP.inputs.items():
        m, _, s = target.partition(".")
        if m != name:
            continue
        role = host_roles.INPUTS[role_name]
        sig = msg.get_signal_by_name(s)
        exact = (Fraction(raw[s]) * Fraction(str(sig.scale)) + Fraction(str(sig.offset))) \
            * host_roles.unit_factor(role.unit, sig.unit or "")
        if len(role.ids) == 2:      # 32-bit coordinate: signed high half, unsigned low half
            hi, lo = divmod(int(exact), 1 << 16)
            out[role.ids[0]], out[role.ids[1]] = hi, lo
        else:
            out[role.ids[0]] = math.floor(exact + Fraction(1, 2))
    return out


def message_values() -> st.SearchStrategy[tuple[str, dict[str, float]]]:
    return st.sampled_from(RX_NAMES).flatmap(lambda n: st.tuples(st.just(n), fh.payload_values(n)))


# -- decoding --------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(mv=message_values())
def test_good_frames_decode_to_firmware_units(mv):
    name, values = mv
    rig = RxRig()
    fid, data = rig.packer.pack(name, values)
    i = rig.rx.feed(fid, data, len(data), 5)
    assert i == RX_NAMES.index(name)
    assert rig.rx.error[i] == 0 and rig.rx.fresh[i]
    for slot, want in expected_units(name, data).items():
        assert rig.rx.values[slot] == want, f"{name}: slot {slot}"


@settings(max_examples=200, deadline=None)
@given(fid=st.integers(0, 0x3FFFFFFF).filter(lambda f: f not in T.RX_ID),
       data=st.binary(min_size=0, max_size=8))
def test_unknown_ids_are_ignored_and_counted(fid, data):
    rig = RxRig()
    rig.trust("DRIVER_INPUTS")
    before = (list(rig.rx.values), bytes(rig.rx.valid), rig.log.count)
    assert rig.feed_raw(fid, data) == -1
    assert rig.feed_raw(fid, data) == -1
    assert rig.rx.ignored == 2
    assert (list(rig.rx.values), bytes(rig.rx.valid), rig.log.count) == before
    assert sum(rig.rx.refused) == 0


# -- refusals --------------------------------------------------------------------------

def _out_of_range_pedal(rig: RxRig) -> tuple[int, bytes]:
    """A correctly protected DRIVER_INPUTS frame whose pedal raw value (1023) is above
    the DBC maximum (100 % = 1000): only the range check can refuse it."""
    msg = DB.get_message_by_name("DRIVER_INPUTS")
    counter = rig.packer.counters["DRIVER_INPUTS"] + 1
    rig.packer.counters["DRIVER_INPUTS"] = counter
    data = bytearray(msg.encode({"ACCEL_PEDAL_POS": 1023, "BRAKE_SWITCH": 0, "DRIVER_INPUTS_COUNTER": counter % 16,
                                 "DRIVER_INPUTS_CHECKSUM": 0}, scaling=False, strict=False))
    data[7] = crc8_j1850(msg.frame_id, bytes(data), 7)
    return msg.frame_id, bytes(data)


BAD_FRAMES = {
    rx.ERR_LENGTH: lambda rig: rig.feed("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": 99.0, "BRAKE_SWITCH": 1}, length=7),
    rx.ERR_CHECKSUM: lambda rig: rig.feed("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": 99.0, "BRAKE_SWITCH": 1},
                                          corrupt_checksum=True),
    rx.ERR_COUNTER: lambda rig: rig.feed("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": 99.0, "BRAKE_SWITCH": 1},
                                         counter=(rig.packer.counters["DRIVER_INPUTS"] + 2 + rx.MAX_LOST) % 16),
    rx.ERR_RANGE: lambda rig: rig.feed_raw(*_out_of_range_pedal(rig)),
}


@pytest.mark.parametrize("reason", sorted(BAD_FRAMES), ids=lambda r: {1: "length", 2: "checksum", 3: "counter",
                                                                     4: "range"}[r])
def test_bad_frame_is_refused_whole_with_its_reason(reason):
    rig = RxRig()
    i = rig.trust("DRIVER_INPUTS")
    rig.feed("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": 12.5, "BRAKE_SWITCH": 0})
    before = list(rig.rx.values)
    assert before[4] == 125
    rig.rx.clear_fresh()
    assert BAD_FRAMES[reason](rig) == -1
    assert list(rig.rx.values) == before, "a refused frame changed the inputs"
    assert rig.rx.error[i] == reason and not rig.rx.fresh[i]
    assert rig.rx.refused[i] == 1
    assert rig.events(events.INPUT_INVALID) == [i * 256 + reason]
    assert rig.rx.valid[i], "one bad frame alone must not distrust the message"


def test_a_corrupted_frame_is_refused_as_corrupted_even_if_a_signal_now_reads_out_of_range():
    rig = RxRig()
    i = rig.trust("DRIVER_INPUTS")
    fid, data = rig.packer.pack("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": 12.5, "BRAKE_SWITCH": 0})
    damaged = bytearray(data)
    damaged[0] |= 0xFF                   # pedal bits 0-7 flipped: 1023 > 1000 with the byte above
    damaged[1] |= 0x03
    assert rig.feed_raw(fid, bytes(damaged)) == -1
    assert rig.rx.error[i] == rx.ERR_CHECKSUM


@pytest.mark.parametrize("reason", sorted(BAD_FRAMES))
def test_two_bad_in_a_row_distrust_and_record_one_event(reason):
    rig = RxRig()
    i = rig.trust("DRIVER_INPUTS")
    BAD_FRAMES[reason](rig)
    BAD_FRAMES[reason](rig)
    assert not rig.rx.valid[i] and rig.rx.error[i] == reason
    assert rig.events(events.INPUT_INVALID) == [i * 256 + reason]


def test_a_bad_frame_every_third_never_reaches_the_limit():
    rig = RxRig()
    i = rig.trust("WHEEL_SPEEDS")
    for _ in range(10):
        rig.feed("WHEEL_SPEEDS", corrupt_checksum=True)
        rig.feed("WHEEL_SPEEDS")
        rig.feed("WHEEL_SPEEDS")
    assert rig.rx.valid[i] and rig.rx.refused[i] == 10


def test_bad_frames_alternating_with_good_ones_are_distrusted_by_the_third():
    # A forged frame with the next counter before each genuine one makes every genuine
    # frame a repeat: refusals never come twice in a row, but they keep coming.
    rig = RxRig()
    i = rig.trust("WHEEL_SPEEDS")
    bad = 0
    while rig.rx.valid[i]:
        rig.feed("WHEEL_SPEEDS")
        rig.packer.counters["WHEEL_SPEEDS"] -= 1
        assert rig.feed("WHEEL_SPEEDS") == -1 and rig.rx.error[i] == rx.ERR_COUNTER
        bad += 1
        assert bad <= 3
    assert bad == 3
    for _ in range(6):              # the pattern goes on: trust does not come back
        rig.feed("WHEEL_SPEEDS")
        rig.packer.counters["WHEEL_SPEEDS"] -= 1
        rig.feed("WHEEL_SPEEDS")
    assert not rig.rx.valid[i]


@pytest.mark.parametrize("lost", range(1, 5))
def test_counter_jumps_of_lost_frames_are_tolerated_up_to_max_lost(lost):
    rig = RxRig()
    i = rig.trust("WHEEL_SPEEDS")
    rig.packer.counters["WHEEL_SPEEDS"] += lost              # frames lost on the bus
    got = rig.feed("WHEEL_SPEEDS")
    if lost <= rx.MAX_LOST:
        assert got == i and rig.rx.valid[i] and not rig.events(events.INPUT_INVALID)
    else:
        assert got == -1 and rig.rx.error[i] == rx.ERR_COUNTER


def test_a_refused_frame_lets_the_next_counter_skip_one_more_value():
    rig = RxRig()
    i = rig.trust("WHEEL_SPEEDS")
    rig.feed("WHEEL_SPEEDS", corrupt_checksum=True)        # used counter n, refused
    assert rig.feed("WHEEL_SPEEDS") == i                   # n + 1 follows the refused frame
    rig.feed("WHEEL_SPEEDS", corrupt_checksum=True)
    rig.packer.counters["WHEEL_SPEEDS"] += rx.MAX_LOST     # and MAX_LOST frames lost on the wire
    assert rig.feed("WHEEL_SPEEDS") == i
    rig.feed("WHEEL_SPEEDS", corrupt_checksum=True)
    rig.packer.counters["WHEEL_SPEEDS"] += rx.MAX_LOST + 1
    assert rig.feed("WHEEL_SPEEDS") == -1 and rig.rx.error[i] == rx.ERR_COUNTER


def test_a_repeated_counter_is_refused():
    rig = RxRig()
    i = rig.trust("WHEEL_SPEEDS")
    rig.packer.counters["WHEEL_SPEEDS"] -= 1
    assert rig.feed("WHEEL_SPEEDS") == -1 and rig.rx.error[i] == rx.ERR_COUNTER


def test_three_good_frames_restore_trust():
    rig = RxRig()
    i = rig.trust("WHEEL_SPEEDS")
    rig.feed("WHEEL_SPEEDS", corrupt_checksum=True)
    rig.feed("WHEEL_SPEEDS", corrupt_checksum=True)
    assert not rig.rx.valid[i]
    rig.feed("WHEEL_SPEEDS")
    rig.feed("WHEEL_SPEEDS")
    assert not rig.rx.valid[i], "two good frames are not yet enough"
    rig.feed("WHEEL_SPEEDS")
    assert rig.rx.valid[i] and rig.rx.error[i] == 0
    # Boot trust (3) and recovery (3) each record one INPUT_RECOVERED; the second, a repeat
    # within the hold-off, is counted and summarised once the burst ends (core/events.py).
    assert rig.events(events.INPUT_RECOVERED) == [i]
    rig.log.flush(rig.now + 5000)
    assert [events.unpack_repeated(v) for v in rig.events(events.REPEATED)] == [
        (events.INPUT_RECOVERED, events.repeat_tag(i), 1)]


def test_a_bad_frame_restarts_the_good_run():
    rig = RxRig()
    i = RX_NAMES.index("WHEEL_SPEEDS")
    rig.feed("WHEEL_SPEEDS")
    rig.feed("WHEEL_SPEEDS")
    rig.feed("WHEEL_SPEEDS", corrupt_checksum=True)
    rig.feed("WHEEL_SPEEDS")
    rig.feed("WHEEL_SPEEDS")
    assert not rig.rx.valid[i]
    rig.feed("WHEEL_SPEEDS")
    assert rig.rx.valid[i]


# -- time ------------------------------------------------------------------------------

def test_timeout_after_rx_timeout_ms():
    rig = RxRig()
    i = rig.trust("WHEEL_SPEEDS")
    last = rig.now
    rig.rx.expire(last + TIMEOUT)
    assert rig.rx.valid[i], "exactly the timeout is still in time"
    rig.rx.expire(last + TIMEOUT + 1)
    assert not rig.rx.valid[i] and rig.rx.error[i] == rx.ERR_TIMEOUT
    assert rig.events(events.INPUT_INVALID) == [i * 256 + rx.ERR_TIMEOUT]
    assert TIMEOUT == 5 * PERIOD


def test_a_message_is_stale_after_one_and_a_half_periods():
    rig = RxRig()
    i = rig.trust("WHEEL_SPEEDS")
    last = rig.now
    rig.rx.expire(last + PERIOD * 3 // 2)
    assert not rig.rx.stale[i]
    rig.rx.expire(last + PERIOD * 3 // 2 + 1)
    assert rig.rx.stale[i] and rig.rx.valid[i], "late, not yet timed out"
    rig.feed("WHEEL_SPEEDS")
    assert not rig.rx.stale[i]


def test_timeout_survives_tick_wraparound():
    rig = RxRig()
    rig.now = TICK_MASK - 2 * PERIOD - 3
    i = rig.trust("WHEEL_SPEEDS")
    assert rig.now < PERIOD, "the clock wrapped while the frames arrived"
    rig.rx.expire(rig.now + TIMEOUT)
    assert rig.rx.valid[i]
    rig.rx.expire(rig.now + TIMEOUT + 1)
    assert not rig.rx.valid[i]


def test_counter_resyncs_after_a_jump():
    rig = RxRig()
    i = rig.trust("WHEEL_SPEEDS")
    jumped = rig.packer.counters["WHEEL_SPEEDS"] + 5
    rig.packer.counters["WHEEL_SPEEDS"] = jumped - 1
    assert rig.feed("WHEEL_SPEEDS") == -1 and rig.rx.error[i] == rx.ERR_COUNTER
    assert rig.feed("WHEEL_SPEEDS") == i, "the frame after the jumped one continues the new sequence"
    assert rig.rx.valid[i]


def test_counter_is_free_after_a_timeout():
    rig = RxRig()
    i = rig.trust("WHEEL_SPEEDS")
    rig.now += TIMEOUT + 1
    rig.rx.expire(rig.now)
    rig.packer.counters["WHEEL_SPEEDS"] += 7
    assert rig.feed("WHEEL_SPEEDS") == i, "after a timeout any counter starts a new sequence"


def test_counter_wraps_modulo_its_width():
    rig = RxRig()
    i = rig.trust("WHEEL_SPEEDS")
    for _ in range(40):
        assert rig.feed("WHEEL_SPEEDS") == i
    assert sum(rig.rx.refused) == 0
