"""`keigov zones`: check GeoJSON geofences and compile them into the device's table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from keigov.errors import InputError
from keigov.fileio import write_atomic
from keigov.firmware_params import CKPH_PER_MPH
from keigov.zones import DEFAULT_NEAR_M, Table, ZonesInvalid, compile_checked, load_zones

SCHEMA = ("zones are GeoJSON features with kind speed_limit (limit_mph or limit_kph) or freeway_lockout: "
          "see docs/zones.md")


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "zones",
        help="check and compile geofence zones (GeoJSON)",
        description="Check GeoJSON speed zones and freeway lockouts, and compile them into the table the "
                    "firmware looks fixes up in; the operator configuration names it (zones = \"FILE\") and "
                    "`keigov config` signs it into the device's configuration.",
        epilog=SCHEMA,
    )
    sub = parser.add_subparsers(dest="zones_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check",
        help="report every problem in a zones file (exit 2), or summarise it",
        description="Validate every feature (schema, ring closure, coordinates, self-intersections on the "
                    "device's 0.1 m grid, holes, widths, radii) and list all problems on stderr.",
        epilog="example: keigov zones check hil/zones/demo.geojson",
    )
    check.add_argument("zones", type=Path, metavar="ZONES.geojson")
    _near_argument(check)
    check.set_defaults(func=_check)
    comp = sub.add_parser(
        "compile",
        help="write the firmware's zones table",
        description="Compile a zones file into the binary table core/geofence.py loads (docs/zones.md).",
        epilog="example: keigov zones compile hil/zones/demo.geojson -o campus.zones --json",
    )
    comp.add_argument("zones", type=Path, metavar="ZONES.geojson")
    comp.add_argument("-o", "--output", required=True, type=Path, help="table to write")
    comp.add_argument("--json", action="store_true", help="print the summary as JSON")
    _near_argument(comp)
    comp.set_defaults(func=_compile)


def _near_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--near-m", type=float, default=DEFAULT_NEAR_M, metavar="M",
                        help=f"distances to zones are exact up to this; the hysteresis must not exceed it "
                             f"(default {DEFAULT_NEAR_M:g})")


def _table(args: argparse.Namespace) -> Table:
    if not args.zones.exists():
        raise InputError("no such file", where=str(args.zones))
    zones = load_zones(args.zones)
    for issue in zones.issues:
        print(f"{args.zones}: {issue}", file=sys.stderr)
    if zones.issues:
        raise ZonesInvalid(args.zones, zones.issues)
    return compile_checked(zones, args.near_m, args.zones)


def _check(args: argparse.Namespace) -> int:
    table = _table(args)
    print(f"{args.zones}: ok, {_totals(table)}")
    _print_zones(table)
    return 0


def _compile(args: argparse.Namespace) -> int:
    table = _table(args)
    write_atomic(args.output, table.blob)
    if args.json:
        print(json.dumps(summary(table, args.output), indent=2))
    else:
        print(f"wrote {args.output}: {_totals(table)}")
        _print_zones(table)
    return 0


def summary(table: Table, output: Path | None = None) -> dict[str, Any]:
    """What a compiled table holds, for people and for the HIL report (zone ids -> names)."""
    lon0, lat0 = table.projection.to_lonlat(0, 0)
    return {
        "output": str(output) if output else None,
        "zones": len(table.zones),
        "vertices": table.vertices,
        "bytes": len(table.blob),
        "bytes_per_vertex": round(table.bytes_per_vertex, 2),
        "near_m": table.near_dm / 10,
        "origin": [round(lon0, 7), round(lat0, 7)],
        "zone_table": [
            {"id": z.zone_id, "name": z.name, "kind": z.kind, "shape": z.shape, "limit_ckph": z.limit_ckph,
             "vertices": z.vertices, "cells": z.cells, "refs": z.refs, "cell_m": z.cell_m}
            for z in table.zones
        ],
    }


def _totals(table: Table) -> str:
    return (f"{len(table.zones)} zones, {table.vertices} vertices, {len(table.blob)} bytes "
            f"({table.bytes_per_vertex:.1f} bytes/vertex)")


def _print_zones(table: Table) -> None:
    for z in table.zones:
        limit = "lockout" if z.kind == "freeway_lockout" else \
            f"{z.limit_ckph / 100:.1f} km/h ({z.limit_ckph / CKPH_PER_MPH:.3g} mph)"
        print(f"  {z.zone_id:3d}  {z.name or '-':24s} {z.shape:9s} {limit:>22s}  vertices: {z.vertices}")
