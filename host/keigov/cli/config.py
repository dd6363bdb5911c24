"""`keigov config`: build, inspect, push and pull signed device configurations."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from keigov.config import blob as cfgblob
from keigov.config.keys import load_key
from keigov.config.source import CKPH_PER_MPH, build_config
from keigov.fileio import write_atomic
from keigov.firmware_params import firmware_params
from keigov.link import protocol as P
from keigov.link.client import DeviceRefused, add_port_arguments, open_client
from keigov.link.messages import Info


def add_subparser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "config",
        help="build, show, push and pull signed device configurations",
        description="A device configuration is the operator's CONFIG.toml compiled into a blob signed with "
                    "the device's key; the device refuses anything else.",
    )
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)

    build = sub.add_parser("build", help="compile and sign CONFIG.toml",
                           description="Validate CONFIG.toml against the firmware's bounds and the key's "
                                       "provisioned cap bounds, compile it and sign it.",
                           epilog="example: keigov config build fleet/KG-0001.toml --key keys/KG-0001.key "
                                  "-o KG-0001.bin")
    build.add_argument("source", type=Path, metavar="CONFIG.toml")
    build.add_argument("--key", required=True, type=Path, help="the device's key file (keigov keys new)")
    build.add_argument("-o", "--output", required=True, type=Path, help="signed configuration to write")
    build.set_defaults(func=_build)

    show = sub.add_parser("show", help="print what a configuration blob holds",
                          description="Print a signed configuration; with --key also check its signature.")
    show.add_argument("blob", type=Path, metavar="CONFIG.bin")
    show.add_argument("--key", type=Path, help="check the signature with this key file")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=_show)

    push = sub.add_parser("push", help="install a configuration on a device",
                          description="Send CONFIG.bin in chunks, commit it, and reboot the device so it runs.")
    push.add_argument("blob", type=Path, metavar="CONFIG.bin")
    add_port_arguments(push)
    push.add_argument("--no-reboot", action="store_true", help="install only; it runs from the next boot")
    push.set_defaults(func=_push)

    pull = sub.add_parser("pull", help="read back the configuration a device has installed")
    add_port_arguments(pull)
    pull.add_argument("-o", "--output", type=Path, help="write the blob here (default: print it as with show)")
    pull.add_argument("--json", action="store_true", help="print JSON")
    pull.set_defaults(func=_pull)


def _build(args: argparse.Namespace) -> int:
    key = load_key(args.key)
    config = build_config(args.source, key)
    data = config.sign(key.key)
    write_atomic(args.output, data)
    print(f"wrote {args.output}: version {config.version} for {config.device_id}, {len(data)} bytes, "
          f"MAC {config.mac[:8].hex()}")
    return 0


def describe(data: bytes, where: str, key_path: Path | None) -> dict:
    config = cfgblob.parse(data, where)
    signature = None
    if key_path is not None:
        key = load_key(key_path)
        signature = key.device == config.device_id and cfgblob.verify(data, key.key)
    return {
        "device": config.device_id,
        "version": config.version,
        "bytes": len(data),
        "mac": config.mac[:8].hex(),
        "signature_valid": signature,
        "params": config.params,
        "tables": config.tables_source,
        "zones_bytes": None if config.zones is None else len(config.zones),
    }


def _print(summary: dict, where: str) -> None:
    print(f"{where}: configuration version {summary['version']} for {summary['device']}, "
          f"{summary['bytes']} bytes, MAC {summary['mac']}")
    sig = summary["signature_valid"]
    print("  signature: " + ("not checked (give --key)" if sig is None else "valid" if sig else "INVALID"))
    if summary["tables"]:
        print(f"  signal tables: {summary['tables']}")
    if summary["zones_bytes"] is not None:
        print(f"  zones: {summary['zones_bytes']} bytes")
    params = firmware_params()
    width = max([len(n) for n in summary["params"]] + [9])
    print(f"  {'parameter':<{width}}  {'value':>8}  (default)")
    for name, value in summary["params"].items():
        p = params.get(name)
        extra = f"  = {value / CKPH_PER_MPH:.1f} mph" if name.endswith("_ckph") else ""
        default = f"({p.default})" if p else "(not in this firmware)"
        print(f"  {name:<{width}}  {value:>8}  {default}{extra}")


def _show(args: argparse.Namespace) -> int:
    summary = describe(cfgblob.read_blob(args.blob), str(args.blob), args.key)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print(summary, str(args.blob))
    return 1 if summary["signature_valid"] is False else 0


def _push(args: argparse.Namespace) -> int:
    data = cfgblob.read_blob(args.blob)
    config = cfgblob.parse(data, str(args.blob))
    names = list(firmware_params())
    with open_client(args) as client:
        _check_target(client.info(), config, args.port)
        progress = _progress if sys.stderr.isatty() else None
        version, slot = client.config_push(data, param_names=names, progress=progress)
        print(f"{args.port}: installed configuration version {version} for {config.device_id} in slot "
              f"{'AB'[slot] if slot < 2 else slot}")
        if not args.no_reboot:
            client.reboot()
            print(f"{args.port}: rebooting to run it")
    return 0


def _check_target(info: Info, config: cfgblob.ConfigBlob, port: str) -> None:
    """Refuse before sending what the device would refuse only after the last chunk."""
    if info.device_id != config.device_id:
        raise DeviceRefused(f"this is device {info.device_id or '(not provisioned)'}; the configuration is for "
                            f"{config.device_id}", where=port, status=P.E_REJECTED)
    if config.version <= info.config_version:
        kind = "replay" if config.version == info.config_version else "rollback"
        raise DeviceRefused(f"the device has configuration version {info.config_version} installed; this is "
                            f"version {config.version} ({kind}): raise `version` in CONFIG.toml",
                            where=port, status=P.E_REJECTED)


def _progress(done: int, total: int) -> None:
    print(f"\r  {done}/{total} bytes ({100 * done // total} %)", end="" if done < total else "\n",
          file=sys.stderr, flush=True)


def _pull(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        data = client.config_pull()
    if args.output:
        write_atomic(args.output, data)
        print(f"wrote {args.output} ({len(data)} bytes)")
        return 0
    summary = describe(data, args.port, None)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print(summary, args.port)
    return 0
