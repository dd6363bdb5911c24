"""The compiled zones table: the binary blob `core/geofence.py` reads at boot.

A blob rather than a generated MicroPython module: the device loads it from storage
into typed arrays (4 bytes per coordinate, 2 per edge length and per uint16 reference),
where a module of tuples would cost an object slot per number and far more RAM to
compile on the device, and would have to be frozen into the firmware image to be
cheap. A CRC-32 over the payload lets the device refuse a corrupted file whole.

Layout (little-endian; docs/zones.md): 16 int32 header fields (H_* in core/geofence.py),
then ZONE int32[zones * ZSTRIDE], VX int32[vertices], VY int32[vertices],
CELL int32[cells] (ref start << 1 | corner parity, one sentinel per zone),
REF uint16|uint32[refs] (edge start relative to the zone's first vertex),
LEN uint16[vertices] (packed edge length), each section padded to 4 bytes.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field

from keigov.errors import InputError
from keigov.firmware_params import load_firmware_module
from keigov.zones.geometry import pack_length
from keigov.zones.grid import Grid, build_grid
from keigov.zones.projection import Projection, join16, split16
from keigov.zones.quantise import ZoneGeom

FW = load_firmware_module("core/geofence.py")
Q14 = 1 << 14


@dataclass
class ZoneStats:
    zone_id: int
    name: str | None
    kind: str
    shape: str
    limit_ckph: int
    vertices: int
    cells: int
    refs: int
    cell_m: float


@dataclass
class Table:
    blob: bytes
    projection: Projection
    near_dm: int
    zones: list[ZoneStats] = field(default_factory=list)

    @property
    def vertices(self) -> int:
        """Vertices as drawn (a ring's closing repeat not counted; a circle counts one)."""
        return sum(z.vertices for z in self.zones)

    @property
    def bytes_per_vertex(self) -> float:
        return len(self.blob) / max(1, self.vertices)


def build_table(geoms: list[ZoneGeom], proj: Projection, near_dm: int) -> Table:
    zone_words: list[int] = []
    vx: list[int] = []
    vy: list[int] = []
    lengths: list[int] = []
    cells: list[int] = []
    refs: list[int] = []
    stats = []
    for geom in geoms:
        spec = geom.spec
        vbase = len(vx)
        edges = []
        for chain in geom.chains():
            for k, (a, b) in enumerate(zip(chain, chain[1:])):
                edges.append((len(vx) + k - vbase, a, b))
            vx += [p[0] for p in chain]
            vy += [p[1] for p in chain]
            lengths += [pack_length(b[0] - a[0], b[1] - a[1]) for a, b in zip(chain, chain[1:])] + [0]
        box = geom.box()
        grid = None
        if spec.shape != "circle":
            grid = build_grid(edges, box, near_dm, geom.half_width_dm, spec.shape == "polygon")
        record = _zone_record(geom, box, grid, len(cells), vbase)
        if grid is not None:
            for c, members in enumerate(grid.cells):
                cells.append((len(refs) << 1) | grid.parity[c])
                refs += members
            cells.append(len(refs) << 1)
        zone_words += record
        stats.append(ZoneStats(spec.zone_id, spec.name, spec.kind, spec.shape, spec.limit_ckph,
                               geom.drawn_vertices, grid.nx * grid.ny if grid else 0,
                               grid.refs if grid else 0, grid.cs / 10 if grid else 0.0))
    ref_size = 2 if max(refs, default=0) < 1 << 16 else 4
    payload = b"".join([
        _pack("i", zone_words), _pack("i", vx), _pack("i", vy), _pack("i", cells),
        _pack("H" if ref_size == 2 else "I", refs), _pack("H", lengths),
    ])
    lat_hi, lat_lo = split16(proj.lat0_e7)
    lon_hi, lon_lo = split16(proj.lon0_e7)
    crc = zlib.crc32(payload)
    header = [0] * FW.HEADER_FIELDS
    for index, value in (
        (FW.H_MAGIC, FW.MAGIC), (FW.H_VERSION, FW.VERSION), (FW.H_LAT0_HI, lat_hi), (FW.H_LAT0_LO, lat_lo),
        (FW.H_LON0_HI, lon_hi), (FW.H_LON0_LO, lon_lo), (FW.H_KX, proj.kx_q20), (FW.H_KY, proj.ky_q20),
        (FW.H_NEAR_DM, near_dm), (FW.H_ZONES, len(geoms)), (FW.H_VERTICES, len(vx)),
        (FW.H_CELLS, len(cells)), (FW.H_REFS, len(refs)), (FW.H_REF_SIZE, ref_size),
        (FW.H_CRC, crc - (1 << 32) if crc >= 1 << 31 else crc),
        (FW.H_BYTES, FW.HEADER_FIELDS * 4 + len(payload)),
    ):
        header[index] = value
    return Table(_pack("i", header) + payload, proj, near_dm, stats)


def read_projection(blob: bytes, where: str) -> Projection:
    """The projection a compiled table's header holds: the origin and scales the device
    turns fixes into the decimetres of its positions with."""
    if len(blob) < FW.HEADER_FIELDS * 4:
        raise InputError(f"{len(blob)} bytes is too short for a zones table", where=where)
    h = struct.unpack_from(f"<{FW.HEADER_FIELDS}i", blob)
    if h[FW.H_MAGIC] != FW.MAGIC:
        raise InputError("not a compiled zones table (bad magic)", where=where)
    if h[FW.H_VERSION] != FW.VERSION:
        raise InputError(f"zones table version {h[FW.H_VERSION]}; this keigov reads {FW.VERSION}", where=where)
    if h[FW.H_KX] <= 0 or h[FW.H_KY] <= 0:
        raise InputError(f"zones table scales {h[FW.H_KX]}, {h[FW.H_KY]} are not positive", where=where)
    return Projection(join16(h[FW.H_LAT0_HI], h[FW.H_LAT0_LO]), join16(h[FW.H_LON0_HI], h[FW.H_LON0_LO]),
                      h[FW.H_KX], h[FW.H_KY])


def _zone_record(geom: ZoneGeom, box: tuple[int, int, int, int], grid: Grid | None,
                 first_cell: int, vbase: int) -> list[int]:
    spec = geom.spec
    rec = [0] * FW.ZSTRIDE
    shape = {"polygon": FW.SHAPE_POLYGON, "corridor": FW.SHAPE_CORRIDOR, "circle": FW.SHAPE_CIRCLE}[spec.shape]
    flags = FW.F_LOCKOUT if spec.lockout else 0
    rec[FW.Z_LIMIT] = spec.limit_ckph
    rec[FW.Z_XMIN], rec[FW.Z_YMIN], rec[FW.Z_XMAX], rec[FW.Z_YMAX] = box
    rec[FW.Z_ID] = spec.zone_id
    rec[FW.Z_VBASE] = vbase
    if grid is not None:
        rec[FW.Z_GX], rec[FW.Z_GY], rec[FW.Z_CS], rec[FW.Z_NX], rec[FW.Z_NY] = \
            grid.gx, grid.gy, grid.cs, grid.nx, grid.ny
        rec[FW.Z_CELLS] = first_cell
    if spec.shape == "circle":
        rec[FW.Z_R] = geom.radius_dm
        rec[FW.Z_A], rec[FW.Z_B] = geom.center
    elif spec.shape == "corridor":
        rec[FW.Z_R] = geom.half_width_dm
        if spec.tolerance_deg is not None:
            rec[FW.Z_COS] = math.floor(math.cos(math.radians(spec.tolerance_deg)) * Q14)
            if spec.heading_deg is not None:
                flags |= FW.F_HEADING_FIXED
                h = math.radians(spec.heading_deg)
                rec[FW.Z_A], rec[FW.Z_B] = round(math.sin(h) * Q14), round(math.cos(h) * Q14)
            else:
                flags |= FW.F_HEADING_ALONG
            if spec.bidirectional:
                flags |= FW.F_BIDIRECTIONAL
    rec[FW.Z_KIND] = shape | flags
    return rec


def _pack(typecode: str, values: list[int]) -> bytes:
    data = struct.pack(f"<{len(values)}{typecode}", *values)
    return data + bytes(-len(data) & 3)
