"""`keigov device`: ask a device over its serial link what it is, how it is, what it did."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from keigov.config import blob as cfgblob
from keigov.dbc.roles import FLAG_BITS
from keigov.firmware_params import CKPH_PER_KPH, CKPH_PER_MPH, event_names
from keigov.link import protocol as P
from keigov.link.client import DeviceClient, add_port_arguments, open_client
from keigov.link.eventlog import Origin, event_records, foreign_origins, has_position, zone_origin


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
            p.add_argument("--config", type=Path, metavar="CONFIG.bin",
                           help="convert positions with this built configuration's zones instead of "
                                "reading the installed one from the device")
        p.set_defaults(func=func)


def _table(rows: list[tuple[str, object]]) -> None:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


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
        ("running", f"version {info.running_version}" if info.running_version else P.boot_reason(info.boot_reason)),
    ])
    return 0


def _status(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        status = client.status()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    _table(status_rows(status))
    return 0


def _speed(ckph: int) -> str:
    """mph first: the cap is set in mph."""
    return f"{ckph / CKPH_PER_MPH:.1f} mph ({ckph / CKPH_PER_KPH:.1f} km/h)"


def status_rows(status: dict[str, int]) -> list[tuple[str, object]]:
    """The status in the units people read (JSON keeps the device's integers)."""
    flags = status.get("flags", 0)
    raised = [name.removeprefix("flag_") for bit, name in enumerate(FLAG_BITS) if flags >> bit & 1]
    rows: list[tuple[str, object]] = [
        ("state", status.get("state_name", "?")),
        ("speed", _speed(status.get("speed_ckph", 0))),
        ("limit", _speed(status.get("limit_ckph", 0))),
        ("zone", status.get("zone", 0) or "none"),
        ("flags", ", ".join(raised) or "none"),
        ("torque limit", f"{status.get('torque_pm', 0) / 10:.1f} %"),
        ("odometer", f"{status.get('odometer_m', 0) / 1000:.3f} km"),
        ("loop max", f"{status.get('loop_us_max', 0)} us"),
    ]
    shown = {"state", "state_name", "speed_ckph", "limit_ckph", "zone", "flags", "torque_pm", "odometer_m",
             "loop_us_max"}
    return rows + [(k, v) for k, v in status.items() if k not in shown]


def _events_origin(args: argparse.Namespace, client: DeviceClient) -> Origin | None:
    if args.config is not None:
        return zone_origin(cfgblob.read_blob(args.config), str(args.config))
    info = client.info()
    if info.config_slot is None:
        return None
    if info.running_version != info.config_version:
        print(f"note: {args.port} runs configuration version {info.running_version or '(defaults)'}; version "
              f"{info.config_version}, installed for the next boot, is the one read here", file=sys.stderr)
    return zone_origin(client.config_pull(), args.port)


def _events(args: argparse.Namespace) -> int:
    names = event_names()
    with open_client(args) as client:
        events = list(client.events(args.since))
        located = any(map(has_position, events))
        origin = _events_origin(args, client) if located else None
    records = event_records(events, names, origin)
    foreign = foreign_origins(events, origin)
    if origin is not None and foreign:
        print(f"note: events recorded under configuration version {' or '.join(map(str, foreign))} (mod 128) keep "
              f"their positions in decimetres: {args.config or args.port} has version {origin.version}, whose zones "
              "may have another origin; give the configuration they ran with as --config CONFIG.bin", file=sys.stderr)
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    if not events:
        print(f"{args.port}: no events")
        return 0
    print(f"{'seq':>6}  {'time_ms':>10}  {'event':<20}  {'value':>8}  position" + (" (lat, lon)" if origin else ""))
    for r in records:
        pos = r["position"]
        where = (f"{pos['lat']:.7f}, {pos['lon']:.7f}" if isinstance(pos, dict)
                 else "-" if r["x_dm"] is None else f"x {r['x_dm']} dm, y {r['y_dm']} dm")
        name = r["name"] if r["count"] == 1 else f"{r['name']} x{r['count']}"
        print(f"{r['seq']:>6}  {r['time_ms']:>10}  {name:<20}  {r['value']:>8}  {where}")
    if located and origin is None:
        print(f"positions: decimetres east (x) and north (y) of the zone origin; "
              f"{args.config or args.port} has no zones to give them in degrees")
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
