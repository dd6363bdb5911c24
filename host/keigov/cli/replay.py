"""`keigov replay`: recorded drives through the firmware (open loop), checked drive by drive."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keigov.bus import add_bus_arguments
from keigov.dbc.smap import map_path
from keigov.errors import EnvironmentProblem, InputError, KeigovError
from keigov.report.junit import write_junit
from keigov.report.results import RunResult
from keigov.report.table import format_table
from keigov.simboard.runtimes import DEFAULT_RUNTIME, RUNTIMES, get_runtime

EPILOG = """\
LOG is a file (.asc .blf .csv .db .log .mf4 .trc, each also .gz but .db) or a directory
whose log files are one drive (a CANedge session); every LOG is one drive unless --merge.
outputs in DIR (in DIR/<drive>/ for several drives): timeline.csv, events.json, track.csv,
summary.json, report.png, map.png (with zones); and fleet.json, fleet.csv.
Rules file schema and the rest: docs/replay.md.

examples:
  keigov replay 00000002-60FE415D.MF4 --dbc canmod-gps.dbc --map dbc/maps/canedge_gps.toml --out runs/r
  keigov replay logs/*.log --map dbc/maps/keigov.toml --config fleet.toml --jobs 2 --out runs/fleet
  keigov replay drive.blf --map my.toml --gnss drive.gpx --zones campus.geojson --rules rules.toml --out runs/x
  keigov replay drive.log --map my.toml --realtime --interface socketcan --channel can0 --out runs/hil

exit status: 0 every check passed, 1 a check failed, 2 bad input (file, map, rules, a damaged
or truncated log: its frames before the damage are replayed), 3 environment problem
"""


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay", help="replay recorded drives through the firmware and check what it would have done",
        description="Play recorded CAN logs to the firmware in virtual time (open loop: the recorded vehicle "
        "does not react) and record what the governor commands, where it limits, locks out or faults.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("logs", nargs="+", type=Path, metavar="LOG", help="log file or directory of one drive")
    parser.add_argument("--dbc", action="append", type=Path, default=[], metavar="DBC",
                        help="the vehicle's DBC (repeatable; default: the map's)")
    parser.add_argument("--map", required=True, type=map_path, metavar="MAP.toml",
                        help="signal map (docs/signal-map.md), or a bundled map's name (e.g. canedge_gps)")
    parser.add_argument("--config", type=Path, metavar="CONFIG.toml",
                        help="the governor configuration to replay with (as for `keigov config build`)")
    parser.add_argument("--gnss", type=Path, metavar="TRACK", help="GNSS track (.gpx, .nmea) instead of the log's")
    parser.add_argument("--zones", type=Path, metavar="ZONES.geojson",
                        help="zones (docs/zones.md): installed on the device, drawn on map.png, checked")
    parser.add_argument("--assume-pedal", type=float, metavar="PCT",
                        help="driver demand where the map has no pedal (default 100)")
    parser.add_argument("--rules", type=Path, metavar="RULES.toml", help="checks to hold the drives to")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory for the outputs")
    parser.add_argument("--merge", action="store_true", help="all LOG files are one drive (merged in time order)")
    parser.add_argument("--log-channel", action="append", metavar="CH",
                        help="replay only frames of this logged channel (repeatable; default: all)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="drives replayed in parallel (processes)")
    parser.add_argument("--runtime", default=DEFAULT_RUNTIME, choices=sorted(set(RUNTIMES) - {"external"}),
                        help=f"how the firmware runs (default {DEFAULT_RUNTIME})")
    parser.add_argument("--realtime", action="store_true",
                        help="play onto a CAN bus at recorded timing for a real board; record its answers")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML (one suite per drive)")
    parser.add_argument("--no-plot", action="store_true", help="skip report.png (faster)")
    add_bus_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from keigov.replay import fleet
    from keigov.replay.drive import drives_from_arguments
    from keigov.replay.plan import plan_replay
    from keigov.replay.runner import RunOptions

    if args.jobs < 1:
        raise InputError(f"--jobs {args.jobs}: give at least 1")
    drives = drives_from_arguments(args.logs, args.merge)
    plan = plan_replay(map_path=args.map, dbcs=tuple(args.dbc), config=args.config, zones=args.zones,
                       rules=args.rules, gnss=args.gnss, assume_pedal=args.assume_pedal)
    for note in plan.vehicle.notes:
        print(f"note: {note}", file=sys.stderr)
    channels = frozenset(args.log_channel) if args.log_channel else None
    if args.realtime:
        from keigov.replay.realtime import play_realtime

        return play_realtime(drives, plan.vehicle, plan.rules, args, channels, plan.track)
    opts = RunOptions(get_runtime(args.runtime), plan.params, plan.zone_table, channels)
    out = args.out
    jobs = [fleet.Job(d, plan.spec, plan.rules, opts, plan.track, out if len(drives) == 1 else out / d.name,
                      not args.no_plot)
            for d in drives]
    results = fleet.run_jobs(jobs, args.jobs, progress=sys.stderr.isatty())
    color = sys.stdout.isatty()
    if len(drives) == 1 and results[0].error is not None:
        raise _error_of(results[0])
    print(format_table(results, color=color))
    print(fleet.format_fleet(results, color))
    out.mkdir(parents=True, exist_ok=True)
    fleet.write_fleet(results, out)
    fleet.print_errors(results)
    if args.junit:
        write_junit(results, args.junit, "keigov replay")
    return fleet.exit_status(results)


def _error_of(result: RunResult) -> KeigovError:
    assert result.error is not None, "a failed run's result"
    code = result.extra.get("exit_code", 2)
    return (EnvironmentProblem if code == 3 else KeigovError)(result.error)
