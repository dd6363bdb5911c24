"""core.safety's side of the zones: how it assembles GNSS fixes for the zone state and
what it does with the zone state's answer (limit, zone id, lockout, hold and fallback).

Part of the safety core's coverage gate (docs/quality.md). The zone state itself
(core/zonestate.py) has its own tests; here a recording stand-in with the same four
attributes and two methods takes its place, so each case states exactly which fix the
supervisor handed over and what it made of a given answer. The frames are the keigov
bus's, through the firmware harness's Bench.
"""

from __future__ import annotations

from typing import Any

import pytest

import firmware_harness as fh

from core import config, events, roles
from core.safety import FAULT, LIMITING, LOCKOUT, NORMAL
from core.zonestate import W_FALLBACK, W_HOLD
from keigov.zones.projection import E7, split16
from test_fw_safety import bit, step_until

CFG = config.Config()
LAT, LON = 35.6812, 139.7671


class ZoneAnswers:
    """Stands in for core.zonestate.ZoneState: records the fixes and speeds it is given
    and answers with whatever the test sets."""

    def __init__(self) -> None:
        self.fixes: list[tuple[Any, ...]] = []
        self.speeds: list[int] = []
        self.limit_ckph = 0
        self.zone_id = 0
        self.lockout = False
        self.warnings = 0

    def on_fix(self, now: int, *fix: int) -> None:
        self.fixes.append((now, *fix))

    def step(self, now: int, speed: int) -> None:
        self.speeds.append(speed)


def zoned_bench(kph: float = 30.0) -> tuple[fh.Bench, ZoneAnswers]:
    """A bench whose supervisor asks a ZoneAnswers; GNSS fixes only as the test sends them."""
    bench = fh.Bench()
    zones = ZoneAnswers()
    bench.app.safety.zones = zones
    bench.car.set_speed(kph)
    bench.car.pedal_pct = 20
    bench.car.gnss_speed_kph = None
    return bench, zones


def trusted_gnss(bench: fh.Bench) -> None:
    """Three complete fixes 100 ms apart: every GNSS message trusted."""
    for _ in range(3):
        bench.send_fix(LAT, LON, 30.0, 90.0)
        bench.run(100)


# -- fixes in ------------------------------------------------------------------------------

def test_a_complete_fix_of_trusted_parts_goes_to_the_zone_state_once_with_its_own_values():
    bench, zones = zoned_bench()
    bench.send_fix(LAT, LON, 30.0, 90.0)
    bench.run(100)
    bench.send_fix(LAT, LON, 30.0, 90.0)
    bench.run(100)
    assert zones.fixes == [], "parts not yet trusted are no fix"
    at = bench.now
    bench.send_fix(35.6819, 139.7675, 31.5, 45.25)
    bench.run(300)
    lat_hi, lat_lo = split16(round(35.6819 * E7))
    lon_hi, lon_lo = split16(round(139.7675 * E7))
    car = bench.car
    assert zones.fixes == [(at, car.gnss_fix, car.gnss_satellites, round(car.gnss_hdop * 10),
                            lat_hi, lat_lo, lon_hi, lon_lo, 4525, 3150)], "once, and each field its own"
    assert zones.speeds[-1] == bench.app.safety.speed == 3000, "stepped every period with the vehicle speed"
    assert len(zones.speeds) == bench.app.steps


def test_parts_of_different_fixes_are_never_combined():
    bench, zones = zoned_bench()
    trusted_gnss(bench)
    zones.fixes.clear()
    seq = bench.send_fix(LAT, LON, 30.0, 90.0, parts="LAT LON")
    bench.send_fix(LAT, LON, 30.5, 90.0, parts="VEL", seq=seq + 1)
    bench.run(10)
    assert zones.fixes == []
    # The velocity waits for the position of its own fix.
    bench.send_fix(LAT, 139.7672, 30.5, 90.0, parts="LAT LON", seq=seq + 1)
    bench.run(10)
    assert [(f[6], f[7], f[9]) for f in zones.fixes] == [(*split16(round(139.7672 * E7)), 3050)]
    bench.send_fix(LAT, LON, 30.0, 90.0, parts="LAT", seq=seq + 2)
    bench.send_fix(LAT, LON, 30.0, 90.0, parts="LON VEL", seq=seq + 3)
    bench.run(100)
    assert len(zones.fixes) == 1, "latitude of one fix, longitude of another"


@pytest.mark.parametrize("late", ["LAT", "LON", "VEL"])
def test_parts_a_fix_period_apart_are_no_fix(late):
    bench, zones = zoned_bench()
    trusted_gnss(bench)
    zones.fixes.clear()
    early = " ".join(p for p in ("LAT", "LON", "VEL") if p != late)
    seq = bench.send_fix(LAT, LON, 30.0, 90.0, parts=early)
    bench.run(100)                                # one fix period (GNSS at 10 Hz)
    bench.send_fix(LAT, LON, 30.0, 90.0, parts=late, seq=seq)
    bench.run(10)
    assert zones.fixes == []
    # The next fix's parts just inside one period of each other pair up.
    bench.send_fix(LAT, LON, 30.0, 90.0, parts=early, seq=seq + 1)
    bench.run(90)
    bench.send_fix(LAT, LON, 30.0, 90.0, parts=late, seq=seq + 1)
    bench.run(10)
    assert len(zones.fixes) == 1


def test_an_untrusted_part_keeps_the_fix_from_the_zone_state():
    bench, zones = zoned_bench()
    trusted_gnss(bench)
    zones.fixes.clear()
    seq = bench.send_fix(LAT, LON, 30.0, 90.0)
    bench.run(10)
    assert len(zones.fixes) == 1
    # Two corrupt longitudes distrust GNSS_FIX_LON; the next complete fix is not used.
    for _ in range(2):
        bench.send("GNSS_FIX_LON", {"LONGITUDE": LON, "HDOP": 0.9}, corrupt_checksum=True)
        bench.run(10)
    rx, sup = bench.app.rx, bench.app.safety
    assert not rx.valid[sup.m_lon]
    bench.send_fix(LAT, LON, 30.0, 90.0, seq=seq + 3)
    bench.run(10)
    assert len(zones.fixes) == 1


# -- answers out -----------------------------------------------------------------------------

def test_the_zone_limit_joins_the_cap_lowest_wins_and_the_zone_id_goes_on_the_bus():
    bench, zones = zoned_bench()
    bench.run(2500)
    assert bench.state == NORMAL and bench.app.safety.limit == CFG.cap_ckph
    zones.limit_ckph, zones.zone_id = 2414, 4
    bench.run(200)
    status = bench.last("GOVERNOR_STATUS")
    assert bench.app.safety.limit == 2414 and status["ACTIVE_LIMIT"] == pytest.approx(24.1, abs=0.05)
    assert status["ZONE_ID"] == 4
    zones.limit_ckph = CFG.cap_ckph + 500        # a zone looser than the cap: the cap holds
    bench.run(200)
    assert bench.app.safety.limit == CFG.cap_ckph


@pytest.mark.parametrize("warnings, hold, fallback", [
    (0, 0, 0), (W_HOLD, 1, 0), (W_FALLBACK, 0, 1), (W_HOLD | W_FALLBACK, 0, 1)])
def test_hold_and_fallback_flags_follow_the_zone_state_fallback_first(warnings, hold, fallback):
    bench, zones = zoned_bench()
    bench.run(2500)
    zones.warnings = warnings
    bench.run(200)
    status = bench.last("GOVERNOR_STATUS")
    assert (status["ZONE_HOLD"], status["ZONE_FALLBACK"]) == (hold, fallback)
    zones.warnings = 0
    bench.run(200)
    assert not bench.flags & roles.ZONE_FLAGS, "cleared with the zone state's"


def test_a_lockout_is_its_own_state_below_fault_and_ends_with_the_zone_state_s():
    bench, zones = zoned_bench()
    bench.run(2500)
    assert bench.state == NORMAL
    zones.lockout, zones.limit_ckph = True, CFG.lockout_ckph
    bench.run(100)
    assert bench.state == LOCKOUT and bench.flags & bit(roles.FLAG_LOCKOUT)
    assert bench.last("GOVERNOR_STATUS")["LOCKOUT_ACTIVE"] == 1
    assert bench.app.safety.limit == CFG.lockout_ckph
    assert not bench.events(events.LIMIT_ENGAGED), "a lockout is not reported as limiting"
    bench.car.wheels_on = False                   # FAULT takes priority over LOCKOUT
    step_until(bench, FAULT, 300)
    assert bench.flags & bit(roles.FLAG_LOCKOUT)
    bench.car.wheels_on = True
    step_until(bench, LOCKOUT, CFG.fault_recover_ms + 500)
    zones.lockout, zones.limit_ckph = False, 0
    at = step_until(bench, (NORMAL, LIMITING), 100)
    assert not bench.flags & bit(roles.FLAG_LOCKOUT)
    assert (events.STATE_CHANGE, at, bench.state) in bench.events()
    assert not bench.events(events.LIMIT_RELEASED), "leaving a lockout is not a release of a limit"


def test_on_a_bus_without_gnss_the_zone_state_is_stepped_without_fixes_and_its_fallback_applies():
    from test_fw_core_coverage_safety import Truck

    truck = Truck()
    zones = ZoneAnswers()
    truck.app.safety.zones = zones
    zones.warnings, zones.limit_ckph = W_FALLBACK, CFG.zone_fallback_ckph
    truck.run(1000)
    sup = truck.app.safety
    assert zones.fixes == [] and len(zones.speeds) == truck.app.steps
    assert zones.speeds[-1] == sup.speed == 3000
    assert sup.limit == CFG.zone_fallback_ckph and sup.flags & bit(roles.FLAG_ZONE_FALLBACK)
