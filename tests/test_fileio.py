"""write_atomic: the old file or the new one, never half of either, with the permissions
a plain write would give (owner-only only where asked, for keys)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from keigov.fileio import write_atomic


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_outputs_follow_the_umask_and_keys_stay_private(tmp_path: Path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "timeline.csv", b"t_s\n")
        write_atomic(tmp_path / "device.key", b"{}", private=True)
    finally:
        os.umask(old)
    assert mode(tmp_path / "timeline.csv") == 0o644
    assert mode(tmp_path / "device.key") == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_atomic(path, "not bytes")  # type: ignore[arg-type]  # the write fails midway
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
