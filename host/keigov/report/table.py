"""Terminal tables: every check with its measured value, and one row per run."""

from __future__ import annotations

from keigov.report.results import FAIL, INFO, PASS, RunResult, format_threshold, format_value, tally

_COLOURS = {"PASS": "\x1b[32m", "FAIL": "\x1b[31m", "ERROR": "\x1b[31m", "INFO": "\x1b[2m"}
_RESET = "\x1b[0m"
_VERDICT_WORDS = {PASS: "PASS", FAIL: "FAIL", INFO: "INFO"}
_ERROR_WIDTH = 60


def render_table(header: list[str], rows: list[list[str]], color: bool,
                 right: frozenset[int] = frozenset()) -> list[str]:
    """Columns as wide as their content; the last column is the verdict, coloured when asked."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    last = len(header) - 1

    def line(cells: list[str], colour: bool) -> str:
        parts = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(cells[:last])]
        verdict = cells[last]
        if colour and verdict in _COLOURS:
            verdict = f"{_COLOURS[verdict]}{verdict}{_RESET}"
        return "  ".join([*parts, verdict]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [line(header, False), rule, *(line(row, color) for row in rows)]


def _scenario_labels(results: list[RunResult]) -> list[str]:
    """Scenario names, with the runtime added when the runs used more than one."""
    if len({run.runtime for run in results}) > 1:
        return [f"{run.scenario} ({run.runtime})" for run in results]
    return [run.scenario for run in results]


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    first = lines[0] if lines else "run failed"
    return first if len(first) <= _ERROR_WIDTH else first[: _ERROR_WIDTH - 3] + "..."


def format_table(results: list[RunResult], color: bool) -> str:
    """scenario | check | measured | threshold | verdict, closed by 'N passed, M failed[, K info]'.

    A run that ended in error shows as a row 'run' with verdict ERROR and counts as failed.
    """
    rows: list[list[str]] = []
    for label, run in zip(_scenario_labels(results), results):
        shown = label
        for check in run.checks:
            verdict = _VERDICT_WORDS.get(check.verdict, check.verdict.upper())
            rows.append([shown, check.name, format_value(check.value, check.unit), format_threshold(check), verdict])
            shown = ""
        if run.error is not None:
            rows.append([shown, "run", _first_line(run.error), "-", "ERROR"])
    lines = render_table(["scenario", "check", "measured", "threshold", "verdict"], rows, color)
    passed, failed, info = tally(results)
    closing = f"{passed} passed, {failed} failed" + (f", {info} info" if info else "")
    return "\n".join([*lines, closing])


def _times_real_time(run: RunResult) -> str:
    rtf = run.realtime_factor
    if rtf is None:
        return "-"
    return f"{rtf:.0f}x" if rtf >= 10 else f"{rtf:.2f}x"


def format_runs(results: list[RunResult], color: bool = False) -> str:
    """One row per run: scenario, runtime, sim s, wall s, x real time, verdict."""
    rows = [
        [
            run.scenario,
            run.runtime,
            f"{run.sim_seconds:.1f}",
            f"{run.wall_seconds:.2f}",
            _times_real_time(run),
            "ERROR" if run.error is not None else ("PASS" if run.passed else "FAIL"),
        ]
        for run in results
    ]
    header = ["scenario", "runtime", "sim s", "wall s", "x real time", "verdict"]
    return "\n".join(render_table(header, rows, color, right=frozenset({2, 3, 4})))
