"""Compile a signal map into the governor's fast-path tables (RX_* and TX_* tuples).

The firmware decodes its inputs from flat tuples of integers (one entry per message and
per signal), never from per-signal code, and converts raw values to its own units with
an integer rational: unit = (raw * MUL + ADD) // DIV (and back for outputs). Everything
that can be wrong with a map is collected as a Problem with the map's line, so that
`keigov dbc check-map` lists them all and `keigov dbc compile` refuses the map whole.

What the fast path takes: integer signals of at most 29 bits (small ints on 32-bit
ports; 32-bit coordinates are split into two 16-bit halves), not multiplexed. A received
message is range-checked on the signals the map uses (roles, counter, checksum) by
default; `range_check = "all"` checks every signal it can. A transmitted message carries
every signal: roles from the governor, constants from the map, the rest at the value
nearest zero within its DBC range.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from fractions import Fraction

from cantools.database.can import Message, Signal

from keigov.dbc import checksums, roles
from keigov.dbc.features import Problem
from keigov.dbc.load import LoadedDbc
from keigov.dbc.physical import MATCH_EXACT, MATCH_PGN, firmware_id
from keigov.dbc.smap import Binding, SignalMap, load_map  # noqa: F401  (load_map: see the end)

MAX_SIGNAL_BITS = 29           # keeps raw values small ints on 32-bit MicroPython ports
SMALL_INT = (1 << 30) - 1
MAX_COUNTER_BITS = 8           # the receiver keeps counters in a bytearray


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
    match: int = MATCH_EXACT
    counter: int = -1
    checksum: int = -1
    checksum_kind: int = 0
    signals: list[SignalEntry] = field(default_factory=list)


@dataclass
class FastTables:
    rx: list[MessageEntry]
    tx: list[MessageEntry]
    schemes: list[checksums.Scheme]
    problems: list[Problem]


def _flags(sig: Signal) -> int:
    return (1 if sig.byte_order == "big_endian" else 0) | (2 if sig.is_signed else 0)


def raw_bounds(sig: Signal) -> tuple[int, int]:
    """Raw range from the DBC's [min|max] within the signal's width."""
    lo = -(1 << (sig.length - 1)) if sig.is_signed else 0
    hi = (1 << (sig.length - 1)) - 1 if sig.is_signed else (1 << sig.length) - 1
    scale = Fraction(str(sig.scale))
    offset = Fraction(str(sig.offset))
    if sig.minimum is not None and sig.maximum is not None:
        a, b = sorted((Fraction(str(phys)) - offset) / scale for phys in (sig.minimum, sig.maximum))
        lo = max(lo, math.ceil(a))
        hi = min(hi, math.floor(b))
    return lo, hi


def _motorola_bits(start: int, length: int) -> list[int]:
    """Bit positions of a Motorola signal, most significant first (DBC numbering)."""
    bits, pos = [], start
    for _ in range(length):
        bits.append(pos)
        pos = pos - 1 if pos % 8 else pos + 15
    return bits


def _split(sig: Signal) -> list[SignalEntry]:
    """A 32-bit coordinate as a signed high half and an unsigned low half of 16 bits each."""
    if sig.byte_order == "big_endian":
        bits = _motorola_bits(sig.start, 32)
        hi_start, lo_start = bits[0], bits[16]
    else:
        lo_start, hi_start = sig.start, sig.start + 16
    be = 1 if sig.byte_order == "big_endian" else 0
    return [
        SignalEntry(hi_start, 16, be | (2 if sig.is_signed else 0), -(1 << 15) if sig.is_signed else 0,
                    (1 << 15) - 1 if sig.is_signed else (1 << 16) - 1),
        SignalEntry(lo_start, 16, be, 0, (1 << 16) - 1),
    ]


def _rational(mul_f: Fraction, add_f: Fraction) -> tuple[int, int, int]:
    """(MUL, ADD, DIV) for x -> round(x * mul_f + add_f) with floor division."""
    div = math.lcm(mul_f.denominator, add_f.denominator)
    return int(mul_f * div), int(add_f * div) + div // 2, div


class _Builder:
    def __init__(self, smap: SignalMap, loaded: LoadedDbc) -> None:
        self.smap = smap
        self.loaded = loaded
        self.problems: list[Problem] = []
        self.schemes: dict[str, checksums.Scheme] = dict(checksums.BUILTIN)
        self.used_schemes: list[checksums.Scheme] = []
        self.broken_schemes: set[str] = set()    # reported once, where they are defined

    def problem(self, where: str, what: str) -> None:
        self.problems.append(Problem(where, what))

    def binding_where(self, b: Binding, section: str) -> str:
        return f"{self.smap.path}:{b.line}" if b.line else self.smap.where(section, b.role)

    # -- map-level checks -------------------------------------------------------------

    def custom_schemes(self) -> None:
        for name, spec in self.smap.checksums.items():
            where = self.smap.where(f"checksums.{name}")
            if name in checksums.BUILTIN:
                self.problem(where, f"checksum scheme {name!r} is built in; pick another name")
                continue
            try:
                self.schemes[name] = checksums.custom_scheme(name, spec)
            except ValueError as exc:
                self.problem(where, f"checksum scheme {name}: {exc}")
                self.broken_schemes.add(name)

    def resolve(self, b: Binding, section: str) -> tuple[Message, Signal] | None:
        """The DBC message and signal of a binding, or None after recording why not."""
        known = roles.OUTPUTS if section == "outputs" else roles.INPUTS
        where = self.binding_where(b, section)
        if b.role not in known:
            self.problem(where, f"[{section}] {b.role}: not a governor role; known: {', '.join(known)}")
            return None
        db = self.loaded.db
        dbc_names = ", ".join(p.name for p in self.loaded.paths)
        try:
            msg = db.get_message_by_name(b.message)
        except KeyError:
            hint = difflib.get_close_matches(b.message, [m.name for m in db.messages], 1)
            self.problem(where, f"message {b.message!r} is not in {dbc_names}"
                                + (f" (did you mean {hint[0]!r}?)" if hint else ""))
            return None
        names = [s.name for s in msg.signals]
        if b.signal not in names:
            hint = difflib.get_close_matches(b.signal, names, 1)
            self.problem(where, f"signal {b.target} is not in {dbc_names}"
                                + (f" (did you mean {hint[0]!r}?)" if hint else ""))
            return None
        return msg, msg.get_signal_by_name(b.signal)

    def gateway(self, b: Binding) -> None:
        """A [gateway] role: the signal exists and converts; the device never reads it."""
        from keigov.dbc.gateway import GATEWAY_ROLES

        where = self.binding_where(b, "gateway")
        if b.role in roles.INPUTS and b.role not in GATEWAY_ROLES:
            self.problem(where, f"[gateway] {b.role}: a gateway sends GNSS roles only "
                                f"({', '.join(GATEWAY_ROLES)}); map {b.role} in [inputs]")
            return
        found = self.resolve(b, "gateway")
        if found is None:
            return
        sig = found[1]
        unit = b.unit if b.unit is not None else (sig.unit or "")
        role = roles.INPUTS[b.role]
        if roles.unit_factor(role.unit, unit) is None:
            self.problem(where, f"{b.target}: unit {unit!r} cannot be converted to {role.unit}; known: "
                                f"{', '.join(repr(u) for u in roles.units_for(role.unit))}")

    # -- signals ----------------------------------------------------------------------

    def fast_path_problem(self, sig: Signal, role: roles.Role | None) -> str | None:
        if sig.is_float:
            return "is an IEEE float; the device computes in integers"
        if sig.multiplexer_signal is not None or sig.is_multiplexer:
            return "is multiplexed; the governor's fast path reads plain signals only"
        if role is not None and len(role.ids) == 2:
            return None if sig.length == 32 else f"is {sig.length} bits wide; coordinates must be 32 bits"
        if sig.length > MAX_SIGNAL_BITS:
            return f"is {sig.length} bits; at most {MAX_SIGNAL_BITS} fit the device's small integers"
        return None

    def role_entries(self, b: Binding, msg: Message, sig: Signal, role: roles.Role, *, transmit: bool,
                     where: str) -> list[SignalEntry]:
        """Entries for a signal carrying a role: conversion, span and overflow checked."""
        name = f"{msg.name}.{sig.name}"
        dbc_factor = roles.unit_factor(role.unit, sig.unit or "")
        factor = dbc_factor
        if b.unit is not None:
            factor = roles.unit_factor(role.unit, b.unit)
            if factor is None:
                self.problem(where, f"{name}: map unit {b.unit!r} cannot be converted to {role.unit} "
                                    f"(known: {', '.join(repr(u) for u in roles.units_for(role.unit))})")
                return []
            if sig.unit and dbc_factor is not None and dbc_factor != factor:
                self.problem(where, f"{name}: map unit {b.unit!r} contradicts the DBC's {sig.unit!r}")
                return []
        elif factor is None:
            self.problem(where, f"{name}: unit {sig.unit or ''!r} cannot be converted to {role.unit}; "
                                f"known: {', '.join(repr(u) for u in roles.units_for(role.unit))} "
                                "(give unit = \"...\" in the map where the DBC has none)")
            return []
        scale = Fraction(str(sig.scale)) * factor
        offset = Fraction(str(sig.offset)) * factor
        lo, hi = raw_bounds(sig)
        carried = sorted((lo * scale + offset, hi * scale + offset))
        if carried[0] > role.span[0] or carried[1] < role.span[1]:
            self.problem(where, f"{name} is too narrow for {b.role}: it carries {float(carried[0]):g}.."
                                f"{float(carried[1]):g} {role.unit}, the governor needs "
                                f"{role.span[0]}..{role.span[1]} {role.unit}")
            return []
        if len(role.ids) == 2:
            if scale != 1 or offset:
                self.problem(where, f"{name}: coordinates must be scaled 1e-7 deg with no offset")
                return []
            parts = _split(sig)
            for part, slot in zip(parts, role.ids):
                part.role = slot
            return parts
        entry = SignalEntry(sig.start, sig.length, _flags(sig), lo, hi, role.ids[0])
        entry.mul, entry.add, entry.div = _rational(1 / scale, -offset / scale) if transmit else \
            _rational(scale, offset)
        values = role.span if transmit else (lo, hi)
        if any(abs(v * entry.mul + entry.add) > SMALL_INT for v in values):
            self.problem(where, f"{name}: the conversion overflows 30-bit integers on the device")
            return []
        return [entry]

    # -- messages ---------------------------------------------------------------------

    def message_entry(self, msg: Message, bindings: list[Binding], *, transmit: bool) -> MessageEntry | None:
        section = "outputs" if transmit else "inputs"
        spec = self.smap.messages.get(msg.name, {})
        first_where = self.binding_where(bindings[0], section)
        period = spec.get("period_ms", msg.cycle_time or 0)
        if not isinstance(period, int) or period <= 0:
            self.problem(first_where, f"message {msg.name} has no cycle time (GenMsgCycleTime): "
                                      f"give period_ms in [messages.{msg.name}]")
            period = 0
        entry = MessageEntry(firmware_id(msg), msg.name, msg.length, 0, period, period * 5)
        self.addressing(entry, msg, spec, transmit)
        role_of: dict[str, Binding] = {}
        for binding in bindings:
            role_of[binding.signal] = binding
            if not transmit and not entry.kind:
                entry.kind = roles.MSG_KIND_BY_ROLE.get(binding.role, 0)
        counter, checksum = spec.get("counter"), spec.get("checksum")
        constants = spec.get("constants", {})
        check_all = spec.get("range_check", "mapped") == "all"
        if spec.get("range_check", "mapped") not in ("mapped", "all"):
            self.problem(self.smap.message_where(msg.name, "range_check"), 'range_check is "mapped" or "all"')
        for key, name in (("counter", counter), ("checksum", checksum)):
            if name is not None and name not in [s.name for s in msg.signals]:
                self.problem(self.smap.message_where(msg.name, key),
                             f"message {msg.name}: {key} signal {name!r} is not in the DBC")
        for sig in msg.signals:
            b = role_of.get(sig.name)
            role = (roles.OUTPUTS if transmit else roles.INPUTS).get(b.role) if b else None
            protective = sig.name in (counter, checksum)
            where = self.binding_where(b, section) if b else self.smap.message_where(msg.name)
            trouble = self.fast_path_problem(sig, role)
            if not (b or protective or transmit or (check_all and not trouble)):
                continue
            if trouble:
                if b or protective:
                    self.problem(where, f"{msg.name}.{sig.name} {trouble}")
                elif sig.name in constants or not self.zero_allowed(sig):
                    self.problem(where, f"{msg.name}.{sig.name} {trouble}; it cannot be transmitted")
                continue
            if b and role is not None:   # (no binding, no role)
                entry.signals.extend(self.role_entries(b, msg, sig, role, transmit=transmit, where=where))
                continue
            lo, hi = raw_bounds(sig)
            s = SignalEntry(sig.start, sig.length, _flags(sig), lo, hi)
            if sig.name in constants:
                s.raw_min = s.raw_max = self.constant(msg, sig, constants[sig.name])
            if sig.name == counter:
                entry.counter = len(entry.signals)
                if sig.length > MAX_COUNTER_BITS:
                    self.problem(self.smap.message_where(msg.name, "counter"),
                                 f"{msg.name}.{sig.name}: counters of at most {MAX_COUNTER_BITS} bits")
            if sig.name == checksum:
                entry.checksum = len(entry.signals)
            entry.signals.append(s)
        for name in constants:
            if name not in [s.name for s in msg.signals]:
                self.problem(self.smap.message_where(msg.name, "constants"),
                             f"constant for {msg.name}.{name}: no such signal")
        self.checksum_scheme(entry, msg, spec)
        return entry

    def zero_allowed(self, sig: Signal) -> bool:
        lo, hi = raw_bounds(sig)
        return lo <= 0 <= hi

    def constant(self, msg: Message, sig: Signal, value: object) -> int:
        where = self.smap.message_where(msg.name, "constants")
        if not isinstance(value, (int, float)):
            self.problem(where, f"constant {msg.name}.{sig.name} = {value!r}: give a number")
            return 0
        raw = sig.conversion.numeric_scaled_to_raw(value)
        lo, hi = raw_bounds(sig)
        if not lo <= raw <= hi:
            self.problem(where, f"constant {msg.name}.{sig.name} = {value}: outside its DBC range")
        return int(raw)

    def addressing(self, entry: MessageEntry, msg: Message, spec: dict, transmit: bool) -> None:
        """J1939: a fixed source address rewrites the id; any_source matches by PGN."""
        sa = spec.get("source_address")
        where = self.smap.message_where(msg.name, "source_address")
        if sa is not None:
            if not msg.is_extended_frame or not isinstance(sa, int) or not 0 <= sa <= 0xFF:
                self.problem(where, "source_address is a J1939 address 0..255 of an extended-id message")
            else:
                entry.frame_id = (entry.frame_id & ~0xFF) | sa
        if spec.get("any_source", False):
            where = self.smap.message_where(msg.name, "any_source")
            if transmit or not msg.is_extended_frame:
                self.problem(where, "any_source applies to received extended-id (J1939) messages")
            elif sa is not None:
                self.problem(where, "any_source and source_address exclude each other")
            else:
                entry.match = MATCH_PGN

    def checksum_scheme(self, entry: MessageEntry, msg: Message, spec: dict) -> None:
        name = spec.get("checksum_kind", "none" if "checksum" not in spec else None)
        where = self.smap.message_where(msg.name, "checksum_kind")
        if name is None:
            self.problem(self.smap.message_where(msg.name, "checksum"), "a checksum needs its checksum_kind")
            return
        scheme = self.schemes.get(name)
        if name in self.broken_schemes:
            return
        if scheme is None:
            self.problem(where, f"unknown checksum_kind {name!r}; known: {', '.join(self.schemes)}")
            return
        if scheme.algorithm == "none":
            return
        if entry.checksum < 0:
            self.problem(where, f"checksum_kind {name} needs checksum = \"SIGNAL\"")
            return
        sig = msg.get_signal_by_name(spec["checksum"])
        be = sig.byte_order == "big_endian"
        if scheme.nibble:
            counter = msg.get_signal_by_name(spec["counter"]) if entry.counter >= 0 else None
            byte = sig.start // 8
            ok = sig.length == 4 and not be and sig.start % 8 == 4 and counter is not None and \
                counter.length == 4 and counter.byte_order == "little_endian" and counter.start == byte * 8
            if not ok:
                self.problem(where, f"{name}: the checksum must be the high nibble of a byte and the "
                                    "counter the low nibble of the same byte (Intel order)")
        elif sig.length != 8 or sig.start % 8 != (7 if be else 0):
            self.problem(where, f"{msg.name}.{sig.name}: a {name} checksum must be one whole byte")
        if scheme not in self.used_schemes:
            self.used_schemes.append(scheme)
        entry.checksum_kind = checksums.table_schemes(self.used_schemes).index(scheme)

    def messages_for(self, bindings: list[Binding], *, transmit: bool) -> list[MessageEntry]:
        section = "outputs" if transmit else "inputs"
        grouped: dict[str, list[Binding]] = {}
        seen_roles: set[str] = set()
        for b in bindings:
            if not transmit and b.role in seen_roles:
                self.problem(self.binding_where(b, section), f"[inputs] {b.role} is given twice")
            seen_roles.add(b.role)
            if self.resolve(b, section) is not None:
                grouped.setdefault(b.message, []).append(b)
        out = []
        for name, group in grouped.items():
            entry = self.message_entry(self.loaded.db.get_message_by_name(name), group, transmit=transmit)
            if entry is not None:
                out.append(entry)
        return out


def build_tables(smap: SignalMap, loaded: LoadedDbc) -> FastTables:
    """Fast-path tables for a map, with every problem found on the way."""
    b = _Builder(smap, loaded)
    b.custom_schemes()
    rx = b.messages_for(smap.input_bindings, transmit=False)
    tx = b.messages_for(smap.output_bindings, transmit=True)
    seen: set[str] = set()
    for g in smap.gateway_bindings:
        if g.role in seen:
            b.problem(b.binding_where(g, "gateway"), f"[gateway] {g.role} is given twice")
        seen.add(g.role)
        b.gateway(g)
    used = {e.name for e in rx + tx}
    for name in smap.messages:
        if name not in used:
            b.problem(smap.message_where(name), f"[messages.{name}]: no role of this map uses message {name}")
    return FastTables(rx, tx, checksums.table_schemes(b.used_schemes), b.problems)


def emit_columns(prefix: str, messages: list[MessageEntry]) -> dict[str, list[int]]:
    """RX_*/TX_* columns: one entry per message, then one per signal of all messages."""
    sig_first: list[int] = []
    sig_end: list[int] = []
    signals: list[SignalEntry] = []
    for m in messages:
        sig_first.append(len(signals))
        signals.extend(m.signals)
        sig_end.append(len(signals))
    cols = {
        "ID": [m.frame_id for m in messages],
        "LEN": [m.length for m in messages],
        "KIND": [m.kind for m in messages],
        "PERIOD_MS": [m.period_ms for m in messages],
        "TIMEOUT_MS": [m.timeout_ms for m in messages],
        "COUNTER": [f + m.counter if m.counter >= 0 else -1 for f, m in zip(sig_first, messages)],
        "CHECKSUM": [f + m.checksum if m.checksum >= 0 else -1 for f, m in zip(sig_first, messages)],
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
    if prefix == "RX":
        cols["MATCH"] = [m.match for m in messages]
    return {f"{prefix}_{k}": v for k, v in cols.items()}

