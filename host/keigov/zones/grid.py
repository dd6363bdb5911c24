"""The per-zone grid index: which edges each cell must look at, and its corner parity.

A zone's grid covers its box widened by `near_dm` on every side. A polygon's cell lists
the edges that meet the closed cell and stores the even-odd parity of its bottom-right
corner by the device's ray rule; the device then counts crossings on a path inside the
cell (core/geofence.py `_poly_inside`). A corridor's cell lists the edges within its
half-width of the cell. For distances the device searches rings of cells around a
point (`_edges_d2`), so cells can be narrower than `near_dm`: their size only trades
table bytes (4 per cell) against the edges a lookup walks.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from keigov.zones.geometry import Point, crossing_ceil, segment_meets_box

CELLS_PER_EDGE = 1.0       # grid size target: about one cell per edge (4 bytes each)
MIN_CELL_DM = 20


@dataclass
class Grid:
    gx: int
    gy: int
    cs: int
    nx: int
    ny: int
    cells: list[list[int]]     # edge indices per cell, row-major (cy * nx + cx)
    parity: list[int]          # polygon: parity of each cell's bottom-right corner

    def corner(self, c: int) -> Point:
        cy, cx = divmod(c, self.nx)
        return self.gx + (cx + 1) * self.cs, self.gy + cy * self.cs

    @property
    def refs(self) -> int:
        return sum(len(c) for c in self.cells)


def build_grid(edges: list[tuple[int, Point, Point]], box: tuple[int, int, int, int],
               near_dm: int, reach_dm: int, polygon: bool) -> Grid:
    """Grid over `box` widened by near_dm; `edges` are (index, start, end); a cell lists
    the edges within reach_dm of it (0 for polygons: the edges meeting it)."""
    xmin, ymin, xmax, ymax = box
    gx, gy = xmin - near_dm, ymin - near_dm
    w, h = xmax + near_dm - gx, ymax + near_dm - gy
    cs = choose_cell_size(w, h, len(edges))
    nx, ny = w // cs + 1, h // cs + 1
    cells: list[list[int]] = [[] for _ in range(nx * ny)]
    for index, a, b in edges:
        # closed cells: a coordinate on a cell line belongs to the cells on both sides
        x0 = max(0, (min(a[0], b[0]) - reach_dm - gx - 1) // cs)
        x1 = min(nx - 1, (max(a[0], b[0]) + reach_dm - gx) // cs)
        y0 = max(0, (min(a[1], b[1]) - reach_dm - gy - 1) // cs)
        y1 = min(ny - 1, (max(a[1], b[1]) + reach_dm - gy) // cs)
        for cy in range(y0, y1 + 1):
            for cx in range(x0, x1 + 1):
                left, bottom = gx + cx * cs, gy + cy * cs
                cell_box = (left - reach_dm, bottom - reach_dm, left + cs + reach_dm, bottom + cs + reach_dm)
                if segment_meets_box(a, b, cell_box):
                    cells[cy * nx + cx].append(index)
    grid = Grid(gx, gy, cs, nx, ny, cells, [0] * (nx * ny))
    if polygon:
        grid.parity = corner_parity(grid, [(a, b) for _, a, b in edges])
    return grid


def choose_cell_size(w: int, h: int, n_edges: int) -> int:
    """About CELLS_PER_EDGE cells per edge, none narrower than MIN_CELL_DM."""
    target = max(1.0, n_edges * CELLS_PER_EDGE)
    return max(MIN_CELL_DM, math.ceil(math.sqrt(w * h / target)))


def corner_parity(grid: Grid, edges: list[tuple[Point, Point]]) -> list[int]:
    """Parity of every cell's bottom-right corner by the ray rule, one sweep per row."""
    rows: list[list[int]] = [[] for _ in range(grid.ny)]
    for a, b in edges:
        lo, hi = min(a[1], b[1]), max(a[1], b[1])
        # rows whose line y straddles the edge by the ray rule: lo <= y < hi
        first = max(0, -((grid.gy - lo) // grid.cs))
        for cy in range(first, grid.ny):
            y = grid.gy + cy * grid.cs
            if y >= hi:
                break
            rows[cy].append(crossing_ceil(a, b, y))
    parity = []
    for cy in range(grid.ny):
        keys = sorted(rows[cy])
        for cx in range(grid.nx):
            x = grid.gx + (cx + 1) * grid.cs
            parity.append((len(keys) - bisect.bisect_right(keys, x)) & 1)
    return parity
