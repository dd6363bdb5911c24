"""The signed configuration blob (the device's side: firmware/core/cfgblob.py).

  0 "KGCF" | 4 format 1 | 5 0 | 6 section count u16 | 8 version u32 | 12 body length u32 |
  16 device id (16 bytes, NUL-padded) | 32 sections | HMAC-SHA256 of all before it (32)
  section: type u8 | 0 0 0 | length u32 | data.  PARAMS: (name length u8, name, value i32)*
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass, field
from pathlib import Path

from keigov.errors import InputError

MAGIC = b"KGCF"
FORMAT = 1
HEADER = 32
MAC_SIZE = 32
DEVICE_ID_SIZE = 16
VERSION_MAX = (1 << 30) - 1

SEC_PARAMS = 1
SEC_TABLES = 2
SEC_ZONES = 3
SECTION_NAMES = {SEC_PARAMS: "params", SEC_TABLES: "tables", SEC_ZONES: "zones"}


@dataclass
class ConfigBlob:
    device_id: str
    version: int
    params: dict[str, int] = field(default_factory=dict)
    tables_source: str | None = None
    zones: bytes | None = None
    mac: bytes = b""

    def signed_part(self) -> bytes:
        sections = []
        if self.params:
            entries = b"".join(bytes([len(n)]) + n.encode("ascii") + struct.pack("<i", v)
                               for n, v in self.params.items())
            sections.append((SEC_PARAMS, entries))
        if self.tables_source is not None:
            sections.append((SEC_TABLES, self.tables_source.encode("ascii")))
        if self.zones is not None:
            sections.append((SEC_ZONES, self.zones))
        body = b"".join(struct.pack("<B3xI", kind, len(data)) + data for kind, data in sections)
        header = struct.pack("<4sBBHII16s", MAGIC, FORMAT, 0, len(sections), self.version, len(body),
                             self.device_id.encode("ascii"))
        return header + body

    def sign(self, key: bytes) -> bytes:
        signed = self.signed_part()
        self.mac = mac_of(key, signed)
        return signed + self.mac


def mac_of(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def verify(data: bytes, key: bytes) -> bool:
    return len(data) >= HEADER + MAC_SIZE and hmac.compare_digest(mac_of(key, data[:-MAC_SIZE]), data[-MAC_SIZE:])


def read_blob(path: Path) -> bytes:
    """A blob file's bytes (unchecked: `parse` them); InputError naming the file."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), where=str(path)) from exc


def parse(data: bytes, where: str) -> ConfigBlob:
    """Read a blob back; InputError naming `where` if it is not a well-formed one."""
    if len(data) < HEADER + MAC_SIZE:
        raise InputError(f"{len(data)} bytes is too short for a configuration", where=where)
    magic, fmt, _zero, count, version, body_len, dev = struct.unpack_from("<4sBBHII16s", data)
    if magic != MAGIC:
        raise InputError("not a keigov configuration (bad magic)", where=where)
    if fmt != FORMAT:
        raise InputError(f"configuration format {fmt}; this keigov reads {FORMAT}", where=where)
    if HEADER + body_len + MAC_SIZE != len(data):
        raise InputError(f"header says {body_len} bytes of sections but the file holds "
                         f"{len(data) - HEADER - MAC_SIZE}", where=where)
    blob = ConfigBlob(dev.rstrip(b"\0").decode("ascii", "replace"), version, mac=data[-MAC_SIZE:])
    at, end, seen = HEADER, HEADER + body_len, 0
    while at < end:
        if at + 8 > end:
            raise InputError(f"section header at byte {at} runs past the sections", where=where)
        kind, n = struct.unpack_from("<B3xI", data, at)
        at += 8
        if at + n > end:
            raise InputError(f"section {kind} at byte {at - 8} runs past the sections", where=where)
        chunk = data[at : at + n]
        if kind == SEC_PARAMS:
            blob.params = _params(chunk, where)
        elif kind == SEC_TABLES:
            blob.tables_source = chunk.decode("ascii", "replace")
        elif kind == SEC_ZONES:
            blob.zones = chunk
        else:
            raise InputError(f"unknown section type {kind} at byte {at - 8}", where=where)
        at += n
        seen += 1
    if seen != count:
        raise InputError(f"header says {count} sections, found {seen}", where=where)
    return blob


def _params(chunk: bytes, where: str) -> dict[str, int]:
    out: dict[str, int] = {}
    i = 0
    while i < len(chunk):
        n = chunk[i]
        if n == 0 or i + 1 + n + 4 > len(chunk):
            raise InputError(f"parameter entry at byte {i} of the params section is malformed", where=where)
        name = chunk[i + 1 : i + 1 + n].decode("ascii", "replace")
        out[name] = struct.unpack_from("<i", chunk, i + 1 + n)[0]
        i += 1 + n + 4
    return out
