"""`keigov device`: ask a device over its serial link what it is, how it is, what it did."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from keigov.fwsource import consts
from keigov.link import protocol as P
from keigov.link.client import add_port_arguments, open_client

BOOT_REASONS = {0: "stored configuration", 1: "defaults: none stored"}


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "device",
        help="query a device over its serial link",
        description="Talk to a keigov device over USB serial, a UART, a pty or a network serial port.",
    )
    sub = parser.add_subparsers(dest="device_command", metavar="ACTION", required=True)
    for name, func, text in (
        ("info", _info, "firmware, board, device id, installed configuration"),
        ("status", _status, "live governor state, speed, limit, zone, faults, link counters"),
        ("events", _events, "the persisted event log"),
        ("clear-faults", _clear_faults, "ask the governor to clear latched faults"),
        ("reboot", _reboot, "restart the device"),
    ):
        p = sub.add_parser(name, help=text, description=f"Print {text}." if func in (_info, _status, _events)
                           else text[0].upper() + text[1:] + ".")
        add_port_arguments(p)
        if func in (_info, _status, _events):
            p.add_argument("--json", action="store_true", help="print JSON")
        if func is _events:
            p.add_argument("--since", type=int, default=0, help="first sequence number wanted")
        p.set_defaults(func=func)


def _table(rows: list[tuple[str, object]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def boot_reason(code: int) -> str:
    if code in BOOT_REASONS:
        return BOOT_REASONS[code]
    if code >= 0x100:
        return f"defaults: stored configuration refused ({P.reason_name(code - 0x100)})"
    return f"defaults (reason {code})"


def _info(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        info = client.info()
    if args.json:
        print(json.dumps(info.as_dict(), indent=2))
        return 0
    _table([
        ("device", info.device_id or "(not provisioned)"),
        ("firmware", info.firmware),
        ("board", info.board),
        ("protocol", f"{info.protocol} (payload up to {info.max_payload} bytes)"),
        ("cap bounds", f"{info.cap_min_ckph} .. {info.cap_max_ckph} ckph" if info.provisioned else "-"),
        ("configuration", f"version {info.config_version}, {info.config_length} bytes, slot "
                          f"{'AB'[info.config_slot]}, MAC {info.config_hash}" if info.config_slot is not None
                          else "none installed"),
        ("running", f"version {info.running_version}" if info.running_version else boot_reason(info.boot_reason)),
    ])
    return 0


def _status(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        status = client.status()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    _table([(k, v) for k, v in status.items() if k != "state_name"] + [("state_name", status["state_name"])])
    return 0


def event_names() -> dict[int, str]:
    return {v: k.lower() for k, v in consts("core/events.py").items()}


def _events(args: argparse.Namespace) -> int:
    names = event_names()
    with open_client(args) as client:
        events = list(client.events(args.since))
    if args.json:
        print(json.dumps([asdict(e) | {"name": names.get(e.code, f"code_{e.code}")} for e in events], indent=2))
        return 0
    if not events:
        print(f"{args.port}: no events")
        return 0
    print(f"{'seq':>6}  {'time_ms':>10}  {'event':<20}  {'value':>8}  position")
    for e in events:
        where = f"{e.x}, {e.y}" if e.flags & 1 else "-"
        print(f"{e.seq:>6}  {e.time_ms:>10}  {names.get(e.code, f'code_{e.code}'):<20}  {e.value:>8}  {where}")
    return 0


def _clear_faults(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        client.clear_faults()
    print(f"{args.port}: faults cleared")
    return 0


def _reboot(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        client.reboot()
    print(f"{args.port}: rebooting")
    return 0
