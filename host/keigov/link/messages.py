"""Request payloads and decoded replies of the link's commands (docs/link-protocol.md)."""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass

from keigov.firmware_params import STATE_NAMES
from keigov.link.protocol import REASONS, STATUS_FIELDS, reason_name

EVENT_RECORD = struct.Struct("<IBBiiii")


class ReplyError(ValueError):
    """A reply whose payload does not have the documented layout."""


@dataclass(frozen=True)
class Info:
    protocol: int
    max_payload: int
    provisioned: bool
    cap_min_ckph: int
    cap_max_ckph: int
    config_version: int
    running_version: int
    config_length: int
    config_slot: int | None
    boot_reason: int
    config_hash: str
    device_id: str
    firmware: str
    board: str

    def as_dict(self) -> dict:
        return asdict(self)


def _strings(data: bytes, at: int, count: int) -> list[str]:
    out = []
    for _ in range(count):
        if at >= len(data) or at + 1 + data[at] > len(data):
            raise ReplyError("info reply ends inside a string")
        n = data[at]
        out.append(data[at + 1 : at + 1 + n].decode("ascii", "replace"))
        at += 1 + n
    return out


def decode_info(p: bytes) -> Info:
    if len(p) < 36:
        raise ReplyError(f"info reply of {len(p)} bytes; at least 36 expected")
    proto, max_payload, prov, cap_min, cap_max, ver, running, length, slot, _r, boot = struct.unpack_from(
        "<BHBIIIIIBBH", p)
    device, firmware, board = _strings(p, 36, 3)
    return Info(proto, max_payload, bool(prov), cap_min, cap_max, ver, running, length,
                None if slot == 0xFF else slot, boot, p[28:36].hex(), device, firmware, board)


def decode_status(p: bytes) -> dict[str, int]:
    if not p or len(p) != 1 + 4 * p[0]:
        raise ReplyError(f"status reply of {len(p)} bytes does not match its field count")
    values = struct.unpack_from(f"<{p[0]}i", p, 1)
    names = list(STATUS_FIELDS) + [f"field_{i}" for i in range(len(STATUS_FIELDS), p[0])]
    out = dict(zip(names, values))
    out["state_name"] = STATE_NAMES.get(out.get("state", -1), "?")
    return out


@dataclass(frozen=True)
class Event:
    seq: int
    code: int
    flags: int
    time_ms: int
    value: int
    x: int
    y: int


@dataclass(frozen=True)
class EventPage:
    oldest: int
    next: int
    resume: int
    events: list[Event]


def events_request(start: int, count: int = 0) -> bytes:
    return struct.pack("<IB", start, count)


def decode_events(p: bytes) -> EventPage:
    if len(p) < 13:
        raise ReplyError(f"events reply of {len(p)} bytes; at least 13 expected")
    oldest, nxt, resume, count = struct.unpack_from("<IIIB", p)
    if len(p) != 13 + count * EVENT_RECORD.size:
        raise ReplyError(f"events reply of {len(p)} bytes does not hold {count} records")
    events = [Event(*EVENT_RECORD.unpack_from(p, 13 + i * EVENT_RECORD.size)) for i in range(count)]
    return EventPage(oldest, nxt, resume, events)


def put_request(total: int, offset: int, data: bytes) -> bytes:
    return struct.pack("<II", total, offset) + data


def get_request(offset: int) -> bytes:
    return struct.pack("<I", offset)


def rejection(p: bytes, param_names: list[str]) -> str:
    """'reason_name: explanation (parameter)' from a rejected reply's payload."""
    if len(p) < 2:
        return "rejected (no reason given)"
    reason, detail = p[0], p[1]
    text = f"{reason_name(reason)}: {REASONS.get(reason, ('', 'unknown reason'))[1]}"
    if detail != 0xFF:
        if reason in (13, 14, 15, 16) and detail < len(param_names):
            text += f" ({param_names[detail]})"
        elif reason == 12:
            text += f" (entry {detail})"
        elif reason in (11, 18):
            text += f" (section type {detail})"
    return text
