"""Every way a configuration can be wrong is refused with its own reason, the installed
configuration stays in force, and the next good one is still taken."""

from __future__ import annotations

import hashlib
import hmac
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import cfgblob, link, persist
from core.hmac256 import hmac_sha256
from devrig import KEY, blob, provisioned, push, reboot
from keigov.config.blob import mac_of
from keigov.config.keys import KeyFile

PARAM = {p[0]: i for i, p in enumerate(__import__("core.config", fromlist=["PARAMS"]).PARAMS)}


@pytest.fixture
def device():
    d = provisioned(block=128, slot_blocks=8, event_blocks=2)
    assert push(d, blob(5, cap_ckph=4023))[0] == link.OK
    reboot(d)
    return d


def resign(data: bytes, key: bytes = KEY.key) -> bytes:
    body = data[:-32]
    return body + mac_of(key, body)


def refused(d, data: bytes, reason: int, detail: int | None = None, status: int = link.E_REJECTED) -> None:
    """Refused for `reason`; version 5 still runs and version 6 is then taken. Leaves d as it was."""
    image = bytes(d.dev.data)
    got = push(d, data)
    assert got[:2] == (status, reason), got
    if detail is not None:
        assert got[2] == detail
    reboot(d)
    assert (d.store.version, d.cfg.cap_ckph, d.cfg.defaults_reason) == (5, 4023, 0)
    assert push(d, blob(6, cap_ckph=3000))[0] == link.OK  # still takes a good one
    reboot(d, image)


def test_forged_with_another_key(device):
    refused(device, blob(6, key=bytes(32), cap_ckph=8000), cfgblob.R_BAD_MAC)


def test_altered_after_signing(device):
    good = bytearray(blob(6, cap_ckph=4023))
    at = good.index(struct.pack("<i", 4023))
    good[at : at + 4] = struct.pack("<i", 8000)
    refused(device, bytes(good), cfgblob.R_BAD_MAC)


def test_mac_trailer_altered(device):
    good = bytearray(blob(6, cap_ckph=4023))
    good[-1] ^= 1
    refused(device, bytes(good), cfgblob.R_BAD_MAC)


def test_replayed(device):
    refused(device, blob(5, cap_ckph=4023), cfgblob.R_REPLAY)


def test_rolled_back(device):
    refused(device, blob(4, cap_ckph=4023), cfgblob.R_ROLLBACK)


def test_truncated_blob(device):
    refused(device, blob(6, cap_ckph=3000)[:-10], cfgblob.R_TRUNCATED)


def test_transfer_stopped_early(device):
    data = blob(6, zones=bytes(600), cap_ckph=3000)
    for off in range(0, 400, 200):
        assert device.store.put(len(data), off, data, off, 200) == link.OK
    assert device.store.commit() == link.E_REJECTED and device.store.reason == cfgblob.R_TRUNCATED
    reboot(device)
    assert device.store.version == 5


def test_oversized(device):
    capacity = device.slots.capacity
    refused(device, blob(6, zones=bytes(capacity), cap_ckph=3000), cfgblob.R_TOO_LARGE)


def test_header_claiming_more_than_a_slot(device):
    data = bytearray(blob(6, cap_ckph=3000))
    data[12:16] = struct.pack("<I", 1 << 29)
    refused(device, bytes(data), cfgblob.R_TOO_LARGE)


def test_wrong_device(device):
    refused(device, blob(6, device="KG-OTHER", cap_ckph=3000), cfgblob.R_WRONG_DEVICE)


def test_bad_magic_and_format(device):
    data = bytearray(blob(6, cap_ckph=3000))
    data[0] = ord("X")
    refused(device, resign(bytes(data)), cfgblob.R_BAD_MAGIC)
    data = bytearray(blob(7, cap_ckph=3000))
    data[4] = 2
    refused(device, resign(bytes(data)), cfgblob.R_BAD_FORMAT)


def test_version_zero(device):
    refused(device, blob(0, cap_ckph=3000), cfgblob.R_BAD_VERSION)


@pytest.mark.parametrize("name,value", [("cap_ckph", 799), ("cap_ckph", 13001), ("kp_q10", -1),
                                        ("overspeed_ms", 5001), ("gnss_min_fix", 6)])
def test_value_out_of_firmware_bounds(device, name, value):
    refused(device, blob(6, **{name: value}), cfgblob.R_OUT_OF_RANGE, PARAM[name])


def test_value_not_a_small_int(device):
    refused(device, blob(6, cap_ckph=-(1 << 31)), cfgblob.R_OUT_OF_RANGE, PARAM["cap_ckph"])


def test_cap_outside_provisioned_bounds(device):
    assert KEY.cap_max_ckph < 13000
    refused(device, blob(6, cap_ckph=KEY.cap_max_ckph + 1), cfgblob.R_CAP_NOT_ALLOWED, PARAM["cap_ckph"])


def test_default_cap_must_fit_the_provisioned_bounds_too():
    d = provisioned(block=128, slot_blocks=8, event_blocks=2)
    d.store.prov.cap_max = 4000  # a 25 mph device: the 40 mph default is not allowed either
    assert push(d, blob(1, limp_ckph=1000))[:2] == (link.E_REJECTED, cfgblob.R_CAP_NOT_ALLOWED)


def test_limit_above_cap(device):
    refused(device, blob(6, cap_ckph=3000, limp_ckph=3500), cfgblob.R_INCONSISTENT, PARAM["limp_ckph"])
    refused(device, blob(7, cap_ckph=3000, lockout_ckph=3001), cfgblob.R_INCONSISTENT, PARAM["lockout_ckph"])


def test_unknown_and_duplicate_parameters(device):
    refused(device, blob(6, cap_ckph=3000, turbo=1), cfgblob.R_UNKNOWN_PARAM, 1)
    params = b"".join(bytes([8]) + b"cap_ckph" + struct.pack("<i", 3000) for _ in range(2))
    dup = _raw(7, [(1, params), (2, b"test-tables")])
    refused(device, dup, cfgblob.R_DUPLICATE_PARAM, PARAM["cap_ckph"])


def _raw(version: int, sections: list[tuple[int, bytes]], count: int | None = None) -> bytes:
    body = b"".join(struct.pack("<B3xI", k, len(d)) + d for k, d in sections)
    head = struct.pack("<4sBBHII16s", b"KGCF", 1, 0, len(sections) if count is None else count, version,
                       len(body), KEY.device.encode())
    return resign(head + body + bytes(32))


def test_malformed_sections(device):
    refused(device, _raw(6, [(1, b"\x00")]), cfgblob.R_MALFORMED)                     # empty name
    refused(device, _raw(6, [(1, b"\x08cap_ckph\x01")]), cfgblob.R_MALFORMED)          # value cut short
    refused(device, _raw(6, [(1, b"\x03c\xffp" + bytes(4))]), cfgblob.R_MALFORMED)     # not ASCII
    refused(device, _raw(6, [(2, b"test-tables")], count=2), cfgblob.R_MALFORMED)      # count wrong
    bad_reserved = bytearray(_raw(6, [(2, b"test-tables")]))
    bad_reserved[33] = 1
    refused(device, resign(bytes(bad_reserved)), cfgblob.R_MALFORMED)


def test_sections_the_device_does_not_take(device):
    refused(device, _raw(6, [(9, b"????")]), cfgblob.R_UNKNOWN_SECTION, 9)
    refused(device, blob(6, zones=b"zz", cap_ckph=3000), cfgblob.R_UNKNOWN_SECTION, 3)  # no zone loader
    device.store.checker.section_checks = {3: lambda src, at, n: 1}
    refused(device, blob(6, zones=b"zz", cap_ckph=3000), cfgblob.R_SECTION_REJECTED, 3)


def test_other_signal_tables(device):
    refused(device, _raw(6, [(2, b"other.dbc + map.toml sha256:0")]), cfgblob.R_TABLES_MISMATCH)


def test_unprovisioned_device_refuses_everything():
    from fw_driver import Device

    d = Device(block=128, slot_blocks=8, event_blocks=2)
    assert push(d, blob(1, cap_ckph=3000))[:2] == (link.E_NOT_PROVISIONED, cfgblob.R_NOT_PROVISIONED)


def test_out_of_sequence_chunks(device):
    data = blob(6, zones=bytes(500), cap_ckph=3000)
    s = device.store
    assert s.put(len(data), 200, data, 200, 100) == link.E_NO_TRANSFER
    assert s.put(len(data), 0, data, 0, 200) == link.OK
    assert s.put(len(data), 300, data, 300, 100) == link.E_OFFSET      # a gap
    assert s.put(len(data) + 1, 200, data, 200, 100) == link.E_OFFSET  # another blob's length
    assert s.put(len(data), 0, data, 0, 20) == link.E_ARGUMENT          # header not whole
    assert s.commit() == link.E_NO_TRANSFER


def test_a_stored_slot_that_fails_its_checks_falls_back_at_boot(device):
    assert push(device, blob(6, cap_ckph=3000))[0] == link.OK
    reboot(device)
    assert device.store.version == 6
    # Reprovisioned with another key: neither stored slot verifies, so the defaults run.
    persist.store_provision(device.layout.prov, KeyFile("KG-TEST", bytes(32), 800, 8047).provision_record())
    reboot(device)
    assert device.store.version == 0 and device.cfg.cap_ckph == 6437
    assert device.cfg.defaults_reason == 0x100 + cfgblob.R_BAD_MAC


def test_newest_slot_corrupted_falls_back_to_the_older(device):
    assert push(device, blob(6, cap_ckph=3000))[0] == link.OK
    newest = device.store.active
    region = device.slots.regions[newest]
    device.dev.data[region.base + 40] ^= 0xFF  # bit rot inside the newest blob
    reboot(device)
    assert (device.store.version, device.cfg.cap_ckph, device.cfg.defaults_reason) == (5, 4023, 0)


@given(key=st.binary(max_size=100), data=st.binary(max_size=300))
@settings(max_examples=100)
def test_hmac_matches_the_standard_library(key, data):
    assert hmac_sha256(key, data) == hmac.new(key, data, hashlib.sha256).digest()
