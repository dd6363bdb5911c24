"""What a CAN log reader yields and counts, and the registry of readers by file suffix
(keigov.replay.formats looks a log's format up in it; each reader module registers itself).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

EXTENDED = 0x20000000     # frame id bit: a 29-bit id, as the firmware's boards mark it

Frame = tuple[float, int, bytes, Any]


class LogDamage(Exception):
    """The log cannot be read on from `position` ("line 812", "after frame 4,096")."""

    def __init__(self, position: str, reason: str) -> None:
        super().__init__(f"{position}: {reason}")
        self.position = position
        self.reason = reason


@dataclass(frozen=True)
class Selection:
    """Which frames a replay needs: ids the device's tables match, on the chosen channels."""

    keep: Callable[[int], bool]
    channels: frozenset[str] | None = None      # None: every channel

    def wants(self, frame_id: int, channel: object) -> bool:
        return self.keep(frame_id) and (self.channels is None or str(channel) in self.channels)


@dataclass
class ReadStats:
    frames: int = 0           # data frames in the file
    kept: int = 0             # of them, frames the selection keeps
    other: int = 0            # remote and error frames (never for the governor)
    first_t: float | None = None
    last_t: float | None = None

    def saw(self, t: float) -> None:
        if self.first_t is None:
            self.first_t = t
        self.last_t = t


Reader = Callable[[IO[bytes], Selection, ReadStats], Iterator[Frame]]


@dataclass(frozen=True)
class LogFormat:
    suffix: str
    description: str
    read: Reader
    needs_path: bool = False   # the reader opens the file itself (no .gz, no progress)


FORMATS: dict[str, LogFormat] = {}


def register(suffix: str, description: str, *, needs_path: bool = False) -> Callable[[Reader], Reader]:
    def add(read: Reader) -> Reader:
        FORMATS[suffix] = LogFormat(suffix, description, read, needs_path)
        return read

    return add
