"""The rig's bus: keigov's in-process interface behaves as python-can's `virtual` one, frame
for frame; the sender's reused messages; receiving what the rig is owed; choosing the bus as
python-can's own tools do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import can
import pytest

from keigov.bus import Sender, open_bus, receive
from keigov.errors import EnvironmentProblem
from keigov.virtualbus import INTERFACE, VirtualBus

FIELDS = [f for f in can.Message.__slots__ if f not in ("__weakref__", "timestamp")]
CASES = [
    dict(arbitration_id=0x0B0, data=bytes(range(8)), is_extended_id=False),
    dict(arbitration_id=0x18FEF100, data=b"\x01\x02", is_extended_id=True, channel="vcan0", timestamp=12.5),
    dict(arbitration_id=0x123, data=bytes(range(64)), is_fd=True, bitrate_switch=True, error_state_indicator=True),
    dict(arbitration_id=0x7FF, is_remote_frame=True, dlc=8, is_rx=False, is_extended_id=False),
    dict(arbitration_id=0x1, is_error_frame=True),
]


Buses = tuple[can.BusABC, can.BusABC]


@pytest.fixture
def buses() -> Iterator[Buses]:
    """Two buses on a fresh channel of keigov's interface: (sender's, receiver's)."""
    channel = f"test-{uuid.uuid4().hex[:8]}"
    tx, rx = open_bus(INTERFACE, channel), open_bus(INTERFACE, channel)
    yield tx, rx
    tx.shutdown()
    rx.shutdown()


def _pair(interface: str, **kwargs) -> tuple[can.BusABC, can.BusABC, can.BusABC]:
    channel = f"test-{uuid.uuid4().hex[:8]}"
    return tuple(can.Bus(interface=interface, channel=channel, **kwargs) for _ in range(3))  # type: ignore[return-value]


def _drain(bus: can.BusABC) -> list[can.Message]:
    out = []
    while (m := bus.recv(0)) is not None:
        out.append(m)
    return out


@pytest.mark.parametrize("own", [False, True])
@pytest.mark.parametrize("preserve", [False, True])
def test_keigovs_interface_delivers_what_python_cans_virtual_delivers(own: bool, preserve: bool) -> None:
    seen = {}
    for interface in ("virtual", INTERFACE):
        a, b, c = _pair(interface, receive_own_messages=own, preserve_timestamps=preserve)
        try:
            sent = [can.Message(**fields) for fields in CASES]
            for m in sent:
                a.send(m)
            c.send(can.Message(arbitration_id=0x42, data=b"\x09"))
            got = {name: _drain(bus) for name, bus in (("a", a), ("b", b), ("c", c))}
            for msgs in got.values():
                for m in msgs:
                    assert m.channel == a.channel_id                # stamped with the sender's channel
                    assert all(m is not s and m.data is not s.data for s in sent), "each receiver owns its copy"
                    if preserve:
                        assert m.timestamp == next(s.timestamp for s in [*sent, m]
                                                   if s.arbitration_id == m.arbitration_id)
            seen[interface] = {name: [tuple(getattr(m, f) for f in FIELDS if f != "channel") for m in msgs]
                               for name, msgs in got.items()}
        finally:
            for bus in (a, b, c):
                bus.shutdown()
    assert seen[INTERFACE] == seen["virtual"]
    assert len(seen["virtual"]["b"]) == len(CASES) + 1


def test_the_interface_is_registered_with_python_can_and_leaves_the_channel_on_shutdown() -> None:
    a, b, _c = _pair(INTERFACE)
    assert type(a) is VirtualBus and INTERFACE in can.interfaces.VALID_INTERFACES
    assert {"interface": INTERFACE, "channel": a.channel_id} in can.detect_available_configs(interfaces=[INTERFACE])
    for bus in (a, b, _c):
        bus.shutdown()
    assert {"interface": INTERFACE, "channel": a.channel_id} not in can.detect_available_configs(interfaces=[INTERFACE])
    with pytest.raises(can.CanOperationError):
        a.send(can.Message(arbitration_id=1))
    with pytest.raises(can.CanOperationError):
        a.recv(0)


def test_the_bus_delivers_the_message(buses: Buses) -> None:
    tx, rx = buses
    sent = can.Message(arbitration_id=0x210, data=b"\x01\x02\x03", is_extended_id=False)
    tx.send(sent)
    got = rx.recv(timeout=1.0)
    assert got is not None and got.arbitration_id == 0x210 and bytes(got.data) == b"\x01\x02\x03"
    assert not got.is_extended_id and got is not sent and got.is_rx
    sent.data[:1] = b"\xff"
    assert bytes(got.data) == b"\x01\x02\x03", "the copy must not share the payload"
    assert rx.recv(timeout=0.01) is None and rx.recv(timeout=0) is None   # Empty is None


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

    from keigov.bus import add_bus_arguments, bus_choice

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


def test_with_nothing_configured_the_bus_is_a_private_in_process_one(monkeypatch, tmp_path):
    assert _choice(monkeypatch, tmp_path, []) == (INTERFACE, None, ())
    bus = open_bus(INTERFACE, None)
    try:
        assert str(bus.channel_id).startswith("keigov-")       # type: ignore[attr-defined]
    finally:
        bus.shutdown()


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
