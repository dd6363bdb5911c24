"""`keigov scenarios`: the bundled HIL scenarios, by name, with what each proves."""

from __future__ import annotations

import argparse
import json

from keigov.errors import InputError
from keigov_hil.scenario import bundled_scenarios, load_scenario

EPILOG = """\
Each name runs with `keigov sim NAME --out DIR`; `keigov demo` runs them all.
Copy one (--path shows where it is) to start a scenario of your own: docs/scenarios.md.

examples:
  keigov scenarios
  keigov scenarios --json | jq -r '.[].name'
  keigov sim $(keigov scenarios --path full_throttle) --out runs/ft

exit status: 0 listed, 2 no bundled scenario of that name
"""


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scenarios", help="list the bundled HIL scenarios (run one with keigov sim NAME)",
        description="List the scenarios that come with keigov: name, simulated seconds, checks and what it shows.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="machine-readable: a JSON array")
    parser.add_argument("--path", metavar="NAME", help="print the file of one bundled scenario")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    files = bundled_scenarios()
    if args.path:
        match = [f for f in files if f.stem == args.path]
        if not match:
            raise InputError(f"no bundled scenario named {args.path!r} (bundled: {', '.join(f.stem for f in files)})")
        print(match[0])
        return 0
    rows = []
    for f in files:
        sc = load_scenario(f)
        rows.append({"name": f.stem, "duration_s": sc.duration_s, "checks": [c.kind for c in sc.checks],
                     "description": sc.description, "path": str(f)})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    width = max(len(f.stem) for f in files)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['duration_s']:>6.0f} s  {r['description']}")
    return 0
