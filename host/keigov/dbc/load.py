"""Load one or more DBC files with cantools (strict), keeping where each thing was written.

cantools reports syntax errors with a line but semantic ones (overlapping signals, a
signal outside its message) only by name; `DbcLines` finds those names in the text so
that every error says file:line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import cantools
import textparser
from cantools.database.can import Database

from keigov.errors import InputError

_MESSAGE = re.compile(r"^BO_\s+(\d+)\s+(\w+)\s*:")
_SIGNAL = re.compile(r"^\s+SG_\s+(\w+)")


@dataclass
class DbcLines:
    """Line numbers (1-based) of messages, signals and keywords in one DBC text."""

    path: Path
    messages: dict[str, int] = field(default_factory=dict)
    signals: dict[tuple[str, str], int] = field(default_factory=dict)
    keywords: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def scan(cls, path: Path, text: str) -> "DbcLines":
        lines = cls(path)
        current = None
        for number, line in enumerate(text.splitlines(), 1):
            m = _MESSAGE.match(line)
            if m:
                current = m.group(2)
                lines.messages.setdefault(current, number)
                continue
            s = _SIGNAL.match(line)
            if s and current is not None:
                lines.signals.setdefault((current, s.group(1)), number)
                continue
            if line.strip() and not line[0].isspace():
                current = None        # a message's signal block ends at the next keyword
                # (indented words, such as the NS_ list of keyword names, are not statements)
                lines.keywords.setdefault(line.split(None, 1)[0], []).append(number)
        return lines

    def where(self, message: str | None = None, signal: str | None = None) -> str:
        """'file:line' of a signal (or its message), or just the file when neither is found."""
        number = None
        if message is not None and signal is not None:
            number = self.signals.get((message, signal))
        if number is None and message is not None:
            number = self.messages.get(message)
        if number is None and signal is not None:
            number = next((n for (_m, s), n in self.signals.items() if s == signal), None)
        return f"{self.path}:{number}" if number else str(self.path)


@dataclass
class LoadedDbc:
    db: Database
    files: list[DbcLines]

    def where(self, message: str | None = None, signal: str | None = None) -> str:
        for lines in self.files:
            if message in lines.messages or (message is None and signal is not None):
                return lines.where(message, signal)
        return self.files[0].where(message, signal) if self.files else "?"

    @property
    def paths(self) -> list[Path]:
        return [f.path for f in self.files]


def _error_where(lines: DbcLines, exc: Exception) -> str:
    line = getattr(exc, "line", None)
    if line:
        return f"{lines.path}:{line}"
    text = str(exc)
    message = re.search(r"in message (\w+)", text)
    signal = re.search(r"[Ss]ignals? (\w+)", text)
    return lines.where(message.group(1) if message else None, signal.group(1) if signal else None)


def load_dbcs(paths: list[Path]) -> LoadedDbc:
    """One cantools database from every file; malformed input raises InputError(file:line)."""
    db = Database(strict=True)
    files = []
    for path in paths:
        try:
            text = path.read_text(encoding="cp1252")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(getattr(exc, "strerror", None) or str(exc), where=str(path)) from exc
        lines = DbcLines.scan(path, text)
        try:
            db.add_dbc_string(text)
        except (textparser.ParseError, cantools.database.Error, ValueError, KeyError, IndexError) as exc:
            raise InputError(f"malformed DBC: {exc}", where=_error_where(lines, exc)) from exc
        files.append(lines)
    return LoadedDbc(db, files)
