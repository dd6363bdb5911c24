"""What the compiler cannot compile, named: never skipped in silence.

The physical tables cover everything cantools decodes from a DBC (standard and extended
ids, CAN FD up to 64 bytes, either byte order at any bit, signed, any scale and offset,
IEEE float and double, simple and extended multiplexing, choices, any width). What is
left is listed here, together with the DBC statements cantools cannot parse (signal
types, categories: keigov.dbc.load.UNPARSED_KEYWORDS).
"""

from __future__ import annotations

from dataclasses import dataclass

from cantools.database.can import Message, Signal

from keigov.dbc.load import LoadedDbc

MAX_PAYLOAD = 64


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def unsupported_message(msg: Message) -> str | None:
    if msg.is_container:
        return "container message (AUTOSAR PDU container)"
    if msg.length > MAX_PAYLOAD:
        return f"payload of {msg.length} bytes (a CAN FD frame carries at most {MAX_PAYLOAD})"
    return None


def unsupported_signal(msg: Message, sig: Signal) -> str | None:
    if sig.is_float and sig.length not in (32, 64):
        return f"IEEE float of {sig.length} bits (only 32-bit float and 64-bit double)"
    if sig.conversion.scale == 0:
        return "scale 0: no physical value can be encoded"
    if sig.is_float and sig.is_multiplexer:
        return "a float signal used as multiplexer"
    if sig.multiplexer_signal is not None and not sig.multiplexer_ids:
        return f"multiplexed by {sig.multiplexer_signal} without any multiplexer value"
    return None


def unsupported(loaded: LoadedDbc) -> list[Problem]:
    """Every unsupported message, signal and section, with file:line."""
    problems = []
    for msg in loaded.db.messages:
        what = unsupported_message(msg)
        if what:
            problems.append(Problem(loaded.where(msg.name), f"message {msg.name}: {what}"))
        for sig in msg.signals:
            what = unsupported_signal(msg, sig)
            if what:
                problems.append(Problem(loaded.where(msg.name, sig.name), f"signal {msg.name}.{sig.name}: {what}"))
    problems += [Problem(where, f"{what}: cantools and this compiler cannot read them")
                 for where, what in loaded.unparsed]
    return problems
