"""What a replay runs with, from what its user named: the configuration and its zones, the
rules, the vehicle (map, DBCs, pedal) and a GNSS track. Every problem in any of them is an
error here, before the first drive is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keigov.config.source import ZonesFile, read_settings
from keigov.errors import InputError
from keigov.replay.gnss import FixTimeline
from keigov.replay.rules import Rules, load_rules
from keigov.replay.track import read_track
from keigov.replay.vehicle import Vehicle, VehicleSpec, build_vehicle
from keigov.zones.checked import CompiledZones, read_zones


@dataclass
class ReplayPlan:
    params: dict[str, int]             # the configuration's parameters (firmware units)
    zones: CompiledZones | None        # the zones' geometry, for the zone checks and map.png
    zone_table: bytes | None           # what the device gets installed
    rules: Rules
    spec: VehicleSpec
    vehicle: Vehicle
    track: FixTimeline | None          # --gnss: fixes from a track file instead of the log's


def choose_zones(zones_path: Path | None, named: ZonesFile | None) -> tuple[CompiledZones | None, bytes | None]:
    """The zones a replay installs, from --zones or the configuration's (geometry, table);
    a compiled table named by the configuration has no geometry to draw or check."""
    if zones_path is not None:
        if named is not None:
            raise InputError("give the zones once: --zones, or zones in the configuration", where=named.where)
        if not zones_path.is_file():
            raise InputError("no such file", where=str(zones_path))
        zones = read_zones(zones_path, "--zones")
    elif named is not None and named.geojson:
        zones = read_zones(named.path, named.where)
    elif named is not None:
        return None, named.path.read_bytes()
    else:
        return None, None
    return zones, zones.table.blob


def plan_replay(*, map_path: Path, dbcs: tuple[Path, ...] = (), config: Path | None = None,
                zones: Path | None = None, rules: Path | None = None, gnss: Path | None = None,
                assume_pedal: float | None = None) -> ReplayPlan:
    if assume_pedal is not None and not 0 <= assume_pedal <= 100:
        raise InputError(f"--assume-pedal {assume_pedal}: a percentage 0..100")
    params, named = read_settings(config) if config else ({}, None)
    compiled, zone_table = choose_zones(zones, named)
    checks = load_rules(rules, params, compiled)
    spec = VehicleSpec(map_path, dbcs, gnss, assume_pedal)
    vehicle = build_vehicle(spec)           # map, DBC and pedal problems fail here, before any drive
    track = FixTimeline(read_track(gnss).fixes) if gnss else None
    return ReplayPlan(params, compiled, zone_table, checks, spec, vehicle, track)
