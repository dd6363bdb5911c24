"""The `keigov` command: one module per subcommand, one error boundary.

Each module in this package defines `add_subparser(subparsers)`, which registers its
parser and sets `func` (taking the parsed arguments, returning the exit status). A
module whose optional dependency is missing fails alone: the other commands still run.

Exit statuses: 0 success, 1 a check failed, 2 bad input (file, key, value, argument),
3 the environment lacks something (e.g. the MicroPython runtime), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback

from keigov import __version__
from keigov.errors import KeigovError

EPILOG = """\
exit status: 0 success, 1 a check failed, 2 bad input, 3 environment problem
(e.g. no MicroPython runtime). Add --debug before the command for tracebacks.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keigov",
        description="Speed governor toolkit: HIL simulation on MicroPython, DBC and zone compilers, device tools.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"keigov {__version__}")
    parser.add_argument("--debug", action="store_true", help="print tracebacks on errors")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{__name__}.{info.name}")
        except ImportError as exc:
            sub = subparsers.add_parser(info.name, help=f"(unavailable: {exc})")
            sub.set_defaults(func=_unavailable(info.name, exc))
            continue
        module.add_subparser(subparsers)
    return parser


def _unavailable(name: str, exc: ImportError):
    def fail(_args: argparse.Namespace) -> int:
        raise KeigovError(f"'keigov {name}' needs a package that is not installed: {exc}")

    return fail


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
    except KeigovError as exc:       # the package's own data unreadable: nothing can run
        return _failed(exc, debug="--debug" in (sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeigovError as exc:
        return _failed(exc, args.debug)
    except KeyboardInterrupt:
        print("keigov: interrupted", file=sys.stderr)
        return 130


def _failed(exc: KeigovError, debug: bool) -> int:
    if debug:
        traceback.print_exc()
    print(f"keigov: error: {exc}", file=sys.stderr)
    return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
