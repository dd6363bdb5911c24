"""The order of a compiled table changes nothing the governor does.

A table lists its messages, and each message its signals, in whatever order the compiler
chose; the receiver, the supervisor and the transmitter find every message by its kind
and every counter and checksum by its index. Here the keigov bus's table is rearranged,
each message in turn first and its counter or checksum as its first signal, and the same
drive through the whole app must put the same frames on the bus, in the same states,
handing the zone state the same fixes. (An index compared with `> 0` instead of `>= 0`
is the mistake this catches: it only shows when that message or signal comes first.)

Part of the safety core's coverage gate (docs/quality.md).
"""

from __future__ import annotations

import functools
import types
from typing import Any

import pytest

import firmware_harness as fh

from core import events, roles
from core.app import Governor
from core.rx import ERR_CHECKSUM, ERR_COUNTER, ERR_TIMEOUT
from tables import keigov_bus
from test_fw_core_coverage_zones import ZoneAnswers

_INDEX_COLUMNS = ("SIG_FIRST", "SIG_END", "COUNTER", "CHECKSUM")


def reordered(table: Any, prefix: str, first: int, protected_first: str) -> types.SimpleNamespace:
    """`table` with message `first` of its RX or TX side moved to the front, and in every
    message its COUNTER or CHECKSUM signal (`protected_first`) moved to the front."""
    out = types.SimpleNamespace(**{k: v for k, v in vars(table).items() if not k.startswith("__")})
    n = len(getattr(table, f"{prefix}_ID"))
    order = [first] + [i for i in range(n) if i != first]
    sig_first, sig_end = getattr(table, f"{prefix}_SIG_FIRST"), getattr(table, f"{prefix}_SIG_END")
    special = getattr(table, f"{prefix}_{protected_first}")
    signals: list[int] = []
    firsts, ends = [], []
    for i in order:
        sigs = list(range(sig_first[i], sig_end[i]))
        if special[i] >= 0:
            sigs.remove(special[i])
            sigs.insert(0, special[i])
        firsts.append(len(signals))
        signals += sigs
        ends.append(len(signals))
    n_sig = len(signals)
    for name in vars(table):
        if not name.startswith(prefix + "_") or name[len(prefix) + 1:] in _INDEX_COLUMNS:
            continue
        col = getattr(table, name)
        if name[len(prefix) + 1:].startswith("SIG_"):
            assert len(col) == n_sig, name
            setattr(out, name, tuple(col[s] for s in signals))
        else:
            assert len(col) == n, name
            setattr(out, name, tuple(col[i] for i in order))
    setattr(out, f"{prefix}_SIG_FIRST", tuple(firsts))
    setattr(out, f"{prefix}_SIG_END", tuple(ends))
    for key in ("COUNTER", "CHECKSUM"):
        old = getattr(table, f"{prefix}_{key}")
        setattr(out, f"{prefix}_{key}", tuple(signals.index(old[i]) if old[i] >= 0 else -1 for i in order))
    return out


class _AppNode:
    """What fh.Bench steps when given a node: here an app on another table."""

    def __init__(self, table: Any) -> None:
        self.app = Governor(fh.RamCan(), fh.SimWatchdog(), table, fh.fw_config.Config())

    def step(self, now: int) -> None:
        self.app.step(now)


def drive(table: Any) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """A drive touching every input: start-up, a corrupt and a repeated wheel frame, GNSS
    cross-check, limiting, a pedal dropout, a wheel-speed loss (GNSS the speed) and the
    recovery. Per period: the state, the flags and the frames sent (as a set: the transmit
    order follows the table; the event count aside: the log's coalescing of repeats is
    keyed by values that hold message indices); at the end the events that were logged."""
    bench = fh.Bench(node=_AppNode(table))
    zones = ZoneAnswers()
    bench.app.safety.zones = zones
    car = bench.car
    car.set_speed(30)
    car.pedal_pct = 60
    car.gnss_speed_kph = 30
    trace: list[Any] = []

    def run(ms: int) -> None:
        for _ in range(ms // fh.PERIOD_MS):
            sent = bench.step()
            s = bench.app.safety
            trace.append((s.state, s.flags, s.torque, s.regen, s.ref, s.speed, sorted(
                (f.name, sorted((k, v) for k, v in f.signals.items() if k != "EVENT_COUNT")) for f in sent)))

    run(1500)
    car.corrupt_wheels = True            # one corrupt wheel frame, then one repeating its counter
    run(20)
    car.corrupt_wheels = False
    run(20)
    bench.packer.counters["WHEEL_SPEEDS"] -= 1  # the last accepted frame's counter again
    run(20)
    bench.ramp_speed(70, 20.0)           # over the cap: limiting, regen
    run(500)
    car.gnss_speed_kph = 80              # GNSS apart from the wheels
    run(300)
    car.gnss_speed_kph = 70
    car.driver_on = False                # the pedal message drops out
    run(300)
    car.driver_on = True
    car.wheels_on = False                # and the wheels: FAULT, GNSS the speed
    run(400)
    car.wheels_on = True
    run(1500)
    log = bench.app.log
    trace.append(sorted({_event(table, log.code[k % log.capacity], log.value[k % log.capacity])
                         for k in range(log.oldest(), log.count)}, key=repr))
    return trace, zones.fixes


def _event(table: Any, code: int, value: int) -> tuple[int, Any]:
    """An event with the message index in its value as that message's frame id."""
    if code == events.INPUT_INVALID:
        return code, (table.RX_ID[value >> 8], value & 0xFF)
    if code == events.INPUT_RECOVERED:
        return code, table.RX_ID[value]
    if code == events.REPEATED:
        return code, None            # its tag packs a message index too
    return code, value


@functools.cache
def reference() -> tuple[list[Any], list[tuple[Any, ...]]]:
    return drive(keigov_bus)


# Every received message first once; the wheels' counter and checksum first each.
RX_CASES = [(0, "COUNTER"), (0, "CHECKSUM"), (1, "CHECKSUM"), (2, "COUNTER"), (3, "CHECKSUM"), (4, "COUNTER")]
TX_CASES = [(0, "COUNTER"), (0, "CHECKSUM"), (1, "CHECKSUM"), (2, "COUNTER")]


@pytest.mark.parametrize("first, protected_first", RX_CASES)
def test_any_order_of_the_received_messages_and_their_signals_drives_the_same(first, protected_first):
    table = reordered(keigov_bus, "RX", first, protected_first)
    assert table.RX_ID[0] == keigov_bus.RX_ID[first]
    sig0 = table.RX_SIG_FIRST[0]
    assert getattr(table, f"RX_{protected_first}")[0] in (sig0, -1)
    trace, fixes = drive(table)
    want_trace, want_fixes = reference()
    assert fixes == want_fixes and len(fixes) > 5
    for k, (got, want) in enumerate(zip(trace, want_trace)):
        assert got == want, f"period {k}"


@pytest.mark.parametrize("first, protected_first", TX_CASES)
def test_any_order_of_the_sent_messages_and_their_signals_sends_the_same(first, protected_first):
    table = reordered(keigov_bus, "TX", first, protected_first)
    assert table.TX_ID[0] == keigov_bus.TX_ID[first]
    trace, _fixes = drive(table)
    want, _ = reference()
    for k, (got, exp) in enumerate(zip(trace, want)):
        assert got == exp, f"period {k}"


def test_the_reference_drive_goes_through_every_state_it_claims():
    trace, _fixes = reference()
    *periods, logged = trace
    states = {t[0] for t in periods}
    flags = 0
    for t in periods:
        flags |= t[1]
    assert {1, 2, 3} <= states                # NORMAL, LIMITING, FAULT
    for f in (roles.FLAG_SPEED_TIMEOUT, roles.FLAG_PEDAL_FAULT, roles.FLAG_SPEED_FROM_GNSS):
        assert flags & (1 << f), f
    assert any(t[3] for t in periods), "regen was asked for"
    reasons = {v[1] for c, v in logged if c == events.INPUT_INVALID}
    assert {ERR_CHECKSUM, ERR_COUNTER, ERR_TIMEOUT} <= reasons
