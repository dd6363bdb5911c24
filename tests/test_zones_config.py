"""Zone tables travel in the signed configuration (core/cfgblob.py, section ZONES): the
device takes a good table, refuses a damaged one with R_SECTION_REJECTED before it
replaces anything, and loads the installed one from its slot in place."""

from __future__ import annotations

import io
import struct

import pytest

from core import cfgblob, geofence, link
from devrig import blob, provisioned, push, reboot
from keigov.zones import compile_zones
from test_zones_check import DEMO

TABLE = compile_zones(DEMO).blob


@pytest.fixture
def device():
    d = provisioned(block=128, slot_blocks=64, event_blocks=2)
    d.section_checks = {cfgblob.SEC_ZONES: geofence.check_section}
    reboot(d)
    assert push(d, blob(5, zones=TABLE, cap_ckph=6437))[0] == link.OK
    reboot(d)
    return d


def zones_section(d) -> tuple[int, int]:
    """(offset, length) of the ZONES section in the installed blob."""
    total = d.store.installed_length()
    data = bytearray(total)
    assert d.store.read(0, data, 0, total) == total
    at = cfgblob.HEADER
    while at < total - 32:
        kind, n = data[at], struct.unpack_from("<I", data, at + 4)[0]
        if kind == cfgblob.SEC_ZONES:
            return at + cfgblob.SECTION_HEADER, n
        at += cfgblob.SECTION_HEADER + n
    raise AssertionError("no zones section installed")


def test_the_installed_table_loads_from_its_slot(device):
    off, n = zones_section(device)
    assert n == len(TABLE)
    slot = device.store.slots.views[device.store.active]
    assert geofence.check_section(slot, off, n) == geofence.OK
    in_slot = geofence.load_section(slot, off, n)
    from_file = geofence.Fence()
    assert from_file.read(io.BytesIO(TABLE)) == geofence.OK
    assert in_slot.error == geofence.OK and in_slot.n == 5
    for x in range(-20000, 20000, 997):
        for y in range(-12000, 12000, 991):
            in_slot.lookup(x, y, -1)
            from_file.lookup(x, y, -1)
            assert (in_slot.limit, in_slot.lockout, in_slot.zone, in_slot.clear_dm) == \
                (from_file.limit, from_file.lockout, from_file.zone, from_file.clear_dm)


@pytest.mark.parametrize("damage", [
    lambda t: t[:-4],                                        # truncated
    lambda t: t + bytes(4),                                  # trailing bytes
    lambda t: t[:200] + bytes([t[200] ^ 0x10]) + t[201:],    # corrupted: CRC
    lambda t: b"JUNK" + t[4:],                               # not a table
    lambda t: t[:4] + struct.pack("<i", 2) + t[8:],          # another format version
])
def test_a_damaged_table_is_refused_and_the_installed_one_stays(device, damage):
    got = push(device, blob(6, zones=damage(TABLE), cap_ckph=6437))
    assert got == (link.E_REJECTED, cfgblob.R_SECTION_REJECTED, cfgblob.SEC_ZONES)
    reboot(device)
    assert device.store.version == 5
    off, n = zones_section(device)
    assert geofence.load_section(device.store.slots.views[device.store.active], off, n).n == 5


def test_check_reads_in_small_chunks_and_agrees_with_the_loader():
    for cut in (0, 10, 64, 65, len(TABLE) - 1):
        data = TABLE[:cut]
        assert geofence.check(io.BytesIO(data)) == geofence.Fence().read(io.BytesIO(data)) != geofence.OK
    assert geofence.check(io.BytesIO(TABLE)) == geofence.OK
