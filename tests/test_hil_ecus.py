"""The vehicle's nodes on the bus: the motor controller trusts only governor commands
whose checksum (the map's scheme, as the governor computed it) is right, and takes their
regen request; each fault kind's frames, decoded by cantools, checked by the reference CRC."""

from __future__ import annotations

import pytest

from keigov.dbc.e2e import checksum
from keigov_hil.ecus import VehicleNodes
from keigov_hil.gnss import GnssReceiver, Route
from keigov_hil.scenario import FaultSpec
from keigov_hil.vehicle import MotorController, Road, Vehicle, VehicleParams


def test_a_command_with_a_bad_checksum_is_dropped_and_counted() -> None:
    mcu = MotorController()
    route = Route.straight(35.68, 139.76, 90.0, 1000.0)
    nodes = VehicleNodes(Vehicle(VehicleParams(), Road([(0.0, 0.0)])), GnssReceiver(route), mcu, [])
    command = {"TORQUE_LIMIT": 42.0, "SPEED_LIMIT": 64.4, "COMMAND_STATE": 2, "REGEN_REQUEST": 0.0}
    fid, good = nodes.packer.pack("GOVERNOR_COMMAND", command)
    nodes.on_frame(0.01, fid, good)
    assert (nodes.view.commands, nodes.view.bad_commands, nodes.view.torque_limit_pct) == (1, 0, 42.0)
    _fid, other = nodes.packer.pack("GOVERNOR_COMMAND", command | {"TORQUE_LIMIT": 90.0})
    corrupted = other[:7] + bytes([other[7] ^ 0x01])      # the checksum byte, one bit flipped
    nodes.on_frame(0.02, fid, corrupted)
    assert (nodes.view.commands, nodes.view.bad_commands, nodes.view.torque_limit_pct) == (1, 1, 42.0)
    assert mcu.torque_fraction(0.03, 100.0) == 0.42, "the motor controller still obeys the last good command"
    nodes.on_frame(0.03, fid, other)
    assert nodes.view.torque_limit_pct == 90.0


# -- fault kinds, frame by frame -----------------------------------------------------------

ROUTE = Route.straight(35.68, 139.76, 90.0, 1000.0)
Wheels = tuple[int, dict[str, float], bool]     # t_ms, the frame decoded by cantools, its CRC right


def fault(kind: str, start_s: float = 1.0, end_s: float | None = None, **keys: object) -> FaultSpec:
    return FaultSpec(kind, str(keys.pop("message", "WHEEL_SPEEDS")), start_s, end_s, **keys)  # type: ignore[arg-type]


def wheel_frames(faults: list[FaultSpec], seconds: float = 3.0, seed: int = 0,
                 kph_at=lambda t: 50.0) -> list[Wheels]:
    """WHEEL_SPEEDS as it goes on the bus over `seconds`, with the vehicle at `kph_at(t)`."""
    vehicle = Vehicle(VehicleParams(), Road([(0.0, 0.0)]))
    nodes = VehicleNodes(vehicle, GnssReceiver(ROUTE), MotorController(), faults, seed)
    msg = nodes.db.get_message_by_name("WHEEL_SPEEDS")
    plan = nodes.packer.plan("WHEEL_SPEEDS")
    out = []
    for t_ms in range(0, round(seconds * 1000), 10):
        vehicle.speed_mps = kph_at(t_ms / 1000) / 3.6
        for fid, data, _ in nodes.frames_due(t_ms, 0.0, False):
            if fid == msg.frame_id:
                crc_ok = checksum(plan.scheme, fid, data, plan.checksum_byte) == data[plan.checksum_byte]
                out.append((t_ms, msg.decode(data, decode_choices=False), crc_ok))
    return out


def counters(frames: list[Wheels]) -> list[int]:
    return [int(f[1]["WHEEL_SPEEDS_COUNTER"]) for f in frames]


def steps(frames: list[Wheels]) -> list[int]:
    """Each frame's counter less the previous one's, modulo the 4-bit counter."""
    c = counters(frames)
    return [(b - a) % 16 for a, b in zip(c, c[1:])]


def test_freeze_valid_keeps_the_value_with_a_running_counter_and_good_crcs() -> None:
    frames = wheel_frames([fault("freeze_valid", start_s=1.0)], kph_at=lambda t: 40.0 + 10.0 * t)
    after = [f for f in frames if f[0] >= 1000]
    assert [f[1]["WHEEL_SPEED_FL"] for f in after] == pytest.approx([50.0] * len(after), abs=0.03)
    assert frames[0][1]["WHEEL_SPEED_FL"] == pytest.approx(40.0, abs=0.03)
    assert all(ok for _t, _v, ok in frames) and set(steps(frames)) == {1}


def test_scale_one_wheel_all_wheels_and_a_drift_that_ramps() -> None:
    one = wheel_frames([fault("scale", start_s=0.0, wheel=1, scale_pct=30.0)], seconds=0.1)[0][1]
    assert (one["WHEEL_SPEED_FL"], one["WHEEL_SPEED_FR"], one["WHEEL_SPEED_RR"]) == pytest.approx((50.0, 65.0, 50.0),
                                                                                                    abs=0.03)
    every = wheel_frames([fault("scale", start_s=0.0, wheel=-1, scale_pct=-10.0)], seconds=0.1)[0][1]
    assert [every[f"WHEEL_SPEED_{w}"] for w in ("FL", "FR", "RL", "RR")] == pytest.approx([45.0] * 4, abs=0.03)
    drift = {t: v["WHEEL_SPEED_RL"] for t, v, _ok in
             wheel_frames([fault("scale", start_s=1.0, wheel=-1, scale_pct=10.0, ramp_s=2.0)], seconds=4.0)}
    assert (drift[980], drift[2000], drift[3000], drift[3980]) == pytest.approx((50.0, 52.5, 55.0, 55.0), abs=0.03)


def test_wheel_bias_on_every_wheel() -> None:
    frame = wheel_frames([fault("wheel_bias", start_s=0.0, wheel=-1, bias_kph=-5.0)], seconds=0.1)[0][1]
    assert [frame[f"WHEEL_SPEED_{w}"] for w in ("FL", "FR", "RL", "RR")] == pytest.approx([45.0] * 4, abs=0.03)


def test_drop_every_nth_loses_frames_while_the_sender_counts_on() -> None:
    frames = wheel_frames([fault("drop", start_s=1.0, end_s=2.0, every_n=3)])
    assert len(frames) == 150 - 50 // 3 - 1                     # 50 frames in the window, every third lost
    assert steps(frames).count(2) == 17 and set(steps(frames)) == {1, 2}
    bursts = wheel_frames([fault("drop", start_s=1.0, end_s=2.0, every_n=10, burst=2)])
    assert steps(bursts).count(3) == 5 and set(steps(bursts)) == {1, 3}, "two lost in a row: the counter jumps by 3"
    assert all(ok for _t, _v, ok in bursts)


def test_drop_by_chance_follows_the_scenario_seed() -> None:
    lossy = [fault("drop", start_s=0.0, probability=0.2)]
    a, b, other = wheel_frames(lossy, seed=1), wheel_frames(lossy, seed=1), wheel_frames(lossy, seed=2)
    assert counters(a) == counters(b) != counters(other)
    assert 0.1 < 1 - len(a) / 150 < 0.3


def test_jitter_delays_whole_periods_in_order_unless_reordering_is_allowed() -> None:
    late = wheel_frames([fault("jitter", start_s=0.0, jitter_ms=40)], seconds=10.0)
    assert set(steps(late)) == {1}, "never reordered"
    delays = {f[0] - 20 * k for k, f in enumerate(late)}      # in order: the k-th frame was sent at 20k ms
    assert delays <= {0, 10, 20, 30, 40} and len(delays) > 2
    shuffled = wheel_frames([fault("jitter", start_s=0.0, jitter_ms=40, reorder=True)], seconds=10.0)
    assert 15 in steps(shuffled), "a later frame overtook an earlier one"
    assert all(ok for _t, _v, ok in shuffled)


@pytest.mark.parametrize("policy", ["next", "same", "random"])
def test_forge_slips_a_valid_frame_in_before_each_genuine_one(policy: str) -> None:
    frames = wheel_frames([fault("forge", start_s=1.0, value_kph=30.0, counter=policy)])
    genuine = [f for f in frames if f[1]["WHEEL_SPEED_FL"] > 40.0]
    forged = [f for f in frames if f[1]["WHEEL_SPEED_FL"] < 40.0]
    assert len(forged) == 100 and len(genuine) == 150 and all(ok for _t, _v, ok in frames)
    assert set(steps(genuine)) == {1}, "the genuine sender's counter is not disturbed"
    pairs = [(frames[i], frames[i + 1]) for i in range(len(frames) - 1) if frames[i] in forged]
    assert len(pairs) == 100 and all(a[0] == b[0] for a, b in pairs), \
        "each forged frame comes just before a genuine one"
    gaps = {(int(b[1]["WHEEL_SPEEDS_COUNTER"]) - int(a[1]["WHEEL_SPEEDS_COUNTER"])) % 16 for a, b in pairs}
    assert gaps == {"next": {0}, "same": {1}}.get(policy, gaps) and (policy != "random" or len(gaps) > 4)


def test_the_command_s_regen_request_reaches_the_motor_controller() -> None:
    mcu = MotorController()
    nodes = VehicleNodes(Vehicle(VehicleParams(), Road([(0.0, 0.0)])), GnssReceiver(ROUTE), mcu, [])
    fid, data = nodes.packer.pack("GOVERNOR_COMMAND", {"TORQUE_LIMIT": 0.0, "SPEED_LIMIT": 64.4, "COMMAND_STATE": 2,
                                                       "REGEN_REQUEST": 25.0})
    nodes.on_frame(0.01, fid, data)
    assert nodes.view.regen_pct == 25.0
    assert mcu.regen_fraction(0.02, mcu.torque_fraction(0.02, 100.0)) == 0.25
