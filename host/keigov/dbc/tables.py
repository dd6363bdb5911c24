"""Compile a DBC and a signal map into the firmware's table module.

The firmware decodes frames from flat tuples of integers (one entry per message and per
signal), never from per-signal code, and converts raw values to its own units with an
integer rational: unit = (raw * MUL + ADD) // DIV. This module builds those tuples with
cantools as the reference for every signal's layout.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cantools
from cantools.database.can import Database, Message, Signal

from keigov.dbc import roles
from keigov.errors import InputError

MAX_SIGNAL_BITS = 29           # keeps raw values small ints on 32-bit MicroPython ports
SMALL_INT = (1 << 30) - 1


@dataclass
class SignalEntry:
    start: int
    length: int
    flags: int
    raw_min: int
    raw_max: int
    role: int = -1
    mul: int = 1
    add: int = 0
    div: int = 1


@dataclass
class MessageEntry:
    frame_id: int
    name: str
    length: int
    kind: int
    period_ms: int
    timeout_ms: int
    counter: int = -1
    checksum: int = -1
    checksum_kind: int = 0
    signals: list[SignalEntry] = field(default_factory=list)


@dataclass
class SignalMap:
    path: Path
    dbc: Path
    inputs: dict[str, str]
    outputs: dict[str, list[str]]
    messages: dict[str, dict[str, str]]


def load_map(path: Path) -> SignalMap:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(str(exc), where=str(path)) from exc
    dbc = path.parent / data.get("dbc", "")
    outputs = {k: ([v] if isinstance(v, str) else list(v)) for k, v in data.get("outputs", {}).items()}
    return SignalMap(path, dbc, dict(data.get("inputs", {})), outputs, dict(data.get("messages", {})))


def load_dbc(path: Path) -> Database:
    try:
        db = cantools.database.load_file(str(path), strict=True)
    except (OSError, cantools.database.UnsupportedDatabaseFormatError) as exc:
        raise InputError(str(exc), where=str(path)) from exc
    assert isinstance(db, Database)
    return db


def _flags(sig: Signal) -> int:
    return (1 if sig.byte_order == "big_endian" else 0) | (2 if sig.is_signed else 0)


def _raw_bounds(sig: Signal) -> tuple[int, int]:
    """Raw range from the DBC's [min|max], or the full width when none is given."""
    lo = -(1 << (sig.length - 1)) if sig.is_signed else 0
    hi = (1 << (sig.length - 1)) - 1 if sig.is_signed else (1 << sig.length) - 1
    scale = Fraction(str(sig.scale))
    offset = Fraction(str(sig.offset))
    bounds = []
    for phys in (sig.minimum, sig.maximum):
        bounds.append(None if phys is None else (Fraction(str(phys)) - offset) / scale)
    if bounds[0] is not None and bounds[1] is not None:
        a, b = sorted(bounds)
        lo = max(lo, int(a) if a == int(a) else int(a) + (1 if a > 0 else 0))
        hi = min(hi, int(b) if b == int(b) or b > 0 else int(b) - 1)
    return lo, hi


def _motorola_bits(start: int, length: int) -> list[int]:
    """Bit positions of a Motorola signal, most significant first (DBC numbering)."""
    bits, pos = [], start
    for _ in range(length):
        bits.append(pos)
        pos = pos - 1 if pos % 8 else pos + 15
    return bits


def _split(sig: Signal) -> list[SignalEntry]:
    """A wide signal as a signed high half and an unsigned low half of 16 bits each."""
    if sig.length != 32:
        raise InputError(f"signal {sig.name} is {sig.length} bits wide; coordinates must be 32 bits")
    if sig.byte_order == "big_endian":
        bits = _motorola_bits(sig.start, 32)
        hi_start, lo_start = bits[0], bits[16]
    else:
        lo_start, hi_start = sig.start, sig.start + 16
    hi_flags = (1 if sig.byte_order == "big_endian" else 0) | (2 if sig.is_signed else 0)
    lo_flags = 1 if sig.byte_order == "big_endian" else 0
    return [
        SignalEntry(hi_start, 16, hi_flags, -(1 << 15) if sig.is_signed else 0,
                    (1 << 15) - 1 if sig.is_signed else (1 << 16) - 1),
        SignalEntry(lo_start, 16, lo_flags, 0, (1 << 16) - 1),
    ]


def _conversion(sig: Signal, role: roles.Role, where: str, *, encode: bool) -> tuple[int, int, int]:
    """(MUL, ADD, DIV) taking raw to firmware units (decode) or back (encode), rounding."""
    factor = roles.unit_factor(role.unit, sig.unit or "")
    if factor is None:
        raise InputError(f"{sig.name}: unit {sig.unit!r} cannot be converted to {role.unit}", where=where)
    scale = Fraction(str(sig.scale)) * factor
    offset = Fraction(str(sig.offset)) * factor
    if encode:
        mul_f, add_f = 1 / scale, -offset / scale
    else:
        mul_f, add_f = scale, offset
    div = math.lcm(mul_f.denominator, add_f.denominator)
    mul = int(mul_f * div)
    add = int(add_f * div) + div // 2
    return mul, add, div


def _check_small(entry: SignalEntry, name: str, where: str, value_range: tuple[int, int]) -> None:
    for v in value_range:
        if abs(v * entry.mul + entry.add) > SMALL_INT:
            raise InputError(f"{name}: conversion overflows 30-bit integers on the device", where=where)


def _message_entry(db: Database, smap: SignalMap, msg: Message, *, transmit: bool) -> MessageEntry:
    where = str(smap.path)
    spec = smap.messages.get(msg.name, {})
    period = msg.cycle_time or 0
    if period <= 0:
        raise InputError(f"message {msg.name} has no GenMsgCycleTime; the governor needs its rate", where=where)
    entry = MessageEntry(
        frame_id=msg.frame_id | (0x20000000 if msg.is_extended_frame else 0),
        name=msg.name,
        length=msg.length,
        kind=0,
        period_ms=period,
        timeout_ms=period * 5 // 2,
        checksum_kind=roles.CHECKSUM_KINDS.get(spec.get("checksum_kind", "none"), -1),
    )
    if entry.checksum_kind < 0:
        raise InputError(f"message {msg.name}: unknown checksum_kind {spec.get('checksum_kind')!r}; "
                         f"known: {', '.join(roles.CHECKSUM_KINDS)}", where=where)
    role_of: dict[str, str] = {}
    if transmit:
        for role_name, targets in smap.outputs.items():
            for target in targets:
                m, _, s = target.partition(".")
                if m == msg.name:
                    role_of[s] = role_name
    else:
        for role_name, target in smap.inputs.items():
            m, _, s = target.partition(".")
            if m == msg.name:
                role_of[s] = role_name
                entry.kind = entry.kind or roles.MSG_KIND_BY_ROLE.get(role_name, 0)
    for sig in msg.signals:
        if sig.is_float or sig.multiplexer_ids or sig.is_multiplexer:
            raise InputError(f"signal {msg.name}.{sig.name}: float and multiplexed signals are not "
                             "supported by this compiler yet", where=where)
        role_name = role_of.get(sig.name)
        role = (roles.OUTPUTS if transmit else roles.INPUTS).get(role_name or "")
        if role is not None and len(role.ids) == 2:
            parts = _split(sig)
            if Fraction(str(sig.scale)) * roles.unit_factor(role.unit, sig.unit or "") != 1 or sig.offset:
                raise InputError(f"{msg.name}.{sig.name}: coordinates must be scaled 1e-7 deg with no offset",
                                 where=where)
            for part, slot in zip(parts, role.ids):
                part.role = slot
                entry.signals.append(part)
            continue
        if sig.length > MAX_SIGNAL_BITS:
            raise InputError(f"signal {msg.name}.{sig.name} is {sig.length} bits; at most "
                             f"{MAX_SIGNAL_BITS} fit the device's small integers", where=where)
        lo, hi = _raw_bounds(sig)
        s = SignalEntry(sig.start, sig.length, _flags(sig), lo, hi)
        if role is not None:
            s.role = role.ids[0]
            s.mul, s.add, s.div = _conversion(sig, role, where, encode=transmit)
            _check_small(s, f"{msg.name}.{sig.name}", where, (lo, hi) if not transmit else (0, 0))
        index = len(entry.signals)
        if sig.name == spec.get("counter"):
            entry.counter = index
        if sig.name == spec.get("checksum"):
            if sig.length != 8 or (sig.start % 8 != (7 if sig.byte_order == "big_endian" else 0)):
                raise InputError(f"{msg.name}.{sig.name}: a checksum must be one whole byte", where=where)
            entry.checksum = index
        entry.signals.append(s)
    for key in ("counter", "checksum"):
        if key in spec and getattr(entry, key) < 0:
            raise InputError(f"message {msg.name}: {key} signal {spec[key]!r} is not in the DBC", where=where)
    return entry


def _messages_for(db: Database, smap: SignalMap, *, transmit: bool) -> list[MessageEntry]:
    targets = [t for ts in smap.outputs.values() for t in ts] if transmit else list(smap.inputs.values())
    names: list[str] = []
    for target in targets:
        m, _, s = target.partition(".")
        try:
            msg = db.get_message_by_name(m)
        except KeyError:
            raise InputError(f"message {m!r} is not in {smap.dbc.name}", where=str(smap.path)) from None
        if s not in {sig.name for sig in msg.signals}:
            raise InputError(f"signal {m}.{s} is not in {smap.dbc.name}", where=str(smap.path))
        if m not in names:
            names.append(m)
    known = roles.OUTPUTS if transmit else roles.INPUTS
    section = "outputs" if transmit else "inputs"
    for role_name in (smap.outputs if transmit else smap.inputs):
        if role_name not in known:
            raise InputError(f"[{section}] {role_name}: not a governor role; known: {', '.join(known)}",
                             where=str(smap.path))
    return [_message_entry(db, smap, db.get_message_by_name(n), transmit=transmit) for n in names]


def compile_tables(map_path: Path) -> str:
    """Python source of the firmware table module for the map (and the DBC it names)."""
    smap = load_map(map_path)
    db = load_dbc(smap.dbc)
    rx = _messages_for(db, smap, transmit=False)
    tx = _messages_for(db, smap, transmit=True)
    digest = hashlib.sha256(smap.dbc.read_bytes() + map_path.read_bytes()).hexdigest()[:16]
    lines = [
        f'"""Signal tables for {smap.dbc.name} with map {map_path.name}.',
        "",
        "Generated by `keigov dbc compile`; do not edit. Regenerate after changing either file.",
        '"""',
        "",
        f'SOURCE = "{smap.dbc.name} + {map_path.name} sha256:{digest}"',
        "",
    ]
    lines += _emit("RX", rx) + [""] + _emit("TX", tx)
    return "\n".join(lines) + "\n"


def _tuple(values: list[int]) -> str:
    return "(" + ", ".join(str(v) for v in values) + ("," if len(values) == 1 else "") + ")"


def _emit(prefix: str, messages: list[MessageEntry]) -> list[str]:
    out = [f"# {prefix}: " + ", ".join(f"{m.name} (0x{m.frame_id & 0x1FFFFFFF:X})" for m in messages)]
    sig_first, sig_end, signals = [], [], []
    for m in messages:
        sig_first.append(len(signals))
        signals.extend(m.signals)
        sig_end.append(len(signals))
    base = {id(m): sig_first[i] for i, m in enumerate(messages)}
    cols = {
        "ID": [m.frame_id for m in messages],
        "LEN": [m.length for m in messages],
        "KIND": [m.kind for m in messages],
        "PERIOD_MS": [m.period_ms for m in messages],
        "TIMEOUT_MS": [m.timeout_ms for m in messages],
        "COUNTER": [base[id(m)] + m.counter if m.counter >= 0 else -1 for m in messages],
        "CHECKSUM": [base[id(m)] + m.checksum if m.checksum >= 0 else -1 for m in messages],
        "CHECKSUM_KIND": [m.checksum_kind for m in messages],
        "SIG_FIRST": sig_first,
        "SIG_END": sig_end,
        "SIG_START": [s.start for s in signals],
        "SIG_LEN": [s.length for s in signals],
        "SIG_FLAGS": [s.flags for s in signals],
        "SIG_MIN": [s.raw_min for s in signals],
        "SIG_MAX": [s.raw_max for s in signals],
        "SIG_ROLE": [s.role for s in signals],
        "SIG_MUL": [s.mul for s in signals],
        "SIG_ADD": [s.add for s in signals],
        "SIG_DIV": [s.div for s in signals],
    }
    for name, values in cols.items():
        out.append(f"{prefix}_{name} = {_tuple(values)}")
    return out
