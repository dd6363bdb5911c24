"""A zones file as the rig's scenarios and `keigov replay --zones` take it: read, checked
and compiled in one go, every problem an error naming the file that named it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from keigov.errors import InputError
from keigov.zones import ZonesInvalid, compile_checked, load_zones


@dataclass
class CompiledZones:
    """A zones file, checked and compiled as `keigov zones compile` does."""

    path: Path
    zones: Any           # keigov.zones.Zones: the drawn zones
    table: Any           # keigov.zones.Table: what the device gets in its configuration

    @cached_property
    def map(self) -> Any:
        """keigov.zones.shapes.ZoneMap: the drawn zones as geometry, for checks and the map."""
        from keigov.zones.shapes import zone_map

        return zone_map(self.zones)

    def names(self) -> list[str]:
        return [spec.name for spec in self.zones.specs if spec.name]


def read_zones(zones_path: Path, label: str, referrer: Path | None = None) -> CompiledZones:
    """A GeoJSON zones file checked and compiled as `keigov zones compile` does (also for
    `keigov replay --zones`); `label` says where it was named, `referrer` is the file that
    named it (errors about the reference name it, problems in the zones the zones file)."""
    try:
        zones = load_zones(zones_path)
        table = compile_checked(zones, path=zones_path)
    except ZonesInvalid as exc:
        problems = "; ".join(str(i) for i in exc.issues[:3]) + ("; ..." if len(exc.issues) > 3 else "")
        raise InputError(f"{label}: {len(exc.issues)} problem(s): {problems}", where=str(zones_path)) from None
    except InputError as exc:
        raise InputError(f"{label}: {exc}", where=str(referrer or zones_path)) from None
    return CompiledZones(zones_path, zones, table)
