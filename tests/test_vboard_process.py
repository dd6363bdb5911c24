"""`keigov board` in its own process, as the docs set it up: the board bridges its CAN to a
bus that crosses processes, and `keigov sim --runtime external --realtime` drives it from
another process over that bus. python-can's udp_multicast stands in for a vcan (no kernel
vcan here; the rig's code path is the same for any interface)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from fwenv import needs_micropython

pytest.importorskip("msgpack", reason="python-can's udp_multicast needs msgpack")
pytestmark = [needs_micropython, pytest.mark.micropython, pytest.mark.slow]
KEIGOV = str(Path(sys.executable).with_name("keigov"))
HELD = """
[scenario]
name = "board_in_its_own_process"
description = "Full throttle from 55 km/h against a board running its default 40 mph cap."
duration_s = 15.0
seed = 5

[vehicle]
initial_speed_kph = 55.0

[governor]
cap_kph = 64.37

[[driver]]
t_s = 0.0
pedal_pct = 100.0

[[checks]]
kind = "overshoot"
max_kph = 2.0
"""


def _multicast_works(group: str) -> bool:
    import can

    try:
        a = can.Bus(interface="udp_multicast", channel=group)
        b = can.Bus(interface="udp_multicast", channel=group)
    except (can.CanError, OSError):
        return False
    try:
        a.send(can.Message(arbitration_id=0x7AB, data=b"\x01", is_extended_id=False))
        return b.recv(timeout=2.0) is not None
    finally:
        a.shutdown()
        b.shutdown()


def test_a_board_in_its_own_process_is_held_at_its_cap_by_a_scenario_from_another(tmp_path: Path) -> None:
    group = f"239.74.{random.randint(1, 254)}.{random.randint(1, 254)}"
    if not _multicast_works(group):
        pytest.skip("no IP multicast on this machine")
    board = subprocess.Popen([KEIGOV, "board", "--dir", str(tmp_path / "board"), "-i", "udp_multicast", "-c", group],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert board.stdout is not None
        port = board.stdout.readline().split(": ", 1)[1].strip()     # "serial port: /dev/pts/N"
        info = subprocess.run([KEIGOV, "device", "info", "--port", port, "--json", "--timeout", "5"],
                              capture_output=True, text=True, timeout=60)
        assert info.returncode == 0, info.stderr
        assert json.loads(info.stdout)["firmware"]
        scenario = tmp_path / "held.toml"
        scenario.write_text(HELD)
        run = subprocess.run([KEIGOV, "sim", str(scenario), "--out", str(tmp_path / "run"), "--runtime", "external",
                              "--realtime", "-i", "udp_multicast", "-c", group], capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        rows = [r.split(",") for r in (tmp_path / "run" / "timeline.csv").read_text().splitlines()[1:]]
        assert 60 < max(float(r[1]) for r in rows) < 66.5, "held at the board's 40 mph cap"
        assert any(r[5] == "LIMITING" for r in rows)
    finally:
        board.terminate()
        board.wait(timeout=10)
