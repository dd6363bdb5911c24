"""`keigov dbc`: compile a DBC and signal map into the firmware's tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from keigov.dbc.tables import compile_tables
from keigov.errors import InputError
from keigov.fileio import write_atomic


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dbc",
        help="compile DBC files into firmware signal tables",
        description="Compile a vehicle's DBC with a signal map (TOML) into the table module the firmware loads.",
    )
    sub = parser.add_subparsers(dest="dbc_command", metavar="ACTION", required=True)
    comp = sub.add_parser(
        "compile",
        help="write the firmware table module for a signal map",
        description="Compile the DBC named by MAP.toml into a MicroPython table module.",
        epilog="example: keigov dbc compile --map dbc/maps/keigov.toml -o firmware/tables/keigov_bus.py",
    )
    comp.add_argument("--map", required=True, type=Path, help="signal map (TOML) naming the DBC")
    comp.add_argument("-o", "--output", required=True, type=Path, help="module to write (.py)")
    comp.set_defaults(func=_compile)


def _compile(args: argparse.Namespace) -> int:
    if not args.map.exists():
        raise InputError("no such file", where=str(args.map))
    source = compile_tables(args.map)
    write_atomic(args.output, source.encode())
    print(f"wrote {args.output} ({len(source.encode())} bytes)")
    return 0
