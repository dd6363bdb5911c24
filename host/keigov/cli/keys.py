"""`keigov keys`: provision a per-device key."""

from __future__ import annotations

import argparse
from pathlib import Path

from keigov.config.keys import new_key, write_key
from keigov.config.source import CKPH_PER_MPH
from keigov.errors import InputError
from keigov.firmware_params import firmware_params


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keys",
        help="per-device keys that sign configurations",
        description="Make the key a device checks its configurations with.",
    )
    sub = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    new = sub.add_parser(
        "new",
        help="make a new key file for one device",
        description="Make a random 256-bit key for DEVICE, with the bounds its cap may ever be set to. "
                    "The key file is written 0600 and never overwritten; flashing stores it on the device.",
        epilog="example: keigov keys new --device KG-0001 --cap-max-mph 25 -o keys/KG-0001.key",
    )
    new.add_argument("--device", required=True, help="device id: 1-16 of A-Z a-z 0-9 . _ -")
    new.add_argument("-o", "--output", required=True, type=Path, help="key file to write")
    new.add_argument("--cap-min-mph", type=float, help="lowest cap a configuration may set (default: firmware bound)")
    new.add_argument("--cap-max-mph", type=float, help="highest cap a configuration may set (default: firmware bound)")
    new.set_defaults(func=_new)


def _new(args: argparse.Namespace) -> int:
    cap = firmware_params()["cap_ckph"]
    lo = cap.minimum if args.cap_min_mph is None else round(args.cap_min_mph * CKPH_PER_MPH)
    hi = cap.maximum if args.cap_max_mph is None else round(args.cap_max_mph * CKPH_PER_MPH)
    if not cap.minimum <= lo <= hi <= cap.maximum:
        raise InputError(f"cap bounds {lo / CKPH_PER_MPH:.1f} .. {hi / CKPH_PER_MPH:.1f} mph must lie within the "
                         f"firmware's {cap.minimum / CKPH_PER_MPH:.1f} .. {cap.maximum / CKPH_PER_MPH:.1f} mph",
                         where="--cap-min-mph/--cap-max-mph")
    keyfile = new_key(args.device, lo, hi)
    write_key(args.output, keyfile)
    print(f"wrote {args.output}: key for {keyfile.device}, cap {lo / CKPH_PER_MPH:.1f} .. {hi / CKPH_PER_MPH:.1f} mph")
    return 0
