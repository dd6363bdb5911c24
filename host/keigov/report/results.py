"""The result of a run: its checks, each with a measured value, a threshold and a verdict.

The rig (`keigov sim`, `keigov demo`, `keigov replay`) produces these; the other modules of
this package only render them (summary.json, JUnit XML, terminal tables).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PASS = "pass"
FAIL = "fail"
INFO = "info"

COMPARISONS = ("<=", ">=", "==", "info")


@dataclass
class CheckResult:
    """One check of a run, e.g. the overshoot above the cap."""

    name: str
    description: str
    value: float | None
    threshold: float | None
    unit: str
    comparison: str
    verdict: str
    detail: str = ""


@dataclass
class RunResult:
    """One scenario (or replayed drive) on one runtime, with its checks."""

    scenario: str
    runtime: str
    sim_seconds: float
    wall_seconds: float
    checks: list[CheckResult]
    out_dir: Path | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when the run finished and no check failed (info checks never fail)."""
        return self.error is None and all(c.verdict != FAIL for c in self.checks)

    @property
    def realtime_factor(self) -> float | None:
        """Simulated seconds per wall-clock second; None when the wall time is not positive."""
        if self.wall_seconds <= 0:
            return None
        return self.sim_seconds / self.wall_seconds


def judge(
    name: str,
    description: str,
    value: float | None,
    threshold: float | None,
    unit: str,
    comparison: str,
    detail: str = "",
) -> CheckResult:
    """Build a check and set its verdict from `value <comparison> threshold`.

    A value that could not be measured (None or NaN) fails, except for "info" checks,
    which only report a figure and always get the verdict "info".
    """
    if comparison not in COMPARISONS:
        raise ValueError(f"check {name!r}: unknown comparison {comparison!r}, expected one of {COMPARISONS}")
    if comparison == "info":
        verdict = INFO
    elif threshold is None:
        raise ValueError(f"check {name!r}: comparison {comparison!r} needs a threshold")
    elif value is None or math.isnan(value):
        verdict = FAIL
        detail = detail or "not measured"
    elif comparison == "<=":
        verdict = PASS if value <= threshold else FAIL
    elif comparison == ">=":
        verdict = PASS if value >= threshold else FAIL
    else:
        verdict = PASS if value == threshold else FAIL
    return CheckResult(name, description, value, threshold, unit, comparison, verdict, detail)


def tally(results: list[RunResult]) -> tuple[int, int, int]:
    """(passed, failed, info) over all checks; a run that ended in error counts as one failure."""
    passed = failed = info = 0
    for run in results:
        failed += run.error is not None
        for check in run.checks:
            passed += check.verdict == PASS
            failed += check.verdict == FAIL
            info += check.verdict == INFO
    return passed, failed, info


def format_value(value: float | None, unit: str) -> str:
    """A measured value or threshold as a reader wants it: '41.3 km/h', '0.85 m/s^2', '120 ms'."""
    if value is None or math.isnan(value):
        return "-"
    if math.isinf(value):
        text = "inf" if value > 0 else "-inf"
    elif value == int(value):
        text = str(int(value))
    elif abs(value) >= 100:
        text = f"{value:.1f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3g}"
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def format_threshold(check: CheckResult) -> str:
    """The requirement of a check, e.g. '<= 2 km/h', or '-' for an info check."""
    if check.comparison == "info" or check.threshold is None:
        return "-"
    return f"{check.comparison} {format_value(check.threshold, check.unit)}"


def describe(check: CheckResult) -> str:
    """One line for logs and CI reports: 'overshoot: measured 2.60 km/h, required <= 2 km/h (fail)'."""
    line = f"{check.name}: measured {format_value(check.value, check.unit)}"
    if check.comparison != "info":
        line += f", required {format_threshold(check)}"
    line += f" ({check.verdict})"
    if check.detail:
        line += f"; {check.detail}"
    return line
