"""Frames packed from per-signal records compiled once from cantools' messages.

`cantools.Message.encode(strict=True)` rebuilds dicts, re-checks every signal by name and
packs through bitstruct formats on every call: 15-37 us a frame, most of what the HIL rig
spent on its vehicle's frames. Here each message is compiled once into one record per
signal; packing is then one loop over the records and two integers (Intel signals are
contiguous bits of the payload read as a little-endian integer, Motorola signals of it
read as a big-endian integer, as in keigov.dbc.decode). The loop also becomes one
straight-line function per message with the numbers in place (as keigov.dbc.specialize
does for decoding): it returns None for anything it does not accept, and the loop then
raises the error, so both always agree.

The numbers are cantools' own: each signal's raw value is its conversion's
`numeric_scaled_to_raw` (cantools' rounding; for linear and identity conversions its
arithmetic written out in the function), the range check is strict mode's (minimum
and maximum with its tolerance of a millionth of the scale, skipped for a raw value in
the value table). Multiplexed, container and float messages are not compiled (the
rig's bus has none): MessagePacker refuses them. Decoding needs nothing new: the
generated tables' decode() (keigov.dbc.decode) is already specialized per message.
tests/test_dbc_packer.py checks the payloads byte for byte against cantools.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, NamedTuple

from cantools.database.can import Message
from cantools.database.conversion import IdentityConversion, LinearConversion

from keigov.dbc.e2e import FramePacker, checksum_function


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
        self._index = {f.name: k for k, f in enumerate(fields)}
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
        for f in self.fields:
            bits = (self._raw(f, values[f.name]) & ((1 << f.width) - 1)) << f.shift
            if f.big_endian:
                be |= bits
            else:
                le |= bits
        n = self.length
        return (int.from_bytes(le.to_bytes(n, "little"), "big") | be).to_bytes(n, "big")

    def replace(self, data: bytes, name: str, value: float) -> bytes:
        """`data` (this message's payload) with signal `name` set to `value`: what encoding
        the same values with that one changed gives, without packing the others again."""
        f = self.fields[self._index[name]]
        bits = (self._raw(f, value) & ((1 << f.width) - 1)) << f.shift
        mask = ((1 << f.width) - 1) << f.shift
        order: Literal["big", "little"] = "big" if f.big_endian else "little"
        return ((int.from_bytes(data, order) & ~mask) | bits).to_bytes(self.length, order)

    def _raw(self, f: _Field, value: float) -> int:
        """One signal's raw value as cantools' strict encode computes and checks it."""
        if not isinstance(value, (int, float)):
            raise ValueError(f"{self.name}.{f.name}: {value!r} is not a number")
        raw = f.to_raw(value)
        if raw not in f.choices and ((f.low is not None and value < f.low) or (f.high is not None and value > f.high)):
            raise ValueError(f"{self.name}.{f.name}: {value!r} is outside its range")
        least = -(1 << (f.width - 1)) if f.signed else 0
        if not least <= raw < least + (1 << f.width):
            raise ValueError(f"{self.name}.{f.name}: raw {raw} does not fit {f.width} bits")
        assert isinstance(raw, int), "the conversions of integer signals round (float signals are refused)"
        return raw


def _raw_expression(to_raw: Callable[[float], int | float], k: int) -> str:
    """Field k's raw value from `v`: cantools' own arithmetic written out for its linear
    and identity conversions (a method call each was a third of a frame's packing), its
    conversion's method `_r{k}` for the others."""
    conv = getattr(to_raw, "__self__", None)
    if type(conv) is LinearConversion and not conv.is_float:
        return f"round((v - {conv.offset!r}) / {conv.scale!r})"
    if type(conv) is IdentityConversion and not conv.is_float:
        return "round(v)"
    return f"_r{k}(v)"


def _specialize(fields: tuple[_Field, ...], length: int, counter: str | None = None,
                checksum: tuple[str, Callable[[bytes], int]] | None = None) -> Callable[..., bytes | None]:
    """One function for the fields: the table loop's arithmetic, None where the loop would raise.

    Plain: `encode(values)`. With `counter` and `checksum` (signal name, function of the
    payload without it) the function is `encode(values, counter)` for the other signals:
    the counter signal takes `counter` modulo its range, then the checksum signal the
    checksum of the payload packed with it zero, as FramePacker.pack does.
    """
    ns: dict[str, object] = {"_num": (int, float), "_from": int.from_bytes}
    late = checksum[0] if checksum else None
    body = []
    words: dict[bool, list[str]] = {False: [], True: []}
    late_lines: list[str] = []
    late_word, late_big_endian = "", False
    for k, (name, to_raw, low, high, choices, width, shift, big_endian, signed) in enumerate(fields):
        ns[f"_r{k}"], ns[f"_c{k}"] = to_raw, choices
        if name == counter:
            lines = [f"    v = counter % {1 << width}"]
        elif name == late:
            ns["_checksum"] = checksum[1]  # type: ignore[index]
            lines = ["    v = _checksum(data)"]
        else:
            lines = [f"    v = values[{name!r}]", "    if not isinstance(v, _num):", "        return None"]
        lines.append(f"    r{k} = {_raw_expression(to_raw, k)}")
        outside = [f"v < {low!r}" for _ in [0] if low is not None] + [f"v > {high!r}" for _ in [0] if high is not None]
        if outside:
            lines += [f"    if ({' or '.join(outside)}) and r{k} not in _c{k}:", "        return None"]
        least = -(1 << (width - 1)) if signed else 0
        lines += [f"    if not {least} <= r{k} <= {least + (1 << width) - 1}:", "        return None"]
        word = f"((r{k} & {(1 << width) - 1}) << {shift})" if signed else f"(r{k} << {shift})"
        if name == late:
            late_lines, late_word, late_big_endian = lines, word, big_endian
        else:
            body += lines
            words[big_endian].append(word)

    def payload(le: list[str], be: list[str]) -> str:
        le_src, be_src = " | ".join(le) or "0", " | ".join(be) or "0"
        if not be:
            return f"({le_src}).to_bytes({length}, 'little')"
        if not le:
            return f"({be_src}).to_bytes({length}, 'big')"
        return f"(_from(({le_src}).to_bytes({length}, 'little'), 'big') | {be_src}).to_bytes({length}, 'big')"

    tail = []
    if late:   # the payload with the checksum zero, its checksum, then the payload with it
        tail += [f"    data = {payload(words[False], words[True])}", *late_lines]
        words[late_big_endian].append(late_word)
    tail.append(f"    return {payload(words[False], words[True])}")
    given = len(fields) - (counter is not None) - (late is not None)
    src = ["def encode(values, counter=0):", f"    if len(values) != {given}:", "        return None", "    try:",
           *("    " + line for line in body or ["    pass"]), "    except KeyError:", "        return None", *tail]
    exec("\n".join(src), ns)
    return ns["encode"]  # type: ignore[return-value]


class TablePacker(FramePacker):
    """FramePacker (counters, checksums, faults) with compiled messages instead of cantools' encode.

    A frame with its counter and checksum comes from one compiled function per message;
    a corrupted checksum, another J1939 source address or anything that function refuses
    takes FramePacker's steps (which raise the errors).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._compiled: dict[str, MessagePacker] = {}
        self._framers: dict[str, Callable[..., tuple[int, bytes]]] = {}

    def compiled(self, name: str) -> MessagePacker:
        packer = self._compiled.get(name)
        if packer is None:
            packer = self._compiled[name] = MessagePacker(self.message(name))
        return packer

    def encode(self, msg: Message, values: dict[str, float]) -> bytes:
        return self.compiled(msg.name).encode(values)

    def replace_signal(self, msg: Message, values: dict[str, float], name: str, value: float, data: bytes) -> bytes:
        values[name] = value
        return self.compiled(msg.name).replace(data, name, value)

    def pack(self, name: str, values: dict[str, float], *, counter: int | None = None,
             corrupt_checksum: bool = False, source_address: int | None = None) -> tuple[int, bytes]:
        if corrupt_checksum or source_address is not None:
            return super().pack(name, values, counter=counter, corrupt_checksum=corrupt_checksum,
                                source_address=source_address)
        return self.framer(name)(values, counter)

    def framer(self, name: str) -> Callable[..., tuple[int, bytes]]:
        """`pack(name, values, counter=counter)` as a function `(values, counter=None)` of
        this one message, its lookups done once: a node that sends the message hundreds
        of times a second keeps it and calls it directly."""
        framer = self._framers.get(name)
        if framer is not None:
            return framer
        frame = self._frame_function(name)
        plan = self.plan(name)
        frame_id = plan.msg.frame_id
        counted = plan.counter is not None
        counters = self.counters   # FramePacker._count's steps, written out
        checked = super().pack     # FramePacker's steps: the same frame, or the error

        def framed(values: dict[str, float], counter: int | None = None) -> tuple[int, bytes]:
            if frame is not None:
                if counted and counter is None:
                    counter = counters[name] = counters.get(name, -1) + 1
                data = frame(values, counter or 0)
                if data is not None:
                    return frame_id, data
            return checked(name, values, counter=counter)

        self._framers[name] = framed
        return framed

    def _frame_function(self, name: str) -> Callable[..., bytes | None] | None:
        """The compiled frame of a message with its counter and checksum, or None when the
        checksum signal cannot start at raw zero (FramePacker encodes a zero first)."""
        plan = self.plan(name)
        packer = self.compiled(name)
        checksum_of = None
        if plan.checksum and plan.scheme:
            f = packer.fields[packer._index[plan.checksum]]
            try:
                zero_ok = packer._raw(f, 0) == 0
            except ValueError:
                zero_ok = False
            if not zero_ok:
                return None
            checksum_of = (plan.checksum, checksum_function(plan.scheme, plan.msg.frame_id, plan.checksum_byte,
                                                                   packer.length))
        return _specialize(packer.fields, packer.length, plan.counter, checksum_of)
