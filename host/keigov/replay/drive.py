"""One drive: its log files read together, merged in time order.

A drive is one LOG argument: a file, or a directory whose log files are the splits of one
recording (a CANedge logger writes a session as 00000001.MF4, 00000002.MF4, ...);
`--merge` makes every file given one drive (e.g. one log per bus channel). Each file is
read by its format's reader and the frames a `Selection` keeps are merged by time stamp.

Damage stops that file only: the frames before it are used, and the drive reports the
file and position (`FileReport.damage`).
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from keigov.errors import InputError
from keigov.replay.formats import format_of, open_log
from keigov.replay.frames import FORMATS, Frame, LogDamage, ReadStats, Selection


@dataclass(frozen=True)
class Drive:
    name: str
    files: tuple[Path, ...]


@dataclass
class FileReport:
    path: Path
    format: str
    stats: ReadStats = field(default_factory=ReadStats)
    damage: LogDamage | None = None

    def damage_text(self) -> str | None:
        return None if self.damage is None else f"{self.path}: {self.damage}"


class DriveReader:
    """The frames of a drive a selection keeps, in time order (`frames()`), with per-file
    counts and the drive's time span once `start()` has primed every file."""

    def __init__(self, drive: Drive, sel: Selection) -> None:
        self.drive = drive
        self.sel = sel
        self.files = [FileReport(p, format_of(p)[0].suffix) for p in drive.files]
        self._raws: list = []
        self.total_bytes = sum(p.stat().st_size for p in drive.files)
        self._merged: Iterator[Frame] | None = None
        self._head: Frame | None = None

    def _file_frames(self, report: FileReport) -> Iterator[Frame]:
        fmt, compressed = format_of(report.path)
        stream, raw = open_log(report.path, compressed)
        self._raws.append(raw)
        try:
            yield from fmt.read(stream, self.sel, report.stats)
        except LogDamage as damage:
            report.damage = damage
        except (OSError, EOFError, zlib.error) as exc:   # the file or its compression ends early
            s = report.stats
            report.damage = LogDamage(f"after frame {s.frames + s.other:,}", f"{type(exc).__name__}: {exc}")
        finally:
            stream.close()

    def start(self) -> float | None:
        """Read up to the first kept frame of every file; the drive's first time stamp
        (of any frame, kept or not), or None for a drive with no frames at all."""
        streams = [self._file_frames(r) for r in self.files]
        merged = heapq.merge(*streams, key=itemgetter(0)) if len(streams) > 1 else streams[0]
        self._merged = merged
        self._head = next(merged, None)
        firsts = [r.stats.first_t for r in self.files if r.stats.first_t is not None]
        return min(firsts) if firsts else None

    def frames(self) -> Iterator[Frame]:
        assert self._merged is not None, "start() first"
        if self._head is not None:
            yield self._head
            yield from self._merged

    @property
    def end(self) -> float | None:
        """The last time stamp of any file (final once frames() is exhausted)."""
        lasts = [r.stats.last_t for r in self.files if r.stats.last_t is not None]
        return max(lasts) if lasts else None

    def progress(self) -> float:
        done = 0
        for raw in self._raws:
            try:
                done += raw.tell()
            except ValueError:      # closed: read to the end
                done += Path(raw.name).stat().st_size
        return done / self.total_bytes if self.total_bytes else 1.0

    @property
    def frames_read(self) -> int:
        return sum(r.stats.frames for r in self.files)

    @property
    def frames_kept(self) -> int:
        return sum(r.stats.kept for r in self.files)

    def damages(self) -> list[str]:
        return [text for r in self.files if (text := r.damage_text())]


def _log_files(directory: Path) -> list[Path]:
    files = []
    for p in sorted(directory.iterdir()):
        if p.is_file():
            try:
                format_of(p)
            except InputError:
                continue
            files.append(p)
    if not files:
        raise InputError(f"no log files in the directory (known formats: {', '.join(sorted(FORMATS))})",
                         where=str(directory))
    return files


def drives_from_arguments(paths: list[Path], merge: bool) -> list[Drive]:
    """Drives for the LOG arguments: a file or a directory each, or all merged into one.
    Every file is checked here: a missing file or an unknown format fails before any run."""
    groups: list[tuple[Path, list[Path]]] = []
    for path in paths:
        if path.is_dir():
            groups.append((path, _log_files(path)))
        elif path.is_file():
            format_of(path)
            groups.append((path, [path]))
        else:
            raise InputError("no such file", where=str(path))
    names = [p.name.split(".")[0] if p.is_file() else p.name for p, _ in groups]
    if merge:
        return [Drive(names[0] + ("-merged" if len(paths) > 1 else ""), tuple(f for _, fs in groups for f in fs))]
    # The same name twice (day1/00000001.MF4, day2/00000001.MF4): numbered in argument order.
    return [Drive(name if names.count(name) == 1 else f"{name}-{i + 1}", tuple(files))
            for i, ((_path, files), name) in enumerate(zip(groups, names))]
