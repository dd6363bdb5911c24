"""`keigov flash` against the virtual dev board, as against a USB board: mpy-cross, mpremote,
hashes checked on the device, the key provisioned, and `info` answering afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fwenv import needs_micropython

from keigov import flashing, fwbuild
from keigov_hil.vboard import VirtualBoard

pytestmark = [needs_micropython, pytest.mark.micropython]
KEIGOV = str(Path(sys.executable).with_name("keigov"))


def keigov(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KEIGOV, *args], capture_output=True, text=True, timeout=180)


@pytest.fixture()
def blank_board(tmp_path: Path):
    with VirtualBoard(tmp_path / "board", factory_firmware=False) as b:
        yield b


def test_flash_a_blank_board_then_again_over_its_running_firmware(blank_board, tmp_path):
    key = tmp_path / "KG-FL1.key"
    assert keigov("keys", "new", "--device", "KG-FL1", "-o", str(key)).returncode == 0
    first = keigov("flash", "--port", blank_board.port, "--board", "sim", "--key", str(key))
    assert first.returncode == 0, first.stderr
    assert "every file's SHA-256 checked" in first.stdout and "device KG-FL1" in first.stdout
    fs = blank_board.fs
    assert not list(fs.glob("core/*.py")) and (fs / "core" / "link.mpy").exists()
    assert (fs / "board.txt").read_text().strip() == "sim"
    (fs / "core" / "link.py").write_text("raise ImportError('a stale source would shadow link.mpy')\n")
    again = keigov("flash", "--port", blank_board.port, "--board", "sim")  # the firmware runs: mpremote breaks in
    assert again.returncode == 0, again.stderr
    assert not (fs / "core" / "link.py").exists()
    info = json.loads(keigov("device", "info", "--port", blank_board.port, "--json").stdout)
    assert info["device_id"] == "KG-FL1" and info["firmware"] == fwbuild.firmware_version()


def test_a_file_that_differs_on_the_device_is_named(blank_board, tmp_path):
    files = fwbuild.stage(fwbuild.target("sim"), tmp_path / "stage")
    flashing.mpremote(blank_board.port, "fs", "cp", "-r", str(tmp_path / "stage" / "core"), ":")
    (blank_board.fs / "core" / "crc16.mpy").write_bytes(b"M\x06tampered")
    out = flashing.mpremote(blank_board.port, "resume", "exec", flashing.HASHES % (sorted(files),))
    bad = flashing.mismatches(files, out)
    assert "core/crc16.mpy" in bad and "core/link.mpy" not in bad and "main.py" in bad  # not copied


def test_production_without_a_key_is_refused_before_touching_the_board(tmp_path):
    out = keigov("flash", "--port", str(tmp_path / "no-such-port"), "--board", "sim", "--production")
    assert out.returncode == 2 and "--production needs --key" in out.stderr


@pytest.mark.parametrize("name", sorted(fwbuild.TARGETS))
def test_every_target_compiles_and_names_a_registered_board(name, tmp_path):
    import fwenv  # noqa: F401  (firmware/ on sys.path)

    from boards import BOARDS

    t = fwbuild.target(name)
    files = fwbuild.stage(t, tmp_path)
    assert name in BOARDS and f"{BOARDS[name].replace('.', '/')}.mpy" in files
    assert all((tmp_path / p).read_bytes()[:1] == b"M" for p in files if p.endswith(".mpy"))


def test_a_production_board_answers_the_link_and_nothing_else(blank_board, tmp_path):
    key = tmp_path / "KG-PR1.key"
    assert keigov("keys", "new", "--device", "KG-PR1", "-o", str(key)).returncode == 0
    done = keigov("flash", "--port", blank_board.port, "--board", "sim", "--key", str(key), "--production")
    assert done.returncode == 0, done.stderr
    assert "for production" in done.stdout
    try:  # mpremote waits on a pty without a deadline (read(1) when is_pty): a timeout is its refusal
        refused = subprocess.run([sys.executable, "-m", "mpremote", "connect", blank_board.port, "exec", "print(1)"],
                                 capture_output=True, text=True, timeout=15)
        assert refused.returncode != 0 and refused.stdout.strip() != "1"
    except subprocess.TimeoutExpired:
        pass
    status = json.loads(keigov("device", "status", "--port", blank_board.port, "--json").stdout)
    assert status["link_bad_frame"] + status["link_bad_crc"] > 0  # mpremote's bytes were link garbage
    info = json.loads(keigov("device", "info", "--port", blank_board.port, "--json").stdout)
    assert info["device_id"] == "KG-PR1"
