"""CAN log formats: a registry by file suffix, like python-can's own (MESSAGE_READERS).

Every format python-can reads is registered through its reader, plugins included (.asc,
.blf, .csv, .db, .log, .mf4 with asammdf, .trc); `NAME.SUFFIX.gz` is the same format
compressed. A format may have a faster reader of its own: candump's .log, the commonest
fleet format, is parsed here with python-can's semantics but without building a
`can.Message` for the frames the governor does not use (a one-hour drive is millions
of lines; tests/test_replay_formats.py holds it to python-can's reader).

A reader yields the frames a `Selection` keeps as tuples (t_s, frame_id, data, channel),
frame_id with bit 29 set for an extended id as the firmware's boards have it, and counts
every frame in `ReadStats`. A reader that meets damage raises `LogDamage` naming the
position; the frames before it have been yielded.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from keigov.errors import InputError
from keigov.replay.frames import EXTENDED, FORMATS, Frame, LogDamage, LogFormat, ReadStats, Selection, register

_CAN_ERR_FLAG = 0x20000000
_CAN_ERR_BUSERROR = 0x00000080
_ID_CACHE_MAX = 100_000        # distinct id strings remembered (a bus has hundreds)

def format_of(path: Path) -> tuple[LogFormat, bool]:
    """The format of a log file by its suffix, and whether it is gzip-compressed."""
    from keigov.replay import mf4  # noqa: F401  registers .mf4

    _python_can_formats()
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    suffix = suffixes[-2] if compressed and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    fmt = FORMATS.get(suffix)
    if fmt is None or (compressed and fmt.needs_path):
        known = ", ".join(sorted(FORMATS))
        raise InputError(f"unknown log format {''.join(path.suffixes) or '(no suffix)'!r}; known: {known} "
                         "(and .gz of each but .db)", where=str(path))
    return fmt, compressed


# -- python-can's readers ----------------------------------------------------------------

def _python_can_formats() -> None:
    """Register every reader python-can has (its plugins too) that has no reader here."""
    from can.io import player

    player._update_reader_plugins()
    for suffix, cls in player.MESSAGE_READERS.items():
        if suffix not in FORMATS:
            FORMATS[suffix] = _python_can_format(suffix, cls)


def _python_can_format(suffix: str, cls: type) -> LogFormat:
    from can.io.generic import BinaryIOMessageReader, TextIOMessageReader

    text = issubclass(cls, TextIOMessageReader)
    binary = issubclass(cls, BinaryIOMessageReader)
    # ASC keeps absolute times only when asked: a GNSS track is aligned by absolute time.
    kwargs = {"relative_timestamp": False} if suffix == ".asc" else {}

    def read(stream: IO[bytes], sel: Selection, stats: ReadStats) -> Iterator[Frame]:
        source: Any = io.TextIOWrapper(stream, encoding="latin-1", newline=None) if text else stream
        n = 0
        try:
            reader = cls(source if text or binary else stream.name, **kwargs)
            for msg in reader:
                n += 1
                t = msg.timestamp
                stats.saw(t)
                if msg.is_error_frame or msg.is_remote_frame:
                    stats.other += 1
                    continue
                stats.frames += 1
                fid = msg.arbitration_id | EXTENDED if msg.is_extended_id else msg.arbitration_id
                if sel.wants(fid, msg.channel):
                    stats.kept += 1
                    yield t, fid, bytes(msg.data), msg.channel
        except Exception as exc:  # noqa: BLE001  every reader fails its own way on damage
            raise LogDamage(f"after frame {n:,}" + (f" (t = {stats.last_t:.6f})" if n else ""),
                            f"{type(exc).__name__}: {exc}") from exc

    return LogFormat(suffix, f"python-can {cls.__name__}", read, needs_path=not (text or binary))


# -- candump -L, fast ----------------------------------------------------------------------

_SKIP = -1        # an id the selection does not keep
_ERROR = -2       # an error frame
_REMOTE = (b"R", b"r")


def _candump_id(key: bytes, keep: Callable[[int], bool]) -> int:
    """Frame id of a candump id field as python-can reads it, or _SKIP / _ERROR."""
    value = int(key, 16)
    if value & _CAN_ERR_FLAG and value & _CAN_ERR_BUSERROR:
        return _ERROR
    value &= 0x1FFFFFFF
    fid = value | EXTENDED if len(key) > 3 else value
    return fid if keep(fid) else _SKIP


@register(".log", "candump -L (can-utils), python-can's semantics, unused frames skipped unparsed")
def read_candump(stream: IO[bytes], sel: Selection, stats: ReadStats) -> Iterator[Frame]:
    # The hot loop of a replay (an hour of a busy bus is 7 million lines): a line whose id
    # was seen before costs two finds, a slice and a dict lookup; only kept frames have
    # their time, channel and data parsed. The id is the field before the first "#",
    # after the last space ahead of it; a line with a new id is checked whole first.
    ids: dict[bytes, int] = {}
    frames = other = 0
    last = b""
    number = 0
    channels = sel.channels
    try:
        for number, line in enumerate(stream, 1):
            mark = line.find(b"#")
            sp2 = line.rfind(b" ", 0, mark)
            fid = ids.get(line[sp2 + 1:mark]) if mark > 0 else None
            if fid is None:
                fid = _new_candump_id(line, number, ids, sel.keep)
                if fid is None:             # a blank line
                    continue
            if not last:
                stats.first_t = _candump_time(line, number)
            last = line
            try:
                flag = line[mark + 1]
            except IndexError:              # "...#" at the very end of the file: no data
                flag = 0
            if flag == 82 or flag == 114 or fid == _ERROR:     # "R", "r": a remote frame
                other += 1
                continue
            frames += 1
            if fid == _SKIP:
                continue
            sp1 = line.find(b" ")
            if line[0] != 0x28 or line[sp1 - 1] != 0x29:      # "(time)": a kept frame is checked whole
                raise LogDamage(f"line {number:,}", f"not a candump -L line: {_shown(line)}")
            try:
                channel_field = line[sp1 + 1:sp2].decode("ascii")
                if channels is not None and channel_field not in channels:
                    continue
                channel: object = int(channel_field) if channel_field.isdigit() else channel_field
                t = float(line[1:sp1 - 1])
                start = mark + 1
                if flag == 35:                                  # CAN FD: "##<flags><data>"
                    start += 2
                end = line.find(b" ", start)
                data = bytes.fromhex(line[start:end if end > 0 else len(line)].decode("ascii"))
            except (ValueError, UnicodeDecodeError, IndexError) as exc:
                raise LogDamage(f"line {number:,}", f"{exc}: {_shown(line)}") from None
            stats.kept += 1
            stats.last_t = t
            stats.frames = frames
            yield t, fid, data, channel
    except LogDamage:
        stats.frames, stats.other = frames, other
        raise
    except (OSError, EOFError, zlib.error) as exc:       # the file or its compression ends early
        stats.frames, stats.other = frames, other
        raise LogDamage(f"line {number + 1:,}", f"{type(exc).__name__}: {exc}") from None
    stats.frames, stats.other = frames, other
    if last:
        stats.last_t = _candump_time(last, number)


def _new_candump_id(line: bytes, number: int, ids: dict[bytes, int], keep: Callable[[int], bool]) -> int | None:
    """The id of a line whose id field was not seen before, checked whole (and cached);
    None for a blank line; LogDamage for anything else that is not a candump -L line."""
    sp1 = line.find(b" ")
    sp2 = line.find(b" ", sp1 + 1)
    mark = line.find(b"#", sp2)
    if sp1 < 3 or sp2 < 0 or mark < 0 or line[0] != 0x28 or line.find(b"#") != mark:   # "("
        if not line.strip():
            return None
        raise LogDamage(f"line {number:,}", f"not a candump -L line: {_shown(line)}")
    key = line[sp2 + 1:mark]
    try:
        fid = _candump_id(key, keep)
    except ValueError:
        raise LogDamage(f"line {number:,}", f"bad id {_shown(key)}: {_shown(line)}") from None
    if len(ids) < _ID_CACHE_MAX:
        ids[key] = fid
    return fid


def _candump_time(line: bytes, number: int) -> float:
    try:
        return float(line[1:line.find(b")")])
    except ValueError:
        raise LogDamage(f"line {number:,}", f"no time stamp: {_shown(line)}") from None


def _shown(line: bytes) -> str:
    text = line.strip()[:60].decode("latin-1")
    return repr(text) + ("..." if len(line.strip()) > 60 else "")


# -- opening -------------------------------------------------------------------------------

class CountingFile(io.RawIOBase):
    """A binary file that says how many bytes of it were consumed (for progress)."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "rb")  # noqa: SIM115  closed with this object
        self.name = str(path)

    def readinto(self, b: Any) -> int:
        return self._f.readinto(b)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._f.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()
        super().close()


def open_log(path: Path, compressed: bool) -> tuple[IO[bytes], CountingFile]:
    """(stream to read, underlying file whose tell() is the progress)."""
    raw = CountingFile(path)
    if compressed:
        # A binary file the readers use as one; typeshed types GzipFile as BufferedIOBase only.
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")), raw
    return io.BufferedReader(raw, 1 << 16), raw
