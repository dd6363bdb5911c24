"""The supervisor through the whole app: states, faults, limp mode, recovery, config.

A Bench feeds the firmware DBC-packed frames at their DBC periods and reads its status
back with cantools, so each check covers decode, decision and encode together.
"""

from __future__ import annotations

import pytest

import firmware_harness as fh

from core import config, events, roles
from core.safety import FAULT, INIT, LIMITING, NORMAL
from tables import keigov_bus as T

WHEEL_PERIOD = T.RX_PERIOD_MS[T.RX_ID.index(0x0B0)]
CFG = config.Config()


def bit(flag: int) -> int:
    return 1 << flag


def cruising(kph: float = 30.0, pedal: float = 20.0, gnss: bool = True, ms: int = 2500) -> fh.Bench:
    """A bench whose car has been driving steadily, below the cap, long enough to be NORMAL."""
    bench = fh.Bench()
    bench.car.set_speed(kph)
    bench.car.pedal_pct = pedal
    bench.car.gnss_speed_kph = kph if gnss else None
    bench.run(ms)
    assert bench.state == NORMAL, f"state {bench.state} flags {bench.flags:#x}"
    return bench


def step_until_flag(bench: fh.Bench, flag: int, within_ms: int) -> int:
    """Step until a status flag is raised; returns the time it was."""
    for _ in range(within_ms // fh.PERIOD_MS + 1):
        bench.step()
        if bench.flags & bit(flag):
            return bench.now - fh.PERIOD_MS
    raise AssertionError(f"flag {flag} not raised within {within_ms} ms (flags {bench.flags:#x})")


def step_until(bench: fh.Bench, states: int | tuple[int, ...], within_ms: int) -> int:
    """Step until the governor is in one of `states`; returns the time it got there."""
    wanted = states if isinstance(states, tuple) else (states,)
    for _ in range(within_ms // fh.PERIOD_MS + 1):
        bench.step()
        if bench.state in wanted:
            return bench.now - fh.PERIOD_MS
    raise AssertionError(f"not in {wanted} within {within_ms} ms (state {bench.state}, flags {bench.flags:#x})")


def ramp_speed(bench: fh.Bench, kph: float, kph_per_s: float = 5.0) -> None:
    bench.ramp_speed(kph, kph_per_s)


def last_wheel_frame_time(bench: fh.Bench) -> int:
    return max(now for now, frames in bench.trace if any(fid == 0x0B0 for fid, _ in frames))


# -- start-up ----------------------------------------------------------------------------

def test_init_denies_torque_until_wheels_and_driver_are_trusted():
    bench = fh.Bench()
    bench.car.set_speed(20)
    bench.car.pedal_pct = 40
    out = bench.run(2 * WHEEL_PERIOD)   # two frames of each: not trusted yet
    assert bench.state == INIT
    assert all(s.signals["TORQUE_LIMIT"] == 0 for s in out if s.name == "GOVERNOR_COMMAND")
    bench.step()                        # the third frame of each arrives
    assert bench.state == NORMAL
    assert (events.STATE_CHANGE, 2 * WHEEL_PERIOD, NORMAL) in bench.events()
    # From 0 at the up-ramp, never a step to the pedal; then the demand passes as is.
    up = CFG.torque_ramp_up_pm_s * fh.PERIOD_MS // 1000
    torques = [bench.app.safety.torque]
    for _ in range(400 // up + 2):
        bench.step()
        torques.append(bench.app.safety.torque)
        assert bench.state == NORMAL, "the start-up ramp is not limiting"
    assert torques[0] == up and max(b - a for a, b in zip(torques, torques[1:])) <= up
    assert torques[-1] == 400 and not bench.app.safety.gov.binding, "below the cap the driver's demand applies as is"


def test_init_without_driver_inputs_faults_after_init_timeout():
    bench = fh.Bench()
    bench.car.set_speed(20)
    bench.car.driver_on = False
    bench.run(CFG.init_timeout_ms)
    assert bench.state == INIT
    step_until(bench, FAULT, 2 * fh.PERIOD_MS)
    assert bench.flags & bit(roles.FLAG_PEDAL_FAULT)
    assert bench.last("GOVERNOR_COMMAND")["TORQUE_LIMIT"] == 0


# -- losing the speed input ----------------------------------------------------------------

def test_wheel_frames_stop_stale_at_one_and_a_half_periods_fault_at_five():
    bench = cruising()
    bench.car.wheels_on = False
    stale = step_until_flag(bench, roles.FLAG_SPEED_STALE, 10 * WHEEL_PERIOD)
    last = last_wheel_frame_time(bench)
    assert WHEEL_PERIOD * 3 // 2 < stale - last <= 2 * WHEEL_PERIOD
    assert bench.state == NORMAL, "late is not yet a fault"
    at = step_until(bench, FAULT, 10 * WHEEL_PERIOD)
    assert 5 * WHEEL_PERIOD < at - last <= 5 * WHEEL_PERIOD + fh.PERIOD_MS
    assert bench.flags & bit(roles.FLAG_SPEED_TIMEOUT)
    assert not bench.flags & bit(roles.FLAG_SPEED_CHECK)
    assert [v for c, t, v in bench.events(events.FAULT_ENTERED) if t == at]
    bench.run(100)
    status = bench.last("GOVERNOR_STATUS")
    assert status["GOVERNOR_STATE"] == FAULT and status["SPEED_TIMEOUT"] == 1


def test_bad_checksums_fault_within_three_periods():
    bench = cruising()
    bench.car.corrupt_wheels = True
    first_bad = bench.now
    at = step_until(bench, FAULT, 10 * WHEEL_PERIOD)
    assert at - first_bad <= 3 * WHEEL_PERIOD
    assert bench.flags & bit(roles.FLAG_SPEED_CHECK)
    assert not bench.flags & bit(roles.FLAG_SPEED_TIMEOUT)
    bench.run(100)
    assert bench.last("GOVERNOR_STATUS")["SPEED_CHECK_FAILED"] == 1


def test_one_corrupt_wheel_frame_is_not_a_fault():
    bench = cruising()
    bench.car.corrupt_wheels = True
    bench.run(WHEEL_PERIOD)           # exactly one wheel frame goes out corrupt
    bench.car.corrupt_wheels = False
    bench.run(500)
    assert bench.state == NORMAL and not bench.flags & roles.FAULT_FLAGS


def test_wheels_split_two_and_two_fault_after_plausibility_ms():
    bench = cruising(kph=40)
    # Allowed spread at ~42 km/h: max(3 km/h, 10 %) = 4.2 km/h; no three wheels agree.
    bench.car.wheels_kph = [40, 40, 45, 45]
    start = bench.now
    bench.run(CFG.plausibility_ms)
    assert bench.state == NORMAL, "a spread shorter than plausibility_ms is tolerated"
    at = step_until(bench, FAULT, 3 * fh.PERIOD_MS)
    assert at - start > CFG.plausibility_ms
    assert bench.flags & bit(roles.FLAG_WHEELS_DISAGREE)
    assert [v for c, t, v in bench.events(events.WHEELS_DISAGREE)] == [500]


def test_one_wheel_far_from_the_others_is_voted_out_without_a_fault():
    bench = cruising(kph=40)
    bench.car.wheels_kph = [40, 40, 40, 52]          # a spinning wheel
    bench.run(2 * CFG.plausibility_ms)
    assert bench.state == NORMAL and not bench.flags & roles.FAULT_FLAGS
    assert bench.flags & bit(roles.FLAG_WHEEL_OUTLIER)
    assert bench.app.safety.speed == 4000, "the other three give the speed"
    assert [v for c, t, v in bench.events(events.WHEEL_OUTLIER)] == [3]
    assert bench.last("GOVERNOR_STATUS")["WHEEL_OUTLIER"] == 1
    bench.car.wheels_kph = [40, 40, 40, 40]
    bench.run(100)
    assert not bench.flags & bit(roles.FLAG_WHEEL_OUTLIER)


def test_spread_within_plausibility_is_not_a_fault():
    bench = cruising(kph=40)
    bench.car.wheels_kph = [40, 40, 40, 43.9]
    bench.run(2 * CFG.plausibility_ms)
    assert bench.state == NORMAL


# -- limp mode ---------------------------------------------------------------------------------

def test_fault_with_gnss_ramps_the_limit_to_the_limp_cap_at_fault_decel():
    bench = cruising(kph=60, pedal=60)
    bench.car.wheels_on = False
    step_until(bench, FAULT, 10 * WHEEL_PERIOD)
    s = bench.app.safety
    assert bench.flags & bit(roles.FLAG_SPEED_FROM_GNSS) and s.speed_source == 2
    assert bench.events(events.SPEED_SOURCE_GNSS)
    per_step = -(-CFG.fault_decel_ckph_s * fh.PERIOD_MS // 1000)   # ref keeps its fractions
    refs, torques = [s.ref], [s.torque]
    for _ in range(1000):
        bench.step()
        refs.append(s.ref)
        torques.append(s.torque)
    drops = [a - b for a, b in zip(refs, refs[1:])]
    assert max(drops) <= per_step and min(drops) >= 0
    assert refs[-1] == CFG.limp_ckph
    # The limit the motor controller is told starts at the vehicle's speed (60 km/h) and
    # ramps from there (0.1 km/h per bit, frames 20 ms apart).
    told = [f.signals["SPEED_LIMIT"] for f in bench.sent if f.name == "GOVERNOR_COMMAND"]
    assert all(b >= min(a, 60) - 2 * per_step / 100 - 0.1 - 1e-9 for a, b in zip(told, told[1:]))
    assert bench.last("GOVERNOR_STATUS")["ACTIVE_LIMIT"] == pytest.approx(CFG.limp_ckph / 100, abs=0.05)
    # No abrupt cut: the torque falls no faster than the governor's down-ramp.
    down = CFG.torque_ramp_down_pm_s * fh.PERIOD_MS // 1000
    assert max(a - b for a, b in zip(torques, torques[1:])) <= down


def test_fault_without_any_speed_source_ramps_torque_to_zero():
    bench = cruising(kph=30, pedal=50, gnss=False)
    bench.car.wheels_on = False
    step_until(bench, FAULT, 10 * WHEEL_PERIOD)
    down = CFG.torque_ramp_down_pm_s * fh.PERIOD_MS // 1000
    before = bench.app.safety.torque
    assert before >= 500 - down, "the fault itself must not cut the torque"
    torques = [before]
    for _ in range(before // down + 5):
        bench.step()
        torques.append(bench.app.safety.torque)
    assert max(a - b for a, b in zip(torques, torques[1:])) <= down
    assert torques[-1] == 0 and bench.app.safety.speed_source == 0
    assert bench.events(events.NO_SPEED_SOURCE)


def test_recovery_after_fault_recover_ms_of_good_inputs():
    bench = cruising()
    bench.car.wheels_on = False
    step_until(bench, FAULT, 10 * WHEEL_PERIOD)
    bench.run(200)
    bench.car.wheels_on = True
    resumed = bench.now
    # Trust needs three frames; then inputs must stay good for fault_recover_ms.
    bench.run(CFG.fault_recover_ms)
    assert bench.state == FAULT
    # Torque limited in FAULT returns along the up-ramp, so LIMITING may come first.
    at = step_until(bench, (NORMAL, LIMITING), 3 * WHEEL_PERIOD + fh.PERIOD_MS)
    assert CFG.fault_recover_ms < at - resumed <= CFG.fault_recover_ms + 3 * WHEEL_PERIOD
    assert [t for c, t, v in bench.events(events.FAULT_CLEARED)] == [at]
    assert not bench.flags & roles.FAULT_FLAGS


def test_a_fault_during_recovery_restarts_the_wait():
    bench = cruising()
    bench.car.wheels_on = False
    step_until(bench, FAULT, 10 * WHEEL_PERIOD)
    bench.car.wheels_on = True
    bench.run(CFG.fault_recover_ms // 2)
    bench.car.wheels_on = False
    bench.run(100)
    bench.car.wheels_on = True
    bench.run(CFG.fault_recover_ms - 100)
    assert bench.state == FAULT


def test_limiting_at_the_cap():
    bench = cruising(kph=30, pedal=100)
    ramp_speed(bench, CFG.cap_ckph / 100 + 1)
    step_until(bench, LIMITING, 200)
    assert bench.events(events.LIMIT_ENGAGED)
    bench.run(3000)
    assert bench.state == LIMITING
    assert bench.last("GOVERNOR_COMMAND")["TORQUE_LIMIT"] < 100
