"""The sim board's record protocol: the host's numbers (keigov.simboard.records) are the
firmware's (firmware/boards/sim.py), and records round-trip."""

from __future__ import annotations

from keigov.firmware_params import consts
from keigov.simboard import records as rec
from keigov.simboard.process import DeviceEvent


def test_host_mirrors_firmware():
    fw = consts("boards/sim.py")
    kinds = {k[4:]: v for k, v in fw.items() if k.startswith("REC_") and k not in ("REC_HEADER", "REC_EVENT_BYTES")}
    assert kinds == {name: getattr(rec, name) for name in kinds}
    assert set(kinds) == {"FRAME", "TICK", "QUIT", "EVENT", "DONE", "BATCH"}
    assert fw["REC_HEADER"] == rec.HEADER.size == rec.TICK_HEADER.size
    assert fw["REC_EVENT_BYTES"] == rec.EVENT_BYTES
    assert fw["BATCH_BYTES"] == rec.BATCH_BYTES


def test_frame_and_tick_records():
    record = rec.frame(0x18FEF100, b"\x01\x02", extended=True)
    kind, n, value = rec.HEADER.unpack_from(record)
    assert (kind, n, record[rec.HEADER.size:]) == (rec.FRAME, 2, b"\x01\x02")
    assert rec.frame_id(value) == (0x18FEF100, True)
    assert rec.frame_id(rec.HEADER.unpack_from(rec.frame(0x7FF, b""))[2]) == (0x7FF, False)
    kind, _n, poll, t_ms = rec.TICK_HEADER.unpack(rec.tick(2**30 + 5, 50))
    assert (kind, poll, t_ms) == (rec.TICK, 50, 5)


def test_batches_hold_whole_records_within_the_device_buffer():
    records = [rec.frame(i, bytes(64)) for i in range(300)]
    out = rec.batches(records)
    at, seen = 0, []
    while at < len(out):
        kind, _n, size = rec.HEADER.unpack(out[at])
        assert kind == rec.BATCH and 0 < size <= rec.BATCH_BYTES
        at += 1
        body = 0
        while body < size:
            body += len(out[at])
            seen.append(out[at])
            at += 1
        assert body == size
    assert seen == records
    assert rec.batches([]) == []


def test_event_payload():
    payload = bytes([28]) + (-3).to_bytes(4, "little", signed=True) + b"\x01" + (120).to_bytes(4, "little") \
        + (-40).to_bytes(4, "little", signed=True)
    assert len(payload) == rec.EVENT_BYTES
    assert DeviceEvent.from_record(7, payload) == DeviceEvent(7, 28, -3, (120, -40))
    assert DeviceEvent.from_record(7, payload[:5]) == DeviceEvent(7, 28, -3, None)
    assert DeviceEvent.from_record(7, payload[:5] + b"\x00" + payload[6:]).position_dm is None
