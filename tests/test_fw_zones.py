"""Zones through the whole device: the supervisor runs the zone state on complete GNSS
fixes, applies its limit along the bounded ramp, enters LOCKOUT (below FAULT), and puts
the zone id and the zone flags on the bus; events carry the position.

The device is a core.node.Node booted from flash with a signed configuration holding the
demo zones (hil/zones/demo.geojson), driven by the firmware harness's Bench: frames are
packed by cantools from the DBC and what the device sends is decoded by cantools.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import firmware_harness as fh

from core import config, events, evstore, geofence, link, roles
from core.safety import FAULT, INIT, LIMITING, LOCKOUT, NORMAL
from core.zonestate import W_FALLBACK
from keigov.gnss import offset_deg
from test_fw_node import node, provisioned, signed
from test_zones_check import DEMO
from zones_support import CENTER, collection, compile_doc

CFG = config.Config()
STEP = -(-CFG.fault_decel_ckph_s * fh.PERIOD_MS // 1000)   # the ramp at its fastest: ckph per period
FREEWAY, RAMP, FRONTAGE, CAMPUS, DEPOT = 1, 2, 3, 4, 5    # zone ids: position in the file + 1
CAMPUS_SOUTH_M, CAMPUS_NORTH_M = 250.0, 450.0             # the campus's edges at x = -250 m
FRONTAGE_CKPH, CAMPUS_CKPH = 5633, 2414


@pytest.fixture(scope="module")
def demo():
    return compile_doc(collection(*json.loads(DEMO.read_text())["features"]))


def device(demo, **params: int) -> fh.Bench:
    """A device booted with the demo zones (and `params`) in its installed configuration."""
    dev = provisioned()
    assert node(dev).install(signed(zones=demo.table.blob, **params)) == link.OK
    n = node(dev)
    assert n.fence.error == geofence.OK
    return fh.Bench(node=n)


def lat_lon(p: tuple[float, float]) -> tuple[float, float]:
    """Metres east/north of the demo's centre, as the demo was drawn (and the HIL routes)."""
    return offset_deg(CENTER[1], CENTER[0], p[1], p[0])


@dataclass
class Period:
    t: int                 # ms since the drive started
    x: float               # where the car truly was, metres from the demo's centre
    y: float
    state: int
    limit: int             # the limit in force (ckph)
    ref: int               # the ramped limit on the bus
    zone: int
    flags: int


def drive(bench: fh.Bench, path: list[tuple[float, float]], kph: float, *, settle_ms: int = 4000,
          gnss_off: tuple[int, int] | None = None, spoof: tuple[int, int, float] | None = None,
          until_ms: int | None = None) -> Iterator[Period]:
    """Stand at the path's start for `settle_ms` (trust, leave the boot fallback), then drive
    it at `kph` (until its end or `until_ms`), a fix every 100 ms at the true position: none
    inside `gnss_off` (ms from the start of driving), `spoof` = (t0, t1, north_m) moves them.
    Yields every period while driving."""
    car = bench.car
    car.pedal_pct = 30
    legs = list(zip(path, path[1:]))
    lengths = [max(0.01, math.hypot(b[0] - a[0], b[1] - a[1])) for a, b in legs]
    t = -settle_ms
    while True:
        d = max(0.0, t * kph / 3600)
        k, along = 0, d
        while k < len(legs) - 1 and along > lengths[k]:
            along -= lengths[k]
            k += 1
        if along > lengths[k] or (until_ms is not None and t > until_ms):
            return
        (x0, y0), (x1, y1) = legs[k]
        x, y = x0 + (x1 - x0) * along / lengths[k], y0 + (y1 - y0) * along / lengths[k]
        # The wheels get up to speed as a car can (the firmware refuses a jump), within
        # 1.5 s: the few metres they lag the fixes are well inside the zone state's margins.
        moving = kph * min(1.0, t / 1500) if t >= 0 else 0.0
        car.set_speed(moving)
        car.gnss_speed_kph = None if gnss_off and gnss_off[0] <= t < gnss_off[1] else moving
        north = spoof[2] if spoof and spoof[0] <= t < spoof[1] else 0.0
        car.gnss_lat, car.gnss_lon = lat_lon((x, y + north))
        car.gnss_heading = math.degrees(math.atan2(x1 - x0, y1 - y0)) % 360
        bench.step()
        s = bench.app.safety
        if t >= 0:
            yield Period(t, x, y, s.state, s.limit, s.ref, s.zone_id, s.flags)
        t += fh.PERIOD_MS


def first(periods: list[Period], pred) -> Period | None:
    return next((p for p in periods if pred(p)), None)


def flag(name: int) -> int:
    return 1 << name


# -- without zones, nothing changes --------------------------------------------------------

def test_without_zones_the_device_behaves_exactly_as_before():
    """No zones configured (an empty fence) sends the same frames, byte for byte, as a
    governor built with no fence at all; neither raises a zone flag."""
    runs = []
    for fence in (None, geofence.Fence()):
        bench = fh.Bench(fence=fence)
        car = bench.car
        car.set_speed(30)
        car.pedal_pct = 50
        car.gnss_speed_kph = 30
        bench.run(3000)
        car.set_speed(70)
        car.pedal_pct = 100
        bench.run(3000)
        car.wheels_on = False
        bench.run(2000)
        runs.append([(s.t, s.frame_id, s.data) for s in bench.sent])
        assert not bench.flags & roles.ZONE_FLAGS
        assert bench.last("GOVERNOR_STATUS")["ZONE_ID"] == 0
    assert runs[0] == runs[1]


# -- boot, speed zones ---------------------------------------------------------------------

def test_boot_holds_the_fallback_until_good_fixes_relax_it(demo):
    bench = device(demo)
    bench.car.set_speed(20)
    bench.car.gnss_speed_kph = 20
    bench.car.gnss_lat, bench.car.gnss_lon = lat_lon((0.0, 200.0))      # outside every zone
    bench.run(500)
    assert bench.app.safety.limit == CFG.zone_fallback_ckph
    status = bench.last("GOVERNOR_STATUS")
    assert status["ZONE_FALLBACK"] == 1 and status["ZONE_HOLD"] == 0 and status["LOCKOUT_ACTIVE"] == 0
    bench.run(CFG.zone_dwell_ms + 500)
    assert bench.app.safety.limit == CFG.cap_ckph
    assert bench.last("GOVERNOR_STATUS")["ZONE_FALLBACK"] == 0
    assert bench.events(events.GNSS_FALLBACK) and bench.events(events.ZONE_RELAXED)


def test_campus_applies_at_its_edge_ramps_down_and_relaxes_only_after_hysteresis_and_dwell(demo):
    bench = device(demo)
    kph = 30.0
    periods = list(drive(bench, [(-250.0, 150.0), (-250.0, 560.0)], kph))
    inside = first(periods, lambda p: p.zone == CAMPUS)
    assert inside is not None and inside.limit == CAMPUS_CKPH
    per_fix_m = kph / 3.6 / 10
    assert CAMPUS_SOUTH_M <= inside.y <= CAMPUS_SOUTH_M + per_fix_m + 0.2      # the first fix inside
    before = periods[periods.index(inside) - 1]
    assert before.limit == CFG.cap_ckph
    # The ramp starts from the vehicle's speed at once and never falls faster than fault_decel.
    assert kph * 100 - STEP <= inside.ref < kph * 100
    ramp = [p.ref for p in periods if p.t >= inside.t and p.zone == CAMPUS]
    assert all(0 <= a - b <= STEP for a, b in zip(ramp, ramp[1:]))
    assert min(ramp) == CAMPUS_CKPH
    released = first(periods, lambda p: p.t > inside.t and p.limit > CAMPUS_CKPH)
    assert released is not None and released.limit == CFG.cap_ckph and released.zone == 0
    # Looser never early: the fixes must show the hysteresis for a whole dwell.
    earliest = CAMPUS_NORTH_M + CFG.zone_hysteresis_m + CFG.zone_dwell_ms / 1000 * kph / 3.6
    assert earliest - 0.5 <= released.y <= earliest + 2 * per_fix_m + 0.5
    assert all(p.limit == CAMPUS_CKPH for p in periods if inside.t <= p.t < released.t)
    assert [v >> 16 for _c, _t, v in bench.events(events.ZONE_TIGHTENED)][-1] == CAMPUS


# -- lockout ---------------------------------------------------------------------------------

# Along the frontage road, then down the on-ramp (its left edge: x = 220 m, y = 10..20 m).
RAMP_PATH = [(100.0, 30.0), (180.0, 30.0), (240.0, 14.0), (300.0, 5.0), (500.0, 0.0)]


def test_the_on_ramp_locks_out_and_the_limit_ramps_down_to_the_lockout_speed(demo):
    bench = device(demo)
    periods = list(drive(bench, RAMP_PATH, 56.3))
    locked = first(periods, lambda p: p.state == LOCKOUT)
    assert locked is not None and locked.zone == RAMP
    assert 220.0 <= locked.x <= 220.0 + 56.3 / 36 + 0.2           # the first fix inside the ramp
    assert all(p.state == LOCKOUT and p.flags & flag(roles.FLAG_LOCKOUT) for p in periods if p.t >= locked.t)
    assert all(p.limit == CFG.lockout_ckph for p in periods if p.t >= locked.t)
    refs = [p.ref for p in periods if p.t >= locked.t]
    assert refs[0] < 5633 and all(0 <= a - b <= STEP for a, b in zip(refs, refs[1:]))   # never a cut at speed
    assert refs[-1] == CFG.lockout_ckph
    status = bench.last("GOVERNOR_STATUS")
    assert status["GOVERNOR_STATE"] == LOCKOUT and status["LOCKOUT_ACTIVE"] == 1
    assert status["ZONE_ID"] == FREEWAY                             # down the ramp onto the freeway
    assert bench.last("GOVERNOR_COMMAND")["SPEED_LIMIT"] == pytest.approx(CFG.lockout_ckph / 100, abs=0.1)
    assert [v for _c, _t, v in bench.events(events.LOCKOUT_ENGAGED)] == [RAMP]
    assert bench.events(events.STATE_CHANGE)[-1][2] == LOCKOUT


def test_a_persisted_event_says_where_it_happened(demo):
    bench = device(demo)
    list(drive(bench, RAMP_PATH, 56.3))
    for _ in range(100):                                           # persisting goes one record per period
        bench.step()
    store, rec = bench.node.events, bytearray(evstore.WIRE_RECORD)
    records = []
    for seq in range(store.next_seq):
        assert store.read(seq, rec, 0)
        records.append((rec[4], rec[5], int.from_bytes(rec[14:18], "little", signed=True),
                        int.from_bytes(rec[18:22], "little", signed=True)))
    assert records[0][0] == events.BOOT and not records[0][1] & evstore.FLAG_POSITION   # no fix yet: no position
    code, flags, x, y = next(r for r in records if r[0] == events.LOCKOUT_ENGAGED)
    # Positioned, east/north of the origin of the running configuration's zones (bits 1-7: its version).
    version = bench.node.stored.store.running_version
    assert version and flags == evstore.FLAG_POSITION | (version & 0x7F) << 1
    lat, lon = lat_lon((220.8, 19.1))
    ex, ey = demo.device_xy(lon, lat)
    assert abs(x - ex) <= 15 and abs(y - ey) <= 15                # dm: the fix that entered the ramp


@pytest.mark.parametrize("limp, lockout", [(1200, 1609), (1609, 800)])
def test_fault_takes_priority_over_lockout_and_the_stricter_limit_holds(demo, limp, lockout):
    bench = device(demo, limp_ckph=limp, lockout_ckph=lockout)
    periods = list(drive(bench, RAMP_PATH[:3], 56.3))
    assert periods[-1].state == LOCKOUT
    bench.car.wheels_on = False                                    # the wheels fail: FAULT
    bench.run(200)
    s = bench.app.safety
    assert s.state == FAULT and s.flags & flag(roles.FLAG_LOCKOUT)
    assert s.limit == min(limp, lockout)
    assert bench.last("GOVERNOR_STATUS")["GOVERNOR_STATE"] == FAULT
    bench.car.wheels_on = True                                     # recovered: still locked out
    bench.run(CFG.fault_recover_ms + 200)
    assert s.state == LOCKOUT and s.limit == lockout


@pytest.mark.parametrize("path, heading, locks", [
    ([(-200.0, 30.0), (700.0, 30.0)], "east", False),             # the frontage road beside it
    ([(-500.0, 40.0), (-600.0, 0.0), (-900.0, 0.0)], "west", False),   # the other way on the corridor
    ([(-1000.0, 40.0), (-900.0, 0.0), (-600.0, 0.0)], "east", True),   # the freeway itself
])
def test_only_the_freeway_direction_locks_out(demo, path, heading, locks):
    bench = device(demo)
    periods = list(drive(bench, path, 56.3))
    assert any(p.state == LOCKOUT for p in periods) == locks
    assert bool(bench.events(events.LOCKOUT_ENGAGED)) == locks
    if not locks:
        assert not any(p.flags & flag(roles.FLAG_LOCKOUT) for p in periods)


# -- GNSS ----------------------------------------------------------------------------------

def test_a_fix_is_used_only_when_its_three_parts_share_a_sequence_number(demo):
    bench = device(demo)
    car = bench.car
    car.set_speed(20)
    bench.run(1000)                                                # trusted wheels, no GNSS yet
    zs = bench.app.safety.zones
    a, b = lat_lon((0.0, 200.0)), lat_lon((0.0, 230.0))

    def fix(p, parts="LAT LON VEL", seq=None):
        seq = bench.send_fix(*p, 20.0, 0.0, parts, seq)
        bench.step()
        return seq

    for _ in range(4):                                             # the receiver trusts GNSS after 3 frames
        fix(a)
    used = zs.fixes
    assert used >= 1
    seq = fix(b, "LAT VEL")                                        # the longitude is late ...
    assert zs.fixes == used
    fix(b, "LON", seq)                                             # ... and completes the fix
    assert zs.fixes == used + 1
    y_b = zs.y
    seq = fix(a, "LAT VEL")                                        # this fix's longitude is lost,
    bench.deliver(0x3A1, bytes(8))                                 # (a frame failing its CRC)
    fix(a, "LON", seq + 1)                                         # the next fix's one arrives first:
    assert zs.fixes == used + 1                                    # never paired across fixes
    fix(a, "LAT VEL", seq + 1)
    assert zs.fixes == used + 2 and zs.y != y_b


def test_gnss_loss_holds_the_zone_then_falls_back_and_good_fixes_restore_it(demo):
    bench = device(demo)
    off = (3000, 3000 + 12000)
    periods = list(drive(bench, [(-600.0, 30.0), (-100.0, 30.0)], 40.0, gnss_off=off))
    assert periods[0].limit == FRONTAGE_CKPH and periods[0].zone == FRONTAGE
    hold = first(periods, lambda p: p.flags & flag(roles.FLAG_ZONE_HOLD))
    fall = first(periods, lambda p: p.flags & flag(roles.FLAG_ZONE_FALLBACK))
    assert hold is not None and fall is not None
    last_fix = off[0] - 100
    assert 1500 < hold.t - last_fix <= 1600                         # lost: 1.5 s without a good fix
    assert all(p.limit == FRONTAGE_CKPH for p in periods if p.t < fall.t)     # held
    assert CFG.zone_hold_ms < fall.t - last_fix <= CFG.zone_hold_ms + 100
    assert not fall.flags & flag(roles.FLAG_ZONE_HOLD) and fall.limit == CFG.zone_fallback_ckph
    back = first(periods, lambda p: p.t > fall.t and p.limit == FRONTAGE_CKPH)
    assert back is not None and off[1] + CFG.zone_dwell_ms <= back.t <= off[1] + CFG.zone_dwell_ms + 300
    assert not back.flags & roles.ZONE_FLAGS
    assert [v for _c, _t, v in bench.events(events.GNSS_FALLBACK)][-1] == 1           # on time
    assert bench.events(events.GNSS_HOLD) and bench.events(events.GNSS_REGAINED)


def test_a_spoofed_jump_onto_the_freeway_is_rejected_and_changes_nothing(demo):
    bench = device(demo)
    periods = list(drive(bench, [(-400.0, 2000.0), (0.0, 2000.0)], 50.0, spoof=(3000, 6000, -2000.0)))
    assert all(p.state != LOCKOUT and p.limit == CFG.cap_ckph for p in periods)
    jumps = bench.events(events.GNSS_JUMP)
    assert len(jumps) == 1 and 1990 <= jumps[0][2] <= 2010
    assert bench.app.safety.zones.jumps == 30


# -- property: the supervisor adds nothing to the zone state's timing ------------------------

waypoint = st.tuples(st.floats(-800, 800), st.floats(-100, 800))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(waypoint, min_size=2, max_size=4), kph=st.floats(5, 60),
       off=st.one_of(st.none(), st.tuples(st.integers(0, 3000), st.integers(500, 15000))))
def test_the_limit_in_force_is_the_zone_state_s_at_every_period(demo, path, kph, off):
    """A stricter zone is never applied late and a looser one never early by the supervisor:
    in every period its limit is exactly min(cap, zone limit, limp in FAULT), and it is in
    LOCKOUT exactly while the zone state is locked out (outside INIT and FAULT)."""
    bench = device(demo)
    zs = bench.app.safety.zones
    gnss_off = None if off is None else (off[0], off[0] + off[1])
    for p in drive(bench, path, kph, settle_ms=500, gnss_off=gnss_off, until_ms=15000):
        expect = CFG.cap_ckph
        if zs.limit_ckph and zs.limit_ckph < expect:
            expect = zs.limit_ckph
        if p.state == FAULT and CFG.limp_ckph < expect:
            expect = CFG.limp_ckph
        assert p.limit == expect
        assert (p.state == LOCKOUT) == (zs.lockout == 1 and p.state not in (INIT, FAULT))
        assert p.state in (NORMAL, LIMITING, LOCKOUT)
        assert bool(p.flags & flag(roles.FLAG_ZONE_FALLBACK)) == bool(zs.warnings & W_FALLBACK)
        assert p.zone == zs.zone_id
