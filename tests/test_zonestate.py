"""The zone state machine (core/zonestate.py): hysteresis, dwell, lockout latch, GNSS
quality, jumps, loss. Properties run it against a scripted lookup; the drives run it on
the demo zones with the real lookup."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_harness as fh

from core import events, geofence, zonestate
from core.events import EventLog
from core.zonestate import W_FALLBACK, W_HOLD, W_HYST_CLAMPED, W_JUMP, W_LOCKOUT, W_POOR_FIX, ZoneState
from keigov.gnss import offset_deg
from keigov.zones import compile_zones
from keigov.zones.projection import E7, split16
from test_zones_check import DEMO
from zones_support import CENTER

CFG = fh.fw_config.Config()
HYST_DM = CFG.zone_hysteresis_m * 10
DWELL = CFG.zone_dwell_ms
NO_LIMIT = 0x7FFF


def config_with(**values: int):
    """The defaults with some parameters changed, each within its firmware bounds."""
    cfg = fh.fw_config.Config()
    bounds = {name: (lo, hi) for name, _default, lo, hi in fh.fw_config.PARAMS}
    for name, value in values.items():
        lo, hi = bounds[name]
        assert lo <= value <= hi, (name, value)
        setattr(cfg, name, value)
    return cfg


class ScriptedFence:
    """Stands in for geofence.Fence: (x, y) pass through in dm, lookups follow `next`."""

    error = geofence.OK
    n = 1
    near_dm = 300

    def __init__(self) -> None:
        self.x = self.y = 0
        self.limit = self.lockout = self.zone = 0
        self.clear_dm = 300
        self.next = (0, 0, 0, 300)
        self.heading = None

    def to_local(self, lat_hi, lat_lo, lon_hi, lon_lo):
        self.x, self.y = lon_hi * 65536 + lon_lo, lat_hi * 65536 + lat_lo
        return True

    def lookup(self, x, y, heading):
        self.limit, self.lockout, self.zone, self.clear_dm = self.next
        self.heading = heading


GOOD = (3, 10, 9)     # fix type, satellites, HDOP x10
POOR = (3, 3, 9)
NO_FIX = (0, 0, 99)


def fix(zs: ZoneState, now: int, quality=GOOD, x: int = 0, y: int = 0, heading: int = 9000, speed: int = 1000):
    zs.on_fix(now, *quality, *split16(y), *split16(x), heading, speed)


def key(limit_ckph: int) -> int:
    return limit_ckph or NO_LIMIT


def effective(limit: int, lock: int) -> int:
    eff = key(limit)
    return min(eff, CFG.lockout_ckph) if lock else eff


def booted(fence=None, cfg=CFG) -> tuple[ZoneState, ScriptedFence, EventLog]:
    fence = fence or ScriptedFence()
    log = EventLog(256)
    zs = ZoneState(fence, cfg, log)
    zs.step(0, 0)
    return zs, fence, log


def settle(zs: ZoneState) -> int:
    """Good fixes every 100 ms until the boot fallback has relaxed to the scripted zone."""
    until = 100 + DWELL
    for t in range(100, until + 1, 100):
        zs.step(t, 0)
        fix(zs, t)
    return until


def recorded(log: EventLog) -> list[tuple[int, int]]:
    return [(log.code[i % log.capacity], log.value[i % log.capacity]) for i in range(log.oldest(), log.count)]


def codes(log: EventLog) -> list[int]:
    return [code for code, _ in recorded(log)]


# -- properties --------------------------------------------------------------------------

@dataclass
class Seen:
    t: int
    quality: tuple[int, int, int]
    eff: int
    lock: int
    clear: int


LIMITS = st.sampled_from([0, 0, 1609, 2414, 4023, 5633])
# Runs of identical fixes (a vehicle stays in a zone for a while), so dwell-long windows
# and windows whose limit changes part way are common.
RUNS = st.lists(st.tuples(st.integers(1, 25), st.sampled_from([100, 200, 200, 500, 1000, 3000]),
                          st.sampled_from([GOOD, GOOD, GOOD, POOR, NO_FIX]), LIMITS,
                          st.sampled_from([0, 0, 0, 0, 1]), st.sampled_from([0, 100, 149, 150, 300]),
                          st.integers(1, 9)),
                min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(runs=RUNS)
def test_stricter_never_late_looser_never_early(runs):
    zs, fence, log = booted()
    now = 0
    seen: list[Seen] = []
    items = [item for count, *item in runs for _ in range(count)]
    for dt, quality, limit, lock, clear, zone in items:
        now += dt
        before = (key(zs.limit_ckph), zs.lockout)
        mark = log.count
        zs.step(now, 0)
        after = (key(zs.limit_ckph), zs.lockout)
        assert after[0] <= before[0] and after[1] >= before[1], "step() relaxed something"
        _assert_logged(log, mark, before, after)
        fence.next = (limit, lock, zone, clear)
        mark = log.count
        fix(zs, now, quality)
        _assert_logged(log, mark, after, (key(zs.limit_ckph), zs.lockout))
        if quality == NO_FIX:
            continue
        eff = effective(limit, lock)
        seen.append(Seen(now, quality, eff, lock, clear))
        applied = key(zs.limit_ckph)
        # never late: this fix's limit (and lockout) is in force right after it
        assert applied <= eff and (zs.lockout or not lock)
        if applied > after[0] or (after[1] and not zs.lockout):
            _assert_earned(seen, applied, zs.lockout)
        _assert_not_overdue(seen, applied, zs.lockout)


def _assert_logged(log: EventLog, mark: int, before: tuple[int, int], after: tuple[int, int]) -> None:
    """One ZONE_TIGHTENED per tightening, one ZONE_RELAXED per relaxation, no others."""
    new = [log.code[i % log.capacity] for i in range(mark, log.count)]
    tightened = after[0] < before[0] or after[1] > before[1]
    relaxed = after[0] > before[0] or after[1] < before[1]
    assert new.count(events.ZONE_TIGHTENED) == tightened and new.count(events.ZONE_RELAXED) == relaxed, new
    assert new.count(events.LOCKOUT_ENGAGED) == (after[1] > before[1])
    assert new.count(events.LOCKOUT_CLEARED) == (after[1] < before[1])


def _assert_earned(seen: list[Seen], applied: int, lockout: int) -> None:
    """A relaxation to `applied`: the last dwell of fixes were all good, at least the
    hysteresis clear of stricter zones, no stricter than it, none more than 1.5 s apart
    (a longer gap means GNSS was lost)."""
    t_end = seen[-1].t
    prev = t_end
    for s in reversed(seen):
        assert s.quality == GOOD, "relaxed on a poor fix"
        assert s.clear >= HYST_DM, "relaxed inside the hysteresis distance"
        assert s.eff >= applied and (lockout or not s.lock), "relaxed past a stricter fix"
        assert prev - s.t <= 1500, "relaxed across a gap in the fixes"
        prev = s.t
        if t_end - s.t >= CFG.zone_dwell_ms:
            return
    raise AssertionError("relaxed before the dwell time")


def _assert_not_overdue(seen: list[Seen], applied: int, lockout: int) -> None:
    """Good, clear, identical fixes at most 1 s apart for the dwell: relaxed by now."""
    last = seen[-1]
    if last.quality != GOOD or last.clear < HYST_DM:
        return
    prev = last.t
    for s in reversed(seen):
        if (s.quality, s.eff, s.lock) != (GOOD, last.eff, last.lock) or s.clear < HYST_DM \
                or prev - s.t > 1000:
            return
        prev = s.t
        if last.t - s.t >= CFG.zone_dwell_ms:
            assert (applied, lockout) == (last.eff, last.lock), "relaxation overdue"
            return


# -- examples ----------------------------------------------------------------------------

def test_boot_holds_the_fallback_until_fixes_earn_more():
    zs, fence, log = booted()
    assert zs.limit_ckph == CFG.zone_fallback_ckph and zs.warnings & W_FALLBACK
    for t in range(100, 100 + DWELL, 100):
        fix(zs, t)
        assert zs.limit_ckph == CFG.zone_fallback_ckph
    fix(zs, 100 + DWELL)
    assert zs.limit_ckph == 0 and not zs.warnings & W_FALLBACK
    assert codes(log) == [events.GNSS_FALLBACK, events.GNSS_REGAINED, events.ZONE_RELAXED]


def test_lockout_latches_until_clear_and_dwell():
    zs, fence, log = booted()
    fence.next = (0, 1, 2, 300)
    fix(zs, 100)
    assert zs.lockout == 1 and zs.limit_ckph == CFG.lockout_ckph and zs.zone_id == 2
    assert zs.warnings & W_LOCKOUT
    t = 100
    fence.next = (0, 0, 0, 100)          # out of the zone, but only 10 m
    for t in range(200, 6000, 200):
        fix(zs, t)
    assert zs.lockout == 1
    fence.next = (0, 0, 0, 200)
    start = t
    for t in range(start + 200, start + 200 + DWELL, 200):
        fix(zs, t)
    assert zs.lockout == 1               # the dwell has not passed: the first of them opened it
    fix(zs, t + 200)
    assert zs.lockout == 0 and zs.limit_ckph == 0 and not zs.warnings & W_LOCKOUT
    assert events.LOCKOUT_ENGAGED in codes(log) and codes(log)[-2:] == [events.LOCKOUT_CLEARED, events.ZONE_RELAXED]


def test_poor_fixes_tighten_but_never_relax():
    zs, fence, _ = booted()
    fence.next = (2414, 0, 4, 300)
    fix(zs, 100, POOR)
    assert zs.limit_ckph == 2414 and zs.poor_fixes == 1 and zs.warnings & W_POOR_FIX
    fence.next = (0, 0, 0, 300)
    for t in range(200, 10000, 200):
        fix(zs, t, POOR)
    assert zs.limit_ckph == 2414


def test_heading_is_unknown_below_the_minimum_speed():
    zs, fence, _ = booted()
    fix(zs, 100, heading=4500, speed=CFG.zone_heading_min_ckph)
    assert fence.heading == 4500
    fix(zs, 200, heading=4500, speed=CFG.zone_heading_min_ckph - 1)
    assert fence.heading == -1


def test_loss_holds_then_falls_back_on_time():
    zs, fence, log = booted()
    fence.next = (5633, 0, 3, 300)
    start = t = settle(zs)
    assert zs.limit_ckph == 5633
    while t < start + CFG.zone_hold_ms:
        t += 10
        zs.step(t, 0)
        assert zs.limit_ckph == 5633
    assert zs.warnings & W_HOLD
    zs.step(t + 10, 0)
    assert zs.limit_ckph == CFG.zone_fallback_ckph and zs.warnings & W_FALLBACK
    assert codes(log)[-3:] == [events.GNSS_HOLD, events.GNSS_FALLBACK, events.ZONE_TIGHTENED]


def test_loss_falls_back_on_distance():
    zs, fence, log = booted(cfg=config_with(zone_hold_ms=60000))
    start = t = settle(zs)
    assert zs.limit_ckph == 0
    speed = 6437                                   # 40 mph: 200 m in 11.2 s
    while not zs.warnings & W_FALLBACK:
        t += 10
        zs.step(t, speed)
        assert t < start + 30000, "no fallback"
    driven_dm = (t - start) * speed / 36000
    assert CFG.zone_hold_m * 10 <= driven_dm <= CFG.zone_hold_m * 10 + 20
    assert recorded(log)[-2:] == [(events.GNSS_FALLBACK, zonestate.FALLBACK_DISTANCE),
                                  (events.ZONE_TIGHTENED, CFG.zone_fallback_ckph)]


def test_a_jump_is_rejected_counted_and_later_reanchored():
    zs, fence, log = booted()
    fence.next = (2414, 0, 4, 300)
    t = 0
    for t in range(100, 1100, 100):
        zs.step(t, 1000)
        fix(zs, t, x=t // 36)                      # 10 km/h east: consistent with the wheels
    fence.next = (0, 0, 0, 300)                    # the spoofed place has no zones
    jumped = 0
    while zs.reanchors == 0:
        t += 100
        zs.step(t, 1000)
        fix(zs, t, x=20000 + t // 36)
        jumped += 1
        if zs.reanchors == 0:
            assert zs.limit_ckph in (2414, CFG.zone_fallback_ckph) and zs.warnings & W_JUMP
    assert zs.jumps == jumped and t - 1100 >= CFG.zone_reanchor_ms
    assert codes(log).count(events.GNSS_JUMP) == 1
    assert events.GNSS_REANCHORED in codes(log)
    assert zs.limit_ckph == 2414                   # re-anchored, but relaxing still takes a dwell


def test_no_table_means_no_zone_limit_and_no_gnss_needed():
    class Missing(ScriptedFence):
        error = geofence.ERR_MISSING
        n = 0

    zs, _, log = booted(Missing())
    for t in range(0, 60000, 1000):
        zs.step(t, 3000)
    assert (zs.limit_ckph, zs.warnings, log.count) == (0, 0, 0)


def test_refused_table_keeps_the_fallback():
    fence = geofence.Fence()
    fence.read(io.BytesIO(b"not a table at all, not even a header............................"))
    zs, _, log = booted(fence)
    fix(zs, 100)
    for t in range(0, 20000, 500):
        zs.step(t, 0)
        fix(zs, t)
    assert zs.limit_ckph == CFG.zone_fallback_ckph
    assert codes(log)[:2] == [events.ZONES_REFUSED, events.GNSS_FALLBACK]


def test_hysteresis_beyond_the_tables_reach_is_clamped():
    cfg = config_with(zone_hysteresis_m=100)
    zs = ZoneState(ScriptedFence(), cfg, EventLog())
    assert zs.hyst == ScriptedFence.near_dm and zs.warnings & W_HYST_CLAMPED


# -- drives through the demo zones, with the real lookup -----------------------------------

@pytest.fixture(scope="module")
def demo_fence():
    fence = geofence.Fence()
    assert fence.read(io.BytesIO(compile_zones(DEMO).blob)) == geofence.OK
    return fence


def drive(fence, path, kph: float, heading_deg: float, fix_hz: int = 5):
    """Drive a straight path (metres from the demo's centre, as the HIL rig's routes put
    them) at a steady speed; fixes at
    fix_hz, steps every 10 ms. Yields (t, position, zone state) after every fix."""
    zs = ZoneState(fence, CFG, EventLog(256))
    (x0, y0), (x1, y1) = path
    length = math.hypot(x1 - x0, y1 - y0)
    speed = round(kph * 100)
    t = 0
    # Settle at the start long enough to leave the boot fallback.
    while True:
        zs.step(t, 0 if t < 4000 else speed)
        if t % (1000 // fix_hz) == 0:
            d = max(0.0, (t - 4000) * kph / 3600)
            if d > length:
                return
            p = (x0 + (x1 - x0) * d / length, y0 + (y1 - y0) * d / length)
            lat, lon = offset_deg(CENTER[1], CENTER[0], p[1], p[0])   # as the demo was drawn
            la, lo = split16(round(lat * E7)), split16(round(lon * E7))
            zs.on_fix(t, *GOOD, *la, *lo, round(heading_deg * 100) % 36000, speed if t >= 4000 else 0)
            if t >= 4000:
                yield t, p, zs
        t += 10


def test_campus_limit_applies_at_the_boundary_and_relaxes_after_hysteresis(demo_fence):
    """North through the campus (edges at 250 m and 750 m north) at 20 km/h."""
    entered = relaxed = None
    for t, (_x, y), zs in drive(demo_fence, ((-650.0, 150.0), (-650.0, 900.0)), 20.0, 0.0):
        if entered is None and zs.limit_ckph == 2414:
            entered = y
        if entered is not None and relaxed is None and zs.limit_ckph == 0:
            relaxed = (t, y)
    assert entered is not None and 250.0 <= entered <= 250.0 + 20 / 3.6 / 5 + 0.5   # the first fix inside
    assert relaxed is not None
    t_relax, y_relax = relaxed
    # the hysteresis past the edge (at 750 m) opens the window; a dwell of fixes later it relaxes
    past = 750 + CFG.zone_hysteresis_m + DWELL / 1000 * 20 / 3.6
    assert past - 1 <= y_relax <= past + 20 / 3.6 / 5 + 1


def test_on_ramp_locks_out(demo_fence):
    """From the frontage road down the on-ramp (220 m..380 m east) at 35 mph."""
    locked = None
    for _, (x, _y), zs in drive(demo_fence, ((100.0, 30.0), (400.0, 4.0)), 56.3, 95.0):
        if zs.lockout and locked is None:
            locked = (x, zs.zone_id, zs.limit_ckph)
    assert locked is not None and 218 <= locked[0] <= 232
    assert locked[1] in (1, 2) and locked[2] == CFG.lockout_ckph


def test_frontage_road_never_locks_out(demo_fence):
    for _, _, zs in drive(demo_fence, ((-1400.0, 30.0), (1400.0, 30.0)), 56.3, 90.0):
        assert zs.lockout == 0
        assert zs.limit_ckph == 5633 and zs.zone_id == 3


def test_freeway_locks_out_but_crossing_it_does_not(demo_fence):
    assert any(zs.lockout for _, _, zs in drive(demo_fence, ((-1000.0, 0.0), (-800.0, 0.0)), 60.0, 90.0))
    assert not any(zs.lockout for _, _, zs in drive(demo_fence, ((-900.0, -60.0), (-900.0, 60.0)), 30.0, 0.0))
