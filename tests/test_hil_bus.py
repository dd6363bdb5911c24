"""The rig's bus messages: the cheap deep copy is python-can's copy, field for field."""

from __future__ import annotations

import copy
import uuid

import can
import pytest

from keigov_hil.bus import FastCopyMessage, Sender, open_bus

FIELDS = [f for f in can.Message.__slots__ if f != "__weakref__"]
CASES = [
    dict(arbitration_id=0x0B0, data=bytes(range(8)), is_extended_id=False),
    dict(arbitration_id=0x18FEF100, data=b"\x01\x02", is_extended_id=True, channel="vcan0", timestamp=12.5),
    dict(arbitration_id=0x123, data=bytes(range(64)), is_fd=True, bitrate_switch=True, error_state_indicator=True),
    dict(arbitration_id=0x7FF, is_remote_frame=True, dlc=8, is_rx=False, is_extended_id=False),
]


@pytest.mark.parametrize("fields", CASES)
def test_deep_copy_equals_python_cans(fields: dict) -> None:
    fast = FastCopyMessage(**fields)
    ours, theirs = copy.deepcopy(fast), copy.deepcopy(can.Message(**fields))
    assert type(ours) is FastCopyMessage
    assert {f: getattr(ours, f) for f in FIELDS} == {f: getattr(theirs, f) for f in FIELDS}
    assert ours.data is not fast.data
    fast.data[:1] = b"\xff"
    assert ours.data == theirs.data, "the copy must not share the payload"


def test_virtual_bus_delivers_the_message() -> None:
    channel = f"test-{uuid.uuid4().hex[:8]}"
    tx, rx = open_bus("virtual", channel), open_bus("virtual", channel)
    try:
        sent = FastCopyMessage(arbitration_id=0x210, data=b"\x01\x02\x03", is_extended_id=False)
        tx.send(sent)
        got = rx.recv(timeout=1.0)
        assert got is not None and got.arbitration_id == 0x210 and bytes(got.data) == b"\x01\x02\x03"
        assert not got.is_extended_id and got is not sent
    finally:
        tx.shutdown()
        rx.shutdown()



def test_sender_reuses_one_message_per_id_and_each_receiver_gets_its_own_copy() -> None:
    channel = f"test-{uuid.uuid4().hex[:8]}"
    tx, rx = open_bus("virtual", channel), open_bus("virtual", channel)
    try:
        sender = Sender(tx)
        sender.send(0x0B0, b"\x01\x02\x03\x04\x05\x06\x07\x08", False)
        sender.send(0x0B0, b"\x09\x0a", False)                     # shorter payload, same id
        sender.send(0x0B0, b"\x0b" * 8, True)                      # same number, extended: another frame
        got = [rx.recv(timeout=1.0) for _ in range(3)]
        assert [(m.arbitration_id, m.is_extended_id, bytes(m.data), m.dlc) for m in got] == [
            (0x0B0, False, b"\x01\x02\x03\x04\x05\x06\x07\x08", 8), (0x0B0, False, b"\x09\x0a", 2),
            (0x0B0, True, b"\x0b" * 8, 8)]
        assert len(sender._messages) == 2
    finally:
        tx.shutdown()
        rx.shutdown()
