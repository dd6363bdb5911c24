"""core.governor at the edges the whole-app tests do not reach: the law taking over from
the start-up ramp, regen below the limit and under hard braking, and ramp_to both ways.

Part of the safety core's coverage gate (docs/quality.md); each case states a rule of
the module's docstrings and fails if the law breaks it.
"""

from __future__ import annotations

import firmware_harness as fh

from core import config
from core.governor import ERR_MAX, SpeedGovernor

PERIOD = fh.PERIOD_MS
CFG = config.Config()
UP = CFG.torque_ramp_up_pm_s * PERIOD // 1000
DOWN = CFG.torque_ramp_down_pm_s * PERIOD // 1000
REGEN_RAMP = CFG.regen_ramp_pm_s * PERIOD // 1000
DECEL_MAX = CFG.fault_decel_ckph_s


def test_above_the_target_at_start_up_the_law_not_the_start_up_ramp_holds_the_command():
    gov = SpeedGovernor(CFG, PERIOD)
    gov.start()
    assert gov.starting and gov.binding
    for _ in range(50):                          # booted at 80 km/h, holding 50: no torque at all
        assert gov.step(5000, 8000, 0, 600) == 0
    assert not gov.starting, "the law holds the command: the supervisor must read LIMITING"
    assert gov.binding
    # Below the target again the command comes back at the up-ramp, not as a step.
    cmds = [gov.step(5000, 3000, 0, 600) for _ in range(10)]
    assert cmds == [UP * (k + 1) for k in range(10)]


def test_below_the_target_at_start_up_the_start_up_ramp_runs_to_the_demand():
    gov = SpeedGovernor(CFG, PERIOD)
    gov.start()
    cmds = []
    while gov.binding:
        cmds.append(gov.step(5000, 1000, 0, 300))
        assert len(cmds) <= 300 // UP + 1
    assert cmds == [UP * (k + 1) for k in range(300 // UP)]
    assert not gov.starting


def regen_run(gov: SpeedGovernor, limit: int, speed: int, periods: int, decel: int = 0) -> list[int]:
    return [gov.regen_step(limit, speed, True, decel, DECEL_MAX) for _ in range(periods)]


def test_far_below_the_limit_regen_asks_nothing_and_winds_up_nothing():
    """However long the car drives below the limit (a 130 km/h cap at a standstill is the
    largest gap there is), the request stays 0 and the integrator stays empty, so the
    next overspeed is braked exactly as from a fresh start."""
    gov = SpeedGovernor(CFG, PERIOD)
    assert regen_run(gov, 13000, 0, 500) == [0] * 500
    assert gov.regen_integ == 0
    fresh = SpeedGovernor(CFG, PERIOD)
    assert regen_run(gov, 5000, 5800, 300) == regen_run(fresh, 5000, 5800, 300)
    assert gov.regen == CFG.regen_max_pm, "8 km/h over the limit for 3 s: full regen"


def test_regen_unwinds_from_saturation_at_the_clamped_error():
    """The error is clamped to +-ERR_MAX both ways: a saturated integrator loses the same
    amount per period whether the speed is ERR_MAX or 130 km/h below the limit."""
    def unwound(speed: int) -> int:
        gov = SpeedGovernor(CFG, PERIOD)
        regen_run(gov, 5000, 7000, 2000)
        assert gov.regen_integ == CFG.regen_max_pm << 10
        gov.regen_step(13000, speed, True, 0, DECEL_MAX)
        return gov.regen_integ
    at_clamp = unwound(13000 - ERR_MAX)
    assert unwound(0) == at_clamp
    assert at_clamp == (CFG.regen_max_pm << 10) - CFG.regen_ki_q10 * ERR_MAX * PERIOD // 1000


def test_regen_rises_and_falls_at_its_ramp_and_never_below_zero():
    gov = SpeedGovernor(CFG, PERIOD)
    up = regen_run(gov, 5000, 6000, 40)
    assert up == [REGEN_RAMP * (k + 1) for k in range(40)], "rises at the ramp while the car slows gently"
    # The car slows far harder than the bound: the request falls at its ramp, not faster,
    # and stops at zero.
    down = regen_run(gov, 5000, 6000, 60, decel=10 * DECEL_MAX)
    want = [max(0, up[-1] - REGEN_RAMP * (k + 1)) for k in range(60)]
    assert down == want
    assert min(down) == 0 and gov.regen == 0


def test_regen_rise_slows_near_the_decel_bound_and_reverses_past_it():
    band = (DECEL_MAX >> 2) + 1
    for decel, rise in ((DECEL_MAX - band, REGEN_RAMP), (DECEL_MAX, 0), (DECEL_MAX + band, -REGEN_RAMP),
                        (DECEL_MAX - band // 2, REGEN_RAMP * (band - band // 2) // band)):
        gov = SpeedGovernor(CFG, PERIOD)
        regen_run(gov, 5000, 6000, 20)
        before = gov.regen
        assert gov.regen_step(5000, 6000, True, decel, DECEL_MAX) == before + rise, decel


def test_ramp_to_moves_at_the_ramp_rates_both_ways_and_lands_exactly():
    gov = SpeedGovernor(CFG, PERIOD)
    rising = [gov.ramp_to(47) for _ in range(47 // UP + 2)]
    assert rising == [min(47, UP * (k + 1)) for k in range(len(rising))]
    falling = [gov.ramp_to(3) for _ in range(44 // DOWN + 2)]
    assert falling == [max(3, 47 - DOWN * (k + 1)) for k in range(len(falling))]
    assert gov.binding and not gov.starting
    assert gov.integ == 3 << 10, "the integrator follows the command: the law resumes from it"


def test_the_driver_lifting_while_the_law_binds_below_the_target_releases_it_at_once():
    gov = SpeedGovernor(CFG, PERIOD)
    for _ in range(10):                           # well below the target: the pedal passes
        assert gov.step(5000, 3000, 0, 800) == 800
    for _ in range(5):                            # over it: the law cuts along the down-ramp
        gov.step(5000, 5200, 0, 800)
    assert gov.binding and gov.command == 800 - 5 * DOWN
    held = gov.command
    # Now just below the target, and the driver lifts far below the command: the command
    # is the driver's at once (the ramps bound the law, never the driver) and the law lets go.
    assert gov.step(5000, 4990, 0, 100) == 100 < held - DOWN
    assert not gov.binding and gov.integ == 100 << 10
    assert gov.step(5000, 4990, 0, 90) == 90, "lower still: the driver's again"
    assert gov.step(5000, 4990, 0, 400) == 90 + UP, "near the target more is the law's to grant, at its ramp"


def test_the_look_ahead_is_the_speed_lookahead_ms_from_now_at_the_present_acceleration():
    """Accelerating at 1000 ckph/s (10 km/h per second) the law acts as on the speed
    lookahead_ms from now at a steady speed: the same commands, period for period."""
    ahead = 1000 * CFG.lookahead_ms // 1000
    moving, steady = SpeedGovernor(CFG, PERIOD), SpeedGovernor(CFG, PERIOD)
    for speed in range(4000, 5400, 20):
        assert moving.step(5000, speed, 1000, 800) == steady.step(5000, speed + ahead, 0, 800), speed
    assert moving.binding, "the look-ahead engaged the law before the target"


def test_released_the_integrator_restarts_from_the_demand_so_the_next_period_has_no_bump():
    gov = SpeedGovernor(CFG, PERIOD)
    for _ in range(10):
        gov.step(5000, 3000, 0, 800)
    for _ in range(300):                          # held over the target: the integrator winds down
        gov.step(5000, 5100, 0, 800)
    assert gov.binding and gov.integ >> 10 < 400
    for _ in range(400):                          # well below it: the command climbs back to the pedal
        if not gov.binding:
            break
        gov.step(5000, 3000, 0, 800)
    assert not gov.binding and gov.command == 800
    assert gov.integ == 800 << 10, "released: the integrator is the demand"
    # Back near the target (the law allows the pedal only with its integrator full): the
    # demand still passes.
    assert gov.step(5000, 4990, 0, 800) == 800 and not gov.binding


def test_the_look_ahead_moves_the_law_s_error_by_the_speed_gained_in_lookahead_ms():
    """Period for period the law's state (command, integrator, binding) at 1000 ckph/s is
    the one at the speed lookahead_ms further on; a pedal light enough that no ramp
    bounds the command lets the error show."""
    ahead = 1000 * CFG.lookahead_ms // 1000
    moving, steady = SpeedGovernor(CFG, PERIOD), SpeedGovernor(CFG, PERIOD)
    for speed in list(range(4300, 5000, 7)) + [4990] * 50:
        moving.step(5000, speed, 1000, 200)
        steady.step(5000, speed + ahead, 0, 200)
        assert (moving.command, moving.integ, moving.binding) == (steady.command, steady.integ, steady.binding)
    assert moving.binding


def test_a_deceleration_at_or_above_the_target_buys_no_torque():
    """The look-ahead only ever lowers torque at or above the target: a glitch reading as
    hard braking cannot raise the command of a car already at the limit."""
    for speed in (5000, 5100):
        braking, steady = SpeedGovernor(CFG, PERIOD), SpeedGovernor(CFG, PERIOD)
        for _ in range(20):
            braking.step(5000, 3000, 0, 600)
            steady.step(5000, 3000, 0, 600)
        for _ in range(30):
            assert braking.step(5000, speed, -50000, 600) == steady.step(5000, speed, 0, 600), speed
    # Speeding up there is looked ahead on: the law then cuts harder.
    rising, steady = SpeedGovernor(CFG, PERIOD), SpeedGovernor(CFG, PERIOD)
    for _ in range(40):
        r, s = rising.step(5000, 5000, 3000, 600), steady.step(5000, 5000, 0, 600)
    assert r < s


def test_a_fresh_governor_allows_full_torque_at_the_target():
    gov = SpeedGovernor(CFG, PERIOD)
    assert gov.step(5000, 5000, 0, 1000) == 1000 and not gov.binding


def test_the_law_and_regen_stay_within_small_ints_at_the_extremes_of_every_input():
    cfg = config.Config()
    for name, _d, _lo, hi in config.PARAMS:
        if name in ("kp_q10", "ki_q10", "lookahead_ms", "regen_kp_q10", "regen_ki_q10"):
            setattr(cfg, name, hi)
    S = fh.Small
    gov = SpeedGovernor(cfg, PERIOD)
    for target, speed, accel in ((13000, 0, -(1 << 24)), (0, 65535, 1 << 24), (13000, 0, 0), (0, 65535, 0)):
        for _ in range(5):
            assert 0 <= gov.step(S(target), S(speed), S(accel), S(1000)) <= 1000
    for limit, speed in ((0, 65535), (13000, 0)):
        for _ in range(5):
            assert 0 <= gov.regen_step(S(limit), S(speed), True, S(0), S(720)) <= 1000


def test_the_integrator_stops_at_zero_so_the_law_recovers_at_once_below_the_target():
    gov = SpeedGovernor(CFG, PERIOD)
    for _ in range(10):
        gov.step(5000, 3000, 0, 800)
    for _ in range(1000):                         # 10 s far over the target
        gov.step(5000, 6000, 0, 800)
    assert gov.command == 0 and gov.integ == 0
    cmds = [gov.step(5000, 4900, 0, 800) for _ in range(5)]
    assert cmds == [UP * (k + 1) for k in range(5)], "back below the target the command rises at once"


def test_while_a_ramp_holds_the_command_the_integrator_holds_too():
    gov = SpeedGovernor(CFG, PERIOD)
    for _ in range(10):
        gov.step(5000, 3000, 0, 800)
    gov.step(5000, 5300, 0, 800)                  # binding now, falling along the down-ramp
    integ, cmd = gov.integ, gov.command
    gov.step(5000, 5300, 0, 800)
    assert gov.command == cmd - DOWN and gov.integ == integ, "held by the down-ramp"
    for _ in range(200):
        gov.step(5000, 5300, 0, 800)
    assert gov.command < 300
    integ, cmd = gov.integ, gov.command
    gov.step(5000, 3000, 0, 800)                  # far below: the law wants more than the up-ramp gives
    assert gov.command == cmd + UP and gov.integ == integ, "held by the up-ramp"


def test_start_up_runs_to_the_demand_whatever_the_command_was_ramped_to_before():
    gov = SpeedGovernor(CFG, PERIOD)
    for _ in range(5):
        gov.ramp_to(0)                            # INIT: no torque
    gov.start()
    for _ in range(300 // UP + 1):
        gov.step(5000, 4950, 0, 300)              # just below the target
    assert gov.command == 300 and not gov.binding


def test_regen_falls_at_its_ramp_when_the_speed_drops_under_the_limit():
    gov = SpeedGovernor(CFG, PERIOD)
    regen_run(gov, 5000, 6000, 60)
    top = gov.regen
    assert top == 60 * REGEN_RAMP
    down = regen_run(gov, 5000, 4000, 10)
    assert down == [top - REGEN_RAMP * (k + 1) for k in range(10)], "never a step out of braking"


def test_regen_is_proportional_plus_integral_on_the_speed_over_the_limit():
    p_only, i_only = config.Config(), config.Config()
    p_only.regen_ki_q10 = 0
    i_only.regen_kp_q10 = 0
    gov = SpeedGovernor(p_only, PERIOD)
    regen_run(gov, 5000, 5050, 200)
    assert gov.regen == CFG.regen_kp_q10 * 50 >> 10, "P alone settles at kp * error"
    gov = SpeedGovernor(i_only, PERIOD)
    regen_run(gov, 5000, 5050, 100)
    assert 0 < gov.regen == gov.regen_integ >> 10, "I alone: the integrator is the request"
