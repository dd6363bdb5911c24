"""Compile DBC messages into the physical-value tables read by keigov.dbc.decode.

One row per message (_DB_MSG_*) and one per signal (_DB_SIG_*), plus _DB_SETS: the value
ranges of multiplexing and choices as flattened (lo, hi) pairs, shared between signals.
Scale, offset and the kind of conversion are taken from cantools' own conversion object,
so decode() computes `raw * scale + offset` with the very numbers cantools uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from cantools.database.can import Message, Signal

from keigov.dbc.features import unsupported_signal
from keigov.dbc.layout import (
    BIG_ENDIAN,
    CONV_INT,
    CONV_LINEAR,
    EXTENDED,
    FLOAT,
    MATCH_EXACT,
    MATCH_PGN,
    MULTIPLEXER,
    SIGNED,
)


def firmware_id(msg: Message) -> int:
    """The id as boards deliver it: bit 29 marks an extended id."""
    return msg.frame_id | (EXTENDED if msg.is_extended_frame else 0)


def ranges(values: Iterable[int]) -> tuple[int, ...]:
    """Sorted integers as flattened inclusive (lo, hi) runs."""
    out: list[int] = []
    for v in sorted(set(values)):
        if out and v == out[-1] + 1:
            out[-1] = v
        else:
            out += [v, v]
    return tuple(out)


def signal_flags(sig: Signal) -> tuple[int, int | float, int | float]:
    """(flags without MULTIPLEXER, scale, offset) from the signal's cantools conversion."""
    conv = sig.conversion
    inner = getattr(conv, "_conversion", conv)     # NamedSignalConversion wraps the linear one
    flags = (BIG_ENDIAN if sig.byte_order == "big_endian" else 0) | (SIGNED if sig.is_signed else 0)
    flags |= FLOAT if sig.is_float else 0
    kind = type(inner).__name__
    if kind == "LinearIntegerConversion":
        flags |= CONV_INT
    elif kind == "LinearConversion":
        flags |= CONV_LINEAR
    elif kind != "IdentityConversion":
        raise ValueError(f"signal {sig.name}: unknown cantools conversion {kind}")
    return flags, inner.scale, inner.offset


def _topological(msg: Message) -> list[Signal]:
    """Signals with every multiplexer before the signals it selects (stable otherwise)."""
    by_name = {s.name: s for s in msg.signals}

    def depth(s: Signal) -> int:
        d = 0
        while s.multiplexer_signal is not None:
            s = by_name[s.multiplexer_signal]
            d += 1
        return d

    order = {s.name: k for k, s in enumerate(msg.signals)}
    return sorted(msg.signals, key=lambda s: (depth(s), order[s.name]))


def _selects(msg: Message, mux: Signal) -> list[int]:
    """Values of a multiplexer that select something, as cantools builds its codec tree."""
    values = set(mux.conversion.choices or {})
    for s in msg.signals:
        if s.multiplexer_signal == mux.name and s.multiplexer_ids:
            values.update(s.multiplexer_ids)
    return sorted(values)


def _out_of_range_choices(sig: Signal, scale: float, offset: float) -> list[int]:
    """Choice keys whose physical value lies outside [min, max]: cantools encodes them anyway."""
    choices: dict = sig.conversion.choices or {}
    tol = abs(sig.conversion.scale) * 1e-6
    out = []
    for raw in choices:
        value = raw * scale + offset
        if (sig.minimum is not None and value < sig.minimum - tol) or \
                (sig.maximum is not None and value > sig.maximum + tol):
            out.append(int(raw))
    return out


@dataclass
class PhysicalTables:
    columns: dict[str, list] = field(default_factory=dict)
    sets: list[tuple[int, ...]] = field(default_factory=list)

    def set_index(self, values: Sequence[int]) -> int:
        if not values:
            return -1
        pairs = ranges(values)
        if pairs not in self.sets:
            self.sets.append(pairs)
        return self.sets.index(pairs)

    def add(self, name: str, value: object) -> None:
        self.columns.setdefault(name, []).append(value)


MSG_COLUMNS = ("ID", "NAME", "LEN", "MATCH", "SIG_FIRST", "SIG_END")
SIG_COLUMNS = ("NAME", "START", "LEN", "FLAGS", "SCALE", "OFFSET", "MIN", "MAX", "MUX", "WHEN",
               "SELECTS", "CHOICES")


def physical_tables(messages: Sequence[Message], pgn_match: AbstractSet[str] = frozenset(),
                    ids: dict[str, int] | None = None) -> dict[str, tuple]:
    """_DB_* columns for these messages; those named in `pgn_match` match by J1939 PGN.

    `ids` overrides a message's firmware id (a map's J1939 source address).
    """
    ids = ids or {}
    pt = PhysicalTables({f"MSG_{c}": [] for c in MSG_COLUMNS} | {f"SIG_{c}": [] for c in SIG_COLUMNS})
    n_signals = 0
    for msg in messages:
        for sig in msg.signals:
            problem = unsupported_signal(msg, sig)
            if problem:
                raise ValueError(f"{msg.name}.{sig.name}: {problem}")
        ordered = _topological(msg)
        local = {s.name: k for k, s in enumerate(ordered)}
        for col, value in zip(MSG_COLUMNS, (
                ids.get(msg.name, firmware_id(msg)), msg.name, msg.length,
                MATCH_PGN if msg.name in pgn_match else MATCH_EXACT,
                n_signals, n_signals + len(ordered))):
            pt.add(f"MSG_{col}", value)
        n_signals += len(ordered)
        for sig in ordered:
            flags, scale, offset = signal_flags(sig)
            selects = _selects(msg, sig) if sig.is_multiplexer else []
            flags |= MULTIPLEXER if sig.is_multiplexer else 0
            for col, value in zip(SIG_COLUMNS, (
                    sig.name, sig.start, sig.length, flags, scale, offset, sig.minimum, sig.maximum,
                    local[sig.multiplexer_signal] if sig.multiplexer_signal else -1,
                    pt.set_index(sig.multiplexer_ids or []),
                    pt.set_index(selects),
                    pt.set_index(_out_of_range_choices(sig, scale, offset)))):
                pt.add(f"SIG_{col}", value)
    out = {f"_DB_{k}": tuple(v) for k, v in pt.columns.items()}
    out["_DB_SETS"] = tuple(pt.sets)
    return out
