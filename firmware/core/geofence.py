"""Geofence lookup on the device: which zones contain a GNSS fix, in integers only.

The host compiles a GeoJSON file into a little-endian blob (`keigov zones compile`;
docs/zones.md) that `load()` reads into typed arrays once at boot. After that a lookup
allocates nothing and every intermediate value stays below 2**30 (a small int on
32-bit ports):

- A fix (1e-7 deg as 16-bit halves) becomes decimetre offsets from the table's origin by
  an equirectangular projection done in split fixed-point steps, so longitude x 1e7
  (up to 1.8e9, a big int) is never formed.
- Every edge is shorter than 600 m (the compiler splits longer ones) and a lookup only
  looks at edges within a few hundred metres of the point, so products of coordinate
  differences stay below 2**28.
- Polygons (with holes, multipolygons) use even-odd parity. Each zone has a uniform
  grid; a cell lists the edges that meet it and stores the parity of its bottom-right
  corner, so a lookup walks from the point to that corner and counts crossings with
  the cell's edges only (exact, including points on edges and vertices: see
  `_poly_inside`). Distances search rings of cells outward (`_edges_d2`).
- Corridors are centrelines with a half-width, optionally matched against the vehicle's
  heading (fixed, or along each segment); circles are a centre and a radius.

Result of `lookup(x, y, heading)` (attributes, so nothing is returned in a tuple):
`limit` lowest speed limit (ckph) among the zones containing the point, 0 for none;
`lockout` 1 inside a freeway-lockout zone; `zone` id of the deciding zone (0 none);
`clear_dm` distance from the point to the nearest zone stricter than the result that
does not contain it, at most `near_dm` (the hysteresis needs "far enough past the
boundary"; beyond `near_dm` it only needs to know "far").
"""
from array import array

from micropython import const

MAGIC = const(0x315A474B)  # b"KGZ1" little-endian
VERSION = const(1)

# Header: int32 fields at the start of the blob.
H_MAGIC = const(0)
H_VERSION = const(1)
H_LAT0_HI = const(2)
H_LAT0_LO = const(3)
H_LON0_HI = const(4)
H_LON0_LO = const(5)
H_KX = const(6)          # decimetres per 1e-7 deg of longitude, Q20
H_KY = const(7)          # decimetres per 1e-7 deg of latitude, Q20
H_NEAR_DM = const(8)     # distances to zones are exact up to this far
H_ZONES = const(9)
H_VERTICES = const(10)
H_CELLS = const(11)
H_REFS = const(12)
H_REF_SIZE = const(13)   # 2: REF is uint16, 4: uint32
H_CRC = const(14)        # CRC-32 of everything after the header, as int32
H_BYTES = const(15)      # length of the whole blob
HEADER_FIELDS = const(16)

# Zone record: ZSTRIDE int32 per zone.
Z_KIND = const(0)        # SHAPE_* | F_* flags
Z_LIMIT = const(1)       # ckph, 0 for a lockout zone
Z_XMIN = const(2)        # box of the zone's area (corridors: widened by the half-width)
Z_YMIN = const(3)
Z_XMAX = const(4)
Z_YMAX = const(5)
Z_GX = const(6)          # grid origin (the box minus near_dm), cell size, columns, rows
Z_GY = const(7)
Z_CS = const(8)
Z_NX = const(9)
Z_NY = const(10)
Z_CELLS = const(11)      # index of the zone's first cell in CELL (nx * ny + 1 entries)
Z_VBASE = const(12)      # index of the zone's first vertex (REF entries are relative)
Z_R = const(13)          # corridor half-width / circle radius, dm
Z_A = const(14)          # circle centre x / fixed heading east component (Q14)
Z_B = const(15)          # circle centre y / fixed heading north component (Q14)
Z_COS = const(16)        # cos(heading tolerance), Q14
Z_ID = const(17)         # zone id reported on the bus (1..255)
ZSTRIDE = const(18)

SHAPE_MASK = const(0xFF)
SHAPE_POLYGON = const(0)
SHAPE_CORRIDOR = const(1)
SHAPE_CIRCLE = const(2)
F_LOCKOUT = const(0x100)
F_HEADING_FIXED = const(0x200)   # corridor matches vehicles heading (Z_A, Z_B)
F_HEADING_ALONG = const(0x400)   # corridor matches vehicles moving along its segments
F_BIDIRECTIONAL = const(0x800)   # ... in either direction

# Edge length, packed per vertex in LEN: (shift << 12) | (mantissa - 4096), where
# length_dm = mantissa / 2**shift (mantissa in [4096, 8192), rounded up).
_LEN_FRAC = const(12)
_LEN_MASK = const(0xFFF)
_LEN_ONE = const(0x1000)

# Load results (fence.error).
OK = const(0)
ERR_MISSING = const(1)    # no zones file: no zones (not a fault)
ERR_FORMAT = const(2)     # not a zones table, or a truncated one
ERR_VERSION = const(3)    # written by an incompatible compiler
ERR_CHECKSUM = const(4)   # corrupted in storage
ERR_PLATFORM = const(5)   # big-endian CPU or no binascii.crc32

_WINDOW = const(1 << 23)  # fixes beyond +-0.84 deg of the origin are outside the map
_BIG = const(0x3FFFFFFF)
# Edges are under 600 m, half-widths under 400 m and near_dm under 250 m, so a point
# whose distance matters is within this of an edge's start (per axis); products of
# such offsets and edge vectors fit below 2**30.
_FAR_DM = const(12500)
_Q14 = const(16384)

# sin(d degrees) in Q14 for d = 0..90; other angles by symmetry and interpolation.
_SIN = (
    0, 286, 572, 857, 1143, 1428, 1713, 1997, 2280, 2563, 2845, 3126, 3406, 3686, 3964,
    4240, 4516, 4790, 5063, 5334, 5604, 5872, 6138, 6402, 6664, 6924, 7182, 7438, 7692,
    7943, 8192, 8438, 8682, 8923, 9162, 9397, 9630, 9860, 10087, 10311, 10531, 10749,
    10963, 11174, 11381, 11585, 11786, 11982, 12176, 12365, 12551, 12733, 12911, 13085,
    13255, 13421, 13583, 13741, 13894, 14044, 14189, 14330, 14466, 14598, 14726, 14849,
    14968, 15082, 15191, 15296, 15396, 15491, 15582, 15668, 15749, 15826, 15897, 15964,
    16026, 16083, 16135, 16182, 16225, 16262, 16294, 16322, 16344, 16362, 16374, 16382,
    16384,
)


def sin_q14(cdeg):
    """sin of a heading in 0.01 deg, Q14 (|error| <= 2)."""
    cdeg %= 36000
    sign = 1
    if cdeg >= 18000:
        cdeg -= 18000
        sign = -1
    if cdeg > 9000:
        cdeg = 18000 - cdeg
    d = cdeg // 100
    f = cdeg - d * 100
    s = _SIN[d]
    if f:
        s += (_SIN[d + 1] - s) * f // 100
    return s * sign


def scale_q20(d, k):
    """d * k / 2**20 (floor) for |d| < 2**23, k < 2**17, without forming d * k."""
    return ((d >> 10) * k + (((d & 1023) * k) >> 10)) >> 10


def isqrt(n):
    """floor(sqrt(n)) for 0 <= n < 2**30."""
    if n <= 0:
        return 0
    b = 0
    t = n
    while t:
        t >>= 2
        b += 1
    x = 1 << b          # >= sqrt(n)
    while True:
        y = (x + n // x) >> 1
        if y >= x:
            return x
        x = y


def _offset(hi, lo, hi0, lo0):
    """(hi:lo) - (hi0:lo0) in 1e-7 deg, clamped to the map window, without forming
    either value (a longitude x 1e7 is a big int on 32-bit ports)."""
    dh = hi - hi0
    if dh > 127:
        return _WINDOW
    if dh < -127:
        return -_WINDOW
    d = dh * 65536 + lo - lo0
    return _WINDOW if d > _WINDOW else (-_WINDOW if d < -_WINDOW else d)


def _typed(typecode, raw):
    """The items of raw little-endian bytes, as a new array, on MicroPython and CPython."""
    try:
        return array(typecode, raw)   # MicroPython: the bytes are the items
    except TypeError:
        a = array(typecode)           # CPython
        a.frombytes(raw)
        return a


def _crc32():
    try:
        from binascii import crc32
    except ImportError:
        return None
    return crc32


def _sections(h):
    """(typecode, items, item size) of each array after the header, in order."""
    nz = h[H_ZONES]
    nv = h[H_VERTICES]
    rs = h[H_REF_SIZE]
    return (
        ("i", nz * ZSTRIDE, 4), ("i", nv, 4), ("i", nv, 4), ("i", h[H_CELLS], 4),
        ("H" if rs == 2 else "I", h[H_REFS], rs), ("H", nv, 2),
    )


def _header(f):
    """The header's fields read from a stream, or the ERR_* that refuses it."""
    import sys

    if sys.byteorder != "little" or _crc32() is None:
        return ERR_PLATFORM
    raw = bytearray(HEADER_FIELDS * 4)
    if f.readinto(raw) != len(raw):
        return ERR_FORMAT
    h = _typed("i", raw)
    if h[H_MAGIC] != MAGIC:
        return ERR_FORMAT
    if h[H_VERSION] != VERSION:
        return ERR_VERSION
    if not 0 <= h[H_ZONES] <= 255 or h[H_REF_SIZE] not in (2, 4):
        return ERR_FORMAT
    if h[H_VERTICES] < 0 or h[H_CELLS] < 0 or h[H_REFS] < 0:
        return ERR_FORMAT
    size = len(raw)
    for _typecode, count, item in _sections(h):
        size += (count * item + 3) & ~3
    return h if h[H_BYTES] == size else ERR_FORMAT


def check(f):
    """OK or the ERR_* a stream's table would be refused with, reading it in small
    chunks (no arrays): for accepting a table before it replaces the one in force."""
    h = _header(f)
    if isinstance(h, int):
        return h
    crc32 = _crc32()
    buf = bytearray(256)
    view = memoryview(buf)
    left = h[H_BYTES] - HEADER_FIELDS * 4
    crc = 0
    while left:
        k = left if left < 256 else 256
        if f.readinto(view[:k]) != k:
            return ERR_FORMAT
        crc = crc32(view[:k], crc)
        left -= k
    if f.readinto(view[:1]):
        return ERR_FORMAT   # trailing bytes: not what the header says
    return ERR_CHECKSUM if (crc ^ h[H_CRC]) & 0xFFFFFFFF else OK


class SectionReader:
    """A stream over `n` bytes at `off` of a source read as `src.readinto(offset, buf)`
    (a configuration slot, core/cfgblob.py), so a zones section loads in place."""

    def __init__(self, src, off, n):
        self.src = src
        self.pos = off
        self.end = off + n

    def readinto(self, buf):
        k = len(buf)
        if self.end - self.pos < k:
            k = self.end - self.pos
            buf = memoryview(buf)[:k]
        if k:
            self.src.readinto(self.pos, buf)
            self.pos += k
        return k


def check_section(src, off, n):
    """The checker core/cfgblob.py calls for a ZONES section: OK or ERR_*."""
    return check(SectionReader(src, off, n))


def load_section(src, off, n):
    """The zones of a ZONES section in a configuration slot (a Fence; see its error)."""
    fence = Fence()
    fence.read(SectionReader(src, off, n))
    return fence


class Fence:
    """Compiled zones and the lookup over them. `error` says whether a table is in force."""

    def __init__(self):
        self.error = ERR_MISSING
        self.n = 0
        self.near_dm = 0
        self.head = array("i", [0] * HEADER_FIELDS)
        self.zt = self.vx = self.vy = self.cell = self.ref = self.len = array("i")   # no table: empty
        # Results of the last to_local() / lookup().
        self.x = 0
        self.y = 0
        self.limit = 0
        self.lockout = 0
        self.zone = 0
        self.clear_dm = 0
        self._hx = 0
        self._hy = 0
        self._cx = 0
        self._cy = 0
        self._near = bytearray(0)     # zones whose box (widened by near_dm) holds the point
        self._inside = bytearray(0)

    # -- loading (boot time) ------------------------------------------------------------

    def read(self, f):
        """Read a compiled table from a stream with readinto(). Returns OK or ERR_*; a
        refused table leaves no zones."""
        h = _header(f)
        if isinstance(h, int):
            return self._refuse(h)
        crc32 = _crc32()
        arrays = []
        crc = 0
        for typecode, count, size in _sections(h):
            raw = bytearray(count * size)
            pad = bytearray((-count * size) & 3)       # sections are padded to 4 bytes
            if f.readinto(raw) != len(raw) or f.readinto(pad) != len(pad):
                return self._refuse(ERR_FORMAT)
            crc = crc32(pad, crc32(raw, crc))
            arrays.append(_typed(typecode, raw))
        if f.readinto(bytearray(1)):
            return self._refuse(ERR_FORMAT)  # trailing bytes: not what the header says
        if (crc ^ h[H_CRC]) & 0xFFFFFFFF:
            return self._refuse(ERR_CHECKSUM)
        self.head = h
        self.zt, self.vx, self.vy, self.cell, self.ref, self.len = arrays
        self.n = h[H_ZONES]
        self.near_dm = h[H_NEAR_DM]
        self._near = bytearray(self.n)
        self._inside = bytearray(self.n)
        self.error = OK
        return OK

    def _refuse(self, reason):
        self.error = reason
        self.n = 0
        return reason

    # -- position ---------------------------------------------------------------------------

    def to_local(self, lat_hi, lat_lo, lon_hi, lon_lo):
        """Set (x, y) in dm from a fix in 1e-7 deg halves (hi signed, lo 0..65535).

        Returns False when the fix is beyond the map window (+-0.84 deg of the origin);
        (x, y) are then clamped to the window's edge, far outside every zone.
        """
        h = self.head
        dlat = _offset(lat_hi, lat_lo, h[H_LAT0_HI], h[H_LAT0_LO])
        dlon = _offset(lon_hi, lon_lo, h[H_LON0_HI], h[H_LON0_LO])
        self.x = scale_q20(dlon, h[H_KX])
        self.y = scale_q20(dlat, h[H_KY])
        return -_WINDOW < dlat < _WINDOW and -_WINDOW < dlon < _WINDOW

    # -- lookup -----------------------------------------------------------------------------

    def lookup(self, px, py, heading):
        """Zones at (px, py) dm for a vehicle heading `heading` (0.01 deg; -1: unknown).

        A corridor that matches headings counts as matching when the heading is unknown
        (standing still): the stricter reading.
        """
        zt = self.zt
        near = self._near
        inside = self._inside
        m = self.near_dm
        if heading >= 0:
            self._hx = sin_q14(heading)
            self._hy = sin_q14(heading + 9000)
        best = _BIG        # key of the result: 0 lockout, else the limit
        limit = _BIG
        zone = 0
        for z in range(self.n):
            b = z * ZSTRIDE
            near[z] = 0
            inside[z] = 0
            if (px < zt[b + Z_XMIN] - m or px > zt[b + Z_XMAX] + m
                    or py < zt[b + Z_YMIN] - m or py > zt[b + Z_YMAX] + m):
                continue
            near[z] = 1
            if px < zt[b + Z_XMIN] or px > zt[b + Z_XMAX] or py < zt[b + Z_YMIN] or py > zt[b + Z_YMAX]:
                continue
            kind = zt[b + Z_KIND]
            shape = kind & SHAPE_MASK
            if shape == SHAPE_POLYGON:
                hit = self._poly_inside(b, px, py)
            elif shape == SHAPE_CORRIDOR:
                hit = self._corridor_inside(b, px, py, heading)
            else:
                dx = px - zt[b + Z_A]
                dy = py - zt[b + Z_B]
                r = zt[b + Z_R]
                hit = dx * dx + dy * dy <= r * r
            if not hit:
                continue
            inside[z] = 1
            lim = zt[b + Z_LIMIT]
            key = 0 if kind & F_LOCKOUT else lim
            if key < best:
                best = key
                zone = zt[b + Z_ID]
            if lim and lim < limit:
                limit = lim
        self.limit = limit if limit < _BIG else 0
        self.lockout = 1 if best == 0 else 0
        self.zone = zone
        self.clear_dm = self._clearance(px, py, best)

    def _clearance(self, px, py, best):
        """Distance (dm, floor, at most near_dm) to zones stricter than `best`."""
        zt = self.zt
        m = self.near_dm
        d2 = m * m * 16      # squared, in (dm / 4)**2
        for z in range(self.n):
            if not self._near[z] or self._inside[z]:
                continue
            b = z * ZSTRIDE
            kind = zt[b + Z_KIND]
            key = 0 if kind & F_LOCKOUT else zt[b + Z_LIMIT]
            if key >= best:
                continue
            shape = kind & SHAPE_MASK
            if shape == SHAPE_CIRCLE:
                dx = px - zt[b + Z_A]
                dy = py - zt[b + Z_B]
                e = (isqrt(dx * dx + dy * dy) - zt[b + Z_R]) * 4   # outside: positive
                e2 = e * e if e > 0 else 0
            elif shape == SHAPE_CORRIDOR:
                r = zt[b + Z_R]
                e = isqrt(self._edges_d2(b, px, py, m + r)) - 4 * r
                e2 = e * e if e > 0 else 0
            else:
                e2 = self._edges_d2(b, px, py, m)
            if e2 < d2:
                d2 = e2
        return isqrt(d2) >> 2

    def _cell(self, b, px, py):
        """Index in CELL of the cell holding (px, py) in zone record b, -1 outside the
        grid; its column and row are left in _cx, _cy."""
        zt = self.zt
        cs = zt[b + Z_CS]
        cx = (px - zt[b + Z_GX]) // cs
        cy = (py - zt[b + Z_GY]) // cs
        self._cx = cx
        self._cy = cy
        nx = zt[b + Z_NX]
        if cx < 0 or cy < 0 or cx >= nx or cy >= zt[b + Z_NY]:
            return -1
        return zt[b + Z_CELLS] + cy * nx + cx

    # -- polygons ---------------------------------------------------------------------------

    def _poly_inside(self, b, px, py):
        """Even-odd parity of (px, py), by the rule: edge (x1,y1)-(x2,y2) crosses the ray
        from P to +x when (y1 > py) != (y2 > py) and its crossing is strictly right of px.

        That rule classifies every point, on edges and vertices too, as if it sat an
        infinitesimal up and right, so parity(P) = parity(corner) xor the crossings of
        the path P -> (xr, py) -> (xr, yb) with the cell's edges, where (xr, yb) is the
        cell's bottom-right corner (parity compiled per cell). The horizontal leg uses
        the ray rule itself (each edge's term is exact); the vertical leg runs an
        infinitesimal right of x = xr, so it never meets a vertex.
        """
        zt = self.zt
        c = self._cell(b, px, py)
        if c < 0:
            return 0
        cs = zt[b + Z_CS]
        xr = zt[b + Z_GX] + (self._cx + 1) * cs
        yb = zt[b + Z_GY] + self._cy * cs
        cell = self.cell
        k = cell[c]
        end = cell[c + 1] >> 1
        par = k & 1
        k >>= 1
        vx = self.vx
        vy = self.vy
        ref = self.ref
        base = zt[b + Z_VBASE]
        while k < end:
            i = base + ref[k]
            k += 1
            x1 = vx[i]
            y1 = vy[i]
            x2 = vx[i + 1]
            y2 = vy[i + 1]
            if (y1 > py) != (y2 > py):
                if _crosses_right_of(x1, y1, x2, y2, py, px) and not _crosses_right_of(x1, y1, x2, y2, py, xr):
                    par ^= 1
            if (x1 > xr) != (x2 > xr):
                if _passes_above(x1, y1, x2, y2, xr, yb) and not _passes_above(x1, y1, x2, y2, xr, py):
                    par ^= 1
        return par

    # -- corridors ----------------------------------------------------------------------

    def _corridor_inside(self, b, px, py, heading):
        zt = self.zt
        r = zt[b + Z_R]
        kind = zt[b + Z_KIND]
        along = 0
        if heading >= 0 and kind & F_HEADING_FIXED:
            dot = self._hx * zt[b + Z_A] + self._hy * zt[b + Z_B]
            if kind & F_BIDIRECTIONAL and dot < 0:
                dot = -dot
            if dot < zt[b + Z_COS] * _Q14:
                return 0
        elif heading >= 0 and kind & F_HEADING_ALONG:
            along = zt[b + Z_COS] if kind & F_BIDIRECTIONAL else -1 - zt[b + Z_COS]
        c = self._cell(b, px, py)
        if c < 0:
            return 0
        return self._cell_d2(c, zt[b + Z_VBASE], px, py, r, along) <= r * r * 16

    # -- distances ----------------------------------------------------------------------

    def _edges_d2(self, b, px, py, reach):
        """Smallest squared distance, in (dm / 4)**2, from P to the zone's edges within
        `reach` dm of it (_BIG when none is).

        Searches square rings of cells outward from P's cell, skipping cells farther
        than the reach and shrinking the reach to the best distance found, so near an
        edge it looks at a cell or two. A cell lists every edge that meets it (a
        corridor's: every edge within its half-width), so the search finds every edge
        within the reach (a corridor's centreline: within reach + half-width).
        """
        zt = self.zt
        gx = zt[b + Z_GX]
        gy = zt[b + Z_GY]
        cs = zt[b + Z_CS]
        nx = zt[b + Z_NX]
        ny = zt[b + Z_NY]
        self._cell(b, px, py)   # P lies in the grid's area: the zone's box widened by near_dm
        cx = self._cx
        cy = self._cy
        cells = zt[b + Z_CELLS]
        # cells of ring r are at least edge + (r - 1) * cs away
        edge = px - gx - cx * cs
        e = cs - edge
        if e < edge:
            edge = e
        e = py - gy - cy * cs
        if e < edge:
            edge = e
        e = cs - (py - gy - cy * cs)
        if e < edge:
            edge = e
        best = _BIG
        ring = 0
        while ring < 1 or edge + (ring - 1) * cs <= reach:
            if ring > nx and ring > ny:
                break
            row = cy - ring
            while row <= cy + ring:
                if 0 <= row < ny:
                    # whole rows at the top and bottom of the ring, two cells in between
                    step = 1 if row == cy - ring or row == cy + ring else 2 * ring
                    col = cx - ring
                    while col <= cx + ring:
                        if 0 <= col < nx:
                            left = gx + col * cs
                            dx = left - px if px < left else px - left - cs
                            bottom = gy + row * cs
                            dy = bottom - py if py < bottom else py - bottom - cs
                            if dx <= reach and dy <= reach:
                                d2 = self._cell_d2(cells + row * nx + col, zt[b + Z_VBASE], px, py, reach, 0)
                                if d2 < best:
                                    best = d2
                                    d = (isqrt(d2) >> 2) + 1
                                    if d < reach:
                                        reach = d
                        col += step
                row += 1
            ring += 1
        return best

    def _cell_d2(self, c, base, px, py, reach, along):
        """Smallest squared distance, in (dm / 4)**2, from P to the edges of cell c whose
        boxes come within `reach` dm of it (_BIG for none).

        along != 0 counts only edges whose direction is within a tolerance of the
        vehicle's heading (_hx, _hy): along = cos(tolerance) in Q14 for either
        direction, -1 - cos(tolerance) for the drawn direction only.
        """
        cell = self.cell
        ref = self.ref
        vx = self.vx
        vy = self.vy
        k = cell[c] >> 1
        end = cell[c + 1] >> 1
        best = _BIG
        while k < end:
            i = base + ref[k]
            k += 1
            x1 = vx[i] - px
            x2 = vx[i + 1] - px
            if (x1 > reach and x2 > reach) or (x1 < -reach and x2 < -reach):
                continue
            y1 = vy[i] - py
            y2 = vy[i + 1] - py
            if (y1 > reach and y2 > reach) or (y1 < -reach and y2 < -reach):
                continue
            if along:
                # heading . direction >= |direction| cos(tolerance), lengths as packed
                dot = (x2 - x1) * self._hx + (y2 - y1) * self._hy
                cos = along
                if along < 0:
                    cos = -1 - along
                elif dot < 0:
                    dot = -dot
                p = self.len[i]
                if dot < (((p & _LEN_MASK) | _LEN_ONE) * cos) >> (p >> _LEN_FRAC):
                    continue
            d2 = self._seg_d2(i, px, py)
            if d2 < best:
                best = d2
        return best

    def _seg_d2(self, i, px, py):
        """Squared distance from P to edge i in (dm / 4)**2; _BIG for a point over 1.25 km
        from its start along an axis.

        Beyond the segment's ends it is exact; beside it, |cross| / length with the
        length a 13-bit mantissa rounded up (the distance errs low, by < 0.03 %, and
        by < 0.25 dm from flooring: a corridor reads marginally wide, a clearance short).
        """
        vx = self.vx
        vy = self.vy
        x1 = vx[i]
        y1 = vy[i]
        dx = vx[i + 1] - x1
        dy = vy[i + 1] - y1
        wx = px - x1
        wy = py - y1
        if wx > _FAR_DM or wx < -_FAR_DM or wy > _FAR_DM or wy < -_FAR_DM:
            return _BIG   # a far point: the products below would not fit
        t = wx * dx + wy * dy
        if t <= 0:
            d2 = wx * wx + wy * wy
        elif t >= dx * dx + dy * dy:
            wx -= dx
            wy -= dy
            d2 = wx * wx + wy * wy
        else:
            cr = wx * dy - wy * dx
            if cr < 0:
                cr = -cr
            p = self.len[i]
            q = (cr << (p >> _LEN_FRAC) << 2) // ((p & _LEN_MASK) | _LEN_ONE)
            return q * q if q < 32768 else _BIG
        return d2 * 16 if d2 < 0x4000000 else _BIG


def _crosses_right_of(x1, y1, x2, y2, py, v):
    """The edge, which straddles y = py, crosses it strictly right of x = v."""
    if x1 > v and x2 > v:
        return True
    if x1 <= v and x2 <= v:
        return False
    a = (x1 - v) * (y2 - y1)
    c = (py - y1) * (x2 - x1)
    if y2 > y1:
        return a > -c
    return a < -c


def _passes_above(x1, y1, x2, y2, xr, yv):
    """The edge, which straddles x = xr + 0, passes above (xr + 0, yv + 0), where the
    second 0 is infinitesimal against the first (the ray rule's tie-break)."""
    if y1 > yv and y2 > yv:
        return True
    if y1 < yv and y2 < yv:
        return False
    d = x2 - x1
    a = (y1 - yv) * d
    c = (xr - x1) * (y2 - y1)
    if a == -c:  # through (xr, yv): its slope decides
        return y2 != y1 and (y2 > y1) == (d > 0)
    if d > 0:
        return a > -c
    return a < -c


def load(storage, name="zones.bin"):
    """The zones in storage, or an empty Fence whose `error` says why there are none."""
    import io

    fence = Fence()
    data = storage.read(name)
    if data is not None:
        fence.read(io.BytesIO(data))
    return fence
