"""Inputs that reach the device on the governor's own messages instead of the vehicle's.

Some vehicle signals the fast path cannot read: a CSS Electronics CANmod.gps sends its
coordinates as 28- and 29-bit unsigned integers with an offset, where the device needs
32-bit 1e-7 degrees. A map names such GNSS signals in its [gateway] table; a gateway
(a small node on the bus, or `keigov replay` for a recorded drive) reads them and sends
the values on the governor's GNSS messages of dbc/keigov.dbc (GNSS_FIX_LAT, GNSS_FIX_LON,
GNSS_VELOCITY, bound as in dbc/maps/keigov.toml), which the device's tables then receive.

`governor_inputs` makes such a device map: the vehicle's map with some roles taken off
its own messages and given to the governor's. `keigov replay` uses it for a GNSS track
and for a pedal the vehicle's bus lacks, too.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from keigov import paths
from keigov.dbc.features import Problem
from keigov.dbc.load import LoadedDbc, load_dbcs
from keigov.dbc.smap import SignalMap, load_map
from keigov.errors import InputError

GATEWAY_ROLES = ("gnss_latitude", "gnss_longitude", "gnss_fix_type", "gnss_satellites", "gnss_hdop", "gnss_speed",
                 "gnss_heading")


def _in_dbcs(path: Path, loaded: LoadedDbc) -> bool:
    """Whether the DBCs include this file (or a copy of it)."""
    text = path.read_bytes()
    return any(p.resolve() == path.resolve() or p.read_bytes() == text for p in loaded.paths)


def governor_inputs(smap: SignalMap, loaded: LoadedDbc, add: tuple[str, ...], drop: tuple[str, ...] = ()
                    ) -> tuple[SignalMap, LoadedDbc]:
    """The map with roles `drop` taken off its inputs and roles `add` received on the
    governor's own messages (with their counters and checksums), its DBC added."""
    if not add and not drop:
        return smap, loaded
    governor = load_map(paths.KEIGOV_MAP)
    bindings = [b for b in governor.input_bindings if b.role in add]
    protection = {b.message: governor.messages.get(b.message, {}) for b in bindings}
    keigov_loaded = _in_dbcs(paths.KEIGOV_DBC, loaded)
    clash = sorted(set(protection) & {m.name for m in loaded.db.messages})
    if clash and not keigov_loaded:
        raise InputError(f"the vehicle's DBC defines {', '.join(clash)}, the governor's own messages for "
                         f"{', '.join(add)}", where=str(loaded.paths[0]))
    dbcs = list(loaded.paths) + ([] if keigov_loaded else [paths.KEIGOV_DBC])
    inputs = [b for b in smap.input_bindings if b.role not in drop and b.role not in add] + bindings
    used = {b.message for b in inputs + smap.output_bindings}
    messages = {name: spec for name, spec in {**smap.messages, **protection}.items() if name in used}
    device = dataclasses.replace(smap, input_bindings=inputs, messages=messages, dbcs=dbcs)
    return device, (loaded if keigov_loaded else load_dbcs(dbcs))


def device_map(smap: SignalMap, loaded: LoadedDbc) -> tuple[SignalMap, LoadedDbc, list[Problem]]:
    """The map the device runs: a map with [gateway] roles receives every GNSS role on the
    governor's messages (the gateway sends all three)."""
    if not smap.gateway_bindings:
        return smap, loaded, []
    problems = []
    mapped = {b.role: b for b in smap.input_bindings}
    for b in smap.gateway_bindings:
        if b.role in mapped:
            problems.append(Problem(f"{smap.path}:{b.line}" if b.line else smap.where("gateway", b.role),
                                    f"[gateway] {b.role} is also in [inputs] ({mapped[b.role].target})"))
    if problems:
        return smap, loaded, problems
    device, device_loaded = governor_inputs(smap, loaded, GATEWAY_ROLES)
    return device, device_loaded, []
