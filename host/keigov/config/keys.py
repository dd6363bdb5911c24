"""Per-device keys: the key file the operator keeps, and the provisioning record the
device stores (firmware/core/persist.py, Provision) when it is flashed.

Key file (JSON, written 0600): {"format": "keigov-key/1", "device": ID, "key": 64 hex
digits, "cap_min_ckph": N, "cap_max_ckph": N}. The cap bounds are fixed at provisioning:
no configuration signed later can set a cap outside them.
"""

from __future__ import annotations

import binascii
import json
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from keigov.errors import InputError
from keigov.fileio import write_atomic

FORMAT = "keigov-key/1"
KEY_SIZE = 32
PROV_MAGIC = b"KGPV"
PROV_SIZE = 66
PROV_PRODUCTION = 1  # flags bit 0 (firmware/core/persist.py)
DEVICE_ID = re.compile(r"^[A-Za-z0-9._-]{1,16}$")


@dataclass(frozen=True)
class KeyFile:
    device: str
    key: bytes
    cap_min_ckph: int
    cap_max_ckph: int

    def to_json(self) -> bytes:
        return (json.dumps({
            "format": FORMAT,
            "device": self.device,
            "key": self.key.hex(),
            "cap_min_ckph": self.cap_min_ckph,
            "cap_max_ckph": self.cap_max_ckph,
        }, indent=2) + "\n").encode()

    def provision_record(self, *, production: bool = False) -> bytes:
        """The 66-byte record the device reads from the first block of its storage;
        `production` sets the flag that takes the REPL off the link port."""
        head = struct.pack("<4sBB2x16s32sII", PROV_MAGIC, 1, PROV_PRODUCTION if production else 0,
                           self.device.encode("ascii"), self.key, self.cap_min_ckph, self.cap_max_ckph)
        return head + struct.pack("<H", binascii.crc_hqx(head, 0xFFFF))


def check_device_id(device: str, where: str) -> str:
    if not DEVICE_ID.match(device):
        raise InputError(f"device id {device!r} must be 1-16 characters of A-Z a-z 0-9 . _ -", where=where)
    return device


def new_key(device: str, cap_min_ckph: int, cap_max_ckph: int) -> KeyFile:
    check_device_id(device, "--device")
    if not 0 <= cap_min_ckph <= cap_max_ckph < (1 << 30):
        raise InputError(f"cap bounds {cap_min_ckph}..{cap_max_ckph} ckph are not an interval")
    return KeyFile(device, secrets.token_bytes(KEY_SIZE), cap_min_ckph, cap_max_ckph)


def load_key(path: Path) -> KeyFile:
    where = str(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), where=where) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"not a key file: {exc}", where=where) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"not a key file (format must be {FORMAT!r})", where=where)
    device = data.get("device")
    if not isinstance(device, str):
        raise InputError("'device' must be a string", where=where)
    check_device_id(device, where)
    try:
        key = bytes.fromhex(data.get("key", ""))
    except (TypeError, ValueError):
        key = b""
    if len(key) != KEY_SIZE:
        raise InputError(f"'key' must be {2 * KEY_SIZE} hex digits", where=where)
    bounds = []
    for name in ("cap_min_ckph", "cap_max_ckph"):
        v = data.get(name)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < (1 << 30):
            raise InputError(f"'{name}' must be an integer 0 .. 2**30-1", where=where)
        bounds.append(v)
    if bounds[0] > bounds[1]:
        raise InputError("'cap_min_ckph' is above 'cap_max_ckph'", where=where)
    return KeyFile(device, key, bounds[0], bounds[1])


def write_key(path: Path, keyfile: KeyFile) -> None:
    """Write a key file readable by its owner only; never overwrite an existing one."""
    if path.exists():
        raise InputError("exists; a key is never overwritten (the device holds the old one)", where=str(path))
    write_atomic(path, keyfile.to_json(), private=True)
