"""Properties of the control law (core.governor) and of the whole app under any input.

The law is exercised with any gains and ramps inside config.PARAMS bounds, so these hold
for every tuning the configuration accepts, not only the defaults.
"""

from __future__ import annotations

import math
import types
from array import array

from hypothesis import assume, given, settings
from hypothesis import strategies as st

import firmware_harness as fh

from core import config, roles
from core.governor import ERR_MAX, SpeedGovernor
from core.safety import LIMITING
from keigov.dbc.e2e import crc8_j1850
from tables import keigov_bus as T

PERIOD = fh.PERIOD_MS
BOUNDS = {name: (lo, hi) for name, _d, lo, hi in config.PARAMS}
TUNING = ("kp_q10", "ki_q10", "lookahead_ms", "torque_ramp_down_pm_s", "torque_ramp_up_pm_s")


@st.composite
def configs(draw: st.DrawFn) -> config.Config:
    """Defaults, or any tuning the configuration would accept."""
    cfg = config.Config()
    if draw(st.booleans()):
        for name in TUNING:
            setattr(cfg, name, draw(st.integers(*BOUNDS[name])))
    return cfg


def ramps(cfg: config.Config) -> tuple[int, int]:
    return cfg.torque_ramp_down_pm_s * PERIOD // 1000, cfg.torque_ramp_up_pm_s * PERIOD // 1000


law_inputs = st.tuples(
    st.integers(0, 13000),                                   # target, ckph
    st.integers(0, 21000),                                   # speed, ckph
    st.one_of(st.integers(-3000, 3000), st.integers(-500000, 500000)),  # accel, ckph/s
    st.one_of(st.integers(0, 1000), st.sampled_from((0, 1000))),        # demand, permille
)


# -- the control law alone ---------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(cfg=configs(), inputs=st.lists(law_inputs, min_size=1, max_size=120))
def test_law_never_exceeds_demand_and_moves_at_its_ramps(cfg, inputs):
    gov = SpeedGovernor(cfg, PERIOD)
    down, up = ramps(cfg)
    for target, speed, accel, demand in inputs:
        prev, was_binding = gov.command, gov.binding
        cmd = gov.step(target, speed, accel, demand)
        assert 0 <= cmd <= demand
        assert cmd == gov.command
        # Down: never faster than the ramp, unless the driver's own demand is lower.
        assert cmd >= min(prev - down, demand)
        # Up: only the driver's demand may rise faster, and only when the law lets it through.
        if was_binding:
            assert cmd <= prev + up
        if not gov.binding:
            assert cmd == demand


@settings(max_examples=150, deadline=None)
@given(cfg=configs(), inputs=st.lists(st.tuples(
    st.integers(800, 13000),          # target: any cap the configuration accepts
    st.integers(0, 20478),            # speed: the wheel-speed signal's whole range
    st.one_of(st.integers(-20000, 20000), st.integers(-(1 << 24), 1 << 24)),  # accel: kei car, and absurd
    st.integers(0, 1000),             # demand
), min_size=1, max_size=60))
def test_law_intermediates_stay_small_ints_with_any_accepted_tuning(cfg, inputs):
    gov = SpeedGovernor(cfg, PERIOD)
    S = fh.Small
    for target, speed, accel, demand in inputs:
        assert gov.step(S(target), S(speed), S(accel), S(demand)) <= demand


@settings(max_examples=150, deadline=None)
@given(cfg=configs(), inputs=st.lists(law_inputs, min_size=0, max_size=40),
       demands=st.lists(st.integers(0, 1000), min_size=1, max_size=40))
def test_demand_passes_through_untouched_well_below_the_cap(cfg, inputs, demands):
    """Once the law has released (at most a full-scale up-ramp after any history), every
    demand passes unchanged while the vehicle is well below the cap."""
    target, speed = 13000, 0
    # "Well below": the proportional term alone allows full torque (on the law's clamped error).
    assume(cfg.kp_q10 * min(target - speed, ERR_MAX) >> 10 >= 1000)
    gov = SpeedGovernor(cfg, PERIOD)
    for step in inputs:
        gov.step(*step)
    _down, up = ramps(cfg)
    for _ in range(1000 // up + 1):
        gov.step(target, speed, 0, 1000)
    assert not gov.binding
    for demand in demands:
        assert gov.step(target, speed, 0, demand) == demand


@settings(max_examples=25, deadline=None)
@given(
    accel_full=st.integers(300, 1500),              # ckph/s at full torque
    top_over_cap=st.floats(1.3, 3.0),               # top speed / cap
    start=st.integers(0, 5000),                     # ckph
)
def test_closed_loop_settles_at_or_below_the_cap(accel_full, top_over_cap, start):
    """First-order vehicle, driver flooring it: the speed settles at or below the cap."""
    cfg = config.Config()
    cap = cfg.cap_ckph
    target = cap - cfg.setpoint_margin_ckph
    top = top_over_cap * cap
    tau = top / accel_full                                  # s
    reach_s = tau * math.log(top / (top - target)) if start < target else 0.0
    gov = SpeedGovernor(cfg, PERIOD)
    v, accel, trace = float(start), 0, []
    for _ in range(int((reach_s + 30) * 1000) // PERIOD):
        torque = gov.step(target, int(v), accel, 1000)
        dv = (accel_full * torque / 1000 - v / tau) * PERIOD / 1000
        v = max(0.0, v + dv)
        accel += (int(dv * 1000 / PERIOD) - accel) >> 2   # the supervisor's filter
        trace.append(v)
    settled = trace[-20_000 // PERIOD:]
    assert max(trace) <= cap + 200, "overshoot above the cap beyond 2 km/h"
    assert max(settled) <= cap
    assert min(settled) >= cap - 300, "holds the cap, not far below it"


def test_closed_loop_through_the_whole_app():
    """The same, with frames on the bus: wheel speeds follow the torque the app commands."""
    bench = fh.Bench()
    cfg = bench.app.cfg
    bench.car.pedal_pct = 100
    v, accel_full, tau = 3000.0, 600.0, 25.0
    speeds = []
    for _ in range(40_000 // PERIOD):
        bench.car.set_speed(v / 100)
        bench.step()
        torque = bench.app.safety.torque
        v = max(0.0, v + (accel_full * torque / 1000 - v / tau) * PERIOD / 1000)
        speeds.append(v)
    assert max(speeds) <= cfg.cap_ckph + 200
    assert cfg.cap_ckph - 300 <= min(speeds[-1000:]) and max(speeds[-1000:]) <= cfg.cap_ckph
    assert bench.state == LIMITING


# -- the whole app under any input ---------------------------------------------------------

KNOWN_IDS = tuple(T.RX_ID) + tuple(T.TX_ID)
RX_NAMES = [fh.packer().db.get_message_by_frame_id(f).name for f in T.RX_ID]

raw_frames = st.tuples(
    st.just("raw"),
    st.one_of(st.sampled_from(KNOWN_IDS), st.integers(0, 0x7FF),
              st.integers(0, 0x1FFFFFFF).map(lambda f: f | 0x20000000)),
    st.binary(min_size=0, max_size=8),
)
packed_frames = st.sampled_from(RX_NAMES).flatmap(
    lambda n: st.tuples(st.just("packed"), st.just(n), fh.payload_values(n),
                        st.sampled_from((None, None, None, 0, 5)), st.booleans()))
steps = st.tuples(st.just("step"), st.one_of(st.just(PERIOD), st.integers(0, 100), st.integers(0, 5000)))
actions = st.lists(st.one_of(raw_frames, packed_frames, steps, steps), min_size=1, max_size=250)


def run_actions(app, acts, start: int) -> None:
    """Feed actions to the app; check the per-step properties as it goes."""
    p = fh.packer()
    can = app.can
    now = start
    s = app.safety
    for act in acts:
        if act[0] == "raw":
            can.deliver(act[1], act[2], len(act[2]))
        elif act[0] == "packed":
            _, name, values, counter, corrupt = act
            fid, data = p.pack(name, values, counter=counter, corrupt_checksum=corrupt)
            can.deliver(fid, data, len(data))
        else:
            now = (now + act[1]) & ((1 << 30) - 1)
            prev = s.torque
            app.step(now)
            if s.driver_ok():
                assert s.torque <= app.rx.values[roles.IN_PEDAL], "torque above the driver's demand"
            else:
                assert s.torque <= prev, "torque rose with no valid driver demand"
            assert app.watchdog.feeds == app.steps
            for i in range(can.take_sent()):
                fid, n = can.tx_id[i], can.tx_len[i]
                data = bytes(can.tx_data[i * 64: i * 64 + n])
                k = T.TX_ID.index(fid)        # allow-list: nothing else is ever sent
                assert n == T.TX_LEN[k]
                cs = T.TX_CHECKSUM[k]
                if cs >= 0:
                    byte = T.TX_SIG_START[cs] >> 3
                    assert data[byte] == crc8_j1850(fid, data, byte)


def small_int_violations(root: object) -> list[str]:
    """Every int held in the app's objects and arrays outside +-2**30, and every float."""
    seen: set[int] = set()
    bad: list[str] = []

    def visit(obj: object, path: str) -> None:
        if isinstance(obj, bool) or obj is None or isinstance(obj, (str, bytes, bytearray)):
            return
        if isinstance(obj, int):
            if not -(1 << 30) <= obj < (1 << 30):
                bad.append(f"{path} = {obj}")
            return
        if isinstance(obj, float):
            bad.append(f"{path} = {obj} (float)")
            return
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, (array, list, tuple)):
            for k, v in enumerate(obj):
                visit(v, f"{path}[{k}]")
        elif isinstance(obj, dict):
            for k, v in obj.items():
                visit(k, f"{path} key")
                visit(v, f"{path}[{k!r}]")
        elif isinstance(obj, types.ModuleType):
            for k, v in vars(obj).items():
                if not k.startswith("_"):
                    visit(v, f"{path}.{k}")
        elif hasattr(obj, "__dict__"):
            for k, v in vars(obj).items():
                visit(v, f"{path}.{k}")

    visit(root, "app")
    return bad


@settings(max_examples=80, deadline=None)
@given(acts=actions, start=st.one_of(st.just(0), st.integers(0, (1 << 30) - 1)))
def test_any_input_sequence_keeps_the_loop_running_within_small_ints(acts, start):
    app = fh.build_governor()
    run_actions(app, acts, start)
    steps_before = app.steps
    app.step((start + 12345) & ((1 << 30) - 1))
    assert app.steps == steps_before + 1
    assert small_int_violations(app) == []


def test_extremes_stay_within_small_ints():
    """Top wheel speed, flooring it, a long run, every event kind: still 31-bit ints."""
    bench = fh.Bench()
    bench.car.set_speed(204.775)
    bench.car.pedal_pct = 100
    bench.car.gnss_speed_kph = 655.35
    bench.run(5000)
    bench.car.wheels_kph = [0, 204.775, 0, 204.775]
    bench.run(2000)
    bench.car.wheels_on = False
    bench.run(2000)
    bench.car.wheels_on = True
    bench.car.set_speed(0)
    bench.run(3000)
    assert bench.app.safety.odometer_m > 200
    assert small_int_violations(bench.app) == []


def test_audit_catches_big_ints_and_floats():
    app = fh.build_governor()
    app.safety.speed = 1 << 30
    app.rx.values[0] = -(1 << 30) - 1
    app.safety.accel = 0.5
    assert len(small_int_violations(app)) == 3
