"""The operator's CONFIG.toml: read, validated against the firmware's bounds, compiled.

    version = 3                  # must rise with every push (the device refuses replays)
    cap_mph = 25                 # or cap_kph; likewise limp_*, lockout_*
    limp_mph = 10
    lockout_mph = 5
    hysteresis_m = 15            # a looser zone applies this far past its boundary
    dwell_s = 2.5                # ... and after this long inside it
    zones = "campus.geojson"     # zones drawn in GeoJSON (or `keigov zones compile` output), optional
    signal_map = "../dbc/maps/keigov.toml"   # the tables the firmware runs, optional
    [params]                     # any firmware parameter by name, in firmware units
    overspeed_ms = 800

Every error names the file, the key (and its line) and the reason. Paths are relative to
the CONFIG.toml. The values are checked against firmware/core/config.py PARAMS and the
key's provisioned cap bounds, so a file that builds is one the device accepts.
"""

from __future__ import annotations

import ast
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from keigov.config.blob import VERSION_MAX, ConfigBlob
from keigov.config.keys import KeyFile
from keigov.errors import InputError
from keigov.firmware_params import Param, firmware_params

CKPH_PER_MPH = 160.9344


@dataclass(frozen=True)
class Friendly:
    """An operator key in everyday units and the firmware parameter it sets."""

    param: str
    unit: str
    per_unit: float  # firmware units per operator unit


FRIENDLY = {
    "cap_mph": Friendly("cap_ckph", "mph", CKPH_PER_MPH),
    "cap_kph": Friendly("cap_ckph", "km/h", 100),
    "limp_mph": Friendly("limp_ckph", "mph", CKPH_PER_MPH),
    "limp_kph": Friendly("limp_ckph", "km/h", 100),
    "lockout_mph": Friendly("lockout_ckph", "mph", CKPH_PER_MPH),
    "lockout_kph": Friendly("lockout_ckph", "km/h", 100),
    "hysteresis_m": Friendly("zone_hysteresis_m", "m", 1),
    "dwell_s": Friendly("zone_dwell_ms", "s", 1000),
}
OTHER_KEYS = ("version", "zones", "signal_map", "params")
AT_MOST_CAP = ("limp_ckph", "lockout_ckph")


class _Source:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.text = path.read_text()
            self.data = tomllib.loads(self.text)
        except OSError as exc:
            raise InputError(exc.strerror or str(exc), where=str(path)) from exc
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"not valid TOML: {exc}", where=str(path)) from exc

    def where(self, key: str) -> str:
        """file:line of `key = ...` (the first such line), or file with the key named."""
        name = key.rsplit(".", 1)[-1]
        for n, line in enumerate(self.text.splitlines(), 1):
            if re.match(rf"\s*{re.escape(name)}\s*=", line):
                return f"{self.path}:{n}: {key}"
        return f"{self.path}: {key}"

    def fail(self, key: str, reason: str) -> InputError:
        return InputError(reason, where=self.where(key))


def _number(src: _Source, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise src.fail(key, f"must be a number, not {type(value).__name__}")
    return value


def _in_bounds(src: _Source, key: str, value: int, p: Param, scale: float = 1, unit: str = "") -> int:
    if not p.minimum <= value <= p.maximum:
        # shown to 0.01, rounded inwards: every value in the range shown is accepted
        lo, hi = math.ceil(p.minimum / scale * 100) / 100, math.floor(p.maximum / scale * 100) / 100
        shown = f"{lo:g} .. {hi:g} {unit}".rstrip()
        raise src.fail(key, f"must be within {shown} (firmware bounds of {p.name})")
    return value


def compile_params(src: _Source, params: dict[str, Param]) -> dict[str, int]:
    values: dict[str, int] = {}
    set_by: dict[str, str] = {}
    known = ", ".join(list(FRIENDLY) + list(OTHER_KEYS))
    for key, raw in src.data.items():
        if key in OTHER_KEYS:
            continue
        spec = FRIENDLY.get(key)
        if spec is None:
            raise src.fail(key, f"unknown key; known: {known}")
        p = params.get(spec.param)
        if p is None:
            raise src.fail(key, f"the firmware has no parameter {spec.param}")
        if spec.param in set_by:
            raise src.fail(key, f"sets {spec.param} again (already set by {set_by[spec.param]})")
        value = round(_number(src, key, raw) * spec.per_unit)
        values[spec.param] = _in_bounds(src, key, value, p, spec.per_unit, spec.unit)
        set_by[spec.param] = key
    table = src.data.get("params", {})
    if not isinstance(table, dict):
        raise src.fail("params", "must be a table of firmware parameters")
    for name, raw in table.items():
        key = f"params.{name}"
        p = params.get(name)
        if p is None:
            raise src.fail(key, f"the firmware has no parameter {name!r}; known: {', '.join(params)}")
        if name in set_by:
            raise src.fail(key, f"sets {name} again (already set by {set_by[name]})")
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise src.fail(key, "must be an integer in firmware units")
        values[name] = _in_bounds(src, key, raw, p)
        set_by[name] = key
    cap = values.get("cap_ckph", params["cap_ckph"].default)
    for name in AT_MOST_CAP:
        if name in params and values.get(name, params[name].default) > cap:
            raise src.fail(set_by.get(name, name), f"{name} is above the cap ({cap} ckph)")
    return values


def _version(src: _Source) -> int:
    if "version" not in src.data:
        raise InputError("missing 'version' (an integer that rises with every configuration pushed)",
                         where=str(src.path))
    v = src.data["version"]
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= VERSION_MAX:
        raise src.fail("version", f"must be an integer 1 .. {VERSION_MAX}")
    return v


def _file(src: _Source, key: str) -> Path | None:
    value = src.data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise src.fail(key, "must be a file name (a string)")
    path = src.path.parent / value
    if not path.is_file():
        raise src.fail(key, f"no such file: {path}")
    return path


@dataclass(frozen=True)
class ZonesFile:
    """The file CONFIG.toml's `zones` names, resolved relative to it."""

    path: Path
    where: str      # "CONFIG.toml:LINE: zones", for errors about it

    @property
    def geojson(self) -> bool:
        """Drawn zones (else tables compiled beforehand: the device checks them)."""
        return self.path.suffix.lower() in (".geojson", ".json")


def _zones_file(src: _Source) -> ZonesFile | None:
    path = _file(src, "zones")
    return None if path is None else ZonesFile(path, src.where("zones"))


def _zones(src: _Source) -> bytes | None:
    named = _zones_file(src)
    if named is None:
        return None
    path = named.path
    if not named.geojson:
        return path.read_bytes()
    from keigov.zones import ZonesInvalid, compile_zones

    try:
        return compile_zones(path).blob
    except ZonesInvalid as exc:
        raise src.fail("zones", f"{path.name}: " + "; ".join(str(i) for i in exc.issues)) from exc


def _tables_source(src: _Source) -> str | None:
    path = _file(src, "signal_map")
    if path is None:
        return None
    from keigov.dbc.compile import compile_map

    module = ast.parse(compile_map(path))
    for node in module.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SOURCE":
            return ast.literal_eval(node.value)
    raise src.fail("signal_map", "the compiled tables carry no SOURCE line")


def _cap_key(src: _Source) -> str:
    for key in ("cap_mph", "cap_kph"):
        if key in src.data:
            return key
    return "params.cap_ckph" if "cap_ckph" in src.data.get("params", {}) else "cap_mph"


def read_settings(path: Path) -> tuple[dict[str, int], ZonesFile | None]:
    """CONFIG.toml's firmware values, checked as for `build_config` but for no device (a
    simulated device, keigov.config.simdevice, signs them with its key), and the zones
    file it names, left to the caller to read: drawn zones serve more than the device."""
    src = _Source(path)
    return compile_params(src, firmware_params()), _zones_file(src)


def build_config(path: Path, key: KeyFile) -> ConfigBlob:
    """The unsigned blob for CONFIG.toml, for the key's device and within its cap bounds."""
    src = _Source(path)
    params = firmware_params()
    version = _version(src)
    values = compile_params(src, params)
    cap = values.get("cap_ckph", params["cap_ckph"].default)
    if not key.cap_min_ckph <= cap <= key.cap_max_ckph:
        raise src.fail(_cap_key(src),
                       f"cap {cap / CKPH_PER_MPH:.1f} mph ({cap} ckph) is outside the bounds provisioned for "
                       f"{key.device}: {key.cap_min_ckph / CKPH_PER_MPH:.1f} .. {key.cap_max_ckph / CKPH_PER_MPH:.1f} "
                       f"mph ({key.cap_min_ckph} .. {key.cap_max_ckph} ckph)")
    return ConfigBlob(key.device, version, values, _tables_source(src), _zones(src))
