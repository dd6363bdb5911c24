"""The control loop stays bounded while its link is flooded (core/node.py, core/link.py):
on MicroPython, with a port that never runs dry, every step takes at most the link's
budget of bytes and port reads and answers at most one request, and a flooded step
costs little more than an idle one. Wall-clock worst cases belong to
benchmarks/link_flood_loop.py: on a shared host they measure the scheduler."""

from __future__ import annotations

import subprocess

import pytest

from fwenv import FIRMWARE, ROOT, micropython_binary, needs_micropython

pytestmark = [needs_micropython, pytest.mark.micropython]
STEPS = 300


def flooded(source: str) -> dict[str, int]:
    out = subprocess.run([micropython_binary(), str(ROOT / "tests" / "fw_flood.py"), source, str(STEPS), "0"],
                         cwd=FIRMWARE, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


@pytest.mark.parametrize("source", ["garbage", "requests", "zeros"])
def test_each_step_takes_a_bounded_share_of_the_flood(source):
    r = flooded(source)
    assert r["bytes_max"] <= 128 and r["reads_max"] <= 16 and r["replies_max"] <= 1
    assert r["break"] == 0
    assert r["median"] < 2000  # µs; an idle step is ~50 µs on a PC, the period 10 ms
    if source == "requests":
        assert r["frames"] == STEPS  # the loop answers one request every period, all along
