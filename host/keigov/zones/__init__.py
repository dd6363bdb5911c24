"""Geofence zones: GeoJSON in, checked on the device's integer grid, compiled to the
table the firmware looks fixes up in (core/geofence.py). Schema and format: docs/zones.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keigov.errors import InputError
from keigov.zones.geojson import ZoneIssue, ZoneSpec, parse_collection, read_geojson
from keigov.zones.projection import Projection
from keigov.zones.quantise import ZoneGeom, choose_projection, quantise
from keigov.zones.table import Table, build_table
from keigov.zones.validate import check_polygon

DEFAULT_NEAR_M = 30.0      # distances to zones are exact up to this (>= the hysteresis)
MAX_NEAR_M = 250.0

__all__ = ["DEFAULT_NEAR_M", "ZoneIssue", "ZoneSpec", "Zones", "ZonesInvalid", "Table", "load_zones",
           "check_collection", "compile_zones", "compile_checked"]


class ZonesInvalid(InputError):
    """The zones file has problems; `issues` lists every one."""

    def __init__(self, path: Path, issues: list[ZoneIssue]) -> None:
        super().__init__(f"{len(issues)} problem(s) in the zones", where=str(path))
        self.issues = issues


@dataclass
class Zones:
    """A zones file read and checked: the drawn zones, on the device's grid."""

    specs: list[ZoneSpec]
    geoms: list[ZoneGeom]
    projection: Projection | None
    issues: list[ZoneIssue]


def load_zones(path: Path) -> Zones:
    """Read and check every feature of a GeoJSON file; problems are collected, not raised."""
    return _check(*read_geojson(path))


def check_collection(doc: object) -> Zones:
    """The same for an already parsed GeoJSON object."""
    return _check(*parse_collection(doc))


def _check(specs: list[ZoneSpec], issues: list[ZoneIssue]) -> Zones:
    proj, far = choose_projection(specs)
    issues += far
    geoms = []
    if proj is not None:
        for spec in specs:
            if any(i.feature == spec.index for i in far):
                continue
            geom, problems = quantise(spec, proj)
            if spec.shape == "polygon" and not problems:
                problems = check_polygon(geom, proj)
            issues += problems
            geoms.append(geom)
    issues.sort(key=lambda i: -1 if i.feature is None else i.feature)
    return Zones(specs, geoms, proj, issues)


def compile_zones(path: Path, near_m: float = DEFAULT_NEAR_M) -> Table:
    """The firmware table for a GeoJSON file; ZonesInvalid lists every problem."""
    return compile_checked(load_zones(path), near_m, path)


def compile_checked(zones: Zones, near_m: float = DEFAULT_NEAR_M, path: Path | None = None) -> Table:
    if not 0 < near_m <= MAX_NEAR_M:
        raise InputError(f"near distance {near_m:g} m must be above 0 and at most {MAX_NEAR_M:g} m")
    if zones.issues:
        raise ZonesInvalid(path or Path("<zones>"), zones.issues)
    assert zones.projection is not None
    return build_table(zones.geoms, zones.projection, round(near_m * 10))
