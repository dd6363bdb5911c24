"""summary.json: a run's figures and checks, in a stable order so that runs diff cleanly."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from keigov.fileio import write_atomic
from keigov.report.results import RunResult

SIGNIFICANT_DIGITS = 6


def _clean(value: Any) -> Any:
    """Round floats to a few significant digits and make the tree JSON-safe."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):  # strict JSON has no NaN or Infinity
            return None
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    raise TypeError(f"summary.json cannot hold a {type(value).__name__}: {value!r}")


def summary_dict(result: RunResult) -> dict[str, Any]:
    """The content of summary.json: the fixed keys first, then `extra` in key order."""
    summary: dict[str, Any] = {
        "scenario": result.scenario,
        "runtime": result.runtime,
        "sim_seconds": result.sim_seconds,
        "wall_seconds": result.wall_seconds,
        "realtime_factor": result.realtime_factor,
        "passed": result.passed,
        "error": result.error,
        "checks": [asdict(check) for check in result.checks],
    }
    clash = sorted(set(summary) & set(result.extra))
    if clash:
        raise ValueError(f"extra keys {clash} would overwrite summary fields")
    summary = {key: _clean(value) for key, value in summary.items()}
    summary.update((key, _clean(result.extra[key])) for key in sorted(result.extra))
    return summary


def write_summary(result: RunResult, path: Path) -> None:
    """Write summary.json atomically (never half-written)."""
    text = json.dumps(summary_dict(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    write_atomic(path, text.encode("utf-8"))
