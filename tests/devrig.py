"""The device's storage-backed firmware objects in-process (tests/fw_driver.py Device),
provisioned with a test key, and a configuration push done the way the link does it."""

from __future__ import annotations

import fwenv  # noqa: F401  (puts firmware/ on sys.path)

from core import persist
from fw_driver import Device
from keigov.config.blob import ConfigBlob
from keigov.config.keys import KeyFile
from keigov.link.protocol import PUT_DATA_MAX

KEY = KeyFile("KG-TEST", bytes(range(32)), 800, 8047)
TABLES = "test-tables"


def blob(version: int, key: bytes = KEY.key, device: str = KEY.device, zones: bytes | None = None,
         **params: int) -> bytes:
    return ConfigBlob(device, version, params, TABLES, zones).sign(key)


def provisioned(**geometry) -> Device:
    d = Device(**geometry)
    persist.store_provision(d.layout.prov, KEY.provision_record())
    d.boot()
    return d


def push(d: Device, data: bytes, chunk: int = PUT_DATA_MAX) -> tuple[int, int, int]:
    """(link status, reason, detail) of sending `data` in chunks, then committing."""
    for off in range(0, len(data), chunk):
        status = d.store.put(len(data), off, data, off, min(chunk, len(data) - off))
        if status:
            return status, d.store.reason, d.store.detail
    status = d.store.commit()
    return status, (d.store.reason if status else 0), (d.store.detail if status else 0xFF)


def reboot(d: Device, image: bytes | None = None) -> None:
    """Power back on (from `image` if given) and rebuild everything from storage."""
    if image is not None:
        d.dev.data[:] = image
    d.dev.power_on()
    d.boot()


def events(d: Device) -> dict[int, bytes]:
    out = {}
    buf = bytearray(22)
    for seq in range(d.events.next_seq):
        if d.events.read(seq, buf, 0):
            out[seq] = bytes(buf)
    return out
