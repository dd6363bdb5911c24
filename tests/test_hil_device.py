"""Starting the device process and the link's view of the machine (when polling would take a
core the other end needs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from keigov.simboard.process import Contention
from keigov.simboard.runtimes import _direct_launch, get_runtime


def test_contention_needs_two_samples_in_a_row_either_way(tmp_path: Path) -> None:
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("0.50 0.40 0.30 2/90 4242\n")
    c = Contention(ours=2, source=str(loadavg))
    seen = []
    try:
        for running in (2, 3, 2, 3, 3, 3, 2, 3, 2, 2, 2):
            loadavg.write_text(f"2.10 1.00 0.50 {running}/91 4243\n")
            seen.append(c.sample())
    finally:
        c.close()
    # A single sample with a third runnable task (a kernel thread's blip) changes nothing.
    assert seen == [False, False, False, False, True, True, True, True, True, False, False]
    assert Contention(source=str(tmp_path / "absent")).sample() is False   # no /proc: quiet


def test_the_port_s_own_launcher_script_is_replaced_by_a_direct_launch(tmp_path: Path) -> None:
    ours = tmp_path / "micropython"
    ours.write_text(f"#!{sys.executable}\nimport sys\nfrom micropython_unix import main\nsys.exit(main())\n")
    launch = _direct_launch(str(ours))
    assert launch is not None and launch[:3] == (sys.executable, "-S", "-c")
    # The venv's `python` running a launcher written for its `python3` (both links to one binary).
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python3").symlink_to(sys.executable)
    (tmp_path / "bin" / "python").symlink_to("python3")
    alias = tmp_path / "alias"
    alias.write_text(f"#!{tmp_path / 'bin' / 'python3'}\nfrom micropython_unix import main\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
        assert _direct_launch.__wrapped__(str(alias)) is not None
    other_python = tmp_path / "other"
    other_python.write_text("#!/usr/bin/python3\nfrom micropython_unix import main\n")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(100))
    for exe in (other_python, binary, tmp_path / "absent"):
        assert _direct_launch(str(exe)) is None, exe


@pytest.mark.micropython
def test_the_micropython_runtime_s_command_runs_the_port(tmp_path: Path) -> None:
    runtime = get_runtime("micropython")
    launch = runtime.command(tmp_path, False)
    assert "main.py" in " ".join(launch)
    script = tmp_path / "hello.py"
    script.write_text("import sys\nprint(sys.implementation.name, 6 * 7)\n")
    head = launch[:launch.index("-X")]
    out = subprocess.run([*head, str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.split() == ["micropython", "42"], out
