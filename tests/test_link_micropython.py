"""The link, configuration store and event log on MicroPython's unix port: the same
scripts run under MicroPython and CPython (tests/fw_driver.py) must print the same
lines, and the replies must decode as the host expects. Requests that must not allocate
run with the heap locked."""

from __future__ import annotations

import random

import pytest

from fwenv import needs_micropython, run_driver

from keigov.config.blob import ConfigBlob
from keigov.config.keys import KeyFile
from keigov.link import framing, messages
from keigov.link import protocol as P

pytestmark = [pytest.mark.micropython, needs_micropython]

KEY = KeyFile("KG-DRV", bytes(range(32)), 800, 6437)


def frame(cmd: int, seq: int, payload: bytes = b"") -> str:
    return framing.encode_frame(cmd, seq, payload).hex()


def push_lines(blob: bytes, seq0: int) -> list[str]:
    lines = []
    for i, off in enumerate(range(0, len(blob), P.PUT_DATA_MAX)):
        chunk = blob[off : off + P.PUT_DATA_MAX]
        lines.append(f"feed {frame(P.CONFIG_PUT, seq0 + i, messages.put_request(len(blob), off, chunk))} 64")
    lines.append(f"feed {frame(P.CONFIG_COMMIT, seq0 + len(lines))} 64")
    return lines


def replies(line: str) -> list[framing.Frame]:
    return framing.FrameReader().feed(bytes.fromhex(line.split()[2]) if len(line.split()) > 2 else b"")


def both(lines: list[str]) -> list[str]:
    mp = run_driver(lines, micropython=True)
    assert mp == run_driver(lines, micropython=False)
    return mp


def test_session_push_reboot_pull_and_heap_locked_reads():
    blob = ConfigBlob("KG-DRV", 3, {"cap_ckph": 4023, "limp_ckph": 1200}, "test-tables").sign(KEY.key)
    lines = [f"provision {KEY.provision_record().hex()}"]
    lines += [f"heap {frame(P.INFO, 1)} 64", f"heap {frame(P.STATUS, 2)} 64"]
    lines += push_lines(blob, 10)
    lines += ["event 1 0 0", "event 5 1500 320", "boot", "state"]
    lines += [f"heap {frame(P.EVENTS, 40, messages.events_request(0))} 64"]
    lines += [f"feed {frame(P.CONFIG_GET, 41, messages.get_request(0))} 64"]
    lines += [f"heap {frame(P.INFO, 42)} 16", f"heap {'00' * 40 + '0102030405' * 20} 64", "state"]
    out = both(lines)
    info = messages.decode_info(replies(out[1])[0].payload)
    assert (info.provisioned, info.device_id, info.config_version, info.board) == (True, "KG-DRV", 0, "driver")
    status = messages.decode_status(replies(out[2])[0].payload)
    assert status["state"] == 100 and status["loop_us_max"] == 107
    commit = replies(out[3 + len(push_lines(blob, 10)) - 1])[0]
    assert commit.status == P.OK and commit.payload[:4] == (3).to_bytes(4, "little")
    state = next(line for line in out if line.startswith("state"))
    assert "version=3" in state and "cap=4023" in state and "events=2" in state and "reason=0" in state
    page = messages.decode_events(replies(out[-5])[0].payload)
    assert [(e.code, e.time_ms, e.value) for e in page.events] == [(1, 0, 0), (5, 1500, 320)]
    get = replies(out[-4])[0].payload
    assert get[4:] == blob[: P.GET_DATA_MAX]
    info = messages.decode_info(replies(out[-3])[0].payload)
    assert info.config_version == info.running_version == 3 and info.config_hash == blob[-32:-24].hex()
    assert "internal=0" in out[-1]


def test_garbage_and_mutated_frames_same_on_both_interpreters():
    rng = random.Random(6)
    lines = [f"provision {KEY.provision_record().hex()}"]
    for seq in range(160):
        payload = rng.randbytes(rng.randint(0, 40))
        good = bytearray(framing.encode_frame(rng.choice([1, 2, 3, 4, 9, 0x55]), seq, payload))
        kind = rng.randrange(4)
        if kind == 0:
            data = rng.randbytes(rng.randint(1, 300))
        elif kind == 1:
            for _ in range(rng.randint(1, 3)):
                good[rng.randrange(len(good))] ^= rng.randint(1, 255)
            data = bytes(good)
        elif kind == 2:
            data = bytes(good[: rng.randrange(1, len(good))])
        else:
            data = b"\x00" + bytes([0xFF]) + rng.randbytes(600).replace(b"\x00", b"\x01") + b"\x00"
        lines.append(f"heap {data.hex()} {rng.randint(1, 200)}")
    lines.append(f"heap {frame(P.STATUS, 250)} 64")
    lines.append("state")
    out = both(lines)
    assert messages.decode_status(replies(out[-2])[0].payload)["state"] == 100
    assert "internal=0" in out[-1] and "over=" in out[-1]


def test_power_cuts_during_a_push_over_the_link():
    """A sample of the cut points (CPython covers every step: test_persist_powercut.py)."""
    old = ConfigBlob("KG-DRV", 1, {"cap_ckph": 4023}, "test-tables").sign(KEY.key)
    new = ConfigBlob("KG-DRV", 2, {"cap_ckph": 3000}, "test-tables").sign(KEY.key)
    setup = ["wipe", f"provision {KEY.provision_record().hex()}"] + push_lines(old, 1) + ["event 1 0 0", "event 2 5 1"]
    lines = []
    for cut in list(range(0, 130, 9)) + [10_000]:
        lines += setup + [f"cut {cut}"] + push_lines(new, 20) + ["power", "boot"]
        lines += [f"feed {frame(P.EVENTS, 90, messages.events_request(0))} 64", "state"]
    out = both(lines)
    states = [line for line in out if line.startswith("state")]
    assert len(states) == 16
    assert all(("cap=4023" in s and "version=1" in s) or ("cap=3000" in s and "version=2" in s) for s in states)
    assert "version=1" in states[0] and "version=2" in states[-1]
    answered = [replies(line)[0] for line in out if line.startswith("feed") and len(line.split()) > 2]
    pages = [f for f in answered if f.command == P.EVENTS | P.REPLY]
    assert len(pages) == 16
    for f in pages:
        page = messages.decode_events(f.payload)
        assert [(e.code, e.time_ms) for e in page.events] == [(1, 0), (2, 5)]
