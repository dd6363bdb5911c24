"""The link polled in the governor's own loop, flooded with requests and garbage: every
request is answered, nothing allocates in a period (MicroPython, heap locked), the
governor's events reach the persisted log, and STATUS reports the governor's state."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from fwenv import FIRMWARE, micropython_binary, needs_micropython

from keigov.link import framing, messages
from keigov.link import protocol as P

SCRIPT = FIRMWARE.parent / "tests" / "fw_governor_link.py"


def flood() -> tuple[bytes, int]:
    rng = random.Random(3)
    out, requests = b"", 0
    for seq in range(40):
        out += rng.randbytes(rng.randint(0, 200))  # garbage between requests
        out += framing.encode_frame([P.STATUS, P.INFO, P.EVENTS][seq % 3], seq,
                                    messages.events_request(0) if seq % 3 == 2 else b"")
        requests += 1
    # 20 kB more garbage keep the link busy past the governor's init timeout (1 s), so
    # the last STATUS sees the state it ended in
    out += bytes(rng.randint(1, 255) for _ in range(20_000)) + framing.encode_frame(P.STATUS, 200)
    return out, requests


@pytest.mark.parametrize("interpreter", [pytest.param("micropython", marks=[pytest.mark.micropython,
                                                                            needs_micropython]), "cpython"])
def test_governor_and_link_share_the_period(interpreter):
    data, requests = flood()
    exe = micropython_binary() if interpreter == "micropython" else sys.executable
    proc = subprocess.run([exe, str(SCRIPT)], input=data.hex() + "\n", capture_output=True, text=True,
                          cwd=FIRMWARE, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    _ok, frames, internal, persisted, state, replies = proc.stdout.split()
    assert int(internal) == 0 and int(persisted) >= 2  # BOOT and the state changes since
    got = framing.FrameReader().feed(bytes.fromhex(replies))
    assert {f.seq for f in got if f.status == P.OK} == set(range(requests)) | {200}
    status = [messages.decode_status(f.payload) for f in got if f.command == P.STATUS | P.REPLY]
    assert status[-1]["state"] == int(state) and status[-1]["limit_ckph"] > 0
    events = [e for f in got if f.command == P.EVENTS | P.REPLY for e in messages.decode_events(f.payload).events]
    assert events and events[0].code == 1  # BOOT, from the governor's own log
