"""core.rx and core.tx at the edges the keigov bus does not reach: messages without a
counter or a checksum (the J1939 truck's and the EV's maps), a burst of bad frames
longer than the receiver's run counters, and a CAN driver that refuses frames.

Part of the safety core's coverage gate (docs/quality.md). Frames are packed by the
host's FramePacker from each map's DBC; the tables are the ones `keigov dbc compile`
makes from the bundled maps.
"""

from __future__ import annotations

import functools
from types import ModuleType

import firmware_harness as fh

from boards.ramcan import RamCan
from core import events, roles
from core.events import EventLog
from core.rx import ERR_CHECKSUM, ERR_COUNTER, ERR_LENGTH, ERR_RANGE, ERR_TIMEOUT, RECOVER_FRAMES, Receiver
from core.tx import Transmitter
from keigov.dbc.compile import compile_map
from keigov.dbc.e2e import FramePacker
from keigov.dbc.generated import load_source
from keigov.paths import DBC_DIR
from tables import keigov_bus

MAPS = DBC_DIR / "maps"
EXT = 0x20000000      # core.idmatch: the extended-frame bit of a received id


@functools.cache
def table(name: str) -> ModuleType:
    return load_source(compile_map(MAPS / f"{name}.toml"), name)


class MapRx:
    """A Receiver on a bundled map's table, fed frames packed from that map's DBC."""

    def __init__(self, map_name: str) -> None:
        self.t = table(map_name)
        self.log = EventLog()
        self.rx = Receiver(self.t, self.log)
        self.packer = FramePacker.from_map(MAPS / f"{map_name}.toml")
        self.now = 0

    def index(self, name: str) -> int:
        msg = self.packer.message(name)
        return self.t.RX_ID.index(msg.frame_id | (EXT if msg.is_extended_frame else 0))

    def frame(self, name: str, values: dict[str, float]) -> tuple[int, bytes]:
        msg = self.packer.message(name)
        full = {s.name: 0 for s in msg.signals} | values
        fid, data = self.packer.pack(name, full)
        return fid | (EXT if msg.is_extended_frame else 0), data

    def feed(self, fid: int, data: bytes, length: int | None = None) -> int:
        self.now += 50
        return self.rx.feed(fid, bytearray(data), len(data) if length is None else length, self.now)

    def invalid_events(self) -> list[int]:
        log = self.log
        return [log.value[k % log.capacity] for k in range(log.oldest(), log.count)
                if log.code[k % log.capacity] == events.INPUT_INVALID]


# -- messages without a counter or a checksum ------------------------------------------------

def test_without_counter_or_checksum_a_message_is_judged_on_length_and_range_alone():
    rig = MapRx("j1939_truck")
    i = rig.index("CCVS1")
    assert rig.t.RX_COUNTER[i] < 0 and rig.t.RX_CHECKSUM[i] < 0
    fid, data = rig.frame("CCVS1", {"WheelBasedVehicleSpeed": 42.5})
    # The very same frame again and again: with no counter there is no repeat to refuse.
    for _ in range(RECOVER_FRAMES):
        assert rig.feed(fid, data) == i
    assert rig.rx.valid[i] and rig.rx.values[roles.IN_VEHICLE_SPEED] == 4250
    assert rig.feed(fid, data, length=7) == -1 and rig.rx.error[i] == ERR_LENGTH
    out = bytearray(data)
    out[1] = out[2] = 0xFF                # WheelBasedVehicleSpeed 0xFFFF, J1939's "not available"
    assert rig.feed(fid, bytes(out)) == -1 and rig.rx.error[i] == ERR_RANGE
    assert rig.rx.values[roles.IN_VEHICLE_SPEED] == 4250, "a refused frame changes nothing"
    assert not rig.rx.valid[i], "two refusals in a row distrust it"
    assert rig.invalid_events() == [i * 256 + ERR_LENGTH]


def test_with_a_counter_and_no_checksum_repeats_are_still_refused():
    rig = MapRx("ev_mcu")
    i = rig.index("ABS_WHEEL_SPEEDS")
    assert rig.t.RX_COUNTER[i] >= 0 and rig.t.RX_CHECKSUM[i] < 0
    wheels = {"WHEEL_FL": 30.0, "WHEEL_FR": 30.0, "WHEEL_RL": 30.0, "WHEEL_RR": 30.0}
    for _ in range(RECOVER_FRAMES):
        assert rig.feed(*rig.frame("ABS_WHEEL_SPEEDS", wheels)) == i
    assert rig.rx.valid[i]
    fid, data = rig.frame("ABS_WHEEL_SPEEDS", wheels | {"WHEEL_FL": 31.0})
    assert rig.feed(fid, data) == i and rig.rx.values[roles.IN_WHEEL_FL] == 3100
    assert rig.feed(fid, data) == -1 and rig.rx.error[i] == ERR_COUNTER
    assert rig.rx.seq[i] == rig.packer.counters["ABS_WHEEL_SPEEDS"] % 16, "the accepted frame's counter"


# -- a long burst --------------------------------------------------------------------------

def test_a_burst_longer_than_the_run_counters_records_one_event_and_is_forgiven_in_a_few_frames():
    log = EventLog()
    rx = Receiver(keigov_bus, log)
    p = fh.packer()
    i = 0                                  # WHEEL_SPEEDS
    now = 0

    def feed(**kw: object) -> int:
        nonlocal now
        now += 20
        fid, data = p.pack("WHEEL_SPEEDS", {n: 30.0 for n in fh.Bench.WHEEL_NAMES}, **kw)
        return rx.feed(fid, data, len(data), now)

    for _ in range(RECOVER_FRAMES):
        feed()
    assert rx.valid[i]
    for _ in range(300):
        assert feed(corrupt_checksum=True) == -1
    assert rx.refused[i] == 300 and not rx.valid[i] and rx.error[i] == ERR_CHECKSUM
    assert rx.bad_run[i] == 255 and rx.unread[i] == 255, "saturated, not wrapped"
    codes = [log.code[k % log.capacity] for k in range(log.oldest(), log.count)]
    assert codes.count(events.INPUT_INVALID) == 1, "one event for the whole burst"
    # The score saturates too: five good frames bring it below the limit, the third of
    # them already a run of RECOVER_FRAMES, so the fifth restores trust.
    got = [feed() for _ in range(5)]
    assert got == [i] * 5
    assert rx.valid[i] and rx.error[i] == 0
    assert [feed() == i for _ in range(3)] == [True] * 3


def test_the_score_forgives_exactly_as_fast_as_it_saturates():
    def good_frames_to_trust_after(burst: int) -> int:
        rx = Receiver(keigov_bus, EventLog())
        p = fh.packer()
        now = 0

        def feed(**kw: object) -> None:
            nonlocal now
            now += 20
            fid, data = p.pack("WHEEL_SPEEDS", {n: 30.0 for n in fh.Bench.WHEEL_NAMES}, **kw)
            rx.feed(fid, data, len(data), now)

        for _ in range(RECOVER_FRAMES + 5):     # trusted, the score back to 0
            feed()
        for _ in range(burst):
            feed(corrupt_checksum=True)
        good = 0
        while not rx.valid[0] and good < 20:
            feed()
            good += 1
        return good

    # Score +2 a refusal, -1 a good frame, capped at 8; trusted again below 4 after
    # RECOVER_FRAMES good frames in a row. One refusal alone never distrusts.
    assert [good_frames_to_trust_after(b) for b in (1, 2, 3, 4, 10)] == [0, 3, 3, 5, 5]


# -- a CAN driver that refuses frames --------------------------------------------------------

def test_frames_the_driver_refuses_are_counted_and_the_next_ones_still_go_out():
    can = RamCan(tx_depth=1)           # one mailbox: the second and third message of a period bounce
    tx = Transmitter(keigov_bus, can)
    tx.send_due(0)
    assert can.take_sent() == 1 and can.tx_id[0] == keigov_bus.TX_ID[0]
    assert tx.failed == len(keigov_bus.TX_ID) - 1
    tx.send_due(20)                    # only GOVERNOR_COMMAND is due again: it fits
    assert can.take_sent() == 1 and tx.failed == len(keigov_bus.TX_ID) - 1
    msg = fh.packer().db.get_message_by_frame_id(keigov_bus.TX_ID[0])
    counter = fh.packer().protection["GOVERNOR_COMMAND"]["counter"]
    assert msg.decode(bytes(can.tx_data[:8]))[counter] == 1, "the command's counter moved on"


def test_a_counter_that_goes_back_is_refused_and_a_wrap_is_not():
    rig = MapRx("ev_mcu")
    i = rig.index("ABS_WHEEL_SPEEDS")
    wheels = {"WHEEL_FL": 30.0, "WHEEL_FR": 30.0, "WHEEL_RL": 30.0, "WHEEL_RR": 30.0}
    rig.packer.counters["ABS_WHEEL_SPEEDS"] = 12
    for _ in range(RECOVER_FRAMES + 3):           # 13, 14, 15, 0 (the wrap), 1, 2
        assert rig.feed(*rig.frame("ABS_WHEEL_SPEEDS", wheels)) == i
    rig.packer.counters["ABS_WHEEL_SPEEDS"] -= 2   # the next frame carries 1 again: back by one
    assert rig.feed(*rig.frame("ABS_WHEEL_SPEEDS", wheels)) == -1 and rig.rx.error[i] == ERR_COUNTER


def test_only_mapped_signals_reach_the_inputs():
    """The EV's wheel message has a counter of no role: it must not land in another
    input's slot (the vehicle speed from VCU_VEHICLE here)."""
    rig = MapRx("ev_mcu")
    for _ in range(RECOVER_FRAMES):
        rig.feed(*rig.frame("VCU_VEHICLE", {"VEHICLE_SPEED": 45.67}))
        rig.feed(*rig.frame("ABS_WHEEL_SPEEDS", {"WHEEL_FL": 30.0, "WHEEL_FR": 30.0, "WHEEL_RL": 30.0,
                                                 "WHEEL_RR": 30.0}))
    assert rig.rx.values[roles.IN_VEHICLE_SPEED] == 4567


def test_each_run_of_refusals_records_its_first_and_a_timeout_names_its_message():
    log = EventLog()
    rx = Receiver(keigov_bus, log)
    p = fh.packer()
    driver = 1                                      # DRIVER_INPUTS
    now = 0

    def feed(length: int = 8, **kw: object) -> None:
        nonlocal now
        now += 20
        fid, data = p.pack("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": 10.0, "BRAKE_SWITCH": 0}, **kw)
        rx.feed(fid, data, length, now)

    for _ in range(RECOVER_FRAMES):
        feed()
    feed(corrupt_checksum=True)
    feed()                                          # a good frame ends the run
    feed(length=7)                                  # a new run: its first refusal is recorded
    rx.expire(now + keigov_bus.RX_TIMEOUT_MS[driver] + 1)
    invalid = [log.value[k % log.capacity] for k in range(log.oldest(), log.count)
               if log.code[k % log.capacity] == events.INPUT_INVALID]
    assert invalid == [driver * 256 + ERR_CHECKSUM, driver * 256 + ERR_LENGTH, driver * 256 + ERR_TIMEOUT]


def test_the_truck_s_limits_go_out_in_its_dbc_s_units():
    can = RamCan()
    t = table("j1939_truck")
    tx = Transmitter(t, can)
    tx.values[roles.OUT_TORQUE_LIMIT] = 500          # 50.0 %
    tx.values[roles.OUT_ACTIVE_LIMIT] = 6437         # 64.37 km/h
    tx.values[roles.OUT_SPEED_LIMIT] = 6437
    tx.send_due(0)
    db = FramePacker.from_map(MAPS / "j1939_truck.toml").db
    got = {}
    for k in range(can.take_sent()):
        msg = db.get_message_by_frame_id(can.tx_id[k] & 0x1FFFFFFF)
        got[msg.name] = msg.decode(bytes(can.tx_data[k * 64: k * 64 + can.tx_len[k]]), decode_choices=False)
    assert got["TSC1"]["EngRqedTorque_TorqueLimit"] == 50
    assert abs(got["PROPB_KEIGOV"]["ActiveSpeedLimit"] - 64.37) <= 1 / 256
    assert got["PROPB_KEIGOV"]["TorqueLimitCmd"] == 50


def test_the_refusal_reasons_are_distinct_and_none_is_zero():
    """An input_invalid event's low byte names why (keigov replay reads the names from
    core/rx.py); 0 is the receiver's "no refusal", so no reason may be 0 or share a code."""
    reasons = [ERR_LENGTH, ERR_CHECKSUM, ERR_COUNTER, ERR_RANGE, ERR_TIMEOUT]
    assert len(set(reasons)) == len(reasons) and 0 not in reasons and max(reasons) < 256
