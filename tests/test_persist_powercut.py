"""Power cut at every storage step of a configuration push and of event appends: after
the reboot the device runs the old configuration or the new one, whole, never none and
never a mix, keeps its event log, and takes the next push."""

from __future__ import annotations

import pytest

from core.memstorage import PowerCut
from devrig import blob, events, provisioned, push, reboot

V1 = dict(cap_ckph=4023, limp_ckph=1000, overspeed_ms=700)
V2 = dict(cap_ckph=3219, limp_ckph=800, overspeed_ms=900)
V3 = dict(cap_ckph=5000, limp_ckph=1500, overspeed_ms=1100)
ACCEPT_ZONES = {3: lambda src, at, n: 0}


def running(d) -> tuple:
    return (d.store.version, d.cfg.cap_ckph, d.cfg.limp_ckph, d.cfg.overspeed_ms, d.cfg.defaults_reason)


def expect(version: int, params: dict) -> tuple:
    return (version, params["cap_ckph"], params["limp_ckph"], params["overspeed_ms"], 0)


def steps_of(d, action) -> int:
    start = d.dev.steps
    action()
    return d.dev.steps - start


@pytest.mark.parametrize("installed", [1, 2], ids=["into-empty-slot-B", "over-old-slot-A"])
def test_cut_at_every_step_of_a_push(installed):
    d = provisioned(block=64, slot_blocks=6, event_blocks=3, section_checks=ACCEPT_ZONES)
    assert push(d, blob(1, **V1))[0] == 0
    if installed == 2:
        assert push(d, blob(2, **V2))[0] == 0
    for i in range(7):
        d.events.append(5, 100 * i, i, 0, 0, 0)
    reboot(d)
    old = expect(installed, V1 if installed == 1 else V2)
    assert running(d) == old
    new_blob = blob(3, zones=bytes(range(200)), **V3)
    new = expect(3, V3)
    base = bytes(d.dev.data)
    log = events(d)
    total = steps_of(d, lambda: push(d, new_blob, chunk=48))
    assert total > len(new_blob)
    outcomes = set()
    for cut in range(total + 1):
        reboot(d, base)
        d.dev.cut_after = cut
        try:
            result = push(d, new_blob, chunk=48)
        except PowerCut:
            result = None
        reboot(d)
        now = running(d)
        assert now in (old, new), f"cut after {cut} of {total} steps: running {now}"
        if result is not None:
            assert result[0] == 0 and now == new
        outcomes.add(now)
        assert events(d) == log, f"cut after {cut}: event log changed"
        assert d.dev.overwrites == 0
        if cut % 17 == 0:  # the device still takes a configuration after the cut
            again = blob(4, **V1)
            assert push(d, again)[0] == 0
            reboot(d)
            assert running(d) == expect(4, V1)
    assert outcomes == {old, new}


def test_cut_at_every_step_of_event_appends():
    d = provisioned(block=96, slot_blocks=2, event_blocks=3)  # 4 records a block, 12 slots
    for i in range(10):
        d.events.append(1, i, i, 0, 0, 0)
    reboot(d)
    base = bytes(d.dev.data)
    before = events(d)
    start = d.events.next_seq
    adds = [(7, 1000 + i, -i, 0, 0, 0) for i in range(5)]  # crosses into a block to erase
    total = steps_of(d, lambda: [d.events.append(*a) for a in adds])
    keep_from = d.events.oldest()  # what the ring keeps even after every append
    finished = events(d)
    for cut in range(total + 1):
        reboot(d, base)
        d.dev.cut_after = cut
        try:
            for a in adds:
                d.events.append(*a)
        except PowerCut:
            pass
        reboot(d)
        now = events(d)
        for seq, rec in before.items():
            if seq >= keep_from:
                assert now.get(seq) == rec, f"cut after {cut}: event {seq} lost"
        for seq, rec in now.items():  # nothing half-written, nothing invented
            assert before.get(seq) == rec or finished.get(seq) == rec or seq >= start + len(adds)
        assert d.events.next_seq > max(now, default=-1)
        seq = d.events.append(9, 1, 2, 0, 0, 0)
        assert seq >= 0 and events(d)[seq][4] == 9
        assert d.dev.overwrites == 0
