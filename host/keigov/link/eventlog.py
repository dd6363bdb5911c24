"""The device's event log as records people and scripts read: each event named, repeats
the device coalesced folded in (keigov.firmware_params.merge_repeated), and positions in
degrees through the zone origin of the configuration the device ran when it recorded them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from keigov.config import blob as cfgblob
from keigov.firmware_params import consts, merge_repeated
from keigov.link.messages import Event
from keigov.zones.projection import Projection
from keigov.zones.table import read_projection

FLAG_POSITION = consts("core/evstore.py")["FLAG_POSITION"]
ORIGIN_MASK = 0x7F     # flags bits 1-7: the low bits of the version whose zones' origin a position uses


@dataclass(frozen=True)
class Origin:
    """What event positions are converted with: a configuration's zone projection, and
    the low bits of its version that the device stamps on each event (flags bits 1-7)."""

    projection: Projection
    version: int

    @property
    def tag(self) -> int:
        return self.version & ORIGIN_MASK


def zone_origin(data: bytes, where: str) -> Origin | None:
    """The origin of a configuration's zones (None without zones): the device gives event
    positions in decimetres east/north of it."""
    blob = cfgblob.parse(data, where)
    if blob.zones is None:
        return None
    return Origin(read_projection(blob.zones, f"{where}: zones section"), blob.version)


def has_position(e: Event) -> bool:
    return bool(e.flags & FLAG_POSITION)


def event_record(e: Event, name: str, origin: Origin | None) -> dict[str, object]:
    record: dict[str, object] = {k: v for k, v in asdict(e).items() if k not in ("x", "y")}
    known = bool(e.flags & FLAG_POSITION)
    record |= {"name": name, "x_dm": e.x if known else None, "y_dm": e.y if known else None,
               "origin_tag": e.flags >> 1 if known else None, "position": None}
    if known and origin is not None and e.flags >> 1 == origin.tag:
        record["position"] = origin.projection.position(e.x, e.y)
    return record


def event_records(events: list[Event], names: dict[int, str], origin: Origin | None) -> list[dict[str, object]]:
    """Every event as a record, coalesced repeats merged into the entry they repeat."""
    return merge_repeated([event_record(e, names.get(e.code, f"code_{e.code}"), origin) for e in events],
                          lambda r: r["time_ms"] / 1000)


def foreign_origins(events: list[Event], origin: Origin | None) -> list[int]:
    """Origin tags of positions taken under another configuration's zones: `origin` is not theirs."""
    if origin is None:
        return []
    return sorted({int(e.flags) >> 1 for e in events if has_position(e)} - {origin.tag})
