"""The checks measured against the vehicle's true speed, each on small made-up timelines that
pass and fail, and the schema's errors for their parameters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from keigov import paths
from keigov.checks.kinds import run_checks
from keigov.errors import InputError
from keigov.report.results import CheckResult
from keigov.timeline import Timeline
from keigov_hil.gnss import Route
from keigov_hil.rig import RunData
from keigov_hil.scenario import load_scenario

CAP_KPH = 64.37     # 40 mph
NORTH_THROUGH_CAMPUS = "waypoints_m = [[-250.0, 150.0], [-250.0, 900.0]]"   # its south edge 100 m on, 200 m deep


def scenario(tmp_path: Path, checks: str, extra: str = "", zones: bool = False) -> Path:
    head = 'zones = "../zones/demo.geojson"\n' if zones else ""
    path = tmp_path / "hil" / "scenarios" / "sc.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    if zones:
        (tmp_path / "hil" / "zones").mkdir(exist_ok=True)
        (tmp_path / "hil" / "zones" / "demo.geojson").write_text((paths.ROOT / "hil/zones/demo.geojson").read_text())
    path.write_text(f"[scenario]\nduration_s = 60.0\n{head}\n[governor]\ncap_mph = 40\n\n[route]\n"
                    f"{NORTH_THROUGH_CAMPUS}\n{extra}\n[[driver]]\nt_s = 0.0\npedal_pct = 100.0\n{checks}")
    return path


def made_up(tmp_path: Path, checks: str, speed_of: Callable[[float], float], *, extra: str = "", zones: bool = False,
            state_of: Callable[[float], str] = lambda t: "NORMAL", limit_of: Callable[[float], float] = lambda t: 64.4,
            torque_of: Callable[[float], float] = lambda t: 100.0, events: list[dict] | None = None,
            seconds: float = 60.0) -> list[CheckResult]:
    """A run whose true speed is `speed_of(t)` (the rest as given), positioned along the route."""
    sc = load_scenario(scenario(tmp_path, checks, extra, zones))
    assert sc.waypoints is not None
    ts = [k / 100 for k in range(int(seconds * 100) + 1)]
    speeds = [speed_of(t) for t in ts]
    distances, d = [], 0.0
    for v in speeds:
        distances.append(d)
        d += v / 3.6 / 100
    accels = [0.0] + [(b - a) / 3.6 * 100 for a, b in zip(speeds, speeds[1:])]
    lat, lon, heading = Route(sc.waypoints).positions_at(distances)
    tl = Timeline()
    for i, t in enumerate(ts):
        tl.add(t, speeds[i], limit_of(t), 100.0, torque_of(t), state_of(t), 0, accels[i], 0.0, torque_of(t), 3, 0,
               distances[i], lat[i], lon[i], heading[i], 0.0)
    return run_checks(RunData(sc, tl, events or [], [], 1.0, 0, 0), sc)


def ramp(a_kph: float, b_kph: float, t0: float, t1: float) -> Callable[[float], float]:
    """a before t0, b after t1, linear in between."""
    return lambda t: a_kph if t <= t0 else b_kph if t >= t1 else a_kph + (b_kph - a_kph) * (t - t0) / (t1 - t0)


# -- true_over_cap -------------------------------------------------------------------------------

TRUE_OVER_CAP = '[[checks]]\nkind = "true_over_cap"\n'


@pytest.mark.parametrize("speed_of, extra, verdict, value", [
    (lambda t: CAP_KPH + 1.5, "", "pass", 1.5),                                   # over, within max_kph
    (lambda t: CAP_KPH + 6.0 if 10 <= t < 12.9 else 60.0, "", "pass", 0.0),       # 2.9 s over: inside the grace
    (lambda t: CAP_KPH + 6.0 if 10 <= t < 14 else 60.0, "", "fail", 6.0),         # past the grace
    (lambda t: CAP_KPH + 6.0 if 10 <= t < 20 else 60.0, "[gnss]\noutages = [[9.0, 21.0]]\n", "pass", 0.0),
    (lambda t: CAP_KPH + 6.0 if 10 <= t < 20 else 60.0, "[gnss]\noutages = [[9.0, 16.0]]\n", "fail", 6.0),
])
def test_true_over_cap_counts_only_good_gnss_past_each_excursion_s_grace(tmp_path, speed_of, extra, verdict, value):
    (result,) = made_up(tmp_path, TRUE_OVER_CAP, speed_of, extra=extra)
    assert (result.verdict, result.value) == (verdict, pytest.approx(value, abs=0.01)), result


def test_true_over_cap_restarts_the_grace_with_each_excursion(tmp_path):
    wobble = lambda t: CAP_KPH + 5.0 if int(t) % 3 != 2 else 60.0   # noqa: E731  2 s over, 1 s under
    (result,) = made_up(tmp_path, TRUE_OVER_CAP, wobble)
    assert result.verdict == "pass" and "21 excursion(s)" in result.detail


# -- limit_settle --------------------------------------------------------------------------------

def test_limit_settle_from_the_zone_boundary_to_the_zone_s_limit(tmp_path):
    # Into the campus at 54 km/h: its boundary is 100 m on, reached at 6.67 s.
    checks = '[[checks]]\nkind = "limit_settle"\nzone = "Campus"\n'
    entry = 100 / (54 / 3.6)
    (fast,) = made_up(tmp_path, checks, ramp(54.0, 24.0, entry, entry + 5.0), zones=True)
    assert fast.verdict == "pass" and fast.value == pytest.approx(5.0 - 5.0 / 30, abs=0.1), fast
    (slow,) = made_up(tmp_path, checks, ramp(54.0, 24.0, entry, entry + 12.0), zones=True)
    assert slow.verdict == "fail" and slow.value == pytest.approx(12.0 - 12.0 / 30, abs=0.1), slow


def test_limit_settle_at_a_time_must_stay_settled(tmp_path):
    checks = '[[checks]]\nkind = "limit_settle"\nat_s = 10.0\nlimit_kph = 40.0\n'
    (settled,) = made_up(tmp_path, checks, ramp(60.0, 40.0, 10.0, 14.0))
    assert settled.verdict == "pass" and settled.value == pytest.approx(3.8, abs=0.05)      # at 41 km/h
    relapse = lambda t: 45.0 if 30 <= t < 31 else ramp(60.0, 40.0, 10.0, 14.0)(t)   # noqa: E731
    (relapsed,) = made_up(tmp_path, checks, relapse)
    assert relapsed.verdict == "fail" and relapsed.value == pytest.approx(21.0, abs=0.05)
    (never,) = made_up(tmp_path, checks.replace("40.0", "20.0"), ramp(60.0, 40.0, 10.0, 14.0))
    assert never.verdict == "fail" and never.value is None and "never settled" in never.detail


# -- events_rate ---------------------------------------------------------------------------------

def flood(n: int, name: str = "input_invalid", t0: float = 10.0) -> list[dict]:
    return [{"t_s": t0 + k * 0.1, "name": name} for k in range(n)]


@pytest.mark.parametrize("params, events, verdict, value", [
    ("max_count = 20", flood(20), "pass", 20.0),
    ("max_count = 20", flood(21), "fail", 21.0),
    ("max_count = 20\nevent = \"wheel_outlier\"", flood(30) + flood(3, "wheel_outlier"), "pass", 3.0),
    ("max_count = 20\nfrom_s = 20.0", flood(100), "pass", 0.0),              # the flood ends at 19.9 s
    ("max_per_s = 0.5", flood(20), "pass", 20 / 60),
    ("max_per_s = 0.1", flood(20), "fail", 20 / 60),
    ("max_count = 50\nmax_per_s = 0.1", flood(20), "fail", 20.0),              # the count passes, the rate not
])
def test_events_rate(tmp_path, params, events, verdict, value):
    (result,) = made_up(tmp_path, f'[[checks]]\nkind = "events_rate"\n{params}\n', lambda t: 50.0, events=events)
    assert (result.verdict, result.value) == (verdict, pytest.approx(value, abs=0.001)), result


# -- limit_start, and torque_ramp at a boot while moving -----------------------------------------

def test_limit_start_wants_the_first_limit_at_the_speed_not_the_cap(tmp_path):
    checks = '[[checks]]\nkind = "limit_start"\n'
    state = lambda t: "INIT" if t < 0.05 else "LIMITING"    # noqa: E731
    (at_speed,) = made_up(tmp_path, checks, lambda t: 80.0, state_of=state,
                          limit_of=lambda t: 0.0 if t < 0.05 else 79.8)
    assert at_speed.verdict == "pass" and at_speed.value == pytest.approx(0.2)
    (stepped,) = made_up(tmp_path, checks, lambda t: 80.0, state_of=state, limit_of=lambda t: 0.0 if t < 0.05 else 64.4)
    assert stepped.verdict == "fail" and stepped.value == pytest.approx(15.6)


def test_torque_ramp_sees_a_boot_step_to_the_pedal_while_moving_but_not_at_rest(tmp_path):
    checks = '[[checks]]\nkind = "torque_ramp"\n'
    step = lambda t: 0.0 if t < 0.05 else 100.0              # noqa: E731  INIT's zero, then the pedal at once
    (moving,) = made_up(tmp_path, checks, lambda t: 50.0, torque_of=step)
    assert moving.verdict == "fail" and "largest increase 100.0%" in moving.detail
    (standing,) = made_up(tmp_path, checks, lambda t: 0.0, torque_of=step)
    assert standing.verdict == "pass"
    gentle = lambda t: min(100.0, 0.0 if t < 0.05 else (t - 0.05) * 50.0)   # noqa: E731  at the up-ramp
    (ramped,) = made_up(tmp_path, checks, lambda t: 50.0, torque_of=gentle)
    assert ramped.verdict == "pass", ramped


# -- the schema's errors -------------------------------------------------------------------------

@pytest.mark.parametrize("checks, expected", [
    ('kind = "limit_settle"\n', "'checks[0]' (limit_settle): give exactly one of zone or at_s"),
    ('kind = "limit_settle"\nat_s = 3.0\n', "at_s needs the new limit"),
    ('kind = "limit_settle"\nat_s = 3.0\nlimit_kph = 30.0\nlimit_mph = 20.0\n', "limit_kph or limit_mph, not both"),
    ('kind = "limit_settle"\nzone = "Nowhere"\n', "'checks[0].zone' = 'Nowhere' is not a zone"),
    ('kind = "events_rate"\n', "give max_count or max_per_s"),
    ('kind = "events_rate"\nmax_count = -1\n', "'checks[0].max_count' = -1 is below the minimum"),
    ('kind = "true_over_cap"\ngrace = 3.0\n', "unknown key 'checks[0].grace'"),
])
def test_check_parameters_are_errors_naming_file_and_key(tmp_path, checks, expected):
    path = scenario(tmp_path, f"[[checks]]\n{checks}", zones=True)
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_demand_passthrough_starts_once_the_boot_ramp_meets_the_pedal(tmp_path):
    checks = '[[checks]]\nkind = "demand_passthrough"\n'
    boot_ramp = lambda t: min(100.0, 50.0 * t)               # noqa: E731  2 s up to the pedal
    (ramp_only,) = made_up(tmp_path, checks, lambda t: 30.0, torque_of=boot_ramp)
    assert ramp_only.verdict == "pass" and ramp_only.value == 0.0
    cut_later = lambda t: 80.0 if 30 <= t < 31 else boot_ramp(t)    # noqa: E731
    (cut,) = made_up(tmp_path, checks, lambda t: 30.0, torque_of=cut_later)
    assert cut.verdict == "fail" and cut.value == pytest.approx(20.0)
