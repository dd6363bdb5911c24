"""report.png: speed against the limit, pedal and torque limit, and the governor state over time.

matplotlib is imported inside `plot_timeline` only, so that `keigov` starts fast and a command
that draws nothing never loads it. The figure is built with the object API (Figure, no pyplot):
no global backend switch, no figure registry to leak, safe from worker threads.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keigov.errors import InputError
from keigov.fileio import write_atomic
from keigov.firmware_params import STATE_NAMES

STATES = tuple(STATE_NAMES.values())     # the state lanes, in the firmware's order
STATE_COLOURS = {
    "INIT": "#9e9e9e",
    "NORMAL": "#2e7d32",
    "LIMITING": "#ef8f00",
    "FAULT": "#c62828",
    "LOCKOUT": "#6a1b9a",
}
_UNKNOWN_STATE_COLOUR = "#455a64"
_NUMERIC = ("t_s", "speed_kph", "limit_kph", "pedal_pct", "torque_limit_pct")
REQUIRED_COLUMNS = (*_NUMERIC, "state")
OPTIONAL_COLUMN = "regen_pct"     # drawn when a timeline has it and the governor asked for regen
# Event labels: rows in the top panel (axes fraction) and the share of the time axis one character takes.
_LABEL_ROWS = (0.975, 0.905, 0.835)
_LABEL_CHAR_SHARE = 0.0055
_BURST_GAP = 0.02  # share of the time axis
_BUCKETS = 2000  # a long series is drawn through its envelope in this many buckets (envelope())
_PIXELS = 500  # event lines closer than 1/_PIXELS of the time axis (about 2 px) are drawn once


@dataclass
class Timeline:
    """The columns of timeline.csv the plot uses; an empty cell reads as NaN (a gap)."""

    t_s: list[float] = field(default_factory=list)
    speed_kph: list[float] = field(default_factory=list)
    limit_kph: list[float] = field(default_factory=list)
    pedal_pct: list[float] = field(default_factory=list)
    torque_limit_pct: list[float] = field(default_factory=list)
    state: list[str] = field(default_factory=list)
    regen_pct: list[float] = field(default_factory=list)    # optional: empty for a timeline without it

    @classmethod
    def of(cls, column: Callable[[str], list]) -> Timeline:
        """The plotted columns of a run's timeline held in memory (`column(name)`)."""
        timeline = cls(*(list(column(name)) for name in REQUIRED_COLUMNS))
        timeline.regen_pct = list(column(OPTIONAL_COLUMN))
        return timeline


def read_timeline(path: Path) -> Timeline:
    """Read timeline.csv; unknown columns are ignored, missing or malformed ones are an InputError."""
    timeline = Timeline()
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise InputError(f"timeline has no column {', '.join(missing)}", where=str(path))
        numeric = (*_NUMERIC, OPTIONAL_COLUMN) if OPTIONAL_COLUMN in (reader.fieldnames or ()) else _NUMERIC
        for row in reader:
            for column in numeric:
                cell = (row[column] or "").strip()
                try:
                    value = float(cell) if cell else math.nan
                except ValueError:
                    raise InputError(f"{column} is not a number: {cell!r}", where=f"{path}:{reader.line_num}") from None
                if column == "t_s" and not math.isfinite(value):
                    raise InputError(f"t_s must be a time, not {cell!r}", where=f"{path}:{reader.line_num}")
                getattr(timeline, column).append(value)
            timeline.state.append((row["state"] or "").strip())
    if not timeline.t_s:
        raise InputError("timeline has no rows", where=str(path))
    return timeline


def _state_segments(t: list[float], states: list[str], end: float) -> dict[str, list[tuple[float, float]]]:
    """(start, width) spans per state; each row holds until the next row's time."""
    segments: dict[str, list[tuple[float, float]]] = {}
    start = 0
    for i in range(1, len(t) + 1):
        if i == len(t) or states[i] != states[start]:
            stop = t[i] if i < len(t) else end
            segments.setdefault(states[start], []).append((t[start], stop - t[start]))
            start = i
    return segments


def _draw_states(ax: Any, timeline: Timeline, end: float) -> None:
    segments = _state_segments(timeline.t_s, timeline.state, end)
    lanes = [*STATES, *sorted(s for s in segments if s not in STATES)]
    for lane, name in enumerate(lanes):
        spans = segments.get(name)
        if spans:
            colour = STATE_COLOURS.get(name, _UNKNOWN_STATE_COLOUR)
            ax.broken_barh(spans, (lane - 0.4, 0.8), facecolors=colour, edgecolors="none", zorder=2)
    ax.set_yticks(range(len(lanes)), [name or "(blank)" for name in lanes], fontsize=8)
    ax.set_ylim(len(lanes) - 0.4, -0.6)  # INIT on top, as the state machine reads
    ax.set_ylabel("governor state")
    ax.grid(True, axis="x", alpha=0.3)


def _label_groups(shown: list[tuple[float, str]], gap: float) -> list[tuple[float, str]]:
    """One label per burst: events of one name less than `gap` apart share a label 'name (xN)'."""
    groups: list[list[Any]] = []  # [first t, name, count, last t]
    latest: dict[str, list[Any]] = {}
    for t, name in shown:
        group = latest.get(name)
        if group is not None and t - group[3] <= gap:
            group[2] += 1
            group[3] = t
        else:
            latest[name] = group = [t, name, 1, t]
            groups.append(group)
    return [(t, name if count == 1 else f"{name} (x{count})") for t, name, count, _ in groups]


def _draw_events(axes: list[Any], events: list[dict], start: float, end: float) -> None:
    """A thin line per event on every panel, behind the data; small labels in the top panel's headroom.

    Labels sit on a few staggered rows above the data; a burst of one event gets one label with
    its count; a label that collides on every row is left out (its lines stay).
    """
    span = end - start
    shown = sorted((float(e["t_s"]), str(e.get("name", ""))) for e in events if start <= float(e["t_s"]) <= end)
    times = sorted({round((t - start) / span * _PIXELS) for t, _ in shown})  # one line per pixel is enough
    for ax in axes:  # one collection per panel: a run with thousands of events stays fast
        ax.vlines([start + i * span / _PIXELS for i in times], 0, 1, transform=ax.get_xaxis_transform(),
                  colors="0.35", linewidths=0.7, alpha=0.3, zorder=0.5)
    top = axes[0]
    free_from = [-math.inf] * len(_LABEL_ROWS)  # time at which each label row is free again
    for t, name in _label_groups(shown, _BURST_GAP * span):
        row = next((i for i, free in enumerate(free_from) if t >= free), None)
        if row is None:
            continue
        width = (len(name) + 2) * _LABEL_CHAR_SHARE * span
        fits_right = t + width <= end  # otherwise the label goes left of its line, clear of the legend
        top.text(
            t, _LABEL_ROWS[row], f" {name} " if fits_right else f"{name} ", transform=top.get_xaxis_transform(),
            ha="left" if fits_right else "right", va="top", fontsize=7, color="0.2",
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )
        free_from[row] = t + width if fits_right else t


def envelope(t: list[float], values: list[float], buckets: int = _BUCKETS) -> tuple[Any, Any]:
    """`values` against `t` thinned for drawing: per bucket of consecutive rows its first,
    last, lowest and highest point and its first gap (NaN), in time order. A line through
    them looks as the full series does at a few pixels per bucket, peaks and gaps included;
    an hour's 360,000 rows drew in seconds, 2,000 buckets draw in milliseconds."""
    import numpy as np

    n = len(t)
    size = -(-n // buckets)
    if size < 5:     # at most 5 points kept per bucket: nothing to gain
        return t, values
    idx = np.minimum(np.arange(-(-n // size) * size), n - 1).reshape(-1, size)
    v = np.asarray(values, dtype=float)[idx]
    gap = np.isnan(v)
    rows = np.arange(idx.shape[0])
    keep = [idx[:, 0], idx[:, -1], idx[rows, np.where(gap, -np.inf, v).argmax(1)],
            idx[rows, np.where(gap, np.inf, v).argmin(1)], idx[rows, gap.argmax(1)][gap.any(1)]]
    kept = np.unique(np.concatenate(keep))
    return np.asarray(t, dtype=float)[kept], np.asarray(values, dtype=float)[kept]


def plot_timeline(timeline: Path | Timeline, out_png: Path, title: str, events: list[dict] | None = None) -> None:
    """Draw a timeline (timeline.csv, or a run's columns in memory) as three stacked panels
    sharing the time axis and write out_png atomically.

    (a) speed and the active limit, (b) pedal, torque limit and any regen request, (c) governor state;
    `events` (dicts with "t_s" and "name") are marked as vertical lines labelled on (a).
    """
    from matplotlib.figure import Figure

    if isinstance(timeline, Path):
        timeline = read_timeline(timeline)
    t = timeline.t_s
    step = (t[-1] - t[0]) / (len(t) - 1) if len(t) > 1 else 0.0
    step = step if step > 0 else 1.0  # a lone row still gets a visible width
    start, end = t[0], t[-1] + step

    fig = Figure(figsize=(10, 7), dpi=110)
    speed_ax, pedal_ax, state_ax = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2, 1.6]})
    fig.suptitle(title)

    speed_ax.plot(*envelope(t, timeline.speed_kph), color="#1565c0", linewidth=1.4, label="speed",
                  zorder=3)  # overshoot stays visible
    # In INIT the governor asks for no limit yet (torque is 0): a gap, not a spike to the top.
    limit = [math.nan if state == "INIT" else v for v, state in zip(timeline.limit_kph, timeline.state)]
    speed_ax.step(*envelope(t, limit), where="post", color="#c62828", linewidth=1.2, linestyle="--", label="limit",
                  zorder=2)
    finite = [v for v in (*timeline.speed_kph, *limit) if math.isfinite(v)]
    bottom, top = min(finite, default=0.0), max(finite, default=1.0)
    speed_ax.set_ylim(min(0.0, bottom), top * 1.3 + 1.0)  # headroom above the data for event labels
    speed_ax.set_ylabel("speed [km/h]")

    pedal_ax.plot(*envelope(t, timeline.pedal_pct), color="#546e7a", linewidth=1.0, label="pedal", zorder=2)
    pedal_ax.plot(*envelope(t, timeline.torque_limit_pct), color="#00838f", linewidth=1.4, label="torque limit",
                  zorder=3)
    if any(v > 0 for v in timeline.regen_pct):
        pedal_ax.plot(*envelope(t, timeline.regen_pct), color="#6a1b9a", linewidth=1.2, label="regen request", zorder=3)
    pedal_ax.set_ylim(-3, 105)
    pedal_ax.set_ylabel("pedal, torque [%]")

    _draw_states(state_ax, timeline, end)
    state_ax.set_xlabel("time [s]")
    state_ax.set_xlim(start, end)

    for ax in (speed_ax, pedal_ax):
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    if events:
        _draw_events([speed_ax, pedal_ax, state_ax], events, start, end)

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    write_atomic(out_png, buffer.getvalue())
