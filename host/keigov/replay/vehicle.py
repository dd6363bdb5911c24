"""The vehicle as a replay sees it: the tables the device runs, and the host's view of them.

The device runs the vehicle's signal map compiled with the drive's DBC files: the `--dbc`
files in place of the map's first (the vehicle's), and the map's further ones (e.g. the
governor's bus, dbc/keigov.dbc, for a map that takes its outputs from it). Inputs the
map cannot give the firmware from the recorded frames, the host sends on the governor's
own messages (keigov.dbc.gateway), as a gateway on the vehicle would:

  GNSS     from a track (`--gnss`), or from the map's [gateway] signals (a CANedge
           CANmod.gps): GNSS_FIX_LAT, GNSS_FIX_LON and GNSS_VELOCITY (keigov.replay.supplied);
  pedal    where the map binds none (a logger on a bus without it): DRIVER_INPUTS at a
           constant `--assume-pedal` percentage, 100 % by default (the driver asking for
           everything, so the command shows all the governor would take).

Recorded frames with the ids of those messages never reach the device. The host's view
(`HostView`) decodes, with cantools, the recorded inputs the timeline shows (speed,
pedal, GNSS) and the outputs the device sends (torque and speed limit, state, zone, flags).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from cantools.database.can import Message

from keigov import paths
from keigov.dbc import roles
from keigov.dbc.compile import device_tables, map_module, refuse_problems
from keigov.dbc.gateway import GATEWAY_ROLES, governor_inputs
from keigov.dbc.generated import load_source
from keigov.dbc.load import LoadedDbc, load_dbcs
from keigov.dbc.physical import MATCH_EXACT, MATCH_PGN, firmware_id
from keigov.dbc.smap import Binding, SignalMap, load_map
from keigov.dbc.tables import FastTables, build_tables
from keigov.errors import InputError
from keigov.firmware_params import load_firmware_module

GNSS_ROLES = GATEWAY_ROLES
DRIVER_ROLES = ("pedal", "brake")
SPEED_ROLES = ("wheel_speed_fl", "wheel_speed_fr", "wheel_speed_rl", "wheel_speed_rr", "vehicle_speed")
TABLE_MODULE = "vehicle_tables"
DEFAULT_PEDAL_PCT = 100.0
# Shown units: firmware units per shown unit (km/h, %, degrees, counts, km).
_SHOWN = {"ckph": 100, "permille": 10, "deci": 10, "centideg": 100, "deg_e7": 10**7, "count": 1, "dam": 100,
          "us": 1}


class FrameIndex(Protocol):
    """core/idmatch.py's FrameIndex (loaded from the firmware's source, so untyped)."""

    def find(self, frame_id: int) -> int: ...   # the message's index, or -1


@dataclass(frozen=True)
class VehicleSpec:
    """What the command line says about the vehicle: picklable, rebuilt in each worker."""

    map_path: Path
    dbc_paths: tuple[Path, ...] = ()
    track: Path | None = None
    assume_pedal_pct: float | None = None


@dataclass(frozen=True)
class RoleSignal:
    role: str
    signal: str
    factor: float       # shown units per DBC unit


@dataclass
class Vehicle:
    spec: VehicleSpec
    smap: SignalMap                     # the vehicle's map as written
    loaded: LoadedDbc                   # the device's DBCs (the vehicle's among them)
    fast: FastTables
    source: str
    gnss: str                           # native | gateway | track | none
    supplied: tuple[str, ...]           # messages the host sends for the device
    pedal_pct: float | None             # the demand the host sends, where the map has no pedal
    notes: list[str] = field(default_factory=list)

    @property
    def tables_source(self) -> str:
        """The SOURCE line of the compiled tables (a configuration names the tables it is for)."""
        return str(load_source(self.source, TABLE_MODULE).SOURCE)


def dbc_files(smap: SignalMap, given: tuple[Path, ...]) -> list[Path]:
    """The given DBC files in place of the map's first (the vehicle's); the map's further
    DBC files stay (e.g. the governor's own bus for its outputs)."""
    return list(given) + list(smap.dbcs[1:]) if given else list(smap.dbcs)


def build_vehicle(spec: VehicleSpec) -> Vehicle:
    """The device's tables for the spec; an InputError (map:line) for a map that cannot work."""
    for path in (spec.map_path, *spec.dbc_paths):
        if not path.is_file():
            raise InputError("no such file", where=str(path))
    smap = load_map(spec.map_path)
    device, loaded, fast = device_tables(smap, load_dbcs(dbc_files(smap, spec.dbc_paths)))
    refuse_problems(fast)
    mapped = {b.role for b in smap.input_bindings}
    notes: list[str] = []
    add: tuple[str, ...] = ()
    pedal = None
    if "pedal" not in mapped:
        pedal = DEFAULT_PEDAL_PCT if spec.assume_pedal_pct is None else spec.assume_pedal_pct
        add += tuple(r for r in DRIVER_ROLES if r not in mapped)
        notes.append(f"the map binds no pedal: the replay sends DRIVER_INPUTS with the pedal at {pedal:g} %")
    elif spec.assume_pedal_pct is not None:
        raise InputError(f"--assume-pedal is for maps without a pedal; this map reads {smap.inputs['pedal']}",
                         where=str(spec.map_path))
    if spec.track is not None:
        gnss = "track"
        add += GNSS_ROLES
    elif smap.gateway_bindings:
        gnss = "gateway"
        notes.append("GNSS from the map's [gateway] signals (" + ", ".join(b.target for b in smap.gateway_bindings[:2])
                     + ", ...), sent on the governor's GNSS messages")
    elif mapped & set(GNSS_ROLES):
        gnss = "native"
    else:
        gnss = "none"
        notes.append("no GNSS: the map binds none and no --gnss track was given (zones cannot act)")
    if add:
        device, loaded = governor_inputs(device, loaded, add)
        fast = build_tables(device, loaded)
        refuse_problems(fast)
    supplied = tuple(dict.fromkeys(
        b.message for b in device.input_bindings
        if (b.role in GNSS_ROLES and gnss in ("track", "gateway")) or (b.role in DRIVER_ROLES and pedal is not None)))
    source = map_module(device, loaded, fast, extra_inputs=[paths.KEIGOV_MAP] if supplied else [])
    return Vehicle(spec, smap, loaded, fast, source, gnss, supplied, pedal, notes)


# -- the host's view -------------------------------------------------------------------------

def shown_factor(role: roles.Role, binding: Binding, dbc_unit: str) -> float:
    factor = roles.unit_factor(role.unit, binding.unit if binding.unit is not None else dbc_unit)
    return float((factor if factor is not None else Fraction(1)) / _SHOWN[role.unit])


class HostView:
    """What the host reads of the device's bus: which recorded frames the device uses
    (its own id matching, `core/idmatch.py`), the inputs the timeline shows and the
    outputs the device sends."""

    def __init__(self, vehicle: Vehicle) -> None:
        self.vehicle = vehicle
        module = load_source(vehicle.source, TABLE_MODULE)
        # The device's own tables decode what the timeline shows (cantools' values: the
        # generated decoder is tested against it), a few times faster than cantools.
        self.decode: Callable[[int, bytes], Mapping[str, float] | None] = module.decode
        idmatch = load_firmware_module("core/idmatch.py")
        self.index: FrameIndex = idmatch.FrameIndex(module.RX_ID, getattr(module, "RX_MATCH", None))
        self.rx_names = [e.name for e in vehicle.fast.rx]
        supplied = set(vehicle.supplied)
        self._recorded = [name not in supplied for name in self.rx_names]
        db = vehicle.loaded.db
        # Recorded inputs the timeline shows: rx index -> (message, roles).
        self.inputs: dict[int, tuple[Message, list[RoleSignal]]] = {}
        shown = set(SPEED_ROLES + DRIVER_ROLES) | (set(GNSS_ROLES) if vehicle.gnss == "native" else set())
        for i, name in enumerate(self.rx_names):
            if not self._recorded[i]:
                continue
            msg = db.get_message_by_name(name)
            signals = [RoleSignal(b.role, b.signal, shown_factor(roles.INPUTS[b.role], b,
                                                                 msg.get_signal_by_name(b.signal).unit or ""))
                       for b in vehicle.smap.input_bindings if b.message == name and b.role in shown]
            if signals:
                self.inputs[i] = (msg, signals)
        # Outputs: the device's frame id -> (message, roles).
        self.outputs: dict[int, tuple[Message, list[RoleSignal]]] = {}
        for entry in vehicle.fast.tx:
            msg = db.get_message_by_name(entry.name)
            signals = [RoleSignal(b.role, b.signal, shown_factor(roles.OUTPUTS[b.role], b,
                                                                 msg.get_signal_by_name(b.signal).unit or ""))
                       for b in vehicle.smap.output_bindings if b.message == entry.name]
            self.outputs[entry.frame_id] = (msg, signals)
        self.output_roles = {s.role for _m, sigs in self.outputs.values() for s in sigs}
        self.gateway_sources = self._gateway_sources() if vehicle.gnss == "gateway" else {}

    def used_index(self, frame_id: int) -> int:
        """The device's message index for a recorded frame, or -1 if the device ignores it
        (or the host supplies that message itself)."""
        i = self.index.find(frame_id)
        return i if i >= 0 and self._recorded[i] else -1

    def keep(self, frame_id: int) -> bool:
        return self.used_index(frame_id) >= 0

    def supplied(self, frame_id: int) -> bool:
        """Whether the host sends this message itself (recorded frames of it are left out)."""
        i = self.index.find(frame_id)
        return i >= 0 and not self._recorded[i]

    def recorded_inputs(self) -> list[str]:
        return [name for name, recorded in zip(self.rx_names, self._recorded) if recorded]

    def _gateway_sources(self) -> dict[str, tuple[Message, int, list[RoleSignal]]]:
        """The vehicle's messages with [gateway] signals: name -> (message, match, roles)."""
        out: dict[str, tuple[Message, int, list[RoleSignal]]] = {}
        db = self.vehicle.loaded.db       # the device's DBCs include the vehicle's
        for b in self.vehicle.smap.gateway_bindings:
            msg = db.get_message_by_name(b.message)
            match = MATCH_PGN if self.vehicle.smap.messages.get(b.message, {}).get("any_source") else MATCH_EXACT
            entry = out.setdefault(b.message, (msg, match, []))
            entry[2].append(RoleSignal(b.role, b.signal, shown_factor(
                roles.INPUTS[b.role], b, msg.get_signal_by_name(b.signal).unit or "")))
        return out

    def gateway_index(self) -> tuple[FrameIndex, list[tuple[Message, list[RoleSignal]]]]:
        """A FrameIndex over the vehicle's [gateway] messages, and their roles by index."""
        idmatch = load_firmware_module("core/idmatch.py")
        sources = list(self.gateway_sources.values())
        index = idmatch.FrameIndex([firmware_id(m) for m, _match, _s in sources], [match for _m, match, _s in sources])
        return index, [(m, sigs) for m, _match, sigs in sources]
