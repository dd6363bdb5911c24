"""`keigov demo`: every bundled scenario on the default runtime, one table of checks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from keigov.cli.sim import add_runtime_arguments, rig_options
from keigov.report.junit import write_junit
from keigov.report.results import RunResult
from keigov.report.table import format_runs, format_table
from keigov_hil.scenario import bundled_scenarios
from keigov_hil.session import run_scenario


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the bundled scenarios on MicroPython and print the checks",
        description="Run every scenario in hil/scenarios/ against the firmware (MicroPython by default) on a "
        "virtual CAN bus; each run's timeline, events, summary and plot go to OUT/<scenario>/.",
        epilog="exit status: 0 all checks passed, 1 a check failed, 2 bad input, 3 environment problem",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/demo"), metavar="DIR",
                        help="output directory (default: runs/demo)")
    parser.add_argument("--only", metavar="NAME", action="append",
                        help="run only this scenario (repeatable); default: all bundled scenarios")
    add_runtime_arguments(parser)
    parser.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    scenarios = bundled_scenarios()
    if args.only:
        wanted = set(args.only)
        scenarios = [s for s in scenarios if s.stem in wanted]
        if missing := wanted - {s.stem for s in scenarios}:
            from keigov.errors import InputError

            raise InputError(f"no bundled scenario named {', '.join(sorted(missing))}")
    opts = rig_options(args, progress=False)
    results: list[RunResult] = []
    for n, path in enumerate(scenarios, 1):
        print(f"[{n}/{len(scenarios)}] {path.stem} ...", end="", file=sys.stderr, flush=True)
        result = run_scenario(path, args.out / path.stem, opts, plot=not args.no_plot)
        print(f" {'pass' if result.passed else 'FAIL'} ({result.wall_seconds:.1f} s)", file=sys.stderr)
        results.append(result)
    color = sys.stdout.isatty()
    print()
    print(format_table(results, color=color))
    print()
    print(format_runs(results, color=color))
    print(f"\nplots and timelines: {args.out}/<scenario>/report.png, timeline.csv, summary.json "
          "(map.png for scenarios with zones)")
    if args.junit:
        write_junit(results, args.junit)
    return 0 if all(r.passed for r in results) else 1
