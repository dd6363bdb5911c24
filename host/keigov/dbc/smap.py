"""The signal map (TOML): which of a vehicle's DBC signals carry each governor role.

    dbc = "../vehicles/ev_mcu.dbc"            # or a list; relative to the map
    [inputs]                                  # role = "MESSAGE.SIGNAL" or an inline table
    vehicle_speed = "VCU_STATUS.VEHICLE_SPEED"
    pedal = { signal = "VCU_STATUS.ACCEL_PEDAL", unit = "%" }   # unit where the DBC has none
    [outputs]                                 # role = ["MESSAGE.SIGNAL" or inline table, ...]
    torque_limit = ["MCU_COMMAND.TORQUE_LIMIT"]
    [messages.MCU_COMMAND]                    # protection and J1939 addressing of a message
    counter = "MCU_COUNTER"
    checksum = "MCU_CHECKSUM"
    checksum_kind = "crc8_j1850"
    [checksums.NAME]                          # a vehicle's own scheme (keigov.dbc.checksums)
    [gateway]                                 # GNSS roles a gateway reads for the device
    gnss_latitude = "gnss_pos.Latitude"       # (keigov.dbc.gateway)

The whole format, roles and units: docs/signal-map.md. tomllib keeps no line numbers, so
`TomlLines` finds each key in the text to give every error its line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from keigov import paths
from keigov.errors import InputError

MESSAGE_KEYS = {"counter", "checksum", "checksum_kind", "constants", "source_address", "any_source",
                "range_check", "period_ms"}
_HEADER = re.compile(r"^\s*\[\s*([^\]\[]+?)\s*\]\s*(#.*)?$")


class TomlLines:
    """Line numbers of sections and keys in a TOML text (first match wins)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def _section(self, section: str) -> tuple[int, int]:
        """(index of the header or -1 for the top level, index where the section ends)."""
        start = -1
        if section:
            wanted = [p.strip().strip('"') for p in section.split(".")]
            for k, line in enumerate(self.lines):
                m = _HEADER.match(line)
                if m and [p.strip().strip('"') for p in m.group(1).split(".")] == wanted:
                    start = k
                    break
            else:
                return -1, -1
        end = next((k for k in range(start + 1, len(self.lines)) if _HEADER.match(self.lines[k])), len(self.lines))
        return start, end

    def line(self, section: str, key: str | None = None, needle: str | None = None) -> int | None:
        """1-based line of `key` in `section` (of `needle` after it, for list items), or of the header."""
        start, end = self._section(section)
        if end < 0:
            return None
        found = start
        if key is not None:
            pattern = re.compile(r'^\s*"?' + re.escape(key) + r'"?\s*=')
            found = next((k for k in range(start + 1, end) if pattern.match(self.lines[k])), -1)
            if found < 0:
                return None
            if needle is not None:
                found = next((k for k in range(found, end) if needle in self.lines[k]), found)
        return found + 1 if found >= 0 else None


@dataclass(frozen=True)
class Binding:
    """One role carried by one DBC signal."""

    role: str
    message: str
    signal: str
    unit: str | None          # the map's unit, where the DBC has none
    line: int | None

    @property
    def target(self) -> str:
        return f"{self.message}.{self.signal}"


@dataclass
class SignalMap:
    path: Path
    text: str
    dbc: Path                                 # first DBC (most maps name one)
    dbcs: list[Path]
    input_bindings: list[Binding]
    output_bindings: list[Binding]
    messages: dict[str, dict]                 # [messages.NAME] tables as written
    checksums: dict[str, dict]                # [checksums.NAME] tables as written
    lines: TomlLines = field(repr=False, default=None)  # type: ignore[assignment]
    gateway_bindings: list[Binding] = field(default_factory=list)   # [gateway]

    @property
    def inputs(self) -> dict[str, str]:
        """role -> "MESSAGE.SIGNAL" (the first map format's shape)."""
        return {b.role: b.target for b in self.input_bindings}

    @property
    def outputs(self) -> dict[str, list[str]]:
        """role -> ["MESSAGE.SIGNAL", ...] (the first map format's shape)."""
        out: dict[str, list[str]] = {}
        for b in self.output_bindings:
            out.setdefault(b.role, []).append(b.target)
        return out

    def where(self, section: str, key: str | None = None, needle: str | None = None) -> str:
        return _where(self.path, self.lines, section, key, needle)

    def message_where(self, message: str, key: str | None = None) -> str:
        return self.where(f"messages.{message}", key)


def _where(path: Path, lines: TomlLines, section: str, key: str | None = None, needle: str | None = None) -> str:
    line = lines.line(section, key, needle)
    return f"{path}:{line}" if line else str(path)


def _binding(smap_lines: TomlLines, section: str, role: str, item: object, where: str) -> Binding:
    unit = None
    if isinstance(item, dict):
        unknown = set(item) - {"signal", "unit"}
        if unknown or "signal" not in item:
            raise InputError(f"[{section}] {role}: an inline table needs signal = \"MESSAGE.SIGNAL\" "
                             f"and optionally unit", where=where)
        unit = item.get("unit")
        if not isinstance(unit, (str, type(None))):
            raise InputError(f"[{section}] {role}: unit must be a string", where=where)
        item = item["signal"]
    if not isinstance(item, str) or item.count(".") != 1:
        raise InputError(f"[{section}] {role}: expected \"MESSAGE.SIGNAL\", got {item!r}", where=where)
    message, signal = item.split(".")
    return Binding(role, message, signal, unit, smap_lines.line(section, role, f'"{item}"'))


def map_path(name_or_path: str) -> Path:
    """A signal map's file: the path given, or a bundled map by its name (`canedge_gps`);
    anything else is returned as given, for load_map to say it is missing."""
    path = Path(name_or_path)
    if not path.exists() and path.suffix == "" and len(path.parts) == 1:
        bundled = paths.DBC_DIR / "maps" / f"{path.name}.toml"
        if bundled.is_file():
            return bundled
    return path


def load_map(path: Path) -> SignalMap:
    """Parse a map; a TOML error or a wrongly shaped entry raises InputError with file:line."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), where=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise InputError(f"malformed TOML: {exc}", where=f"{path}:{line.group(1)}" if line else str(path)) from exc
    lines = TomlLines(text)
    unknown = set(data) - {"dbc", "inputs", "outputs", "messages", "checksums", "gateway"}
    if unknown:
        key = sorted(unknown)[0]
        raise InputError(f"unknown key {key!r}; a map has dbc, [inputs], [outputs], [messages.*], [checksums.*], "
                         "[gateway]",
                         where=_where(path, lines, "", key) if lines.line("", key) else _where(path, lines, key))
    names = data.get("dbc", [])
    names = [names] if isinstance(names, str) else names
    if not names or not all(isinstance(n, str) for n in names):
        raise InputError('dbc = "FILE.dbc" (or a list of files) is required', where=str(path))
    dbcs = [path.parent / n for n in names]
    inputs = [_binding(lines, "inputs", role, item, _where(path, lines, "inputs", role))
              for role, item in data.get("inputs", {}).items()]
    gateway = [_binding(lines, "gateway", role, item, _where(path, lines, "gateway", role))
               for role, item in data.get("gateway", {}).items()]
    outputs = []
    for role, items in data.get("outputs", {}).items():
        for item in items if isinstance(items, list) else [items]:
            outputs.append(_binding(lines, "outputs", role, item, _where(path, lines, "outputs", role)))
    messages = data.get("messages", {})
    for name, spec in messages.items():
        unknown = set(spec) - MESSAGE_KEYS
        if unknown:
            key = sorted(unknown)[0]
            raise InputError(f"[messages.{name}] unknown key {key!r}; known: {', '.join(sorted(MESSAGE_KEYS))}",
                             where=_where(path, lines, f"messages.{name}", key))
    return SignalMap(path, text, dbcs[0], dbcs, inputs, outputs, messages, data.get("checksums", {}), lines, gateway)
