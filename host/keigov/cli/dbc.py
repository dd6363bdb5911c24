"""`keigov dbc`: compile DBC files into firmware tables, and check DBCs and signal maps."""

from __future__ import annotations

import argparse
from pathlib import Path

from keigov.dbc.compile import compile_map, compile_messages, map_problems
from keigov.dbc.features import unsupported
from keigov.dbc.load import load_dbcs
from keigov.dbc.smap import map_path
from keigov.errors import InputError
from keigov.fileio import write_atomic


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dbc",
        help="compile DBC files into firmware tables; check DBCs and signal maps",
        description="Compile a vehicle's DBC files into the table module the firmware loads, and check them.",
    )
    sub = parser.add_subparsers(dest="dbc_command", metavar="ACTION", required=True)

    comp = sub.add_parser(
        "compile",
        help="write a table module (decode/encode, and the governor's tables with --map)",
        description="Compile DBC files into a MicroPython table module: the messages a signal map needs "
                    "(--map; the DBCs default to the map's), or chosen messages (--messages, --all).",
        epilog="examples:\n"
               "  keigov dbc compile --map dbc/maps/keigov.toml -o firmware/tables/keigov_bus.py\n"
               "  keigov dbc compile dbc/vehicles/ev_mcu.dbc --all -o /tmp/ev_mcu.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    comp.add_argument("dbc", nargs="*", type=Path, help="DBC files (default with --map: the map's dbc)")
    what = comp.add_mutually_exclusive_group(required=True)
    what.add_argument("--map", type=map_path,
                      help="signal map (TOML), or a bundled map's name (keigov, canedge_gps, ev_mcu, j1939_truck): "
                      "the governor's tables and their messages")
    what.add_argument("--messages", help="comma-separated message names")
    what.add_argument("--all", action="store_true", help="every message of the DBC files")
    comp.add_argument("--any-source-address", action="store_true",
                      help="without a map: J1939 messages match by PGN whatever their source address")
    comp.add_argument("-o", "--output", required=True, type=Path, help="module to write (.py)")
    comp.set_defaults(func=_compile)

    check = sub.add_parser(
        "check",
        help="list every DBC feature the compiler does not support",
        description="Report each unsupported feature with file:line. Exit 1 if any, 2 if a DBC is malformed.",
    )
    check.add_argument("dbc", nargs="+", type=Path, help="DBC files")
    check.set_defaults(func=_check)

    cmap = sub.add_parser(
        "check-map",
        help="validate a signal map against its DBC",
        description="Report every problem of a signal map (missing message or signal, unit that cannot be "
                    "converted, signal too narrow, ...) with the map's line. Exit 1 if any.",
    )
    cmap.add_argument("map", type=map_path, help="signal map (TOML), or a bundled map's name (e.g. j1939_truck)")
    cmap.add_argument("--dbc", action="append", type=Path, help="DBC file (repeatable; default: the map's)")
    cmap.set_defaults(func=_check_map)


def _compile(args: argparse.Namespace) -> int:
    for path in ([args.map] if args.map else []) + args.dbc:
        if not path.exists():
            raise InputError("no such file", where=str(path))
    if args.map:
        source = compile_map(args.map, args.dbc or None)
    else:
        if not args.dbc:
            raise InputError("--messages and --all need DBC files")
        names = None if args.all else [n.strip() for n in args.messages.split(",") if n.strip()]
        source = compile_messages(args.dbc, names, any_source=args.any_source_address)
    write_atomic(args.output, source.encode())
    print(f"wrote {args.output} ({len(source.encode())} bytes)")
    return 0


def _check(args: argparse.Namespace) -> int:
    loaded = load_dbcs(args.dbc, leave_out_unparsed=True)
    problems = unsupported(loaded)
    for p in problems:
        print(f"{p.where}: unsupported: {p.what}")
    if problems:
        print(f"{len(problems)} unsupported feature(s)")
        return 1
    n_signals = sum(len(m.signals) for m in loaded.db.messages)
    print(f"ok: {len(loaded.db.messages)} messages, {n_signals} signals, every feature supported")
    return 0


def _check_map(args: argparse.Namespace) -> int:
    smap, problems = map_problems(args.map, args.dbc)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {args.map}")
        return 1
    print(f"ok: {args.map}: {len(smap.inputs)} inputs, {len(smap.outputs)} outputs")
    return 0
