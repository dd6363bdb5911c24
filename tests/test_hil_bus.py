"""The rig's bus messages: the cheap deep copy is python-can's copy, field for field; the virtual
bus's C queue; receiving what the rig is owed."""

from __future__ import annotations

import copy
import queue
import uuid
from collections.abc import Iterator

import can
import pytest

from keigov.errors import EnvironmentProblem
from keigov_hil.bus import FastCopyMessage, Sender, lighten_virtual, open_bus, receive

FIELDS = [f for f in can.Message.__slots__ if f != "__weakref__"]
CASES = [
    dict(arbitration_id=0x0B0, data=bytes(range(8)), is_extended_id=False),
    dict(arbitration_id=0x18FEF100, data=b"\x01\x02", is_extended_id=True, channel="vcan0", timestamp=12.5),
    dict(arbitration_id=0x123, data=bytes(range(64)), is_fd=True, bitrate_switch=True, error_state_indicator=True),
    dict(arbitration_id=0x7FF, is_remote_frame=True, dlc=8, is_rx=False, is_extended_id=False),
]


Buses = tuple[can.BusABC, can.BusABC]


@pytest.fixture
def buses() -> Iterator[Buses]:
    """Two buses on a fresh virtual channel: (sender's, receiver's)."""
    channel = f"test-{uuid.uuid4().hex[:8]}"
    tx, rx = open_bus("virtual", channel), open_bus("virtual", channel)
    yield tx, rx
    tx.shutdown()
    rx.shutdown()


@pytest.mark.parametrize("fields", CASES)
def test_deep_copy_equals_python_cans(fields: dict) -> None:
    fast = FastCopyMessage(**fields)
    ours, theirs = copy.deepcopy(fast), copy.deepcopy(can.Message(**fields))
    assert type(ours) is FastCopyMessage
    assert {f: getattr(ours, f) for f in FIELDS} == {f: getattr(theirs, f) for f in FIELDS}
    assert ours.data is not fast.data
    fast.data[:1] = b"\xff"
    assert ours.data == theirs.data, "the copy must not share the payload"
    memo: dict = {}
    assert copy.deepcopy(fast, memo) is memo[id(fast)] and memo[id(memo)] == [fast]   # copy's keep-alive, kept


def test_virtual_bus_delivers_the_message(buses: Buses) -> None:
    tx, rx = buses
    sent = FastCopyMessage(arbitration_id=0x210, data=b"\x01\x02\x03", is_extended_id=False)
    tx.send(sent)
    got = rx.recv(timeout=1.0)
    assert got is not None and got.arbitration_id == 0x210 and bytes(got.data) == b"\x01\x02\x03"
    assert not got.is_extended_id and got is not sent


def test_lightened_buses_still_talk_to_plain_ones_on_their_channel(buses: Buses) -> None:
    tx, rx = buses
    assert type(tx.queue) is queue.SimpleQueue and type(rx.queue) is queue.SimpleQueue  # type: ignore[attr-defined]
    plain = can.Bus(interface="virtual", channel=tx.channel_id)  # type: ignore[attr-defined]
    try:
        assert type(plain.queue) is queue.Queue  # type: ignore[attr-defined]
        plain.send(can.Message(arbitration_id=0x301, data=b"\x05", is_extended_id=False))
        assert [bytes(m.data) for m in (tx.recv(timeout=1.0), rx.recv(timeout=1.0))] == [b"\x05", b"\x05"]
        tx.send(FastCopyMessage(arbitration_id=0x302, data=b"\x06", is_extended_id=False))
        got = plain.recv(timeout=1.0)
        assert got is not None and got.arbitration_id == 0x302 and rx.recv(timeout=1.0) is not None
        assert rx.recv(timeout=0.01) is None and plain.recv(timeout=0) is None   # Empty is still None
    finally:
        plain.shutdown()
    tx.shutdown()                 # it leaves the channel as python-can's own queue would
    assert tx.channel == [rx.queue]  # type: ignore[attr-defined]


def test_lighten_leaves_bounded_queues_and_other_buses_alone() -> None:
    channel = f"test-{uuid.uuid4().hex[:8]}"
    bounded = can.Bus(interface="virtual", channel=channel, rx_queue_size=4)
    other = can.Bus(interface="virtual", channel=channel)
    try:
        assert not lighten_virtual(bounded) and type(bounded.queue) is queue.Queue  # type: ignore[attr-defined]
        bounded.send(can.Message(arbitration_id=0x1, is_extended_id=False))
        assert not lighten_virtual(other), "a queue holding frames is not swapped: they would be lost"
        assert other.recv(timeout=1.0) is not None
        assert lighten_virtual(other) and not lighten_virtual(other)   # once
        assert not lighten_virtual(object())  # type: ignore[arg-type]
    finally:
        bounded.shutdown()
        other.shutdown()


def test_sender_reuses_one_message_per_id_and_each_receiver_gets_its_own_copy(buses: Buses) -> None:
    tx, rx = buses
    sender = Sender(tx)
    sender.send(0x0B0, b"\x01\x02\x03\x04\x05\x06\x07\x08", False)
    sender.send(0x0B0, b"\x09\x0a", False)                     # shorter payload, same id
    sender.send(0x0B0, b"\x0b" * 8, True)                      # same number, extended: another frame
    got = [rx.recv(timeout=1.0) for _ in range(3)]
    assert [(m.arbitration_id, m.is_extended_id, bytes(m.data), m.dlc) for m in got] == [
        (0x0B0, False, b"\x01\x02\x03\x04\x05\x06\x07\x08", 8), (0x0B0, False, b"\x09\x0a", 2),
        (0x0B0, True, b"\x0b" * 8, 8)]
    assert len(sender._messages) == 2


def test_receive_waits_for_the_frames_it_is_owed_skips_error_frames_and_settles(buses: Buses) -> None:
    tx, rx = buses
    sender = Sender(tx)
    tx.send(can.Message(arbitration_id=0x1, is_error_frame=True))
    for k in range(3):
        sender.send(0x100 + k, bytes([k]), False)
    owed = receive(rx, 2, settle=False, what="test")
    assert [m.arbitration_id for m in owed] == [0x100, 0x101]      # the error frame is not one of them
    assert [m.arbitration_id for m in receive(rx, 0, settle=True, what="test")] == [0x102]
    assert receive(rx, 0, settle=False, what="test") == []
    with pytest.raises(EnvironmentProblem, match=r"frames back: 0 of 1 frames arrived within 0.05 s"):
        receive(rx, 1, settle=False, what="frames back", wait_s=0.05)


# -- choosing the bus as python-can's own tools do -------------------------------------------

def _choice(monkeypatch: pytest.MonkeyPatch, tmp_path, argv: list[str], env: dict[str, str] | None = None,
            canrc: str | None = None):
    import argparse

    from keigov_hil.bus import add_bus_arguments, bus_choice

    for key in ("CAN_INTERFACE", "CAN_CHANNEL", "CAN_BITRATE", "CAN_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HOME", str(tmp_path))          # ~/.canrc is this test's
    monkeypatch.chdir(tmp_path)
    if canrc is not None:
        (tmp_path / ".canrc").write_text(canrc)
    parser = argparse.ArgumentParser()
    add_bus_arguments(parser)
    return bus_choice(parser.parse_args(argv))


def test_with_nothing_configured_the_bus_is_a_private_virtual_one(monkeypatch, tmp_path):
    assert _choice(monkeypatch, tmp_path, []) == ("virtual", None, ())


def test_python_cans_environment_and_canrc_apply_where_the_arguments_are_silent(monkeypatch, tmp_path):
    rc = "[default]\ninterface = virtual\nchannel = from-canrc\nbitrate = 250000\n"
    assert _choice(monkeypatch, tmp_path, [], canrc=rc) == ("virtual", "from-canrc", (("bitrate", 250000),))
    env = {"CAN_INTERFACE": "virtual", "CAN_CHANNEL": "from-env", "CAN_BITRATE": "125000"}
    assert _choice(monkeypatch, tmp_path, [], env=env, canrc=rc) == ("virtual", "from-env", (("bitrate", 125000),))
    got = _choice(monkeypatch, tmp_path, ["-c", "mine", "-b", "500000"], env=env, canrc=rc)
    assert got == ("virtual", "mine", (("bitrate", 500000),)), "the command line wins"


def test_can_fd_and_interface_specific_keywords_reach_python_can(monkeypatch, tmp_path):
    interface, channel, options = _choice(monkeypatch, tmp_path, [
        "-i", "virtual", "-c", "fd", "--fd", "--data-bitrate", "2000000", "--bus-option", "receive_own_messages=true",
        "--bus-option", "app_name=CANalyzer"])
    assert dict(options) == {"fd": True, "data_bitrate": 2000000, "receive_own_messages": True, "app_name": "CANalyzer"}
    bus = open_bus(interface, channel, (("receive_own_messages", True),))
    try:
        bus.send(can.Message(arbitration_id=0x123, data=b"\x01"))
        assert bus.recv(1.0) is not None, "the keyword reached python-can's VirtualBus"
    finally:
        bus.shutdown()


@pytest.mark.parametrize("argv, says", [
    (["--bus-option", "nonsense"], "expected KEY=VALUE"),
    (["-i", "no-such-interface"], "no-such-interface"),
])
def test_a_bad_bus_choice_is_an_input_error(monkeypatch, tmp_path, argv, says):
    from keigov.errors import InputError

    with pytest.raises(InputError, match=says):
        _choice(monkeypatch, tmp_path, argv)
