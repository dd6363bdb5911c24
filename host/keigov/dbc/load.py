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

# DBC statements cantools' grammar does not accept: named as unsupported, with their line.
UNPARSED_KEYWORDS = {
    "SGTYPE_": "signal type definitions (SGTYPE_)",
    "SGTYPE_VAL_": "signal type value descriptions (SGTYPE_VAL_)",
    "SIG_TYPE_REF_": "signal type references (SIG_TYPE_REF_)",
    "SIGTYPE_VALTYPE_": "signal type value types (SIGTYPE_VALTYPE_)",
    "BA_DEF_SGTYPE_": "signal type attribute definitions (BA_DEF_SGTYPE_)",
    "BA_SGTYPE_": "signal type attributes (BA_SGTYPE_)",
    "CAT_DEF_": "categories (CAT_DEF_)",
    "CAT_": "categories (CAT_)",
    "FILTER": "filters (FILTER)",
    "EV_DATA_": "environment variable data (EV_DATA_)",
}
_SIGNAL = re.compile(r"^\s+SG_\s+(\w+)")


@dataclass
class DbcLines:
    """Line numbers (1-based) of messages, signals and keywords in one DBC text."""

    path: Path
    messages: dict[str, int] = field(default_factory=dict)
    signals: dict[tuple[str, str], int] = field(default_factory=dict)
    keywords: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def scan(cls, path: Path, text: str) -> DbcLines:
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
    unparsed: list[tuple[str, str]] = field(default_factory=list)   # (file:line, what) left out

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


def _without_unparsed(text: str, lines: DbcLines) -> tuple[str, list[tuple[str, str]]]:
    """The text with each statement cantools cannot parse blanked (line numbers kept)."""
    rows = text.splitlines()
    found = []
    for keyword, what in UNPARSED_KEYWORDS.items():
        for number in lines.keywords.get(keyword, []):
            found.append((number, f"{lines.path}:{number}", what))
            k = number - 1
            while k < len(rows):
                end = ";" in rows[k]
                rows[k] = ""
                k += 1
                if end:
                    break
    return "\n".join(rows), [(where, what) for _n, where, what in sorted(found)]


def load_dbcs(paths: list[Path], *, leave_out_unparsed: bool = False) -> LoadedDbc:
    """One cantools database from every file; malformed input raises InputError(file:line).

    A statement cantools cannot parse (signal types, categories, ...) raises InputError
    naming it, or with `leave_out_unparsed` is blanked and listed in `unparsed` (check).
    """
    db = Database(strict=True)
    files = []
    unparsed: list[tuple[str, str]] = []
    for path in paths:
        try:
            text = path.read_text(encoding="cp1252")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(getattr(exc, "strerror", None) or str(exc), where=str(path)) from exc
        lines = DbcLines.scan(path, text)
        text, left_out = _without_unparsed(text, lines)
        if left_out and not leave_out_unparsed:
            where, what = left_out[0]
            raise InputError(f"unsupported: {what}: cantools and this compiler cannot read them", where=where)
        unparsed += left_out
        try:
            db.add_dbc_string(text)
        except (textparser.ParseError, cantools.database.Error, ValueError, KeyError, IndexError) as exc:
            raise InputError(f"malformed DBC: {exc}", where=_error_where(lines, exc)) from exc
        files.append(lines)
    return LoadedDbc(db, files, unparsed)
