"""The wheel built from this checkout, installed on its own, and `keigov` run from it (the
`installed` fixture is tests/conftest.py's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def build_and_install(base: Path) -> tuple[Path, Path]:
    """(the built wheel, the folder it is installed in). The wheel is built from a copy of
    the checkout's files (a build in the checkout would reuse a stale build/ folder) and
    installed without its dependencies (this environment has them)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=CHECKOUT, capture_output=True,
                           text=True, check=True).stdout.split()
    source = base / "source"
    for name in files:
        if (CHECKOUT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(CHECKOUT / name, source / name)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(base), str(source)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = base.glob("keigov-*.whl")
    target = base / "site"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                          str(wheel)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return wheel, target


def keigov(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KEIGOV_ROOT", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    return subprocess.run([sys.executable, "-m", "keigov", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
