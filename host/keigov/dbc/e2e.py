"""Host-side end-to-end protection of frames: rolling counters and checksums.

The oracle for the firmware's checks: frames are encoded by cantools from the DBC and
protected here with reference implementations of every checksum algorithm in the
registry (keigov.dbc.checksums): CRCs from per-byte tables computed with the bitwise
definition, not the firmware's table construction.
Which signals are the counter and checksum, and which scheme, comes from the signal map.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from cantools.database.can import Database, Message

from keigov.dbc.checksums import BUILTIN, Scheme, custom_scheme
from keigov.dbc.load import load_dbcs
from keigov.dbc.smap import load_map


def _crc8_bitwise(byte: int, poly: int) -> int:
    """The polynomial applied bit by bit to one byte, most significant bit first: the definition."""
    crc = byte
    for _ in range(8):
        crc = ((crc << 1) ^ poly) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


@functools.cache
def _crc8_table(poly: int) -> bytes:
    """Per-byte results of the bitwise definition (the rig packs thousands of frames a second)."""
    return bytes(_crc8_bitwise(b, poly) for b in range(256))


def crc8(data: bytes, poly: int, init: int) -> int:
    """CRC-8 over `data`, most significant bit first; no final xor."""
    table = _crc8_table(poly)
    crc = init
    for byte in data:
        crc = table[crc ^ byte]
    return crc


def checksum(scheme: Scheme, frame_id: int, data: bytes, skip: int) -> int:
    """Checksum of `data` without byte `skip` (29-bit or 11-bit `frame_id`, no flag bits)."""
    body = bytes(data[:skip] + data[skip + 1:]) if 0 <= skip < len(data) else bytes(data)
    if scheme.algorithm == "crc8":
        prefix = bytes([frame_id & 0xFF]) if scheme.data_id == "id_low_byte" else b""
        return crc8(prefix + body, scheme.poly, scheme.init) ^ scheme.xorout
    if scheme.algorithm == "xor":
        value = scheme.init
        for b in body:
            value ^= b
        return value ^ scheme.xorout
    if scheme.algorithm == "sum8":
        return ((scheme.init + sum(body)) & 0xFF) ^ scheme.xorout
    if scheme.algorithm == "j1939":
        total = sum(body) + (data[skip] & 0x0F) + sum((frame_id >> (8 * k)) & 0xFF for k in range(4))
        return ((total >> 4) + total) & 0x0F
    raise ValueError(f"no checksum algorithm {scheme.algorithm!r}")


def checksum_function(scheme: Scheme, frame_id: int, skip: int, length: int | None = None) -> Callable[[bytes], int]:
    """`checksum(scheme, frame_id, data, skip)` as a function of `data` alone, with what
    does not depend on the data worked out once: the CRC's table and the id byte's step
    (the rig checks and protects a few hundred frames a second of each message).

    With `length`, a CRC over payloads of that length is one expression: a CRC without
    its initial value is linear in the bytes (the register after a byte is the table of
    the register xor the byte, and the table is linear), so the result is a constant xor
    one table lookup per byte, each byte's table being the CRC table carried through the
    steps that follow it. That is a third of the byte loop's cost. Other lengths take the loop.
    """
    if scheme.algorithm != "crc8":
        return lambda data: checksum(scheme, frame_id, data, skip)
    table = _crc8_table(scheme.poly)
    start = table[scheme.init ^ (frame_id & 0xFF)] if scheme.data_id == "id_low_byte" else scheme.init
    xorout = scheme.xorout

    def crc(data: bytes) -> int:
        value = start
        for byte in data[:skip] + data[skip + 1:] if 0 <= skip < len(data) else data:
            value = table[value ^ byte]
        return value ^ xorout

    if length is None:
        return crc
    covered = [i for i in range(length) if i != skip]
    constant = start
    for _ in covered:                      # the initial value through every step, with zero bytes
        constant = table[constant]
    steps = [table]                        # steps[k]: a byte's effect with k bytes after it
    for _ in covered[1:]:
        steps.append(bytes(table[v] for v in steps[-1]))
    ns: dict[str, object] = {"_loop": crc, **{f"_t{i}": steps[len(covered) - 1 - k] for k, i in enumerate(covered)}}
    terms = "".join(f" ^ _t{i}[d[{i}]]" for i in covered)
    exec(f"def crc(d):\n    if len(d) != {length}:\n        return _loop(d)\n"
         f"    return {constant ^ xorout}{terms}\n", ns)
    return ns["crc"]  # type: ignore[return-value]


def crc8_j1850(frame_id: int, data: bytes, skip: int) -> int:
    """CRC-8 SAE J1850 (init and final xor 0xFF) over the id's low byte then every data byte but `skip`."""
    table = _crc8_table(0x1D)
    crc = table[0xFF ^ (frame_id & 0xFF)]
    for i, byte in enumerate(data):
        if i != skip:
            crc = table[crc ^ byte]
    return crc ^ 0xFF


@dataclass(frozen=True)
class Plan:
    """What packing a message needs, looked up once: its counter and checksum signals."""

    msg: Message
    counter: str | None
    counter_width: int
    checksum: str | None
    checksum_byte: int
    checksum_width: int
    scheme: Scheme | None


class FramePacker:
    """Encodes messages by name with counters advancing and checksums filled in."""

    def __init__(self, db: Database, protection: dict[str, dict], schemes: dict[str, Scheme] | None = None) -> None:
        self.db = db
        self.protection = protection
        self.schemes = dict(BUILTIN) | (schemes or {})
        self.counters: dict[str, int] = {}
        self._plans: dict[str, Plan] = {}

    @classmethod
    def from_map(cls, map_path: Path) -> Self:
        smap = load_map(map_path)
        custom = {name: custom_scheme(name, spec) for name, spec in smap.checksums.items()}
        return cls(load_dbcs(smap.dbcs).db, smap.messages, custom)

    def message(self, name: str) -> Message:
        return self.db.get_message_by_name(name)

    def pack(self, name: str, values: dict[str, float], *, counter: int | None = None,
             corrupt_checksum: bool = False, source_address: int | None = None) -> tuple[int, bytes]:
        """(frame id, payload). `counter` overrides the rolling counter for one frame;
        `source_address` sends a J1939 message from another address than the DBC's."""
        plan = self.plan(name)
        msg = plan.msg
        frame_id = msg.frame_id if source_address is None else (msg.frame_id & ~0xFF) | source_address
        full = dict(values)
        if plan.counter:
            full[plan.counter] = self._count(name, counter) % (1 << plan.counter_width)
        if plan.checksum:
            full[plan.checksum] = 0
        data = self.encode(msg, full)
        if plan.checksum and plan.scheme:   # plan() gives a checksum signal its scheme
            value = checksum(plan.scheme, frame_id, data, plan.checksum_byte)
            if corrupt_checksum:
                value ^= 0x5A & ((1 << plan.checksum_width) - 1)
            data = self.replace_signal(msg, full, plan.checksum, value, data)
        return frame_id, data

    def _count(self, name: str, counter: int | None) -> int:
        """The frame's rolling counter: `counter` when given, else the next one (kept)."""
        if counter is None:
            counter = self.counters.get(name, -1) + 1
            self.counters[name] = counter
        return counter

    def plan(self, name: str) -> Plan:
        """What pack() needs of a message (and a receiver, to check its checksum)."""
        plan = self._plans.get(name)
        if plan is not None:
            return plan
        msg = self.message(name)
        spec = self.protection.get(name, {})
        counter = spec.get("counter")
        cs = spec.get("checksum")
        cs_sig = msg.get_signal_by_name(cs) if cs else None
        plan = Plan(msg, counter, msg.get_signal_by_name(counter).length if counter else 0, cs,
                     cs_sig.start // 8 if cs_sig else 0, cs_sig.length if cs_sig else 0,
                     self.schemes[spec.get("checksum_kind", "crc8_j1850_id")] if cs else None)
        self._plans[name] = plan
        return plan

    def encode(self, msg: Message, values: dict[str, float]) -> bytes:
        """cantools' strict encode: the oracle (keigov.dbc.packer.TablePacker compiles it)."""
        return msg.encode(values, scaling=True, strict=True)

    def replace_signal(self, msg: Message, values: dict[str, float], name: str, value: float, data: bytes) -> bytes:
        """`data` encoded from `values` again with signal `name` set to `value`."""
        values[name] = value
        return self.encode(msg, values)
