"""Run reports: verdicts, summary.json, JUnit XML, terminal tables and the timeline plot."""

from __future__ import annotations

import csv
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keigov.errors import InputError
from keigov.report.junit import write_junit
from keigov.report.plot import Timeline, _label_groups, envelope, plot_timeline, read_timeline
from keigov.report.results import RunResult, judge, tally
from keigov.report.summary import write_summary
from keigov.report.table import format_runs, format_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _cap_run(overshoot: float = 1.234567891) -> RunResult:
    return RunResult(
        scenario="full_throttle",
        runtime="micropython",
        sim_seconds=60.0,
        wall_seconds=0.4,
        checks=[
            judge("overshoot", "speed above the cap after full-throttle approach", overshoot, 2.0, "km/h", "<="),
            judge("settled_error", "mean speed below the cap once settled", 0.62, 1.0, "km/h", "<="),
            judge("step_time_p99", "99th percentile control step time", 0.871, None, "ms", "info"),
        ],
        extra={"frames": 30000, "events": 3},
    )


def _fault_run() -> RunResult:
    return RunResult(
        scenario="speed_timeout",
        runtime="micropython",
        sim_seconds=30.0,
        wall_seconds=0.25,
        checks=[
            judge("fault_latency", "time from last speed frame to FAULT", 95.0, 60.0, "ms", "<="),
            judge("limp_decel", "deceleration to the limp cap", None, 2.0, "m/s^2", "<="),
        ],
    )


# --- verdicts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "threshold", "comparison", "verdict"),
    [
        (2.0, 2.0, "<=", "pass"),
        (2.0001, 2.0, "<=", "fail"),
        (1.0, 1.0, ">=", "pass"),
        (0.999, 1.0, ">=", "fail"),
        (0.0, 0.0, "==", "pass"),
        (1.0, 0.0, "==", "fail"),
        (None, 2.0, "<=", "fail"),
        (math.nan, 2.0, ">=", "fail"),
        (None, None, "info", "info"),
        (99.0, 1.0, "info", "info"),
    ],
)
def test_judge_sets_the_verdict(value, threshold, comparison, verdict):
    assert judge("c", "d", value, threshold, "km/h", comparison).verdict == verdict


def test_unmeasured_value_fails_with_a_reason():
    assert judge("c", "d", None, 2.0, "km/h", "<=").detail == "not measured"
    assert judge("c", "d", None, 2.0, "km/h", "<=", detail="never reached the cap").detail == "never reached the cap"


def test_judge_rejects_an_unknown_comparison_or_a_missing_threshold():
    with pytest.raises(ValueError, match="unknown comparison"):
        judge("c", "d", 1.0, 2.0, "", "<")
    with pytest.raises(ValueError, match="needs a threshold"):
        judge("c", "d", 1.0, None, "", "<=")


def test_run_passes_only_without_failures_and_without_error():
    assert _cap_run().passed
    assert not _cap_run(overshoot=3.0).passed
    assert not _fault_run().passed
    errored = _cap_run()
    errored.error = "firmware exited with status 1"
    assert not errored.passed
    assert tally([_cap_run(), _fault_run(), errored]) == (4, 3, 2)


# --- summary.json -----------------------------------------------------------------------------


def test_summary_round_trip(tmp_path: Path):
    path = tmp_path / "out" / "summary.json"
    write_summary(_cap_run(), path)
    summary = json.loads(path.read_text(encoding="utf-8"))
    assert list(summary) == [
        "scenario", "runtime", "sim_seconds", "wall_seconds", "realtime_factor", "passed", "error", "checks",
        "events", "frames",
    ]
    assert summary["realtime_factor"] == 150.0
    assert summary["passed"] is True and summary["error"] is None
    assert summary["frames"] == 30000
    overshoot = summary["checks"][0]
    assert list(overshoot) == ["name", "description", "value", "threshold", "unit", "comparison", "verdict", "detail"]
    assert overshoot["value"] == 1.23457  # six significant digits
    assert summary["checks"][2]["verdict"] == "info" and summary["checks"][2]["threshold"] is None
    assert [p.name for p in path.parent.iterdir()] == ["summary.json"]  # no temporary file left behind


def test_summary_of_a_failed_run_is_strict_json(tmp_path: Path):
    run = _fault_run()
    run.error = "speed source lost"
    run.extra = {"step_ms": {"max": math.inf, "mean": 0.123456789}}
    path = tmp_path / "summary.json"
    write_summary(run, path)
    text = path.read_text(encoding="utf-8")
    assert "Infinity" not in text and "NaN" not in text
    summary = json.loads(text)
    assert summary["passed"] is False and summary["error"] == "speed source lost"
    assert summary["checks"][1]["value"] is None and summary["checks"][1]["detail"] == "not measured"
    assert summary["step_ms"] == {"max": None, "mean": 0.123457}
    first = text
    write_summary(run, path)
    assert path.read_text(encoding="utf-8") == first  # deterministic


def test_summary_refuses_extra_keys_that_would_overwrite_fields(tmp_path: Path):
    run = _cap_run()
    run.extra["passed"] = True
    with pytest.raises(ValueError, match="passed"):
        write_summary(run, tmp_path / "summary.json")
    assert not (tmp_path / "summary.json").exists()


# --- JUnit ------------------------------------------------------------------------------------


def test_junit_parses_back_with_counts_and_names(tmp_path: Path):
    path = tmp_path / "junit.xml"
    write_junit([_cap_run(overshoot=2.6), _fault_run()], path, suite_name="keigov-demo")
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites" and root.get("name") == "keigov-demo"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "3", "0")
    cap, fault = root.findall("testsuite")
    assert (cap.get("tests"), cap.get("failures"), cap.get("errors")) == ("3", "1", "0")
    assert (fault.get("tests"), fault.get("failures")) == ("2", "2")
    cases = cap.findall("testcase")
    assert {c.get("classname") for c in cases} == {"keigov.micropython.full_throttle"}
    assert [c.get("name") for c in cases] == ["overshoot", "settled_error", "step_time_p99"]
    failure = cases[0].find("failure")
    assert failure is not None and "2.60 km/h" in failure.get("message") and "<= 2 km/h" in failure.get("message")
    assert cases[1].find("failure") is None
    info = cases[2]
    assert info.find("failure") is None and info.find("skipped") is None
    assert "0.871 ms" in info.findtext("system-out")
    assert "not measured" in fault.findall("testcase")[1].find("failure").get("message")


def test_junit_reports_a_run_error_and_survives_terminal_garbage(tmp_path: Path):
    run = _cap_run()
    run.error = "\x1b[31mTraceback\x1b[0m (most recent call last):\n  bad byte \x00 here\x07"
    path = tmp_path / "junit.xml"
    write_junit([run], path)
    suite = ET.parse(path).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "0", "1")
    error = suite.find("testcase[@name='run']/error")
    assert error is not None and error.get("message") == "Traceback (most recent call last):"
    assert "bad byte" in error.text and "\x00" not in error.text


# --- terminal tables --------------------------------------------------------------------------


def test_table_lists_every_check_with_values_and_the_count():
    text = format_table([_cap_run(), _fault_run()], color=False)
    lines = text.splitlines()
    assert lines[0].split() == ["scenario", "check", "measured", "threshold", "verdict"]
    overshoot = next(line for line in lines if "overshoot" in line)
    assert overshoot.startswith("full_throttle") and "1.23 km/h" in overshoot and "<= 2 km/h" in overshoot
    assert overshoot.endswith("PASS")
    limp = next(line for line in lines if "limp_decel" in line)
    assert "<= 2 m/s^2" in limp and limp.endswith("FAIL") and not limp.startswith("speed_timeout")
    assert next(line for line in lines if "step_time_p99" in line).endswith("INFO")
    assert lines[-1] == "2 passed, 2 failed, 1 info"
    # columns line up: every verdict starts where the header's does
    column = lines[0].index("verdict")
    assert all(line[column:] in {"PASS", "FAIL", "INFO"} for line in lines[2:-1])
    assert "\x1b[" not in text


def test_table_closing_line_without_info_and_with_an_errored_run():
    run = _fault_run()
    run.error = "firmware exited with status 1\nTraceback ..."
    text = format_table([run], color=False)
    assert text.splitlines()[-1] == "0 passed, 3 failed"
    assert "firmware exited with status 1" in text and "Traceback" not in text
    assert format_table([], color=False).splitlines()[-1] == "0 passed, 0 failed"


def test_table_colours_verdicts_only_when_asked():
    text = format_table([_cap_run(overshoot=5.0)], color=True)
    assert "\x1b[32mPASS\x1b[0m" in text and "\x1b[31mFAIL\x1b[0m" in text and "\x1b[2mINFO\x1b[0m" in text
    assert text.splitlines()[-1] == "1 passed, 1 failed, 1 info"


def test_runs_table_one_row_per_run():
    errored = RunResult("downhill", "cpython", 0.0, 0.0, [], error="boom")
    lines = format_runs([_cap_run(), _fault_run(), errored]).splitlines()
    assert lines[0].split() == ["scenario", "runtime", "sim", "s", "wall", "s", "x", "real", "time", "verdict"]
    assert lines[2].split() == ["full_throttle", "micropython", "60.0", "0.40", "150x", "PASS"]
    assert lines[3].split() == ["speed_timeout", "micropython", "30.0", "0.25", "120x", "FAIL"]
    assert lines[4].split() == ["downhill", "cpython", "0.0", "0.00", "-", "ERROR"]


# --- plot -------------------------------------------------------------------------------------


def write_synthetic_timeline(path: Path, seconds: float = 40.0, rate_hz: int = 20) -> None:
    """A full-throttle approach to a 64 km/h cap, a speed-signal fault at 30 s, limp to 16 km/h."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["t_s", "speed_kph", "limit_kph", "pedal_pct", "torque_limit_pct", "state", "zone", "extra"])
        speed = 0.0
        for i in range(int(seconds * rate_hz) + 1):
            t = i / rate_hz
            if t < 0.3:
                state, limit, torque = "INIT", 64.0, 0.0
            elif t < 30.0:
                limiting = speed > 62.0
                state, limit = ("LIMITING" if limiting else "NORMAL"), 64.0
                torque = max(10.0, 100.0 - 45.0 * max(0.0, speed - 60.0)) if limiting else 100.0
            else:
                state, limit, torque = "FAULT", 16.0, 5.0
            target = limit if state != "INIT" else 0.0
            speed += (target - speed) * (0.06 if state != "FAULT" else 0.02)
            writer.writerow([f"{t:.2f}", f"{speed:.2f}", f"{limit:.1f}", "100", f"{torque:.1f}", state, 0, "x"])


def test_plot_writes_a_png(tmp_path: Path):
    timeline = tmp_path / "timeline.csv"
    write_synthetic_timeline(timeline)
    out = tmp_path / "run" / "report.png"
    events = [{"t_s": 3.1, "name": "limit engaged"}, {"t_s": 30.05, "name": "fault: speed timeout"}]
    plot_timeline(timeline, out, "full_throttle (micropython)", events=events)
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000
    assert [p.name for p in out.parent.iterdir()] == ["report.png"]


def test_timeline_reader_ignores_unknown_columns_and_names_bad_ones(tmp_path: Path):
    good = tmp_path / "timeline.csv"
    write_synthetic_timeline(good, seconds=1.0)
    timeline = read_timeline(good)
    assert len(timeline.t_s) == 21 and timeline.state[0] == "INIT"
    missing = tmp_path / "missing.csv"
    missing.write_text("t_s,speed_kph,state\n0,0,INIT\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing.csv.*limit_kph"):
        read_timeline(missing)
    bad = tmp_path / "bad.csv"
    bad.write_text("t_s,speed_kph,limit_kph,pedal_pct,torque_limit_pct,state\n0,fast,64,0,0,INIT\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv:2: speed_kph is not a number"):
        read_timeline(bad)
    with pytest.raises(InputError, match="no rows"):
        plot_timeline(_header_only(tmp_path), tmp_path / "r.png", "empty")
    assert not (tmp_path / "r.png").exists()


def _header_only(tmp_path: Path) -> Path:
    path = tmp_path / "empty.csv"
    path.write_text("t_s,speed_kph,limit_kph,pedal_pct,torque_limit_pct,state,zone\n", encoding="utf-8")
    return path


def test_a_burst_of_one_event_gets_one_label_with_its_count():
    burst = [(10.0 + i * 0.01, "INPUT_CHECKSUM") for i in range(50)]
    shown = sorted([*burst, (10.2, "FAULT"), (30.0, "INPUT_CHECKSUM")])
    assert _label_groups(shown, gap=1.0) == [(10.0, "INPUT_CHECKSUM (x50)"), (10.2, "FAULT"), (30.0, "INPUT_CHECKSUM")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e3, 1e3), st.just(math.nan)), min_size=1, max_size=3000),
       st.integers(1, 50))
def test_envelope_keeps_every_bucket_s_extremes_and_gaps_in_time_order(values: list[float], buckets: int) -> None:
    t = [0.01 * i for i in range(len(values))]
    et, ev = envelope(t, values, buckets)
    et, ev = list(et), list(ev)
    assert et == sorted(et) and len(set(et)) == len(et), "a subsequence of the rows, in time order"
    assert et[0] == t[0] and et[-1] == t[-1]
    kept = {round(x / 0.01): v for x, v in zip(et, ev)}
    assert all(v == values[i] or (math.isnan(v) and math.isnan(values[i])) for i, v in kept.items())
    size = -(-len(values) // buckets)
    assert len(et) <= 5 * -(-len(values) // size)
    for start in range(0, len(values), size):
        chunk = values[start:start + size]
        here = [kept[i] for i in range(start, start + len(chunk)) if i in kept]
        finite = [v for v in chunk if not math.isnan(v)]
        if finite:
            assert max(finite) in here and min(finite) in here, "a peak must not vanish from the plot"
        if any(math.isnan(v) for v in chunk):
            assert any(math.isnan(v) for v in here), "a gap must stay a gap"


def test_plot_draws_a_run_held_in_memory(tmp_path: Path) -> None:
    n = 50_000   # long enough to be drawn through its envelope
    timeline = Timeline(t_s=[0.01 * i for i in range(n)], speed_kph=[40 + 10 * math.sin(i / 900) for i in range(n)],
                        limit_kph=[64.4] * n, pedal_pct=[60.0] * n, torque_limit_pct=[50.0] * n,
                        state=["LIMITING" if i % 9000 > 4000 else "NORMAL" for i in range(n)])
    out = tmp_path / "report.png"
    plot_timeline(timeline, out, "in memory", events=[{"t_s": 100.0, "name": "limit_engaged"}])
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_a_regen_request_is_read_when_the_timeline_has_it_and_drawn_beside_the_torque(tmp_path: Path) -> None:
    path = tmp_path / "timeline.csv"
    path.write_text("t_s,speed_kph,limit_kph,pedal_pct,torque_limit_pct,state,regen_pct\n"
                    "0.00,64.0,64.4,60,0,LIMITING,0.0\n0.01,64.5,64.4,60,0,LIMITING,12.5\n", encoding="utf-8")
    timeline = read_timeline(path)
    assert timeline.regen_pct == [0.0, 12.5]
    good = tmp_path / "without.csv"
    write_synthetic_timeline(good, seconds=1.0)
    assert read_timeline(good).regen_pct == [], "an older timeline has none"
    out = tmp_path / "report.png"
    plot_timeline(timeline, out, "regen")
    assert out.read_bytes().startswith(PNG_SIGNATURE)
