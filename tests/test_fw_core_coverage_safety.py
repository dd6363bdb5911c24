"""core.safety at the edges the scenario tests do not reach: buses with one speed signal
and no GNSS (the J1939 truck) or a 1 Hz speed and no pedal (the CANedge logger), the
wheel vote for every order of the wheels, the cross-check losing GNSS, a clock that did
not advance, a zero limp cap and the tail of the jerk-bounded limit ramp.

Part of the safety core's coverage gate (docs/quality.md). Whole-app cases use the
firmware harness's Bench (keigov bus) or a Governor on a bundled map's compiled table.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import firmware_harness as fh

from boards.ramcan import RamCan
from boards.sim import SimWatchdog
from core import config, events, roles
from core.app import Governor
from core.safety import _ACCEL_CLIP, _ACCEL_TAU_MS, FAULT, INIT, LIMITING, NORMAL, _filtered
from keigov.dbc.compile import compile_map
from keigov.dbc.e2e import FramePacker
from keigov.dbc.generated import load_source
from tables import keigov_bus
from test_fw_core_coverage_rx_tx import EXT, MAPS, table
from test_fw_safety import bit, cruising, step_until

CFG = config.Config()
PERIOD = fh.PERIOD_MS


# -- the acceleration filter ------------------------------------------------------------

def test_the_acceleration_filter_is_a_first_order_lag_clipped_to_small_ints():
    # The tuning, stated: a 160 ms time constant; readings clipped to 100000 ckph/s (the
    # governor's own bound), and a gap of more than a second weighs as one second.
    tau, clip = 160, 100000
    assert (_ACCEL_TAU_MS, _ACCEL_CLIP) == (tau, clip)

    def lag(accel: int, a: int, dt: int) -> int:
        return accel + (a - accel) * dt // (tau + dt)

    assert _filtered(0, 1000, 10) == lag(0, 1000, 10) == 58
    assert _filtered(500, -1000, 40) == lag(500, -1000, 40)
    # A glitch reads as any acceleration: it enters as at most the clip, either way.
    assert _filtered(0, 10 * clip, 1000) == lag(0, clip, 1000) == 86206
    assert _filtered(0, -10 * clip, 1000) == lag(0, -clip, 1000)
    assert _filtered(0, clip, 10) == lag(0, clip, 10)
    # A 1 Hz source that lost a frame: five seconds weigh as one.
    assert _filtered(0, 50000, 5000) == lag(0, 50000, 1000) == 43103
    assert _filtered(0, 50000, 1000) == _filtered(0, 50000, 1001) == 43103


def test_the_rate_check_bound_is_the_configured_rate_plus_a_50_ckph_margin_inclusive():
    sup = fh.build_governor().safety
    log = sup.log

    def bound(ms: int) -> int:
        return CFG.speed_rate_ckph_s * ms // 1000 + 50

    t0 = 1000
    assert sup._rate_check(t0, 3000) == 3000               # the first reading is taken as it is
    assert sup._rate_check(t0 + 20, 3000 + bound(20) + 1) == 3000, "timed from the first reading"
    assert sup._rate_check(t0 + 40, 3000 + bound(40)) == 3000 + bound(40)
    assert sup._rate_check(t0 + 60, 3000 + bound(40) - bound(20)) == 3000 + bound(40) - bound(20), "down too"
    speed = 3000 + bound(40) - bound(20)
    assert sup._rate_check(t0 + 80, speed - bound(20) - 1) == speed, "one over: refused, the last plausible holds"
    refused = [log.value[k % log.capacity] for k in range(log.oldest(), log.count)
               if log.code[k % log.capacity] == events.SPEED_RATE]
    assert refused == [bound(20) + 1, -bound(20) - 1]
    # After 200 ms ten times the rate (a longer gap: a lost frame or a 10 Hz source).
    for step, want in ((bound(200) + 1, 3000), (bound(200), 3000 + bound(200))):
        sup = fh.build_governor().safety
        sup._rate_check(t0, 3000)
        assert sup._rate_check(t0 + 200, 3000 + step) == want


def test_refused_steps_weigh_two_plausible_ones_one_until_the_score_is_back_to_zero():
    sup = fh.build_governor().safety
    now = 1000
    assert sup._rate_check(now, 3000) == 3000

    def reading(speed: int) -> int:
        nonlocal now
        now += 20
        return sup._rate_check(now, speed)

    # A glitch before each genuine reading: 2, 1, 3, 2, 4 — a check failure at the third.
    assert [reading(v) for v in (9000, 3000, 9000, 3000)] == [3000] * 4
    assert reading(9000) == -1
    for _ in range(8):
        reading(9000)                                     # the score stops at 8
    got = [reading(3000) for _ in range(9)]
    assert got == [-1] * 7 + [3000, 3000], "eight plausible readings bring 8 back to 0"
    assert not sup._rate_bad


def test_one_speed_rate_event_a_run_of_refusals():
    sup = fh.build_governor().safety
    log = sup.log
    sup._rate_check(1000, 3000)
    for k in range(1, 6):
        sup._rate_check(1000 + 20 * k, 9000)               # one run
    sup._rate_check(1120, 3000)
    sup._rate_check(1140, 8000)                            # another
    log.flush(1140 + 10_000)
    codes = [(log.code[k % log.capacity], log.value[k % log.capacity]) for k in range(log.oldest(), log.count)]
    assert [c for c in codes if c[0] in (events.SPEED_RATE, events.REPEATED)] == \
        [(events.SPEED_RATE, 6000), (events.SPEED_RATE, 5000)]


# -- a bus with one speed signal and no GNSS (J1939) -------------------------------------------

class Truck:
    """The app on the J1939 truck's table: CCVS1 (speed, 100 ms) and EEC2 (pedal, 50 ms)."""

    def __init__(self) -> None:
        self.app = Governor(RamCan(), SimWatchdog(), table("j1939_truck"), config.Config())
        self.packer = FramePacker.from_map(MAPS / "j1939_truck.toml")
        self.now = 0
        self.kph = 30.0
        self.pedal = 20.0
        self.speed_length = 8

    def send(self, name: str, values: dict[str, float], length: int = 8) -> None:
        msg = self.packer.message(name)
        fid, data = self.packer.pack(name, {s.name: 0 for s in msg.signals} | values, source_address=0x0B)
        self.app.can.deliver(fid | EXT, data, length)

    def run(self, ms: int) -> None:
        for _ in range(ms // PERIOD):
            if self.now % 100 == 0:
                self.send("CCVS1", {"WheelBasedVehicleSpeed": self.kph}, self.speed_length)
            if self.now % 50 == 0:
                self.send("EEC2", {"AccelPedalPos1": self.pedal})
            self.app.step(self.now)
            self.now += PERIOD


def test_one_speed_signal_is_the_speed_without_a_vote_or_a_cross_check():
    truck = Truck()
    sup = truck.app.safety
    assert sup.m_wheels < 0 and sup.m_primary == sup.m_speed >= 0 and sup.m_lat < 0
    truck.run(1000)
    assert (sup.state, sup.speed_source, sup.speed) == (NORMAL, 1, 3000)
    assert sup.flags & bit(roles.FLAG_GNSS_INVALID), "no GNSS on this bus"
    assert not sup.flags & roles.FAULT_FLAGS
    truck.kph = 31.0
    truck.run(200)
    assert sup.speed == 3100 and sup.reading == 3100


def test_an_untrusted_but_well_formed_speed_frame_still_says_how_fast_the_truck_goes():
    truck = Truck()
    sup = truck.app.safety
    truck.run(1000)
    truck.speed_length = 7              # two short frames: CCVS1 is distrusted
    truck.run(200)
    assert not truck.app.rx.valid[sup.m_speed] and sup.reading == 3000
    truck.speed_length = 8
    truck.kph = 90.0                    # well formed again, not yet trusted
    truck.run(100)
    assert not truck.app.rx.valid[sup.m_speed]
    assert sup.reading == 9000, "what it says holds the torque while it is not trusted"
    assert sup.speed_source == 0 and sup.torque <= truck.app.rx.values[roles.IN_PEDAL]


# -- a message the supervisor has no use for ---------------------------------------------------

def test_a_message_carrying_only_the_brake_is_not_taken_for_a_speed_source(tmp_path):
    """The EV's map without its vehicle speed: VCU_VEHICLE then carries only the brake,
    a message of no kind the supervisor tells apart. Its indices stay the wheels' and the
    pedal's, and the brake message going silent is no speed fault."""
    body = (MAPS / "ev_mcu.toml").read_text().replace('"../vehicles/', f'"{MAPS.parent}/vehicles/')
    path = tmp_path / "ev_brake_only.toml"
    path.write_text("\n".join(line for line in body.splitlines() if not line.startswith("vehicle_speed")))
    t = load_source(compile_map(path), "ev_brake_only")
    packer = FramePacker.from_map(MAPS / "ev_mcu.toml")
    assert sorted(t.RX_KIND) == [0, roles.MSG_WHEEL_SPEED, roles.MSG_DRIVER]
    app = Governor(RamCan(), SimWatchdog(), t, config.Config())
    sup = app.safety
    kinds = {k: i for i, k in enumerate(t.RX_KIND)}
    assert (sup.m_wheels, sup.m_driver, sup.m_speed) == (kinds[roles.MSG_WHEEL_SPEED], kinds[roles.MSG_DRIVER], -1)
    assert sup.m_primary == sup.m_wheels
    frames = {"ABS_WHEEL_SPEEDS": {"WHEEL_FL": 30.0, "WHEEL_FR": 30.0, "WHEEL_RL": 30.0, "WHEEL_RR": 30.0},
              "VCU_PEDAL": {"ACCEL_PEDAL": 20.0, "ACCEL_PEDAL_RAW_2": 20.0, "KICKDOWN": 0}}
    for now in range(0, 1000, PERIOD):
        if now % 20 == 0:
            for name, values in frames.items():
                fid, data = packer.pack(name, values)
                app.can.deliver(fid, data, len(data))
        app.step(now)
    assert (sup.state, sup.speed_source, sup.speed) == (NORMAL, 1, 3000)
    assert not sup.flags & roles.FAULT_FLAGS, "no brake frame ever came: no fault for it"


# -- a 1 Hz speed source and no pedal (CANedge) ------------------------------------------------

def test_a_1_hz_speed_source_without_a_pedal_gets_four_of_its_periods_before_init_faults():
    t = table("canedge_gps")
    app = Governor(RamCan(), SimWatchdog(), t, config.Config())
    sup = app.safety
    assert sup.m_driver < 0 and sup.m_primary >= 0
    period = t.RX_PERIOD_MS[sup.m_primary]
    assert period == 1000 and sup.init_ms == 4 * period > CFG.init_timeout_ms
    msg = FramePacker.from_map(MAPS / "canedge_gps.toml").message("gnss_speed")
    fid = msg.frame_id | (EXT if msg.is_extended_frame else 0)
    gnss = fh.packer()        # the logger's GNSS goes out on the governor's own messages
    states = []
    for now in range(0, 4200, PERIOD):
        if now % period == 0:
            data = msg.encode({s.name: 0 for s in msg.signals} | {"Speed": 8.0})
            app.can.deliver(fid, data, len(data))
        if now % 100 == 0:
            seq = gnss.counters.get("GNSS_FIX_LAT", -1) + 1
            for name, values in (("GNSS_FIX_LAT", {"LATITUDE": 35.68, "FIX_TYPE": 3, "NUM_SATELLITES": 9}),
                                 ("GNSS_FIX_LON", {"LONGITUDE": 139.76, "HDOP": 0.9}),
                                 ("GNSS_VELOCITY", {"GNSS_SPEED": 28.8, "GNSS_HEADING": 90.0})):
                f, d = gnss.pack(name, values, counter=seq)
                app.can.deliver(f, d, len(d))
            gnss.counters["GNSS_FIX_LAT"] = seq
        app.step(now)
        states.append(sup.state)
    assert app.rx.valid[sup.m_primary] and sup.speed == 2880
    first_fault = states.index(FAULT) * PERIOD
    assert set(states[: first_fault // PERIOD]) == {INIT}
    assert sup.init_ms < first_fault <= sup.init_ms + PERIOD
    assert sup.flags & bit(roles.FLAG_PEDAL_FAULT) and not sup.flags & bit(roles.FLAG_SPEED_TIMEOUT)
    assert sup._gnss_good and not sup.driver_ok(), "every message trusted, and still no pedal"
    [entered] = [app.log.value[k % app.log.capacity] for k in range(app.log.oldest(), app.log.count)
                 if app.log.code[k % app.log.capacity] == events.FAULT_ENTERED]
    assert not entered & bit(roles.FLAG_SPEED_TIMEOUT), "the speed was trusted: a pedal fault only"


# -- configuration defaults ---------------------------------------------------------------------

@pytest.mark.parametrize("reason", [0, config.REJECT_MISSING])
def test_running_on_the_built_in_defaults_is_on_the_bus_from_the_first_status(reason):
    cfg = config.Config()
    cfg.defaults_reason = reason
    bench = fh.Bench(cfg=cfg)
    bench.run(100)
    assert bench.last("GOVERNOR_STATUS")["CONFIG_DEFAULTS"] == (1 if reason else 0)
    assert bool(bench.flags & bit(roles.FLAG_CONFIG_DEFAULTS)) == bool(reason)


# -- the wheel vote, every order of the wheels --------------------------------------------------

def vote_oracle(wheels: tuple[int, ...]) -> tuple[int, int | None, bool]:
    """(speed, outlier wheel or None, disagree) from the rule as stated: the median of four
    within the allowed spread; else the wheel furthest from the median is voted out if
    the other three agree, their median the speed; else they disagree."""
    s = sorted(wheels)
    median = (s[1] + s[2]) >> 1
    allowed = max(CFG.plausibility_ckph, median * CFG.plausibility_pct // 100)
    if s[3] - s[0] <= allowed:
        return median, None, False
    out = s[3] if s[3] - median >= median - s[0] else s[0]
    rest = list(s)
    rest.remove(out)
    if rest[2] - rest[0] <= allowed:
        return rest[1], wheels.index(out), False
    return median, None, True


WHEEL_SETS = [
    (4000, 4000, 4000, 4000),
    (4000, 4100, 4200, 4300),     # spread within 10 %
    (4000, 4010, 4020, 5200),     # one spinning wheel
    (2800, 4000, 4010, 4020),     # one locked wheel
    (3990, 4000, 4010, 3000),
    (4000, 4000, 4600, 4600),     # two and two
    (1000, 4000, 4500, 9000),     # all over the place
    (4000, 4100, 4200, 4380),     # within 10 % of the median, beyond the 300 ckph floor
    (1000, 1100, 1200, 1300),     # at the floor exactly (10 % is less at 11 km/h)
    (4000, 4000, 4000, 4400),     # the spread exactly the allowed one
    (4000, 4444, 4444, 6000),     # the other three exactly the allowed spread apart
]


@pytest.mark.parametrize("wheels", WHEEL_SETS)
def test_the_vote_gives_the_rule_s_speed_and_wheel_for_every_order_of_the_wheels(wheels):
    for perm in set(itertools.permutations(wheels)):
        app = fh.build_governor()
        sup = app.safety
        v = app.rx.values
        v[roles.IN_WHEEL_FL], v[roles.IN_WHEEL_FR], v[roles.IN_WHEEL_RL], v[roles.IN_WHEEL_RR] = perm
        speed, outlier, disagree = vote_oracle(perm)
        assert sup._vote(0) == speed, perm
        assert bool(sup.flags & bit(roles.FLAG_WHEEL_OUTLIER)) == (outlier is not None), perm
        log = app.log
        recorded = [log.value[k % log.capacity] for k in range(log.oldest(), log.count)
                    if log.code[k % log.capacity] == events.WHEEL_OUTLIER]
        assert recorded == ([] if outlier is None else [outlier]), perm
        # Disagreement is tolerated for plausibility_ms, then the vote gives no speed.
        assert sup._vote(CFG.plausibility_ms) == speed, perm
        assert sup._vote(CFG.plausibility_ms + 1) == (-1 if disagree else speed), perm
        assert bool(sup.flags & bit(roles.FLAG_WHEELS_DISAGREE)) == disagree, perm


def test_the_disagreement_timer_restarts_whenever_the_wheels_agree_and_an_outlier_gives_way_to_it():
    app = fh.build_governor()
    sup = app.safety
    v = app.rx.values

    def vote(now: int, wheels: tuple[int, int, int, int]) -> int:
        v[roles.IN_WHEEL_FL], v[roles.IN_WHEEL_FR], v[roles.IN_WHEEL_RL], v[roles.IN_WHEEL_RR] = wheels
        return sup._vote(now)

    split, agree, outlier = (4000, 4000, 4600, 4600), (4000,) * 4, (4000, 4010, 4020, 5200)
    ms = CFG.plausibility_ms
    assert vote(0, split) == 4300
    assert vote(400, agree) == 4000
    assert vote(450, split) == 4300
    assert vote(450 + ms, split) == 4300, "the timer started again at 450"
    assert vote(451 + ms, split) == -1
    assert vote(460 + ms, outlier) == 4010 and sup.flags & bit(roles.FLAG_WHEEL_OUTLIER)
    assert not sup.flags & bit(roles.FLAG_WHEELS_DISAGREE)
    assert vote(470 + ms, split) == 4300
    assert not sup.flags & bit(roles.FLAG_WHEEL_OUTLIER), "no wheel is voted out while they disagree"


# -- GNSS ------------------------------------------------------------------------------------

def test_a_fix_without_its_longitude_is_not_a_good_fix():
    bench = fh.Bench()
    bench.car.set_speed(30)
    bench.car.pedal_pct = 20
    for _ in range(20):
        bench.send_fix(35.6812, 139.7671, 30.0, 90.0, parts="LAT VEL")
        bench.run(100)
    rx, sup = bench.app.rx, bench.app.safety
    assert rx.valid[sup.m_lat] and rx.valid[sup.m_vel] and not rx.valid[sup.m_lon]
    assert bench.flags & bit(roles.FLAG_GNSS_INVALID)
    bench.car.wheels_on = False
    step_until(bench, FAULT, 200)
    bench.run(100)
    assert sup.speed_source == 0, "no fallback to the GNSS speed of an incomplete fix"
    # With the longitude the same fix is good, and GNSS is the fallback.
    for _ in range(5):
        bench.send_fix(35.6812, 139.7671, 30.0, 90.0)
        bench.run(100)
    assert not bench.flags & bit(roles.FLAG_GNSS_INVALID) and sup.speed_source == 2


def wheels_low_against_gnss(ms: int) -> fh.Bench:
    """Cruising at 50 km/h; the wheels drift down to 40 (a sensor going wrong) while GNSS
    goes on saying 50; then `ms` more of that."""
    bench = cruising(kph=50, pedal=30)
    kph = 50.0
    while kph > 40.0:
        kph -= 0.1
        bench.car.set_speed(kph)
        bench.step()
    bench.car.set_speed(40.0)
    bench.run(ms)
    return bench


def test_an_implausible_flag_keeps_gnss_s_excess_through_a_loss_of_the_fix():
    bench = wheels_low_against_gnss(CFG.xcheck_ms + 500)
    sup = bench.app.safety
    assert bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE)
    assert sup.speed == pytest.approx(5000, abs=5)
    bench.car.gnss_speed_kph = None           # the fix is lost
    bench.run(1500)
    assert bench.flags & bit(roles.FLAG_GNSS_INVALID)
    assert bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE), "kept until they agree again"
    assert sup.speed == pytest.approx(5000, abs=5), "the wheels plus the excess GNSS last showed"


def test_apart_but_not_yet_flagged_the_excess_goes_with_the_fix():
    bench = wheels_low_against_gnss(CFG.xcheck_ms // 4)
    sup = bench.app.safety
    assert not bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE)
    assert sup.speed == pytest.approx(5000, abs=5), "apart: the higher speed governs at once"
    bench.car.gnss_speed_kph = None
    bench.run(1500)
    assert sup.speed == 4000, "no flag: without GNSS the wheels alone"
    assert not bench.events(events.SPEED_IMPLAUSIBLE)


# -- a clock that did not advance ------------------------------------------------------------

def test_a_step_at_the_same_time_as_the_last_neither_divides_by_zero_nor_moves_the_accelerations():
    bench = cruising(kph=40, pedal=30)
    sup = bench.app.safety
    bench.car.gnss_speed_kph = None
    now = bench.now
    wheels = dict(zip(fh.Bench.WHEEL_NAMES, [40.5] * 4))
    bench.send("WHEEL_SPEEDS", wheels)
    bench.send_fix(35.6812, 139.7671, 40.5, 90.0)
    bench.app.step(now)
    accel, control = sup.accel, sup.control_accel
    assert sup._gnss_good and sup.accel != 0
    bench.send("WHEEL_SPEEDS", dict(zip(fh.Bench.WHEEL_NAMES, [41.0] * 4)))
    bench.send_fix(35.6812, 139.7671, 41.0, 90.0)
    bench.app.step(now)                      # the same board time again
    assert (sup.accel, sup.control_accel) == (accel, control)
    assert sup.speed == 4100, "the reading is taken, only not differentiated"


# -- limits ------------------------------------------------------------------------------------

def test_a_zero_limp_cap_asks_the_law_for_a_standstill_never_a_negative_speed():
    cfg = config.Config()
    cfg.limp_ckph = 0
    bench = fh.Bench(cfg=cfg)
    bench.car.set_speed(5)
    bench.car.pedal_pct = 30
    bench.car.gnss_speed_kph = 5
    bench.run(2500)
    assert bench.state == NORMAL
    sup = bench.app.safety
    targets: list[int] = []
    law = sup.gov.step

    def recording(target: int, *args: Any) -> int:
        targets.append(target)
        return law(target, *args)

    sup.gov.step = recording                # type: ignore[method-assign]
    bench.car.wheels_on = False             # FAULT, GNSS the speed, the limp cap 0
    step_until(bench, FAULT, 300)
    bench.run(3000)
    assert sup.ref == 0 and sup.limit == 0
    assert targets and min(targets) == 0 and targets[-1] == 0, "at a limit of 0 the target is 0, not below"
    assert sup.torque == 0


def test_a_lower_limit_just_below_the_speed_is_reached_without_the_ramp_stalling():
    """The tail of the jerk-bounded ramp: easing off, the rate never drops below one jerk
    step, so the commanded limit keeps falling every period until it lands exactly."""
    bench = cruising(kph=50.18, pedal=30, gnss=False)
    sup = bench.app.safety
    assert sup.speed == 5018
    sup.cfg.cap_ckph = 5000                 # a lower limit, as an installed cap or a zone gives
    refs_m = []
    for _ in range(60):
        bench.step()
        refs_m.append(sup._ref_m)
        if sup._ref_m == 5000 * 1000:
            break
    assert sup.limit == 5000 and sup.ref == 5000 and refs_m[-1] == 5000 * 1000
    assert all(b < a for a, b in itertools.pairwise(refs_m)), "the ramp stalled above the limit"
    jerk_step = CFG.limit_jerk_ckph_s2 * PERIOD // 1000
    drops = [(a - b) // PERIOD for a, b in zip([5018 * 1000] + refs_m, refs_m)]
    assert max(drops) <= CFG.fault_decel_ckph_s
    assert all(abs(b - a) <= jerk_step for a, b in itertools.pairwise(drops[:-1])), "the rate: a jerk step at most"


# -- more of the cross-check -------------------------------------------------------------------

@pytest.mark.parametrize("wheels, gnss, apart", [
    (50, 55.0, False), (50, 55.01, True),        # 10 % of the lower speed at 50 km/h
    (10, 13.0, False), (10, 13.01, True),        # the 3 km/h floor at 10 km/h
    (50, 46.0, False), (50, 44.0, True),         # GNSS the lower: no excess to add either way
])
def test_within_the_allowed_difference_the_vehicle_s_own_speed_governs(wheels, gnss, apart):
    bench = cruising(kph=wheels, pedal=20)
    sup = bench.app.safety
    bench.car.gnss_speed_kph = gnss
    bench.run(300)
    excess = round(gnss * 100) - wheels * 100
    assert sup.speed == wheels * 100 + (excess if apart and excess > 0 else 0)
    assert not bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE), "not yet for xcheck_ms"


def test_once_they_agree_again_the_excess_goes_the_moment_the_flag_does():
    bench = wheels_low_against_gnss(CFG.xcheck_ms + 500)
    sup = bench.app.safety
    assert bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE)
    kph = 40.0
    while kph < 49.0:                             # the sensor recovers to 49: within 10 % of GNSS's 50
        kph += 0.1
        bench.car.set_speed(kph)
        bench.step()
    bench.car.set_speed(49.0)
    for _ in range((CFG.xcheck_ms + 500) // fh.PERIOD_MS):
        bench.step()
        if not bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE):
            break
        assert sup.speed == 5000, "flagged: GNSS's excess kept while they agree"
    assert not bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE)
    assert sup.speed == 4900, "cleared: the vehicle's own speed at once"


# -- readings that hold the torque ------------------------------------------------------------

def test_well_formed_wheel_frames_not_yet_trusted_still_hold_the_torque():
    """In FAULT on GNSS at 10 km/h below the limp cap the torque may rise, but not while
    the wheels, their frames well formed again though not yet trusted, say 20 km/h."""
    bench = cruising(kph=10, pedal=20)
    sup = bench.app.safety
    bench.car.corrupt_wheels = True
    step_until(bench, FAULT, 100)
    bench.car.corrupt_wheels = False
    bench.car.wheels_kph = [20.0] * 4
    bench.car.gnss_speed_kph = 10.0
    before = sup.torque
    bench.car.pedal_pct = 100
    for _ in range(4):                            # two wheel frames: still untrusted
        bench.step()
        assert not bench.app.rx.valid[sup.m_wheels] and sup.speed_source == 2
        assert sup.torque <= before
    assert sup.reading == 2000
    # The same with the wheels reading below the limp cap: the torque is free to rise.
    bench = cruising(kph=10, pedal=20)
    bench.car.corrupt_wheels = True
    step_until(bench, FAULT, 100)
    bench.car.corrupt_wheels = False
    bench.car.pedal_pct = 100
    before = bench.app.safety.torque
    bench.run(40)
    assert bench.app.safety.torque > before


def test_the_pedal_message_lost_while_driving_takes_the_torque_to_zero_at_the_down_ramp():
    bench = cruising(kph=10, pedal=50)         # below the limp cap: only the lost pedal cuts
    sup = bench.app.safety
    assert sup.torque == 500
    bench.car.driver_on = False
    torques = []
    for _ in range(100):
        bench.step()
        torques.append(sup.torque)
    down = CFG.torque_ramp_down_pm_s * PERIOD // 1000
    assert torques[-1] == 0 and bench.flags & bit(roles.FLAG_PEDAL_FAULT)
    assert all(0 <= a - b <= down for a, b in itertools.pairwise([500, *torques]))


# -- accelerations -------------------------------------------------------------------------------

def test_with_no_speed_source_left_there_is_no_acceleration_either():
    bench = cruising(kph=40, pedal=20, gnss=False)
    sup = bench.app.safety
    bench.ramp_speed(30, 10.0)                    # braking: a real deceleration
    assert sup.accel < -500
    bench.car.wheels_on = False
    step_until(bench, FAULT, 300)
    bench.run(50)
    assert sup.speed_source == 0 and sup.accel == 0 and sup.control_accel == 0


def test_a_new_speed_source_starts_its_acceleration_from_zero():
    bench = cruising(kph=40, pedal=20)
    sup = bench.app.safety
    bench.ramp_speed(30, 10.0)                    # wheels and GNSS braking together
    assert sup.accel < -500
    bench.car.wheels_on = False                   # GNSS takes over, at a steady 30 km/h
    step_until(bench, FAULT, 300)
    assert sup.speed_source == 2
    bench.run(250)
    assert sup.accel == 0, "the wheels' deceleration is not GNSS's"


def test_on_gnss_the_acceleration_is_gnss_s_own():
    bench = cruising(kph=30, pedal=20)
    sup = bench.app.safety
    bench.car.wheels_on = False
    step_until(bench, FAULT, 300)
    kph = 30.0
    for _ in range(150):                          # 1 m/s^2 (360 ckph/s) for 1.5 s
        kph += 3.6 * PERIOD / 1000
        bench.car.gnss_speed_kph = kph
        bench.step()
    assert sup.speed_source == 2
    assert 300 <= sup.accel <= 420


def test_where_gnss_s_excess_governs_so_does_gnss_s_acceleration_until_the_fix_is_lost():
    bench = cruising(kph=50, pedal=30)
    sup = bench.app.safety
    true = 50.0
    for _ in range(400):                          # frozen wheels, GNSS at 1.5 m/s^2 (540 ckph/s)
        true += 1.5 * 3.6 * PERIOD / 1000
        bench.car.gnss_speed_kph = true
        bench.step()
    assert bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE) and sup.speed_source == 1
    assert abs(sup.accel) < 50, "the wheels say steady"
    assert 450 <= sup.control_accel <= 630, "the governor looks ahead on GNSS's acceleration"
    bench.car.gnss_speed_kph = None
    bench.run(1000)
    assert bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE) and sup._offset > 0
    assert sup.control_accel == 0, "without GNSS its acceleration is not known any more"


# -- start-up, faults, odometer -----------------------------------------------------------------

def test_booting_is_not_losing_the_speed_source():
    bench = fh.Bench()
    bench.car.set_speed(20)
    bench.car.pedal_pct = 20
    bench.run(500)
    assert bench.state == NORMAL
    assert not bench.events(events.NO_SPEED_SOURCE) and not bench.events(events.SPEED_SOURCE_GNSS)


def test_init_ending_in_fault_says_the_speed_never_became_trusted():
    bench = fh.Bench()
    bench.car.set_speed(20)
    bench.car.pedal_pct = 20
    bench.car.corrupt_wheels = True
    at = step_until(bench, FAULT, CFG.init_timeout_ms + 100)
    [(value)] = [v for _c, t, v in bench.events(events.FAULT_ENTERED) if t == at]
    assert value & bit(roles.FLAG_SPEED_TIMEOUT) and value & bit(roles.FLAG_SPEED_CHECK)


def test_a_second_fault_clearing_at_once_still_waits_fault_recover_ms():
    bench = cruising(kph=40, pedal=20)
    bench.car.wheels_on = False
    step_until(bench, FAULT, 300)
    bench.car.wheels_on = True
    step_until(bench, (NORMAL, LIMITING), CFG.fault_recover_ms + 200)
    bench.run(CFG.fault_recover_ms + 500)
    # The wheels split two and two until WHEELS_DISAGREE, then agree at the very next frame.
    bench.car.wheels_kph = [40, 40, 45, 45]
    step_until(bench, FAULT, CFG.plausibility_ms + 200)
    bench.car.wheels_kph = [40.0] * 4
    bench.send("WHEEL_SPEEDS", dict(zip(fh.Bench.WHEEL_NAMES, bench.car.wheels_kph)))
    bench.step()
    assert not bench.flags & roles.FAULT_FLAGS
    bench.run(CFG.fault_recover_ms - 50)
    assert bench.state == FAULT, "the wait starts when the faults clear, every time"
    step_until(bench, (NORMAL, LIMITING), 100)
    assert not bench.flags & bit(roles.FLAG_SPEED_FROM_GNSS), "the wheels are the speed again"
    assert [v for _c, _t, v in bench.events(events.FAULT_CLEARED)] == [0, 0]


@pytest.mark.parametrize("kph", [50.4, 50.35])
def test_the_odometer_counts_whole_millimetres_and_never_more_than_was_driven(kph):
    bench = cruising(kph=kph, pedal=20, gnss=False)
    sup = bench.app.safety
    ckph = sup.speed
    start_m, start_mm = sup.odometer_m, sup.odometer_mm
    bench.run(10_000)
    driven_mm = (sup.odometer_m - start_m) * 1000 + sup.odometer_mm - start_mm
    assert driven_mm == 1000 * (ckph * PERIOD // 360), "whole millimetres a period, none lost"
    assert driven_mm <= ckph * 10_000 / 360 < driven_mm + 1000
    assert 0 <= sup.odometer_mm < 1000


# -- GNSS quality and its parts ------------------------------------------------------------------

@pytest.mark.parametrize("fix, sats, hdop, good", [
    (2, 5, 4.0, True),                     # the configured minimums, exactly
    (1, 10, 0.9, False), (5, 10, 0.9, False), (3, 4, 0.9, False), (3, 10, 4.1, False),
])
def test_only_a_fix_good_enough_is_a_good_fix(fix, sats, hdop, good):
    bench = fh.Bench()
    car = bench.car
    car.set_speed(30)
    car.pedal_pct = 20
    car.gnss_speed_kph = 30
    car.gnss_fix, car.gnss_satellites, car.gnss_hdop = fix, sats, hdop
    bench.run(1000)
    assert bench.app.safety._gnss_good == good
    assert bool(bench.flags & bit(roles.FLAG_GNSS_INVALID)) != good


@pytest.mark.parametrize("missing", ["GNSS_FIX_LAT", "GNSS_FIX_LON", "GNSS_VELOCITY"])
def test_a_fix_missing_any_of_its_messages_is_not_good_whichever_comes_first_in_the_table(missing):
    from test_fw_core_coverage_tables import _AppNode, reordered

    first = fh.packer().db.get_message_by_name(missing).frame_id
    bench = fh.Bench(node=_AppNode(reordered(keigov_bus, "RX", keigov_bus.RX_ID.index(first), "COUNTER")))
    bench.car.set_speed(30)
    bench.car.pedal_pct = 20
    parts = " ".join(p for p, name in (("LAT", "GNSS_FIX_LAT"), ("LON", "GNSS_FIX_LON"), ("VEL", "GNSS_VELOCITY"))
                     if name != missing)
    for _ in range(10):
        bench.send_fix(35.6812, 139.7671, 30.0, 90.0, parts=parts)
        bench.run(100)
    assert not bench.app.safety._gnss_good and bench.flags & bit(roles.FLAG_GNSS_INVALID)


# -- the cross-check's debounce ------------------------------------------------------------------

def test_the_cross_check_debounce_restarts_on_agreement_and_spans_good_fixes_only():
    bench = wheels_low_against_gnss(CFG.xcheck_ms - 500)      # apart, not yet for xcheck_ms
    sup = bench.app.safety
    bench.car.gnss_speed_kph = 40.0                             # they agree for a moment
    bench.run(300)
    bench.car.gnss_speed_kph = 50.0
    bench.run(CFG.xcheck_ms - 300)
    assert not bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE), "the wait started again"
    bench.car.gnss_speed_kph = None                             # the fix is lost a while
    bench.run(1000)
    bench.car.gnss_speed_kph = 50.0
    bench.run(CFG.xcheck_ms - 300)
    assert not bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE), "and again after the loss"
    bench.run(1200)
    assert bench.flags & bit(roles.FLAG_SPEED_IMPLAUSIBLE)
    assert sup.speed == 5000


# -- whole-app rate check, sources, limits ------------------------------------------------------

def test_well_formed_speed_frames_jumping_as_no_car_can_are_a_check_failure():
    bench = cruising(kph=60, pedal=50)
    for _ in range(10):                     # every other frame 20 km/h off, counters in order
        bench.car.set_speed(40 if bench.car.wheels_kph[0] == 60 else 60)
        bench.run(20)
        if bench.state == FAULT:
            break
    assert bench.state == FAULT and bench.flags & bit(roles.FLAG_SPEED_CHECK)
    assert bench.app.rx.valid[bench.app.safety.m_wheels], "every frame was well formed"
    assert not bench.flags & bit(roles.FLAG_SPEED_TIMEOUT)


def test_booting_the_limit_on_the_bus_is_none_until_a_speed_is_known_then_the_limit():
    bench = fh.Bench()
    bench.car.wheels_on = False
    bench.car.pedal_pct = 20
    bench.run(100)
    assert bench.state == INIT and bench.app.safety.ref == 13000
    assert bench.last("GOVERNOR_COMMAND")["SPEED_LIMIT"] == pytest.approx(130.0)
    step_until(bench, FAULT, CFG.init_timeout_ms + 100)
    bench.run(100)
    assert bench.app.safety.ref == CFG.limp_ckph, "no speed at all after INIT: the limit itself"
    assert bench.flags & bit(roles.FLAG_SPEED_TIMEOUT) and not bench.flags & bit(roles.FLAG_SPEED_CHECK)


def test_below_the_cap_the_commanded_limit_is_the_cap_exactly():
    bench = cruising(kph=30, pedal=20)
    assert bench.app.safety.ref == bench.app.safety.limit == CFG.cap_ckph


def test_short_wheel_frames_are_a_check_failure_not_a_timeout():
    bench = cruising(kph=30, pedal=20)
    bench.car.wheels_on = False
    for _ in range(3):
        fid, data = bench.packer.pack("WHEEL_SPEEDS", dict(zip(fh.Bench.WHEEL_NAMES, [30.0] * 4)))
        bench.deliver(fid, data[:7])
        bench.run(20)
    assert bench.state == FAULT and bench.flags & bit(roles.FLAG_SPEED_CHECK)
    assert not bench.flags & bit(roles.FLAG_SPEED_TIMEOUT)


def test_init_is_timed_from_the_first_period_whatever_the_clock_reads():
    bench = fh.Bench(start=500_000)
    bench.car.set_speed(20)
    bench.car.driver_on = False
    bench.run(CFG.init_timeout_ms)
    assert bench.state == INIT
    step_until(bench, FAULT, 2 * PERIOD)


def test_a_speed_reading_at_the_limit_from_any_source_holds_the_torque():
    """The wheels a little below the cap, GNSS at it (within the cross-check's tolerance,
    so the wheels give the speed): the pedal going down may not raise the torque."""
    bench = cruising(kph=62, pedal=20)
    sup = bench.app.safety
    bench.car.gnss_speed_kph = 65.0
    bench.run(300)
    assert sup.speed == 6200 and sup._gnss_good
    before = sup.torque
    bench.car.pedal_pct = 100
    bench.run(300)
    assert sup.torque <= before
    bench.car.gnss_speed_kph = 62.0                              # GNSS below the limit too
    bench.run(300)
    assert sup.torque > before


def test_with_no_speed_known_no_regen_is_asked_for():
    bench = cruising(kph=30, pedal=0, gnss=False)
    sup = bench.app.safety
    bench.ramp_speed(CFG.cap_ckph / 100 + 8, 10.0)               # coasting downhill over the cap
    bench.run(1500)
    assert sup.regen > 0
    bench.car.wheels_on = False
    step_until(bench, FAULT, 300)
    bench.run(3000)
    assert sup.speed_source == 0 and sup.regen == 0


def test_an_overspeed_is_raised_after_overspeed_ms_once_an_episode_and_cleared_at_the_limit():
    bench = cruising(kph=30, pedal=0, gnss=False)
    sup = bench.app.safety
    edge = (CFG.cap_ckph + CFG.overspeed_margin_ckph) / 100         # km/h: limit + margin
    raised_at = []
    for episode in range(2):
        bench.ramp_speed(edge - 0.5, 20.0)
        bench.run(200)
        assert not bench.flags & bit(roles.FLAG_OVERSPEED)
        bench.car.set_speed(edge + 1.0 - 0.5 * episode)             # over, in one plausible step
        start = bench.now
        at = step_until_overspeed(bench, CFG.overspeed_ms + 200)
        assert CFG.overspeed_ms <= at - start <= CFG.overspeed_ms + 2 * PERIOD, episode
        raised_at.append(sup.speed - sup.ref)
        bench.run(1000)
        bench.ramp_speed(CFG.cap_ckph / 100 - 5, 20.0)
        bench.run(100)
        assert not bench.flags & bit(roles.FLAG_OVERSPEED)
    bench.app.log.flush(bench.now + 10_000)
    assert [v for _c, _t, v in bench.events(events.OVERSPEED)] == raised_at, "once an episode, the excess"
    assert raised_at[0] > raised_at[1] > CFG.overspeed_margin_ckph
    assert len(bench.events(events.OVERSPEED_CLEARED)) == 2
    repeats = [events.unpack_repeated(v)[0] for _c, _t, v in bench.events(events.REPEATED)]
    assert events.OVERSPEED not in repeats


def step_until_overspeed(bench: fh.Bench, within_ms: int) -> int:
    for _ in range(within_ms // PERIOD + 1):
        bench.step()
        if bench.flags & bit(roles.FLAG_OVERSPEED):
            return bench.now - PERIOD
    raise AssertionError("no overspeed")


def test_the_states_are_the_ones_the_governor_bus_names():
    """GOVERNOR_STATE's value table in dbc/keigov.dbc is the bus's contract with the
    vehicle and the logger: the supervisor's state codes must be its codes."""
    from core import safety

    choices = fh.packer().db.get_message_by_name("GOVERNOR_STATUS").get_signal_by_name("GOVERNOR_STATE").choices
    named = {int(k): str(v) for k, v in choices.items()}
    assert named == {getattr(safety, name): name for name in ("INIT", "NORMAL", "LIMITING", "FAULT", "LOCKOUT")}
