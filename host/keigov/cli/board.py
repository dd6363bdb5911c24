"""`keigov board`: a virtual dev board (firmware on MicroPython behind a pty, CAN on python-can)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from keigov.bus import add_bus_arguments, bus_choice
from keigov_hil.vboard import VirtualBoard

EPILOG = """\
The board prints its serial port and runs until interrupted. Everything that works on a
USB dev board works on the port: mpremote, keigov flash, keigov device, keigov config.
Its filesystem is DIR/fs (main.py and the firmware; the firmware's sources when new),
its flash DIR/flash.img (provisioning, configurations, events), the MCU's stderr
DIR/board.log. See docs/dev-board.md.

python-can's virtual interface only reaches buses in the same process: to run HIL
scenarios against a board started here, give both an interface that crosses processes,
e.g. a vcan:
  keigov board --dir runs/board -i socketcan -c vcan0
  keigov flash --port /dev/pts/3 --board sim --key KG-0001.key
  keigov config push KG-0001.bin --port /dev/pts/3
  keigov sim hil/scenarios/full_throttle.toml --out runs/ft --runtime external --realtime -i socketcan -c vcan0

exit status: 0 stopped with Ctrl-C, 3 environment problem (no MicroPython, bus unavailable)
"""


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "board", help="run a virtual dev board: the firmware on MicroPython behind a pty, CAN on a bus",
        description="Start a virtual dev board and print its serial port.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, metavar="DIR",
                        help="the board's state: filesystem, flash, log (default: a new temporary directory)")
    parser.add_argument("--blank", action="store_true",
                        help="a new board comes with an empty filesystem (flash it with keigov flash)")
    add_bus_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    root = args.dir or Path(tempfile.mkdtemp(prefix="keigov-board-"))
    interface, channel, options = bus_choice(args)
    board = VirtualBoard(root, interface=interface, channel=channel, bus_options=options,
                         factory_firmware=not args.blank)
    with board:
        print(f"serial port: {board.port}", flush=True)
        print(f"CAN: {board.interface} {board.channel}")
        print(f"state: {board.root} (filesystem fs/, flash flash.img, log board.log)")
        print("Ctrl-C stops the board", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print()
    return 0
