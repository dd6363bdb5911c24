"""`keigov sim`: run one HIL scenario against the firmware on a CAN bus."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keigov.bus import add_bus_arguments, bus_choice
from keigov.report.junit import write_junit
from keigov.report.table import format_runs, format_table
from keigov.simboard.runtimes import DEFAULT_RUNTIME, RUNTIMES, get_runtime
from keigov_hil.rig import RigOptions
from keigov_hil.scenario import find_scenario
from keigov_hil.session import run_scenario

EPILOG = """\
outputs in DIR: timeline.csv (one row per 10 ms period), events.json, summary.json
(runtime, sim_seconds, wall_seconds, every check with value, threshold, verdict) and
report.png. Scenario schema: docs/scenarios.md; bundled scenarios: `keigov scenarios`.

examples:
  keigov sim full_throttle --out runs/ft                 # a bundled scenario by name
  keigov sim hil/scenarios/full_throttle.toml --out runs/ft
  keigov sim my.toml --out runs/x --runtime cpython --junit runs/x/junit.xml
  keigov sim my.toml --out runs/x --interface socketcan --channel vcan0 --realtime

exit status: 0 every check passed, 1 a check failed, 2 bad scenario or arguments,
3 environment problem (no MicroPython runtime, bus unavailable, device crashed)
"""


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runtime", default=DEFAULT_RUNTIME, choices=sorted(RUNTIMES),
                        help=f"how the firmware runs (default {DEFAULT_RUNTIME}): "
                        + "; ".join(f"{r.name}: {r.description}" for r in RUNTIMES.values()))
    parser.add_argument("--realtime", action="store_true",
                        help="keep wall-clock pace, the device on its own clock (default: lock-step virtual time)")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="also write JUnit XML for CI")
    parser.add_argument("--no-plot", action="store_true", help="skip report.png (faster)")
    add_bus_arguments(parser)


def rig_options(args: argparse.Namespace, progress: bool) -> RigOptions:
    interface, channel, options = bus_choice(args)
    return RigOptions(runtime=get_runtime(args.runtime), interface=interface, channel=channel, bus_options=options,
                      realtime=args.realtime, progress=progress)


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sim", help="run one HIL scenario (firmware on MicroPython, vehicle on a CAN bus)",
        description="Run a scenario file: the simulated vehicle, driver and GNSS around the real firmware on a "
        "python-can bus, then measure its checks.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", help="scenario file (TOML), or a bundled scenario's name (keigov scenarios)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory for the run's outputs")
    add_runtime_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    opts = rig_options(args, progress=sys.stderr.isatty())
    result = run_scenario(find_scenario(args.scenario), args.out, opts, plot=not args.no_plot)
    color = sys.stdout.isatty()
    print(format_table([result], color=color))
    print(format_runs([result]))
    if args.junit:
        write_junit([result], args.junit)
    return 0 if result.passed else 1
