"""The run's timeline: one row per control period, written as timeline.csv.

Values are formatted with fixed precision so that the same scenario gives the same
file byte for byte.
"""

from __future__ import annotations

from pathlib import Path

from keigov.fileio import write_atomic

COLUMNS = (
    "t_s", "speed_kph", "limit_kph", "pedal_pct", "torque_limit_pct", "state", "zone",
    "accel_mps2", "grade_pct", "torque_applied_pct", "gnss_fix", "flags",
    "distance_m", "lat", "lon", "heading_deg",     # where the vehicle truly was (the route, not GNSS)
    "regen_pct",                                   # the command's regen request (new columns go last)
)
_FORMATS = ("%.2f", "%.3f", "%.1f", "%.1f", "%.1f", "%s", "%s", "%.3f", "%.2f", "%.1f", "%s", "%s",
            "%.2f", "%.7f", "%.7f", "%.1f", "%.1f")


class Timeline:
    def __init__(self) -> None:
        self.rows: list[tuple[object, ...]] = []

    def add(self, *values: object) -> None:
        self.rows.append(values)

    def column(self, name: str) -> list:
        i = COLUMNS.index(name)
        return [r[i] for r in self.rows]

    def to_csv(self) -> str:
        # One %-format per row (no cell holds a comma or a quote, so csv.writer would quote
        # nothing): a replayed hour is 360,000 rows, a third faster than str.format.
        line = ",".join(_FORMATS) + "\n"
        return ",".join(COLUMNS) + "\n" + "".join([line % row for row in self.rows])

    def write(self, path: Path) -> None:
        write_atomic(path, self.to_csv().encode())
