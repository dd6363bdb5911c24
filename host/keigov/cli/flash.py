"""`keigov flash`: put the firmware on a board, provision its key, check it answers."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from keigov.config.keys import load_key
from keigov.flashing import flash
from keigov.fwbuild import TARGETS, target

EPILOG = """\
steps: mpy-cross for the board's architecture; the old keigov files removed and the new
ones copied with mpremote; every file's SHA-256 compared on the device; the key's
provisioning record written to the board's flash (with --key); a reset; `info` over the
link must then answer with the new firmware version, this board and this device id.

boards:
""" + "\n".join(f"  {t.name:<14} {t.description}" for t in TARGETS.values()) + """

examples:
  keigov flash --port /dev/ttyACM0 --board pyboard --key keys/KG-0001.key
  keigov flash --port /dev/pts/3 --board sim                  # firmware only, keep the key
  keigov flash --port /dev/ttyACM0 --board rp2-mcp2515 --key k.key --production

exit status: 0 flashed and answering, 2 bad arguments or key file, 3 the board or a tool failed
"""


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "flash", help="compile, copy and verify the firmware on a board, provision its key",
        description="Flash the governor firmware onto a MicroPython board over its serial port.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", required=True, help="the board's serial port (as mpremote takes it)")
    parser.add_argument("--board", required=True, choices=sorted(TARGETS), help="board backend")
    parser.add_argument("--key", type=Path, help="provision this key file (keigov keys new)")
    parser.add_argument("--production", action="store_true",
                        help="provision for production: the REPL is off the link port for good (needs --key)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    key = load_key(args.key) if args.key else None
    with tempfile.TemporaryDirectory(prefix="keigov-flash-") as staging:
        result = flash(args.port, target(args.board), Path(staging), key=key, production=args.production,
                       say=lambda s: print(f"  {s}", flush=True))
    print(f"{args.port}: keigov {result.version} on {args.board}, device {result.device_id or '(not provisioned)'}: "
          f"{result.files} files, {result.bytes} bytes, {result.seconds:.1f} s")
    return 0
