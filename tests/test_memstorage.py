"""The simulated flash: NOR semantics, power cuts exactly where asked, and the file-backed
variant the sim board keeps across restarts (also under MicroPython)."""

from __future__ import annotations

import subprocess

import pytest

from fwenv import FIRMWARE, micropython_binary, needs_micropython

from core.memstorage import FileStorage, MemStorage, PowerCut


def test_erase_program_and_overwrites():
    s = MemStorage(16, 4)
    assert s.ioctl(4, 0) == 4 and s.ioctl(5, 0) == 16
    s.writeblocks(1, b"\x0f\xf0", 3)
    buf = bytearray(4)
    s.readblocks(1, buf, 2)
    assert buf == b"\xff\x0f\xf0\xff" and s.overwrites == 0
    s.writeblocks(1, b"\xf0", 3)  # programming can only clear bits
    s.readblocks(1, buf, 2)
    assert buf[1] == 0x00 and s.overwrites == 1
    s.ioctl(6, 1)
    s.readblocks(1, buf, 2)
    assert buf == b"\xff" * 4
    with pytest.raises(ValueError):
        s.readblocks(3, bytearray(2), 15)
    with pytest.raises(ValueError):
        s.ioctl(6, 4)


def test_power_cut_after_exactly_n_steps_then_dead_until_power_on():
    s = MemStorage(16, 2)
    s.cut_after = 3
    with pytest.raises(PowerCut):
        s.writeblocks(0, b"\x00" * 8, 0)
    assert bytes(s.data[:5]) == b"\x00\x00\x00\xff\xff"
    with pytest.raises(PowerCut):
        s.readblocks(0, bytearray(1), 0)
    s.power_on()
    s.cut_after = 1  # an erase is two steps: cut after the first, half the block is erased
    s.data[16:32] = bytes(16)
    with pytest.raises(PowerCut):
        s.ioctl(6, 1)
    assert bytes(s.data[16:32]) == b"\xff" * 8 + bytes(8)


def test_file_storage_keeps_what_was_written_even_when_cut(tmp_path):
    path = str(tmp_path / "flash.img")
    s = FileStorage(path, 16, 4)
    s.writeblocks(2, b"keigov", 1)
    s.cut_after = 2
    with pytest.raises(PowerCut):
        s.writeblocks(0, b"abcd", 0)
    again = FileStorage(path, 16, 4)
    assert bytes(again.data[33:39]) == b"keigov" and bytes(again.data[:4]) == b"ab\xff\xff"


@pytest.mark.micropython
@needs_micropython
def test_file_storage_under_micropython(tmp_path):
    path = tmp_path / "flash.img"
    program = (f"from core.memstorage import FileStorage\ns = FileStorage({str(path)!r}, 16, 4)\n"
               "s.writeblocks(2, b'keigov', 1)\ns.ioctl(6, 3)\ns.writeblocks(3, b'x', 15)\nprint('ok')\n")
    out = subprocess.run([micropython_binary(), "-c", program], cwd=FIRMWARE, capture_output=True, text=True,
                         timeout=30)
    assert out.stdout.strip() == "ok", out.stderr
    assert FileStorage(str(path), 16, 4).data[33:39] == b"keigov"
    assert path.read_bytes()[63] == ord("x")
