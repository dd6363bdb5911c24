"""core.events.EventLog: repeats are coalesced into REPEATED summaries, so a flood leaves
room for every other record; the newest fault and lockout are kept whatever overwrites
the ring; the host merges each summary into the record it counts; record() allocates
nothing under MicroPython."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_harness as fh

from core import events, link, persist, service
from core.events import EventLog
from keigov.firmware_params import merge_repeated
from keigov.link.messages import decode_status

HOLD = 5000       # core/events.py _HOLD_MS
BURST = 10000     # _BURST_MS
TICK_MASK = (1 << 30) - 1
INVALID = 3 * 256 + 2   # message 3, reason 2
RECOVERED = 3


def ring(log: EventLog) -> list[tuple[int, int, int]]:
    """(code, time, value) of the records still in the ring, oldest first."""
    out = []
    for seq in range(log.oldest(), log.count):
        k = seq % log.capacity
        out.append((log.code[k], log.time[k], log.value[k]))
    return out


def as_dicts(log: EventLog) -> list[dict]:
    return [{"t_s": t / 1000, "code": c, "value": v} for c, t, v in ring(log)]


def flood(log: EventLog, start: int, n: int = 500, span_ms: int = 30000) -> int:
    """An input failing every other frame for span_ms: n records; returns the time after."""
    for k in range(n):
        t = start + k * span_ms // n
        if k % 2:
            log.record(events.INPUT_RECOVERED, t, RECOVERED)
        else:
            log.record(events.INPUT_INVALID, t, INVALID)
    return start + span_ms


def test_a_30_s_flood_leaves_at_most_20_records_and_the_fault_before_it():
    log = EventLog()
    log.record(events.BOOT, 0, 0)
    log.record(events.FAULT_ENTERED, 50, 0x12)
    end = flood(log, 100)
    log.flush(end + HOLD)
    assert log.count <= 20, ring(log)
    assert (events.FAULT_ENTERED, 50, 0x12) in ring(log)
    kept = log.kept(events.FAULT_ENTERED)
    assert (kept.seq, kept.time, kept.value) == (1, 50, 0x12)
    # Nothing is lost from the count: the merged entries add up to the 500 records.
    merged = merge_repeated(as_dicts(log))
    by_code = {e["code"]: e["count"] for e in merged if e["code"] in (events.INPUT_INVALID, events.INPUT_RECOVERED)}
    assert sum(e["count"] for e in merged if e["code"] in by_code) == 500
    assert not [e for e in merged if e["code"] == events.REPEATED]


def test_a_flood_is_reported_every_burst_while_it_lasts():
    log = EventLog()
    flood(log, 0)
    summaries = [t for c, t, _v in ring(log) if c == events.REPEATED]
    # Closed at 10 s and 20 s of each pair's burst, before the flood ends and with no flush.
    assert len(summaries) >= 4 and all(t < 30000 for t in summaries)


def test_the_kept_fault_and_lockout_survive_a_ring_overflow():
    log = EventLog(capacity=16)
    log.record(events.FAULT_ENTERED, 10, 7)
    log.record(events.LOCKOUT_ENGAGED, 20, 4)
    log.record(events.FAULT_ENTERED, 30, 9)
    for k in range(200):                   # all different: nothing coalesces
        log.record(events.OVERSPEED, 40 + k, k)
    codes = [c for c, _t, _v in ring(log)]
    assert events.FAULT_ENTERED not in codes and events.LOCKOUT_ENGAGED not in codes
    fault, lockout = log.kept(events.FAULT_ENTERED), log.kept(events.LOCKOUT_ENGAGED)
    assert (fault.seq, fault.time, fault.value) == (2, 30, 9)
    assert (lockout.seq, lockout.time, lockout.value) == (1, 20, 4)
    assert log.kept(events.OVERSPEED) is None
    assert EventLog().kept(events.FAULT_ENTERED).seq == -1


def test_the_kept_record_keeps_its_position():
    log = EventLog()
    log.set_origin(5)
    log.locate(120, -45)
    log.record(events.LOCKOUT_ENGAGED, 100, 2)
    k = log.kept(events.LOCKOUT_ENGAGED)
    assert (k.flags, k.x, k.y) == (1 | 5 << 1, 120, -45)


def test_a_repeat_within_the_hold_off_counts_and_after_it_is_appended_again():
    log = EventLog()
    log.record(events.GNSS_JUMP, 0, 40)
    log.record(events.GNSS_JUMP, HOLD - 1, 40)       # counted
    assert ring(log) == [(events.GNSS_JUMP, 0, 40)]
    log.record(events.GNSS_JUMP, 2 * HOLD - 2, 40)   # counted: the hold-off runs from the last one
    assert log.count == 1
    log.record(events.GNSS_JUMP, 3 * HOLD - 2, 40)   # after the hold-off: the burst closes, appended again
    assert ring(log) == [(events.GNSS_JUMP, 0, 40),
                         (events.REPEATED, 2 * HOLD - 2, events.GNSS_JUMP << 24 | events.repeat_tag(40) << 16 | 2),
                         (events.GNSS_JUMP, 3 * HOLD - 2, 40)]


def test_flush_closes_a_burst_only_after_the_hold_off():
    log = EventLog()
    log.record(events.OVERSPEED, 0, 300)
    log.record(events.OVERSPEED, 100, 300)
    log.flush(100 + HOLD - 1)
    assert log.count == 1
    log.flush(100 + HOLD)
    assert ring(log)[-1] == (events.REPEATED, 100, events.OVERSPEED << 24 | events.repeat_tag(300) << 16 | 1)
    log.flush(100 + 2 * HOLD)
    assert log.count == 2, "a closed burst is not summarised twice"


def test_a_burst_without_repeats_closes_silently():
    log = EventLog()
    log.record(events.OVERSPEED, 0, 300)
    log.flush(HOLD)
    log.record(events.OVERSPEED, HOLD + 1, 300)
    assert ring(log) == [(events.OVERSPEED, 0, 300), (events.OVERSPEED, HOLD + 1, 300)]


def test_the_hold_off_is_measured_across_the_tick_wrap():
    log = EventLog()
    t0 = TICK_MASK - 1000
    log.record(events.GNSS_JUMP, t0, 40)
    log.record(events.GNSS_JUMP, (t0 + 3000) & TICK_MASK, 40)
    assert log.count == 1
    log.flush((t0 + 3000 + HOLD) & TICK_MASK)
    assert ring(log)[-1][0] == events.REPEATED


def test_the_least_recently_used_pair_is_summarised_to_make_room():
    log = EventLog()
    for k in range(8):                                 # fill the table, each pair repeated once
        log.record(events.OVERSPEED, 10 * k, k)
        log.record(events.OVERSPEED, 10 * k + 1, k)
    log.record(events.OVERSPEED, 100, 0)               # pair 0 used again: pair 1 is now the oldest
    assert log.count == 8
    log.record(events.OVERSPEED, 200, 99)              # a ninth pair
    assert ring(log)[-2:] == [(events.REPEATED, 11, events.OVERSPEED << 24 | events.repeat_tag(1) << 16 | 1),
                              (events.OVERSPEED, 200, 99)]


def test_transitions_are_never_coalesced():
    log = EventLog()
    for code in (events.BOOT, events.STATE_CHANGE, events.FAULT_ENTERED, events.FAULT_CLEARED,
                 events.LOCKOUT_ENGAGED, events.LOCKOUT_CLEARED, events.CONFIG_INSTALLED, events.CONFIG_DEFAULTS,
                 events.ZONE_TIGHTENED, events.ZONE_RELAXED):
        before = log.count
        for k in range(5):
            log.record(code, 1000 + k, 1)
        assert log.count == before + 5, events.NAMES[code]


def test_two_values_of_one_code_with_the_same_tag_never_both_open():
    a = 5
    b = next(v for v in range(6, 1 << 20) if events.repeat_tag(v) == events.repeat_tag(a))
    log = EventLog()
    log.record(events.OVERSPEED, 0, a)
    log.record(events.OVERSPEED, 1, a)
    log.record(events.OVERSPEED, 2, b)       # closes a's burst first: its summary cannot pair with b
    log.record(events.OVERSPEED, 3, b)
    log.flush(3 + HOLD)
    merged = merge_repeated(as_dicts(log))
    assert [(e["value"], e["count"], e["first_t_s"], e["last_t_s"]) for e in merged] == [
        (a, 2, 0.0, 0.001), (b, 2, 0.002, 0.003)]


def test_the_summary_value_is_a_small_int():
    assert (63 << 24 | 0xFF << 16 | 0xFFFF) < 1 << 30
    assert max(events.NAMES) < 64
    assert events.unpack_repeated(events.OVERSPEED << 24 | 0xAB << 16 | 1234) == (events.OVERSPEED, 0xAB, 1234)
    assert events.NAMES[events.REPEATED] == "repeated"


def test_a_burst_stops_counting_at_the_summary_s_capacity():
    log = EventLog()
    log.record(events.OVERSPEED, 0, 1)
    for _ in range(0xFFFF + 10):
        log.record(events.OVERSPEED, 1, 1)
    assert ring(log)[1] == (events.REPEATED, 1, events.OVERSPEED << 24 | events.repeat_tag(1) << 16 | 0xFFFF)
    assert ring(log)[2] == (events.OVERSPEED, 1, 1)


# -- the host's merge --------------------------------------------------------------------

def test_merge_gives_count_and_first_and_last_time():
    rec = events.REPEATED
    evs = [{"t_s": 0.5, "code": events.BOOT, "value": 0, "name": "boot"},
           {"t_s": 1.0, "code": events.INPUT_INVALID, "value": INVALID, "name": "input_invalid"},
           {"t_s": 1.2, "code": events.STATE_CHANGE, "value": 3, "name": "state_change"},
           {"t_s": 9.0, "code": rec, "value": events.INPUT_INVALID << 24 | events.repeat_tag(INVALID) << 16 | 41}]
    merged = merge_repeated(evs)
    assert [(e["name"], e["count"], e["first_t_s"], e["last_t_s"]) for e in merged] == [
        ("boot", 1, 0.5, 0.5), ("input_invalid", 42, 1.0, 9.0), ("state_change", 1, 1.2, 1.2)]
    assert merged[1]["value"] == INVALID and merged[1]["t_s"] == 1.0, "existing keys stay"


def test_a_summary_without_its_record_stays_and_says_what_it_counts():
    evs = [{"time_ms": 4000, "code": events.REPEATED, "value": events.GNSS_JUMP << 24 | 7 << 16 | 3}]
    (e,) = merge_repeated(evs, lambda r: r["time_ms"] / 1000)
    assert (e["count"], e["repeats"], e["repeated"], e["first_t_s"], e["last_t_s"]) == (1, 3, "gnss_jump", 4.0, 4.0)


CODES = st.sampled_from([events.INPUT_INVALID, events.INPUT_RECOVERED, events.OVERSPEED, events.GNSS_JUMP,
                         events.SPEED_IMPLAUSIBLE, events.GNSS_HOLD, events.STATE_CHANGE])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(CODES, st.integers(0, 11), st.sampled_from([0, 10, 10, 100, 2000, 4999, 5000, 6000])),
                max_size=200))
def test_merging_the_log_gives_back_every_occurrence(records):
    """Whatever the sequence: per (code, value) the merged counts add up to the records made,
    and each entry spans the times of the occurrences it counts."""
    log = EventLog(capacity=512)
    now = 0
    made: dict[tuple[int, int], list[int]] = {}
    for code, value, dt in records:
        now += dt
        log.record(code, now, value)
        made.setdefault((code, value), []).append(now)
        log.flush(now)
    log.flush(now + HOLD)
    merged = merge_repeated(as_dicts(log))
    assert not [e for e in merged if e["code"] == events.REPEATED]
    got: dict[tuple[int, int], int] = {}
    for e in merged:
        key = (e["code"], e["value"])
        got[key] = got.get(key, 0) + e["count"]
        times = made[key]
        first, last = round(e["first_t_s"] * 1000), round(e["last_t_s"] * 1000)
        assert first in times and last in times and first <= last
        assert sum(1 for t in times if first <= t <= last) >= e["count"]
        assert last - first <= BURST
    assert got == {k: len(v) for k, v in made.items()}


# -- the link reports the kept records ---------------------------------------------------

def test_status_reports_the_kept_fault_and_lockout():
    from boards.ramcan import RamCan
    from boards.sim import SimWatchdog
    from core.memstorage import MemStorage
    from core.node import Node
    from tables import keigov_bus

    dev = MemStorage(1024, persist.device_blocks(1024, 8, 3))
    n = Node(RamCan(), SimWatchdog(), dev, keigov_bus, slot_blocks=8, event_blocks=3)
    resp = bytearray(link.PAYLOAD + link.MAX_PAYLOAD + 2)

    def status() -> dict:
        size = n.service.handle(service.CMD_STATUS, bytearray(8), 0, resp)
        return decode_status(bytes(resp[link.PAYLOAD:link.PAYLOAD + size]))

    assert status()["kept"] == 0
    n.app.log.record(events.FAULT_ENTERED, 1234, 0x21)
    n.app.log.record(events.LOCKOUT_ENGAGED, 2345, 6)
    for k in range(100):
        n.app.log.record(events.OVERSPEED, 3000 + k, k)
    s = status()
    assert (s["kept"], s["last_fault_ms"], s["last_fault_flags"], s["last_lockout_ms"], s["last_lockout_zone"]) == (
        3, 1234, 0x21, 2345, 6)


# -- MicroPython: no allocation ----------------------------------------------------------

ALLOC = """
import gc, micropython
from core import events
from core.events import EventLog

def drive(log, t0):
    t = t0
    for k in range(600):
        t += 7
        log.record(events.INPUT_INVALID if k & 1 else events.INPUT_RECOVERED, t, 258 if k & 1 else 1)
        log.record(events.OVERSPEED, t, k % 11)          # more pairs than the table: LRU closes
        if k % 50 == 0:
            log.record(events.FAULT_ENTERED, t, k)
            log.record(events.LOCKOUT_ENGAGED, t, 3)
        log.flush(t)
        log.kept(events.FAULT_ENTERED)
    log.flush(t + 20000)
    return t + 20000

log = EventLog()
log.set_origin(3)
log.locate(100, -200)
t = drive(log, 1 << 29)
gc.collect()
gc.disable()
before = gc.mem_alloc()
t = drive(log, t)
grown = gc.mem_alloc() - before
gc.enable()
gc.collect()
micropython.heap_lock()
try:
    t = drive(log, t)
    locked = 1
except MemoryError:
    locked = 0
micropython.heap_unlock()
print(grown, locked, log.count, log.kept(events.FAULT_ENTERED).value)
"""


@pytest.mark.micropython
@pytest.mark.skipif(fh.micropython_binary() is None, reason="no micropython binary")
def test_record_allocates_nothing_on_micropython():
    grown, locked, count, fault = fh.run_micropython(ALLOC).split()
    assert (int(grown), int(locked)) == (0, 1)
    assert int(count) > 100 and int(fault) == 550
