"""The whole device as a board builds it (core/node.py): the installed configuration and
its zones come from flash through the device's own checks, events are persisted, the
operator can clear latched warnings, and the sim board installs what the host prepared."""

from __future__ import annotations

import subprocess

import pytest

import firmware_harness as fh

from boards.ramcan import RamCan
from boards.sim import SimWatchdog
from core import cfgblob, config, events, geofence, link, persist, roles
from core.memstorage import MemStorage
from core.node import Node, installed_zones
from devrig import KEY
from keigov.config import simdevice
from keigov.config.blob import ConfigBlob
from keigov.firmware_params import literal
from keigov.paths import FIRMWARE
from keigov.simboard.runtimes import get_runtime
from tables import keigov_bus
from zones_support import collection, compile_doc, feature, ring

BLOCK = 1024
SLOTS = 8
EVENTS = 3
SOURCE = str(literal("tables/keigov_bus.py", "SOURCE"))


def flash() -> MemStorage:
    return MemStorage(BLOCK, persist.device_blocks(BLOCK, SLOTS, EVENTS))


def node(dev: MemStorage) -> Node:
    """Power on a device with this flash."""
    return Node(RamCan(), SimWatchdog(), dev, keigov_bus, slot_blocks=SLOTS, event_blocks=EVENTS)


def provisioned() -> MemStorage:
    dev = flash()     # as flashing does: the record written before the device's first boot
    persist.provision(dev, SLOTS, EVENTS, KEY.provision_record())
    return dev


def signed(version: int = 1, key: bytes = KEY.key, zones: bytes | None = None, **params: int) -> bytes:
    return ConfigBlob(KEY.device, version, params, SOURCE, zones).sign(key)


def drive(n: Node, ms: int = 300) -> fh.Bench:
    bench = fh.Bench(node=n)
    bench.car.set_speed(10)
    bench.run(ms)
    return bench


def test_without_a_configuration_the_defaults_run_flagged():
    bench = drive(node(provisioned()))
    assert bench.flags & (1 << roles.FLAG_CONFIG_DEFAULTS)
    assert bench.last("GOVERNOR_STATUS")["CONFIG_DEFAULTS"] == 1
    assert [v for _c, _t, v in bench.events(events.CONFIG_DEFAULTS)] == [config.REJECT_MISSING]
    assert bench.last("GOVERNOR_COMMAND")["SPEED_LIMIT"] == pytest.approx(64.4)


def test_an_installed_configuration_runs_from_the_next_boot():
    dev = provisioned()
    first = node(dev)
    assert first.install(signed(cap_ckph=3000, limp_ckph=1000)) == link.OK
    assert first.cfg.cap_ckph == 6437                    # not before the reboot
    bench = drive(node(dev))
    assert not bench.flags & (1 << roles.FLAG_CONFIG_DEFAULTS)
    assert not bench.events(events.CONFIG_DEFAULTS)
    assert bench.last("GOVERNOR_COMMAND")["SPEED_LIMIT"] == pytest.approx(30.0)


def test_a_configuration_under_another_key_is_refused_with_its_reason():
    dev = provisioned()
    n = node(dev)
    assert n.install(signed(key=bytes(32), cap_ckph=3000)) == link.E_REJECTED
    assert n.stored.store.reason == cfgblob.R_BAD_MAC
    assert node(dev).cfg.cap_ckph == 6437


def test_a_slot_corrupted_in_flash_fails_its_crc_and_the_defaults_run():
    dev = provisioned()
    assert node(dev).install(signed(cap_ckph=3000)) == link.OK
    slot_a = node(dev).stored.layout.slot_a
    at = slot_a.base + 40                                # inside the signed body
    dev.data[at] ^= 0x01                                 # a bit flipped behind the CRC's back
    n = node(dev)
    assert n.cfg.cap_ckph == 6437
    assert n.cfg.defaults_reason == config.REJECT_MISSING     # no slot passes its CRC


def test_the_zones_of_the_installed_configuration_are_loaded():
    square = ring([(0, 0), (200, 0), (200, 200), (0, 200)])
    zones = compile_doc(collection(feature("Polygon", [square], kind="speed_limit", limit_kph=20))).table.blob
    dev = provisioned()
    assert node(dev).install(signed(zones=zones, cap_ckph=5000)) == link.OK
    fence = node(dev).fence
    assert fence.error == geofence.OK and fence.n > 0
    # Without a ZONES section there are no zones, which is not an error.
    dev = provisioned()
    assert node(dev).install(signed(cap_ckph=5000)) == link.OK
    assert node(dev).fence.error == geofence.ERR_MISSING
    assert installed_zones(node(flash()).stored.store).n == 0


def test_events_are_persisted_and_survive_a_reset():
    dev = provisioned()
    drive(node(dev))
    stored = node(dev).events
    assert stored.next_seq >= 3
    rec = bytearray(32)
    codes = [stored.read(seq, rec, 0) and rec[4] for seq in range(stored.next_seq)]
    assert events.BOOT in codes and events.STATE_CHANGE in codes


def test_events_name_the_configuration_whose_origin_their_positions_use():
    # flags bits 1-7: the running version's low bits (keigov device events converts only
    # the positions taken under the zones it converts with).
    dev = provisioned()
    assert node(dev).install(signed(version=130, cap_ckph=5000)) == link.OK
    n = node(dev)
    n.app.log.locate(120, -45)
    n.app.log.record(events.ZONE_TIGHTENED, 10, 0)
    n.step(10)                         # persisted: at most one event per period
    stored = n.events
    rec = bytearray(32)
    assert stored.read(stored.next_seq - 1, rec, 0) and rec[4] == events.ZONE_TIGHTENED
    assert rec[5] == 1 | (130 & 0x7F) << 1


def test_clear_faults_is_refused_during_a_fault_and_clears_the_overspeed_latch():
    n = node(provisioned())
    bench = drive(n)
    bench.car.wheels_on = False
    bench.run(200)
    assert n.clear_faults() == link.E_BUSY
    bench.car.wheels_on = True
    bench.run(n.cfg.fault_recover_ms + 200)
    n.app.safety.flags |= 1 << roles.FLAG_OVERSPEED
    assert n.clear_faults() == link.OK
    assert not n.app.safety.flags & (1 << roles.FLAG_OVERSPEED)
    assert bench.events(events.FAULTS_CLEARED)


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_the_sim_board_refuses_a_bad_configuration_at_start(tmp_path, runtime):
    args = simdevice.prepare(tmp_path, {"cap_ckph": 3000, "limp_ckph": 4000})   # limp above the cap
    rt = get_runtime(runtime)
    proc = subprocess.run(rt.command(tmp_path, False, args), input=b"Q\0\0\0\0\0\0\0", capture_output=True,
                          env=rt.environment(), cwd=FIRMWARE, timeout=60)
    assert proc.returncode == 3
    assert b"configuration refused" in proc.stderr and b"reason %d" % cfgblob.R_INCONSISTENT in proc.stderr
