"""map.png: the zones and the vehicle's track coloured by governor state, in local metres.

No map tiles (no network, nothing to license): the zones' own geometry is the map. Polygons
are drawn with their holes, corridors as their centrelines buffered to the drawn width, circles
as discs, listed in the legend with their id, name and limit; lockouts are hatched. The frame is the zone
table's (metres east/north of its origin, keigov.zones.shapes), so the picture matches what the
device computes.

    from keigov.report.trackmap import plot_track_map

    plot_track_map(Path("map.png"), Path("zones.geojson"), states, lon=lons, lat=lats)
    plot_track_map(out, zones, states, x_m=xs, y_m=ys, fixes=[(lon, lat), ...],
                   marks=[(index, "lockout_engaged")], title="drive 3")

- `zones`: a GeoJSON path, a `keigov.zones.Zones` (load_zones) or a `keigov.zones.shapes.ZoneMap`.
- The track: `lon` and `lat` in degrees, or `x_m` and `y_m` in the zones' frame; one governor
  state name per point in `states` (INIT, NORMAL, LIMITING, FAULT, LOCKOUT; others are grey).
- `fixes`: optional (lon, lat) of what the GNSS reported (noise, outages, spoofed jumps), drawn
  as small dots; those outside the view are counted in a note.
- `marks`: optional (index into the track, label) pins, e.g. events where they happened.

The view is the track's extent with a margin; zones beyond it are clipped. matplotlib and
shapely are imported inside the function, so importing this module costs nothing.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from keigov.fileio import write_atomic
from keigov.report.plot import STATE_COLOURS
from keigov.zones import Zones
from keigov.zones.shapes import ZoneMap, ZoneShape, zone_map

# Events pinned on the map where they happened.
MAP_EVENTS = ("lockout_engaged", "lockout_cleared", "zone_tightened", "zone_relaxed", "gnss_hold", "gnss_fallback",
              "gnss_regained", "gnss_jump", "gnss_reanchored")

_UNKNOWN = "#9e9e9e"
_LOCKOUT_FILL = "#e53935"
_MARGIN_M = 60.0
_MIN_VIEW_M = 200.0
_PIN_M = 25.0              # marks closer than this share a pin
_LABEL_ROWS_PT = (12, -12, 24, -24, 36, -36)   # label offsets from their pins
_CHAR_SHARE = 0.0075       # share of the view's width one label character takes (7 pt on an 8 in axes)


def plot_track_map(
    out_png: Path,
    zones: Path | Zones | ZoneMap,
    states: Sequence[str],
    *,
    lon: Sequence[float] | None = None,
    lat: Sequence[float] | None = None,
    x_m: Sequence[float] | None = None,
    y_m: Sequence[float] | None = None,
    fixes: Sequence[tuple[float, float]] = (),
    marks: Sequence[tuple[int, str]] = (),
    title: str = "",
) -> None:
    """Draw the zones and the track; write out_png atomically. See the module's docstring."""
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    zmap = zones if isinstance(zones, ZoneMap) else zone_map(zones)
    xs, ys = _track_xy(zmap, lon, lat, x_m, y_m)
    if len(states) != len(xs):
        raise ValueError(f"plot_track_map: {len(states)} states for {len(xs)} track points")
    view = _view(xs, ys, zmap)
    aspect = (view[3] - view[1]) / (view[2] - view[0])

    fig = Figure(figsize=(11, min(9.0, max(3.8, 8 * aspect + 1.2))), dpi=110)
    ax = fig.subplots()
    zone_handles = [_draw_zone(ax, shape) for shape in zmap.shapes if _in_view(shape, view)]

    runs = _state_runs(xs, ys, states)
    for state, lines in runs.items():
        ax.add_collection(LineCollection(lines, colors=STATE_COLOURS.get(state, _UNKNOWN), linewidths=2.4,
                                         capstyle="round", zorder=4))
    if xs:
        ax.plot(xs[0], ys[0], "o", color="black", markersize=6, zorder=5)
        ax.plot(xs[-1], ys[-1], "s", color="black", markersize=6, zorder=5)
    hidden, farthest = _draw_fixes(ax, zmap, fixes, view)
    _draw_marks(ax, xs, ys, marks, view)

    handles = zone_handles + [Line2D([], [], color=STATE_COLOURS.get(s, _UNKNOWN), linewidth=3, label=s) for s in runs]
    handles += [Line2D([], [], marker="o", color="black", linestyle="", label="start"),
                Line2D([], [], marker="s", color="black", linestyle="", label="end")]
    if fixes:
        handles.append(Line2D([], [], marker=".", color="0.35", linestyle="", label="GNSS fixes"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    if hidden:
        ax.text(0.01, 0.01, f"{hidden} fixes outside the view (up to {farthest / 1000:.1f} km away)",
                transform=ax.transAxes, fontsize=8, color="0.25", va="bottom")
    ax.set_xlim(view[0], view[2])
    ax.set_ylim(view[1], view[3])
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("east of the zones' origin [m]")
    ax.set_ylabel("north [m]")
    ax.grid(True, alpha=0.25)
    if title:
        ax.set_title(title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")    # equal axes leave bands: crop them
    write_atomic(out_png, buffer.getvalue())


def _track_xy(zmap: ZoneMap, lon: Sequence[float] | None, lat: Sequence[float] | None,
              x_m: Sequence[float] | None, y_m: Sequence[float] | None) -> tuple[list[float], list[float]]:
    if (lon is None) != (lat is None) or (x_m is None) != (y_m is None) or (lon is None) == (x_m is None):
        raise ValueError("plot_track_map: give the track as lon and lat, or as x_m and y_m")
    if lon is not None and lat is not None:
        if len(lon) != len(lat):
            raise ValueError(f"plot_track_map: {len(lon)} longitudes for {len(lat)} latitudes")
        points = [zmap.to_local(a, b) for a, b in zip(lon, lat)]
        return [p[0] for p in points], [p[1] for p in points]
    assert x_m is not None and y_m is not None
    if len(x_m) != len(y_m):
        raise ValueError(f"plot_track_map: {len(x_m)} x for {len(y_m)} y")
    return [float(v) for v in x_m], [float(v) for v in y_m]


def _view(xs: list[float], ys: list[float], zmap: ZoneMap) -> tuple[float, float, float, float]:
    """The track's box with a margin (the zones' box when there is no track), at least _MIN_VIEW_M wide."""
    finite = [(x, y) for x, y in zip(xs, ys) if math.isfinite(x) and math.isfinite(y)]
    if finite:
        x0, x1 = min(p[0] for p in finite), max(p[0] for p in finite)
        y0, y1 = min(p[1] for p in finite), max(p[1] for p in finite)
    else:
        x0, y0, x1, y1 = zmap.bounds()
    margin = max(_MARGIN_M, 0.08 * max(x1 - x0, y1 - y0))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w = max((x1 - x0) / 2 + margin, _MIN_VIEW_M / 2)
    half_h = max((y1 - y0) / 2 + margin, _MIN_VIEW_M / 2)
    return cx - half_w, cy - half_h, cx + half_w, cy + half_h


def _colour(shape: ZoneShape) -> str:
    """Lockouts red; speed zones from teal (slow) to blue (fast)."""
    if shape.spec.lockout:
        return _LOCKOUT_FILL
    slow, fast = (0x00, 0x89, 0x7b), (0x3f, 0x51, 0xb5)
    f = min(1.0, max(0.0, (shape.spec.limit_ckph / 100 - 15) / 65))   # 15..80 km/h
    return "#%02x%02x%02x" % tuple(round(a + (b - a) * f) for a, b in zip(slow, fast))


def _in_view(shape: ZoneShape, view: tuple[float, float, float, float]) -> bool:
    from shapely import box

    return bool(shape.area.intersects(box(*view)))


def _draw_zone(ax: Any, shape: ZoneShape) -> Any:
    """Draw one zone; returns its legend entry."""
    import numpy as np  # matplotlib's own: Path's codes are numpy uint8s
    from matplotlib.patches import Patch, PathPatch
    from matplotlib.path import Path as MplPath

    area = shape.area
    polygons = list(area.geoms) if hasattr(area, "geoms") else [area]
    colour = _colour(shape)
    for poly in polygons:
        vertices: list[tuple[float, float]] = []
        codes: list[np.uint8] = []
        for ring in (poly.exterior, *poly.interiors):   # one compound path: holes stay empty
            pts = list(ring.coords)
            vertices += pts
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(pts) - 2) + [MplPath.CLOSEPOLY]
        ax.add_patch(PathPatch(MplPath(vertices, codes), facecolor=colour, edgecolor=colour, alpha=0.28,
                               linewidth=1.0, hatch="//" if shape.spec.lockout else None, zorder=1))
        ax.add_patch(PathPatch(MplPath(vertices, codes), facecolor="none", edgecolor=colour, linewidth=1.0, zorder=2))
    for line in shape.centrelines:
        cx, cy = line.xy
        ax.plot(list(cx), list(cy), color=colour, linewidth=0.8, linestyle=(0, (6, 4)), zorder=2)
    return Patch(facecolor=colour, edgecolor=colour, alpha=0.45, hatch="//" if shape.spec.lockout else None,
                 label=f"{shape.spec.zone_id} {shape.label}")


def _state_runs(xs: list[float], ys: list[float], states: Sequence[str]) -> dict[str, list[list[tuple[float, float]]]]:
    """Polylines per state; each run shares its first point with the previous one (no gaps)."""
    runs: dict[str, list[list[tuple[float, float]]]] = {}
    start = 0
    for i in range(1, len(xs) + 1):
        if i == len(xs) or states[i] != states[start]:
            stop = min(i + 1, len(xs))
            line = list(zip(xs[start:stop], ys[start:stop]))
            if len(line) == 1:
                line.append(line[0])
            runs.setdefault(states[start], []).append(line)
            start = i
    return runs


def _draw_fixes(ax: Any, zmap: ZoneMap, fixes: Sequence[tuple[float, float]],
                view: tuple[float, float, float, float]) -> tuple[int, float]:
    """Dots for the fixes in view; returns how many were outside it and the farthest's distance."""
    inside_x, inside_y = [], []
    hidden, farthest = 0, 0.0
    cx, cy = (view[0] + view[2]) / 2, (view[1] + view[3]) / 2
    for lon, lat in fixes:
        x, y = zmap.to_local(lon, lat)
        if view[0] <= x <= view[2] and view[1] <= y <= view[3]:
            inside_x.append(x)
            inside_y.append(y)
        else:
            hidden += 1
            farthest = max(farthest, math.hypot(x - cx, y - cy))
    if inside_x:
        ax.scatter(inside_x, inside_y, s=3, color="0.35", alpha=0.6, linewidths=0, zorder=3)
    return hidden, farthest


def _draw_marks(ax: Any, xs: list[float], ys: list[float], marks: Sequence[tuple[int, str]],
                view: tuple[float, float, float, float]) -> None:
    """Pins with labels; marks within _PIN_M of a pin join its label (each label once). Labels
    take the first of a few rows above and below the track where they do not run into the
    previous label (widths estimated from the character count)."""
    pins: list[tuple[float, float, list[str]]] = []
    for index, label in marks:
        if not 0 <= index < len(xs):
            continue
        x, y = xs[index], ys[index]
        pin = next((p for p in pins if math.hypot(x - p[0], y - p[1]) < _PIN_M), None)
        if pin is None:
            pins.append((x, y, [label]))
        elif label not in pin[2]:
            pin[2].append(label)
    width = view[2] - view[0]
    free_from = [-math.inf] * len(_LABEL_ROWS_PT)      # x where each row is free again
    for x, y, labels in sorted(pins):
        text = ", ".join(labels)
        ax.plot(x, y, marker="v", color="black", markersize=5, zorder=7)
        row = next((r for r, free in enumerate(free_from) if x >= free), None)
        if row is None:
            continue                                    # no room: the pin stays, unlabelled
        free_from[row] = x + (len(text) + 2) * _CHAR_SHARE * width
        ax.annotate(text, (x, y), xytext=(4, _LABEL_ROWS_PT[row]), textcoords="offset points", fontsize=7,
                    color="0.15", zorder=7, va="center",
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.75})
