"""The virtual dev board end to end, with the tools a user types: mpremote and the keigov
link share its pty as on a USB board, and a configuration pushed over the link is the
one a HIL scenario then meets on the bus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fwenv import needs_micropython

from keigov.config.keys import load_key
from keigov.simboard.runtimes import get_runtime
from keigov_hil.rig import RigOptions
from keigov_hil.session import run_scenario
from keigov_hil.vboard import VirtualBoard

pytestmark = [needs_micropython, pytest.mark.micropython]
MPREMOTE = str(Path(sys.executable).with_name("mpremote"))
KEIGOV = str(Path(sys.executable).with_name("keigov"))


def mpremote(port: str, *args: str) -> str:
    out = subprocess.run([MPREMOTE, "connect", port, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def cli(*args: str) -> str:
    """`keigov ARGS` as a user runs it (a separate process, its own serial connection)."""
    out = subprocess.run([KEIGOV, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture()
def board(tmp_path: Path):
    with VirtualBoard(tmp_path / "board") as b:
        yield b


@pytest.fixture()
def blank_board(tmp_path: Path):
    with VirtualBoard(tmp_path / "board", factory_firmware=False) as b:
        yield b


def test_mpremote_breaks_in_on_the_running_firmware_and_reset_brings_it_back(board):
    info = json.loads(cli("device", "info", "--port", board.port, "--json"))
    assert info["board"] == "sim" and not info["provisioned"]
    assert mpremote(board.port, "exec", "print(6 * 7)").strip() == "42"  # the firmware was running
    assert "main.py" in mpremote(board.port, "ls")
    mpremote(board.port, "reset")
    assert json.loads(cli("device", "info", "--port", board.port, "--json", "--timeout", "2"))["firmware"]


CLOSED_LOOP = """
[scenario]
name = "board_new_cap"
description = "Full throttle against a virtual board that was pushed a 30 km/h cap."
duration_s = 12.0
seed = 3

[vehicle]
initial_speed_kph = 22.0

[governor]
cap_kph = 30

[[driver]]
t_s = 0.0
pedal_pct = 100.0

[[checks]]
kind = "overshoot"
max_kph = 2.0
"""
# No never_state FAULT check: the board runs on its own wall clock next to a realtime rig on a
# shared host, and a stall past the wheel speeds' 50 ms timeout is a (correct) fault there.


def test_provisioning_from_the_repl(board, tmp_path):
    key = tmp_path / "KG-VB0.key"
    cli("keys", "new", "--device", "KG-VB0", "-o", str(key))
    prov = load_key(key).provision_record().hex()
    mpremote(board.port, "exec", f"import boards, binascii; boards.load('sim').provision(binascii.unhexlify('{prov}'))")
    mpremote(board.port, "reset")
    assert json.loads(cli("device", "info", "--port", board.port, "--json", "--timeout", "2"))["device_id"] == "KG-VB0"


def test_flash_push_a_new_cap_reboot_and_a_scenario_meets_it(blank_board, tmp_path):
    board = blank_board
    key = tmp_path / "KG-VB1.key"
    cli("keys", "new", "--device", "KG-VB1", "-o", str(key))
    record = json.loads(key.read_text())
    cli("flash", "--port", board.port, "--board", "sim", "--key", str(key))
    (tmp_path / "fleet.toml").write_text("version = 4\ncap_kph = 30\nlimp_kph = 10\n")
    cli("config", "build", str(tmp_path / "fleet.toml"), "--key", str(key), "-o", str(tmp_path / "fleet.bin"))
    cli("config", "push", str(tmp_path / "fleet.bin"), "--port", board.port, "--timeout", "2")
    info = json.loads(cli("device", "info", "--port", board.port, "--json", "--timeout", "2"))
    assert info["device_id"] == record["device"] and info["running_version"] == 4

    scenario = tmp_path / "board_new_cap.toml"
    scenario.write_text(CLOSED_LOOP)
    opts = RigOptions(runtime=get_runtime("external"), interface=board.interface, channel=board.channel, realtime=True)
    result = run_scenario(scenario, tmp_path / "run", opts, plot=False)
    assert result.passed, [c for c in result.checks if c.verdict == "FAIL"]
    rows = [row.split(",") for row in (tmp_path / "run" / "timeline.csv").read_text().splitlines()[1:]]
    assert 28 < max(float(r[1]) for r in rows) < 32  # held at the pushed cap, far below the 64 km/h default
    assert {float(r[2]) for r in rows if r[5] == "LIMITING"} == {30.0}

    events = json.loads(cli("device", "events", "--port", board.port, "--json"))
    installed = [e for e in events if e["name"] == "config_installed"]
    assert [e["value"] for e in installed] == [4]
