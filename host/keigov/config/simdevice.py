"""A simulated device's flash, prepared the way flashing prepares a board's.

The sim board (firmware/boards/sim.py) keeps its flash in DIR/flash.img. Before a HIL
run or a replay the host writes the provisioning record of the simulation key and a
configuration signed with it into DIR, and the board installs them at start with its
own checks (`--provision`, `--install`): a scenario's limits reach the firmware exactly
as an operator's `keigov config push` would, and a value the device refuses stops the
run instead of being ignored. A later configuration (`install`, a HIL run's change) goes
into the same flash the same way and runs from that start, as a push then a reset would.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from keigov.config.blob import ConfigBlob
from keigov.config.keys import KeyFile
from keigov.fileio import write_atomic
from keigov.firmware_params import firmware_params, literal

SIM_DEVICE = "KG-SIM"


def sim_key() -> KeyFile:
    """The simulated device's key: fixed (runs are reproducible), and no secret."""
    cap = firmware_params()["cap_ckph"]
    return KeyFile(SIM_DEVICE, hashlib.sha256(b"keigov simulated device").digest(), cap.minimum, cap.maximum)


def prepare(storage: Path, params: dict[str, int], zones: bytes | None = None,
            tables_source: str | None = None, version: int = 1) -> list[str]:
    """Write the key's provisioning record and a signed configuration into `storage`;
    returns the sim board's arguments that install them. `tables_source` defaults to
    the SOURCE of the firmware's bundled tables."""
    provision = storage / "provision.bin"
    write_atomic(provision, sim_key().provision_record())
    return ["--provision", str(provision), *install(storage, params, zones, tables_source, version)]


def install(storage: Path, params: dict[str, int], zones: bytes | None = None,
            tables_source: str | None = None, version: int = 2) -> list[str]:
    """Write a configuration signed with the key into `storage`; returns the sim board's
    arguments that commit it at start, through the checks a `keigov config push` meets
    (a device provisioned by `prepare` before: its flash keeps the key). `version` must be
    above the installed one's, as for a push."""
    if tables_source is None:
        tables_source = str(literal("tables/keigov_bus.py", "SOURCE"))
    key = sim_key()
    config = storage / "config.bin"
    write_atomic(config, ConfigBlob(key.device, version, dict(params), tables_source, zones).sign(key.key))
    return ["--install", str(config)]
