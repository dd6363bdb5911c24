"""Configuration changes mid-drive ([[changes]]): a push, then a reset while moving."""

from __future__ import annotations

from pathlib import Path

import pytest

from keigov import paths
from keigov.checks.kinds import COMMAND_PERIOD_S
from keigov.checks.zones import _LIMIT_QUANTUM_KPH
from keigov.errors import InputError
from keigov.firmware_params import CKPH_PER_MPH
from keigov.simboard.runtimes import get_runtime
from keigov_hil.rig import RigOptions, run
from keigov_hil.scenario import load_scenario

BASE = "[scenario]\nduration_s = 10.0\n\n[governor]\ncap_mph = 40\n\n[[driver]]\nt_s = 0.0\npedal_pct = 100.0\n"
DEMO_ZONES = paths.ROOT / "hil" / "zones" / "demo.geojson"


def write(tmp_path: Path, extra: str, base: str = BASE) -> Path:
    path = tmp_path / "sc.toml"
    path.write_text(base + extra)
    return path


@pytest.mark.parametrize("extra, expected", [
    ("[[changes]]\nt_s = 2.0\ncap_mhp = 25\n", "unknown key 'changes[0].cap_mhp' (known: t_s, zones, cap_mph"),
    ("[[changes]]\ncap_mph = 25\n", "missing key 'changes[0].t_s'"),
    ("[[changes]]\nt_s = 0.0\ncap_mph = 25\n", "'changes[0].t_s' = 0 is not inside the run"),
    ("[[changes]]\nt_s = 10.0\ncap_mph = 25\n", "'changes[0].t_s' = 10 is not inside the run"),
    ('[[changes]]\nt_s = "soon"\n', "'changes[0].t_s' must be a number"),
    ("[[changes]]\nt_s = 5.0\ncap_mph = 25\n[[changes]]\nt_s = 4.0\ncap_mph = 30\n",
     "'changes[1].t_s' = 4 is not after the change before it (5 s)"),
    ("[[changes]]\nt_s = 5.0\n[[changes]]\nt_s = 5.0\n", "'changes[1].t_s' = 5 is not after"),
    ('[[changes]]\nt_s = 2.0\nzones = "nowhere.geojson"\n', "'changes[0].zones': no such file"),
    ("[[changes]]\nt_s = 2.0\nzones = 3\n", "'changes[0].zones' must be a string"),
    ("[[changes]]\nt_s = 2.0\ncap_mph = 25\ncap_kph = 40\n", "'changes[0].cap_kph' sets cap_ckph twice"),
    ("[[changes]]\nt_s = 2.0\ncap_mph = 500\n", "'changes[0].cap_mph' = 500 is outside the firmware's bounds"),
    ("[[changes]]\nt_s = 2.0\nki_q10 = 1.5\n", "'changes[0].ki_q10' must be an integer (firmware units)"),
    ("[changes]\nt_s = 2.0\n", "'changes' must be an array of tables"),
])
def test_bad_changes_are_errors_naming_file_and_key(tmp_path: Path, extra: str, expected: str) -> None:
    path = write(tmp_path, extra)
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert str(path) in str(err.value) and expected in str(err.value), str(err.value)


def test_a_change_is_the_configuration_before_it_with_its_keys_merged_in(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, f'[[changes]]\nt_s = 2.0\ncap_mph = 25\ntorque_ramp_up_pm_s = 600\n'
                                       f'zones = "{DEMO_ZONES}"\n'
                                       '[[changes]]\nt_s = 6.5\nlimp_kph = 20\n',
                                 base=BASE.replace("cap_mph = 40", "cap_kph = 64\nki_q10 = 30")))
    first, second = sc.changes
    assert sc.firmware_config == {"cap_ckph": 6400, "ki_q10": 30}, "the scenario's own is untouched"
    assert first.t_s == 2.0 and first.firmware_config == {"cap_ckph": round(25 * CKPH_PER_MPH), "ki_q10": 30,
                                                          "torque_ramp_up_pm_s": 600}
    assert second.firmware_config == {**first.firmware_config, "limp_ckph": 2000}, "later changes build on earlier"
    assert sc.zones is None and first.zones is not None and second.zones is first.zones, "zones carry over"
    assert "Campus" in first.zones.names()
    assert load_scenario(write(tmp_path, "")).changes == [], "a file without [[changes]] means what it always did"


SHORT = """
[vehicle]
initial_speed_kph = 64.0
regen_max_torque_nm = 120.0

[[changes]]
t_s = 2.0
cap_mph = 25
"""


def _short(tmp_path: Path) -> Path:
    return write(tmp_path, SHORT, base=BASE.replace("duration_s = 10.0", "duration_s = 8.0"))


@pytest.mark.micropython
def test_a_change_reboots_the_device_at_speed_into_the_new_cap(tmp_path: Path) -> None:
    sc = load_scenario(_short(tmp_path))
    data = run(sc, RigOptions(get_runtime("micropython")))
    boots = [e["t_s"] for e in data.events if e["name"] == "boot"]
    assert boots == [0.0, 2.0], "booted twice: at the start and at the change, on the rig's clock"
    t, speed, limit, state = (data.timeline.column(c) for c in ("t_s", "speed_kph", "limit_kph", "state"))
    assert len(t) == 801 and len(data.step_us) == 801, "every period has its device period, across the reboot"
    new_cap = 25 * CKPH_PER_MPH / 100
    assert limit[-1] == pytest.approx(new_cap, abs=0.05), "the pushed configuration runs after the reset"
    # After the reset's INIT (where the firmware publishes its cap), the commanded limit starts at
    # the true speed and falls from there by at most one command period's ramp at a time.
    step = sc.firmware_value("fault_decel_ckph_s") / 100 * COMMAND_PERIOD_S + _LIMIT_QUANTUM_KPH + 1e-9
    after = [i for i in range(len(t)) if t[i] >= 2.0 and state[i] != "INIT"]
    assert after and state[after[0] - 1] == "INIT" and speed[after[0]] > 60.0
    assert limit[after[0]] >= speed[after[0]] - step
    for i in after[1:]:
        assert limit[i] >= min(limit[i - 1], speed[i]) - step, t[i]
    assert "FAULT" not in state


@pytest.mark.micropython
def test_a_run_with_a_change_is_deterministic(tmp_path: Path) -> None:
    sc = load_scenario(_short(tmp_path))
    runs = [run(sc, RigOptions(get_runtime("micropython"))) for _ in range(2)]
    assert runs[0].timeline.rows == runs[1].timeline.rows
    assert runs[0].events == runs[1].events


@pytest.mark.micropython
def test_a_change_in_realtime_restarts_the_device_on_its_own_clock(tmp_path: Path) -> None:
    path = write(tmp_path, "[[changes]]\nt_s = 1.5\ncap_mph = 25\n",
                 base=BASE.replace("duration_s = 10.0", "duration_s = 3.0"))
    data = run(load_scenario(path), RigOptions(get_runtime("micropython"), realtime=True))
    assert sum(e["name"] == "boot" for e in data.events) == 2
    assert "FAULT" not in data.timeline.column("state")
