"""Frames packed from per-signal records compiled once from cantools' messages.

`cantools.Message.encode(strict=True)` rebuilds dicts, re-checks every signal by name and
packs through bitstruct formats on every call: 15-37 us a frame, most of what the HIL rig
spent on its vehicle's frames. Here each message is compiled once into one record per
signal; packing is then one loop over the records and two integers (Intel signals are
contiguous bits of the payload read as a little-endian integer, Motorola signals of it
read as a big-endian integer, as in core/dbcdecode.py). The loop also becomes one
straight-line function per message with the numbers in place (as core/dbcspecialize.py
does for decoding): it returns None for anything it does not accept, and the loop then
raises the error, so both always agree.

The numbers are cantools' own: each signal's raw value comes from its conversion's
`numeric_scaled_to_raw` (cantools' rounding), the range check is strict mode's (minimum
and maximum with its tolerance of a millionth of the scale, skipped for a raw value in
the value table). Multiplexed, container and float messages are not compiled (the
rig's bus has none): MessagePacker refuses them. Decoding needs nothing new: the
generated tables' decode() (core/dbcdecode.py) is already specialized per message.
tests/test_dbc_packer.py checks the payloads byte for byte against cantools.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from cantools.database.can import Message

from keigov.e2e import FramePacker


class _Field(NamedTuple):
    name: str
    to_raw: Callable[[float], int | float]
    low: float | None             # strict mode's bounds, tolerance included
    high: float | None
    choices: frozenset[int]
    width: int
    shift: int                    # of the least significant bit in the little- or big-endian integer
    big_endian: bool
    signed: bool


class MessagePacker:
    """One message's payload from physical values, as cantools computes it."""

    def __init__(self, msg: Message) -> None:
        if msg.is_container or msg.is_multiplexed():
            raise ValueError(f"{msg.name}: multiplexed and container messages are not compiled")
        self.name = msg.name
        self.length = msg.length
        fields = []
        for sig in msg.signals:
            if sig.is_float:
                raise ValueError(f"{msg.name}.{sig.name}: float signals are not compiled")
            conv = sig.conversion
            tol = abs(conv.scale) * 1e-6
            if sig.byte_order == "big_endian":
                msb = 8 * (sig.start // 8) + 7 - sig.start % 8       # from bit 7 of byte 0
                shift = 8 * msg.length - msb - sig.length
            else:
                shift = sig.start
            fields.append(_Field(
                sig.name, conv.numeric_scaled_to_raw,
                None if sig.minimum is None else sig.minimum - tol,
                None if sig.maximum is None else sig.maximum + tol,
                frozenset(conv.choices or ()), sig.length, shift, sig.byte_order == "big_endian", sig.is_signed))
        self.fields = tuple(fields)
        self.names = frozenset(f.name for f in fields)
        self.specialized = _specialize(self.fields, self.length)

    def encode(self, values: Mapping[str, float]) -> bytes:
        """Payload for exactly this message's signals; ValueError where strict cantools raises."""
        data = self.specialized(values)
        return data if data is not None else self.encode_checked(values)

    def encode_checked(self, values: Mapping[str, float]) -> bytes:
        """The table loop: same payloads as the specialized function, and the errors."""
        if len(values) != len(self.fields) or not self.names.issuperset(values):
            missing = sorted(self.names - set(values))
            extra = sorted(set(values) - self.names)
            raise ValueError(f"{self.name}: signals missing {missing}, not in the message {extra}")
        le = be = 0
        for name, to_raw, low, high, choices, width, shift, big_endian, signed in self.fields:
            value = values[name]
            if not isinstance(value, (int, float)):
                raise ValueError(f"{self.name}.{name}: {value!r} is not a number")
            raw = to_raw(value)
            if raw not in choices and ((low is not None and value < low) or (high is not None and value > high)):
                raise ValueError(f"{self.name}.{name}: {value!r} is outside its range")
            least = -(1 << (width - 1)) if signed else 0
            if not least <= raw < least + (1 << width):
                raise ValueError(f"{self.name}.{name}: raw {raw} does not fit {width} bits")
            if big_endian:
                be |= (raw & ((1 << width) - 1)) << shift
            else:
                le |= (raw & ((1 << width) - 1)) << shift
        n = self.length
        return (int.from_bytes(le.to_bytes(n, "little"), "big") | be).to_bytes(n, "big")


def _specialize(fields: tuple[_Field, ...], length: int) -> Callable[[Mapping[str, float]], bytes | None]:
    """One function for the fields: the table loop's arithmetic, None where the loop would raise."""
    ns: dict[str, object] = {"_num": (int, float), "_from": int.from_bytes}
    body = []
    words: dict[bool, list[str]] = {False: [], True: []}
    for k, (name, to_raw, low, high, choices, width, shift, big_endian, signed) in enumerate(fields):
        ns[f"_r{k}"], ns[f"_c{k}"] = to_raw, choices
        body += [f"    v = values[{name!r}]",
                 "    if not isinstance(v, _num):",
                 "        return None",
                 f"    r{k} = _r{k}(v)"]
        outside = [f"v < {low!r}" for _ in [0] if low is not None] + [f"v > {high!r}" for _ in [0] if high is not None]
        if outside:
            body += [f"    if ({' or '.join(outside)}) and r{k} not in _c{k}:", "        return None"]
        least = -(1 << (width - 1)) if signed else 0
        body += [f"    if not {least} <= r{k} <= {least + (1 << width) - 1}:", "        return None"]
        words[big_endian].append(f"((r{k} & {(1 << width) - 1}) << {shift})" if signed else f"(r{k} << {shift})")
    le = " | ".join(words[False]) or "0"
    be = " | ".join(words[True]) or "0"
    if not words[True]:
        result = f"({le}).to_bytes({length}, 'little')"
    elif not words[False]:
        result = f"({be}).to_bytes({length}, 'big')"
    else:
        result = f"(_from(({le}).to_bytes({length}, 'little'), 'big') | {be}).to_bytes({length}, 'big')"
    src = ["def encode(values):", f"    if len(values) != {len(fields)}:", "        return None", "    try:",
           *("    " + line for line in body or ["    pass"]), "    except KeyError:", "        return None",
           f"    return {result}"]
    exec("\n".join(src), ns)
    return ns["encode"]  # type: ignore[return-value]


class TablePacker(FramePacker):
    """FramePacker (counters, checksums, faults) with compiled messages instead of cantools' encode."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._compiled: dict[str, MessagePacker] = {}

    def compiled(self, name: str) -> MessagePacker:
        packer = self._compiled.get(name)
        if packer is None:
            packer = self._compiled[name] = MessagePacker(self.message(name))
        return packer

    def encode(self, msg: Message, values: dict[str, float]) -> bytes:
        return self.compiled(msg.name).encode(values)
