"""The registry of counter/checksum schemes a signal map may name.

A scheme is data: an algorithm the firmware implements (firmware/core/checksums.py
ALGO_*) with its parameters. The built-in names cover the common cases; a map adds its
own under [checksums.NAME] (any CRC-8 by polynomial, init and final xor; XOR; additive
sum; with or without the id's low byte as a data id). An algorithm that parameters cannot
express (a vehicle's own arithmetic) is one function in firmware/core/checksums.py and
one in keigov.dbc.e2e, registered under a new ALGORITHMS name; docs/signal-map.md says how.

Table columns (CHECKSUM_*) list the schemes a table uses; RX/TX_CHECKSUM_KIND index them.
Index 0 is always "none" and 1 always "crc8_j1850_id", the keigov bus scheme, so that
tables and firmware built before the registry keep their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

# Firmware algorithm ids (firmware/core/checksums.py ALGO_*).
ALGORITHMS = {"none": 0, "crc8": 1, "xor": 2, "sum8": 3, "j1939": 4}
DATA_IDS = {"none": 0, "id_low_byte": 1}


@dataclass(frozen=True)
class Scheme:
    name: str
    algorithm: str
    poly: int = 0
    init: int = 0
    xorout: int = 0
    data_id: str = "none"
    doc: str = ""

    @property
    def nibble(self) -> bool:
        """The checksum is the high nibble of its byte, the counter the low nibble (J1939-71)."""
        return self.algorithm == "j1939"


BUILTIN = {
    s.name: s
    for s in (
        Scheme("none", "none", doc="no checksum"),
        Scheme("crc8_j1850_id", "crc8", 0x1D, 0xFF, 0xFF, "id_low_byte",
               "CRC-8 SAE J1850 over the id's low byte, then every other data byte (keigov bus, AUTOSAR E2E style)"),
        Scheme("crc8_j1850", "crc8", 0x1D, 0xFF, 0xFF, "none", "CRC-8 SAE J1850 over every other data byte"),
        Scheme("crc8_autosar", "crc8", 0x2F, 0xFF, 0xFF, "none", "CRC-8H2F (AUTOSAR) over every other data byte"),
        Scheme("xor", "xor", doc="XOR of every other data byte"),
        Scheme("sum8", "sum8", doc="additive sum of every other data byte, modulo 256"),
        Scheme("j1939", "j1939",
               doc="J1939-71 message checksum (TSC1, XBR): 4 bits over bytes 1-7, the counter nibble and the id bytes"),
    )
}


def table_schemes(used: list[Scheme]) -> list[Scheme]:
    """The schemes a table lists: none, crc8_j1850_id, then the others used, in order."""
    out = [BUILTIN["none"], BUILTIN["crc8_j1850_id"]]
    for s in used:
        if s not in out:
            out.append(s)
    return out


def columns(schemes: list[Scheme]) -> dict[str, list[int]]:
    return {
        "CHECKSUM_ALGO": [ALGORITHMS[s.algorithm] for s in schemes],
        "CHECKSUM_POLY": [s.poly for s in schemes],
        "CHECKSUM_INIT": [s.init for s in schemes],
        "CHECKSUM_XOROUT": [s.xorout for s in schemes],
        "CHECKSUM_DATA_ID": [DATA_IDS[s.data_id] for s in schemes],
    }


def custom_scheme(name: str, spec: dict[str, object]) -> Scheme:
    """A [checksums.NAME] table of a map; ValueError says what is wrong."""
    unknown = set(spec) - {"algorithm", "poly", "init", "xorout", "data_id"}
    if unknown:
        raise ValueError(f"unknown keys {', '.join(sorted(unknown))}")
    algorithm = spec.get("algorithm")
    if algorithm not in ("crc8", "xor", "sum8"):
        raise ValueError(f"algorithm {algorithm!r}: a map may define crc8, xor or sum8 "
                         "(a new algorithm needs firmware code: see docs/signal-map.md)")
    values = {}
    for key in ("poly", "init", "xorout"):
        v = spec.get(key, 0)
        if not isinstance(v, int) or not 0 <= v <= 0xFF:
            raise ValueError(f"{key} = {v!r}: must be an integer 0..255")
        values[key] = v
    if algorithm == "crc8" and not values["poly"]:
        raise ValueError("a crc8 scheme needs its polynomial (poly = 0x..)")
    data_id = spec.get("data_id", "none")
    if data_id not in DATA_IDS:
        raise ValueError(f"data_id {data_id!r}: one of {', '.join(DATA_IDS)}")
    return Scheme(name, str(algorithm), data_id=str(data_id), doc="defined in the signal map", **values)
